//! Format sniffing: compression, format and delimiter detection on any
//! bytes, then reading them as the detected format (never a panic).
#![no_main]

use std::path::PathBuf;

use cpm::io::source::{Compression, Input, Opened, Payload, detect_compression, detect_format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // cpm's hook: a reader's panic inside cpm::panic::guard is an error,
    // any other panic aborts (a crash for the fuzzer)
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| cpm::panic::install_hook(|| std::process::abort()));
    let _ = detect_compression(data);
    let _ = cpm::io::csv::sniff_delimiter(data);
    for name in ["orders.csv", "orders.parquet", "orders.arrow", "orders.json", "orders"] {
        let input = Input::Path(PathBuf::from(name));
        let format = detect_format(data, &input);
        let opened = Opened {
            name: name.to_string(),
            payload: Payload::Bytes(data.to_vec()),
            format,
            compression: Compression::None,
            size: data.len() as u64,
        };
        let _ = cpm::io::read::read_opened(&opened, &cpm::io::ReadOptions::default(), &|_| {});
    }
});
