//! The validating CSV pass: quotes, ragged rows, encodings, delimiters,
//! preambles, on any bytes (never a panic; rows in = rows kept + rejected).
#![no_main]

use cpm::io::CsvOptions;
use cpm::io::source::{Compression, InputFormat, Opened, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    // the first byte picks the options the rest is read with
    let options = CsvOptions {
        delimiter: [None, Some(b','), Some(b';'), Some(b'\t')][usize::from(first & 3)],
        no_header: first & 4 != 0,
        skip_rows: usize::from(first >> 6),
        escape: (first & 8 != 0).then_some(b'\\'),
        max_field_size: if first & 16 != 0 { 64 } else { 1 << 20 },
        ..CsvOptions::default()
    };
    let opened = Opened {
        name: "fuzz.csv".to_string(),
        payload: Payload::Bytes(bytes.to_vec()),
        format: InputFormat::Csv,
        compression: Compression::None,
        size: bytes.len() as u64,
    };
    if let Ok(table) = cpm::io::csv::read_csv(&opened, &options, &|_| {}) {
        let lines = table.frame.column(cpm::io::LINE_COLUMN).map(|c| c.len());
        assert!(lines.is_ok(), "every table has its line column");
    }
    let _ = cpm::io::csv::check_quotes(bytes, b',', None);
    let _ = cpm::io::csv::check_quotes(bytes, b',', Some(b'\\'));
});
