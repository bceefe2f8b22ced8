//! `cpm facts`: the facts table, and every command reading it as it reads
//! the transactions it was gathered from.

use crate::util::{cpm, data, parse_csv, tempdir};

/// `cpm ARGS INPUT -q -f FORMAT` on stdout.
fn stdout(command: &str, input: &str, extra: &[&str], format: &str) -> Vec<u8> {
    let mut args = vec![command, input, "-q", "-f", format];
    args.extend_from_slice(extra);
    cpm(&args).run().ok().stdout_bytes().to_vec()
}

#[test]
fn segment_value_and_allocate_read_the_facts_as_the_transactions() {
    let dir = tempdir();
    let export = data("retail_export.csv");
    for name in ["facts.parquet", "facts.csv"] {
        let facts = dir.path().join(name).display().to_string();
        cpm(&["facts", &export, "-q", "-o", &facts]).run().ok();
        for (command, extra) in [
            ("segment", &[][..]),
            ("value", &["--time-unit", "week"][..]),
            ("allocate", &["--budget", "1000"][..]),
        ] {
            assert_eq!(
                stdout(command, &facts, extra, "csv"),
                stdout(command, &export, extra, "csv"),
                "{command} from {name}"
            );
        }
    }
}

#[test]
fn the_facts_table_has_its_documented_columns_and_values() {
    let out = parse_csv(&stdout("facts", &data("report_small.csv"), &[], "csv"));
    assert_eq!(
        out[0],
        [
            "customer_id",
            "first_purchase",
            "last_purchase",
            "orders",
            "purchase_days",
            "revenue",
            "first_day_revenue",
            "as_of",
            "facts_version"
        ]
    );
    // customer A of report_small.csv: 100 on 10 Jan, 50 on 5 Mar; as of
    // the day after the last transaction (25 Mar)
    let a = out.iter().find(|row| row[0] == "A").unwrap();
    assert_eq!(
        a[1..],
        [
            "2024-01-10",
            "2024-03-05",
            "2",
            "2",
            "150.0",
            "100.0",
            "2024-03-26",
            "1"
        ]
    );
    assert!(out[1..].iter().all(|row| row[8] == "1"));
}

#[test]
fn the_report_reads_facts_and_another_day_or_a_newer_version_is_refused() {
    let dir = tempdir();
    let facts = dir.path().join("facts.parquet").display().to_string();
    let export = data("retail_export.csv");
    cpm(&["facts", &export, "-q", "-o", &facts]).run().ok();
    let report = dir.path().join("r.json");
    cpm(&["report", &facts, "-q", "-o", &report.display().to_string()])
        .run()
        .ok();
    let json = crate::util::read_json(&report);
    assert_eq!(json["portfolio"]["customers"], 2_999);
    assert!(
        json["kpis"].is_null(),
        "period figures need the transactions"
    );
    cpm(&["segment", &facts, "--as-of", "2023-06-30"])
        .run()
        .code_is(2)
        .stderr_has(&["these facts were gathered as of 2024-01-01"]);
    cpm(&["value", &facts, "--calibration-end", "2023-06-30"])
        .run()
        .code_is(2)
        .stderr_has(&["--calibration-end needs transactions"]);
    let customers = dir.path().join("customers.parquet").display().to_string();
    cpm(&["segment", &export, "-q", "-o", &customers])
        .run()
        .ok();
    cpm(&["facts", &customers])
        .run()
        .code_is(2)
        .stderr_has(&["the input is a customer table"]);
    let newer = dir.path().join("newer.csv");
    let text = String::from_utf8(stdout("facts", &data("report_small.csv"), &[], "csv")).unwrap();
    std::fs::write(&newer, text.replace(",1\n", ",2\n")).unwrap();
    cpm(&["segment", &newer.display().to_string()])
        .run()
        .code_is(1)
        .stderr_has(&["a facts table of version 2, made by a newer cpm"]);
}
