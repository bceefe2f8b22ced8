//! `cpm ingest`: validation, rejects, duplicates, refunds, joins and the
//! quality report.

use crate::util::{column, cpm, data, parse_csv, read_json, tempdir};

#[test]
fn cdnow_master_is_ingested_whole() {
    let dir = tempdir();
    let report = dir.path().join("quality.json");
    let out = dir.path().join("cdnow.parquet");
    cpm(&[
        "ingest",
        &data("cdnow_master.csv"),
        "-o",
        &out.display().to_string(),
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok()
    .stderr_has(&[
        "rows read",
        "69,659",
        "255 rows repeat an earlier row exactly",
    ]);
    let q = read_json(&report);
    assert_eq!(q["rows_read"], 69659);
    // no order id: identical rows may be separate purchases, so they stay
    assert_eq!(q["rows_kept"], 69659);
    assert_eq!(q["duplicates_removed"], 0);
    assert_eq!(q["customers"], 23570);
    assert_eq!(q["first_date"], "1997-01-01");
    assert_eq!(q["last_date"], "1998-06-30");
    assert_eq!(q["column_map"]["order_date"], "date");
    assert_eq!(q["column_map"]["revenue"], "dollar_value");
}

#[test]
fn quality_report_has_exactly_the_documented_keys() {
    let dir = tempdir();
    let report = dir.path().join("q.json");
    cpm(&[
        "ingest",
        "-q",
        &data("orders.csv"),
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok();
    let q = read_json(&report);
    let mut keys: Vec<&str> = q.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    let mut expected = vec![
        "rows_read",
        "rows_kept",
        "rows_rejected",
        "duplicates_removed",
        "rows_filtered",
        "rejects_by_reason",
        "rows_with_line_breaks",
        "longest_field_lines",
        "refunds",
        "refund_value",
        "customers",
        "orders",
        "first_date",
        "last_date",
        "revenue_total",
        "column_map",
        "delimiter",
        "encoding",
    ];
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(q["rows_read"], 8);
    assert_eq!(q["rows_kept"], 7);
    assert_eq!(q["duplicates_removed"], 1);
    assert_eq!(q["refunds"], 2);
    assert_eq!(q["refund_value"], -45.0);
    assert_eq!(q["customers"], 4);
    assert_eq!(q["orders"], 7);
    assert_eq!(q["revenue_total"], 456.49);
    assert_eq!(q["delimiter"], ",");
    assert_eq!(q["encoding"], "utf-8");
}

#[test]
fn keep_duplicates_keeps_them() {
    let run = cpm(&["ingest", "-q", &data("orders.csv"), "--keep-duplicates"])
        .run()
        .ok();
    assert_eq!(run.csv().len() - 1, 8);
    let run = cpm(&[
        "ingest",
        "-q",
        &data("cdnow_sample.csv"),
        "--drop-duplicates",
    ])
    .run()
    .ok();
    assert_eq!(run.csv().len() - 1, 6919 - 21);
}

#[test]
fn bad_rows_are_rejected_with_reasons_lines_and_raw_text() {
    let dir = tempdir();
    let rejects = dir.path().join("rejects.csv");
    let report = dir.path().join("q.json");
    let out = dir.path().join("clean.csv");
    let run = cpm(&[
        "ingest",
        &data("bad/bad_values.csv"),
        "--as-of",
        "2025-01-01",
        "--max-rejects",
        "100%",
        "--rejects",
        &rejects.display().to_string(),
        "--quality-report",
        &report.display().to_string(),
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .ok();
    assert!(run.stderr().contains("rows rejected"));
    let r = parse_csv(&std::fs::read(&rejects).unwrap());
    assert_eq!(r[0], ["source", "line", "reason", "raw"]);
    let got: Vec<(String, String)> = r[1..]
        .iter()
        .map(|x| (x[1].clone(), x[2].clone()))
        .collect();
    let expected = [
        ("3", "missing customer_id"),
        ("4", "unparseable order_date"),
        ("5", "non-numeric revenue"),
        ("6", "non-finite revenue"),
        ("7", "non-finite revenue"),
        ("8", "non-finite revenue"),
        ("9", "missing revenue"),
        ("10", "date after as-of"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(l, w)| (l.to_string(), w.to_string()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(r[2][3], "3,C,not a date,30.00");
    let q = read_json(&report);
    assert_eq!(q["rows_read"], 10);
    assert_eq!(q["rows_kept"], 2);
    assert_eq!(q["rows_rejected"], 8);
    assert_eq!(q["rejects_by_reason"]["non-finite revenue"], 3);
    let kept = parse_csv(&std::fs::read(&out).unwrap());
    // "1,234.00" is a valid thousands grouping: 1234, never 1.234
    assert_eq!(column(&kept, "revenue"), ["10.0", "1234.0"]);
}

#[test]
fn too_many_rejects_fail_after_writing_report_and_rejects_but_no_output() {
    let dir = tempdir();
    let rejects = dir.path().join("rejects.csv");
    let report = dir.path().join("q.json");
    let out = dir.path().join("clean.parquet");
    cpm(&[
        "ingest",
        &data("bad/bad_values.csv"),
        "--max-rejects",
        "5",
        "--rejects",
        &rejects.display().to_string(),
        "--quality-report",
        &report.display().to_string(),
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .code_is(1)
    .stderr_has(&[
        "7 of 10 rows rejected, more than --max-rejects allows (5 rows)",
        "line 3",
    ]);
    assert!(!out.exists());
    assert_eq!(read_json(&report)["rows_rejected"], 7);
    assert_eq!(parse_csv(&std::fs::read(&rejects).unwrap()).len(), 8);
    // the default tolerates none
    cpm(&["ingest", &data("bad/bad_values.csv")])
        .run()
        .code_is(1);
    // a percentage of rows read
    cpm(&[
        "ingest",
        "-q",
        &data("bad/bad_values.csv"),
        "--max-rejects",
        "70%",
    ])
    .run()
    .ok();
    cpm(&[
        "ingest",
        "-q",
        &data("bad/bad_values.csv"),
        "--max-rejects",
        "69%",
    ])
    .run()
    .code_is(1);
}

/// Ingests the test file `file` allowing two rejects: the order ids kept
/// and the rows of the rejects file (its header first).
fn two_rejects(file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let dir = tempdir();
    let rejects = dir.path().join("rejects.csv");
    let run = cpm(&[
        "ingest",
        &data(file),
        "--max-rejects",
        "2",
        "--rejects",
        &rejects.display().to_string(),
    ])
    .run()
    .ok();
    let kept = column(&run.csv(), "order_id");
    (kept, parse_csv(&std::fs::read(&rejects).unwrap()))
}

#[test]
fn ragged_rows_are_rejected_with_their_line_numbers() {
    let (kept, r) = two_rejects("bad/ragged.csv");
    assert_eq!(kept, ["1", "4"]);
    assert_eq!(
        r[1][1..3],
        [
            "3".to_string(),
            "ragged row: 3 fields, expected 4".to_string()
        ]
    );
    assert_eq!(
        r[2][1..3],
        [
            "4".to_string(),
            "ragged row: 5 fields, expected 4".to_string()
        ]
    );
    assert_eq!(r[2][3], "3,C,2024-01-03,30,extra");
    cpm(&["ingest", &data("bad/ragged.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["ragged.csv, line 3: ragged row: 3 fields, expected 4"]);
}

#[test]
fn rejects_name_their_line_in_windows_files_with_empty_lines() {
    // CRLF line ends and an empty line: the csv crate's record positions
    // are a line short after either, cpm's are not
    let (kept, r) = two_rejects("bad/ragged_crlf.csv");
    assert_eq!(kept, ["1", "4"]);
    let lines_and_reasons: Vec<[&str; 2]> = r[1..].iter().map(|row| [&*row[1], &*row[2]]).collect();
    assert_eq!(
        lines_and_reasons,
        [
            ["4", "ragged row: 3 fields, expected 4"],
            ["5", "non-numeric revenue"]
        ]
    );
}

#[test]
fn an_empty_file_is_an_error() {
    cpm(&["ingest", &data("bad/empty.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["bad/empty.csv: empty file"]);
}

#[test]
fn a_header_only_file_gives_zero_rows_and_says_so() {
    let dir = tempdir();
    let report = dir.path().join("q.json");
    let run = cpm(&[
        "ingest",
        &data("bad/header_only.csv"),
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok()
    .stderr_has(&["header but no rows"]);
    assert_eq!(run.csv(), [["customer_id", "order_date", "revenue"]]);
    let q = read_json(&report);
    assert_eq!(q["rows_read"], 0);
    assert_eq!(q["rows_kept"], 0);
    assert_eq!(q["first_date"], serde_json::Value::Null);
}

#[test]
fn duplicate_header_names_are_an_error_naming_the_column() {
    cpm(&["ingest", &data("bad/duplicate_header.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["duplicate_header.csv, line 1, column 'revenue': duplicate column name"]);
}

#[test]
fn unterminated_quotes_are_located() {
    cpm(&["ingest", &data("bad/unterminated_quote_eof.csv")])
        .run()
        .code_is(1)
        .stderr_has(&[
            "unterminated_quote_eof.csv, line 3, column 'note': unterminated quoted field",
        ]);
    cpm(&["ingest", &data("bad/unterminated_quote.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["unterminated_quote.csv, line 4, column 'note'"]);
}

#[test]
fn customer_attributes_are_joined_and_orphans_counted() {
    let dir = tempdir();
    let report = dir.path().join("q.json");
    let run = cpm(&[
        "ingest",
        &data("orders.csv"),
        "--customers",
        &data("customers.csv"),
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok()
    .stderr_has(&["orphan transactions", "customers without orders"]);
    let records = run.csv();
    assert_eq!(
        column(&records, "region"),
        ["north", "south", "north", "north", "south", "north", ""]
    );
    assert_eq!(column(&records, "acquisition_cost")[0], "25.0");
    let join = &read_json(&report)["customer_join"];
    assert_eq!(join["orphan_transactions"], 1);
    assert_eq!(join["customers_without_orders"], 1);
    assert_eq!(join["customers_in_table"], 4);
}

#[test]
fn a_customer_table_with_duplicate_ids_is_an_error() {
    let dir = tempdir();
    let customers = dir.path().join("crm.csv");
    std::fs::write(
        &customers,
        "customer_id,region\n00017,north\n00042,south\n00017,east\n",
    )
    .unwrap();
    cpm(&[
        "ingest",
        &data("orders.csv"),
        "--customers",
        &customers.display().to_string(),
    ])
    .run()
    .code_is(1)
    .stderr_has(&["customer id '00017' appears more than once (line 2, 4)"]);
}

#[test]
fn the_synthetic_retail_export_ingests_with_its_bad_rows_rejected() {
    let dir = tempdir();
    let report = dir.path().join("q.json");
    cpm(&[
        "ingest",
        "-q",
        &data("retail_export.csv"),
        "--max-rejects",
        "1%",
        "--quality-report",
        &report.display().to_string(),
        "-o",
        &dir.path().join("retail.parquet").display().to_string(),
    ])
    .run()
    .ok();
    let q = read_json(&report);
    let read = q["rows_read"].as_u64().unwrap();
    let kept = q["rows_kept"].as_u64().unwrap();
    let rejected = q["rows_rejected"].as_u64().unwrap();
    let removed = q["duplicates_removed"].as_u64().unwrap();
    assert_eq!(read, kept + rejected + removed);
    assert!(rejected > 0 && removed > 0 && q["refunds"].as_u64().unwrap() > 0);
    assert_eq!(q["column_map"]["revenue"], "Quantity * Price");
    assert!(q["customers"].as_u64().unwrap() > 2000);
}

#[test]
fn one_reject_policy_for_every_command() {
    let retail = data("retail_export.csv");
    // 16 bad rows of 19,612 are within the default 1%: left out, counted
    let dir = tempdir();
    let out = dir.path().join("clean.parquet").display().to_string();
    cpm(&["ingest", &retail, "-o", &out])
        .run()
        .ok()
        .stderr_has(&["rows rejected", "16"]);
    for (command, file) in [
        ("segment", "x.csv"),
        ("value", "x.csv"),
        ("report", "x.json"),
    ] {
        cpm(&[
            command,
            &retail,
            "-o",
            &dir.path().join(file).display().to_string(),
        ])
        .run()
        .ok()
        .stderr_has(&["16 of 19,612 rows left out"]);
    }
    // --max-rejects 0 stops every command alike, naming the first reject
    for command in ["ingest", "segment", "value", "allocate", "report"] {
        let mut args = vec![command, retail.as_str(), "--max-rejects", "0"];
        if command == "allocate" {
            args.extend(["--budget", "100"]);
        }
        cpm(&args).run().code_is(1).stderr_has(&[
            "16 of 19,612 rows rejected, more than --max-rejects allows (0 rows)",
            "line 1006: missing customer_id",
        ]);
    }
}
