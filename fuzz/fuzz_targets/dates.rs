//! Date parsing and layout detection on any text (never a panic; a parsed
//! date is a real day).
#![no_main]

use cpm::schema::dates::{DateFormat, detect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in DateFormat::DETECTABLE {
        if let Some(days) = format.parse(text) {
            assert!(chrono::NaiveDate::default()
                .checked_add_signed(chrono::Duration::days(i64::from(days)))
                .is_some());
        }
    }
    // a line of the text as a custom --date-format, the rest as values
    let mut lines = text.lines();
    if let Some(flag) = lines.next() {
        let custom = DateFormat::from_flag(flag);
        for value in lines.clone() {
            let _ = custom.parse(value);
        }
    }
    let _ = detect(text.lines());
});
