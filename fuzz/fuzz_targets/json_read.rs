//! The JSON and NDJSON path: the structure scan (nesting limit, NUL bytes,
//! key order), polars' reader behind it, and the explanation of a failed
//! read, on any bytes. Never a panic; run with a memory limit
//! (`-rss_limit_mb=2048`) so that a blow-up the scan should stop is a
//! finding too.
#![no_main]

use cpm::io::read::read_opened;
use cpm::io::source::{Compression, InputFormat, Opened, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    // the first byte picks the format the rest is read as
    let format = if first & 1 == 0 {
        InputFormat::Ndjson
    } else {
        InputFormat::Json
    };
    let opened = Opened {
        name: "fuzz.json".to_string(),
        payload: Payload::Bytes(bytes.to_vec()),
        format,
        compression: Compression::None,
        size: bytes.len() as u64,
    };
    if let Ok(table) = read_opened(&opened, &Default::default(), &|_| {}) {
        let rows = table.frame.column(cpm::io::LINE_COLUMN).map(|c| c.len());
        assert_eq!(rows.ok(), Some(table.frame.height()), "every row has its number");
    }
    let _ = cpm::io::json::explain_failure(bytes, format, "fuzz.json");
});
