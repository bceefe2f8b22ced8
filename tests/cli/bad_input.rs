//! The bad-input corpus (testdata/bad/): every malformed input, what cpm
//! answers (exit code, a message naming the file, the line and the column
//! where there is one), and what happens to the output: a failed run
//! creates none and leaves an existing one as it was; inputs cpm can read
//! give the output the case checks.

use std::path::Path;

use crate::util::{column, cpm, data, parse_csv, tempdir};

/// One corpus case.
struct Case {
    /// The command and its arguments; `IN` stands for the input file.
    args: &'static [&'static str],
    /// The file under testdata/bad/.
    file: &'static str,
    /// Fed on stdin instead of named.
    stdin: bool,
    /// The exit code.
    code: i32,
    /// What stderr must say.
    says: &'static [&'static str],
    /// For a successful run: a check of the CSV output.
    check: Option<fn(&[Vec<String>])>,
}

const fn fails(
    file: &'static str,
    args: &'static [&'static str],
    code: i32,
    says: &'static [&'static str],
) -> Case {
    Case {
        args,
        file,
        stdin: false,
        code,
        says,
        check: None,
    }
}

const fn reads(
    file: &'static str,
    args: &'static [&'static str],
    check: fn(&[Vec<String>]),
) -> Case {
    Case {
        args,
        file,
        stdin: false,
        code: 0,
        says: &[],
        check: Some(check),
    }
}

const INGEST: &[&str] = &["ingest", "IN"];

fn ids(out: &[Vec<String>]) -> Vec<String> {
    column(out, "customer_id")
}

fn revenues(out: &[Vec<String>]) -> Vec<f64> {
    column(out, "revenue")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

fn corpus() -> Vec<Case> {
    vec![
        // a ZIP header that opens no workbook
        fails(
            "not_a_workbook.xlsx",
            INGEST,
            1,
            &["not_a_workbook.xlsx: cannot read as a workbook"],
        ),
        // quotes
        fails(
            "unterminated_quote.csv",
            INGEST,
            1,
            &[
                "unterminated_quote.csv, line 4, column 'note'",
                "never closes",
            ],
        ),
        fails(
            "unterminated_quote_eof.csv",
            INGEST,
            1,
            &["unterminated_quote_eof.csv, line 3, column 'note'"],
        ),
        // compressions cpm does not read are named, never taken for text
        fails(
            "orders.csv.bz2",
            INGEST,
            1,
            &["orders.csv.bz2: bzip2-compressed: not supported; decompress it first"],
        ),
        fails(
            "orders.csv.xz",
            INGEST,
            1,
            &["orders.csv.xz: xz-compressed"],
        ),
        // a line of spaces is an empty line, not a ragged row
        reads(
            "whitespace_line.csv",
            &["ingest", "IN", "--max-rejects", "0"],
            |out| assert_eq!(ids(out), ["A", "B"]),
        ),
        // a blank id is missing in every format: counted rejects, and an id
        // with spaces around it is the same customer
        reads(
            "blank_ids.ndjson",
            &["ingest", "IN", "--max-rejects", "2"],
            |out| assert_eq!(ids(out), ["A", "A"]),
        ),
        // a quote inside an unquoted field is kept as a character
        reads("stray_quote.csv", INGEST, |out| {
            assert_eq!(ids(out), ["A", "B\"x", "C"])
        }),
        reads("embedded_newlines.csv", INGEST, |out| {
            assert_eq!(column(out, "note"), ["first line\nsecond line", "plain"])
        }),
        // ragged rows are counted rejects, past --max-rejects an error
        fails(
            "ragged_short.csv",
            INGEST,
            1,
            &["ragged_short.csv, line 3: ragged row: 3 fields, expected 4"],
        ),
        fails(
            "ragged_long.csv",
            INGEST,
            1,
            &["ragged_long.csv, line 3: ragged row: 5 fields, expected 4"],
        ),
        reads(
            "ragged.csv",
            &["ingest", "IN", "--max-rejects", "50%"],
            |out| assert_eq!(ids(out), ["A", "D"]),
        ),
        // encodings and line ends
        reads("bom.csv", INGEST, |out| assert_eq!(ids(out), ["A", "B"])),
        reads("utf16_bom.csv", INGEST, |out| {
            assert_eq!(ids(out), ["José", "B"])
        }),
        fails(
            "latin1.csv",
            INGEST,
            1,
            &[
                "latin1.csv, line 2, column 'customer_id'",
                "invalid UTF-8",
                "--encoding windows-1252",
            ],
        ),
        reads(
            "latin1.csv",
            &["ingest", "IN", "--encoding", "latin1"],
            |out| assert_eq!(ids(out), ["Müller", "B"]),
        ),
        reads("crlf_mixed.csv", INGEST, |out| {
            assert_eq!(ids(out), ["A", "B", "C"]);
            assert_eq!(revenues(out), [10.0, 20.0, 30.0]);
        }),
        fails(
            "garbage.csv",
            INGEST,
            1,
            &["garbage.csv, line 1", "invalid UTF-8"],
        ),
        Case {
            stdin: true,
            ..fails(
                "random.bin",
                &["ingest"],
                1,
                &["<stdin>, line 1", "invalid UTF-8"],
            )
        },
        // amounts: the other convention never parses silently
        fails(
            "semicolon_decimal_comma.csv",
            INGEST,
            1,
            &[
                "semicolon_decimal_comma.csv, line 2: non-numeric revenue",
                "try --decimal-comma",
            ],
        ),
        reads(
            "semicolon_decimal_comma.csv",
            &["ingest", "IN", "--decimal-comma"],
            |out| assert_eq!(revenues(out), [1234.5, 20.0]),
        ),
        reads("thousands_comma.csv", INGEST, |out| {
            assert_eq!(revenues(out), [1234.0, 20.0])
        }),
        fails(
            "thousands_dot.csv",
            INGEST,
            1,
            &["thousands_dot.csv, line 2: non-numeric revenue (1;A;2024-01-01;1.234,00)"],
        ),
        reads(
            "thousands_dot.csv",
            &["ingest", "IN", "--decimal-comma"],
            |out| assert_eq!(revenues(out), [1234.0, 1234.0]),
        ),
        fails(
            "nan_inf.csv",
            INGEST,
            1,
            &["nan_inf.csv, line 2: non-finite revenue"],
        ),
        reads(
            "nan_inf.csv",
            &["ingest", "IN", "--max-rejects", "100%"],
            |out| assert_eq!(revenues(out), [10.0]),
        ),
        reads("negative_zero.csv", INGEST, |out| {
            assert_eq!(revenues(out), [10.0, -10.0, 0.0, 0.0, 5.0])
        }),
        // dates
        fails(
            "mixed_dates.csv",
            INGEST,
            1,
            &["mixed_dates.csv, line 3: unparseable order_date"],
        ),
        fails(
            "ambiguous_dates.csv",
            INGEST,
            1,
            &["ambiguous_dates.csv, column 'order_date'", "--date-format"],
        ),
        // found by fuzzing: a character across the tenth byte of a date
        fails(
            "date_multibyte.csv",
            INGEST,
            1,
            &["date_multibyte.csv, line 3: unparseable order_date"],
        ),
        reads("timezones.csv", INGEST, |out| {
            // offsets are applied: the day is the UTC day
            assert_eq!(
                column(out, "order_date"),
                ["2024-01-02", "2024-01-01", "2024-01-03"]
            )
        }),
        reads("future_dates.csv", INGEST, |out| {
            assert_eq!(column(out, "order_date")[1], "2099-12-31")
        }),
        // headers and shape
        fails("empty.csv", INGEST, 1, &["empty.csv: empty file"]),
        reads("header_only.csv", INGEST, |out| assert_eq!(out.len(), 1)),
        fails(
            "duplicate_header.csv",
            INGEST,
            1,
            &[
                "duplicate_header.csv, line 1, column 'revenue'",
                "duplicate column name",
            ],
        ),
        fails(
            "missing_column.csv",
            INGEST,
            1,
            &[
                "missing_column.csv: no column for order_date",
                "--map order_date=",
            ],
        ),
        reads("header_spaces.csv", INGEST, |out| {
            assert_eq!(ids(out), ["A", "B"])
        }),
        fails(
            "preamble.csv",
            INGEST,
            1,
            &["preamble.csv: no column for customer_id", "--skip-rows"],
        ),
        reads(
            "preamble.csv",
            &["ingest", "IN", "--skip-rows", "1"],
            |out| assert_eq!(ids(out), ["A", "B"]),
        ),
        // values
        reads("duplicates.csv", INGEST, |out| {
            assert_eq!(ids(out), ["A", "B", "C"])
        }),
        reads("same_day.csv", INGEST, |out| {
            assert_eq!(revenues(out), [10.0, 15.0, 5.0, 20.0])
        }),
        reads("leading_zero_ids.csv", INGEST, |out| {
            assert_eq!(ids(out), ["00042", "042", "42"])
        }),
        reads("padded.csv", INGEST, |out| {
            assert_eq!(ids(out), ["A", "B"]);
            assert_eq!(revenues(out), [10.0, 20.0]);
        }),
        fails(
            "null_tokens.csv",
            INGEST,
            1,
            &["null_tokens.csv, line 3: missing customer_id (2,NA,"],
        ),
        reads(
            "null_tokens.csv",
            &["ingest", "IN", "--max-rejects", "100%"],
            |out| assert_eq!(ids(out), ["A"]),
        ),
        fails(
            "bad_values.csv",
            INGEST,
            1,
            &["bad_values.csv, line 3: missing customer_id"],
        ),
        // binary and compressed inputs
        fails(
            "truncated.parquet",
            INGEST,
            1,
            &["truncated.parquet: cannot read as Parquet"],
        ),
        fails(
            "truncated.arrows",
            INGEST,
            1,
            &["truncated.arrows: cannot read as an Arrow IPC stream"],
        ),
        fails(
            "truncated.csv.gz",
            INGEST,
            1,
            &["truncated.csv.gz: cannot decompress"],
        ),
        // binary data and JSON that would blow the reader up, refused at once
        fails(
            "nul_bytes.csv",
            INGEST,
            1,
            &["nul_bytes.csv, line 3: binary data (a NUL byte): not a text file"],
        ),
        fails(
            "deep_nesting.ndjson",
            INGEST,
            1,
            &["deep_nesting.ndjson, line 2: values nested more than 64 levels deep"],
        ),
        // JSON errors by line and column, not polars' character
        fails(
            "ndjson_bad_line.ndjson",
            INGEST,
            1,
            &["ndjson_bad_line.ndjson, line 4: not valid JSON at column 60: key must be a string"],
        ),
        fails(
            "ndjson_mixed_kinds.ndjson",
            INGEST,
            1,
            &[
                "ndjson_mixed_kinds.ndjson, line 5, column 'tags': a list here, an object on line \
                 2",
            ],
        ),
        fails(
            "gzip_trailing_garbage.csv.gz",
            INGEST,
            1,
            &[
                "gzip_trailing_garbage.csv.gz: cannot decompress (Gzip): 13 bytes after the end of \
               the gzip data are not gzip",
            ],
        ),
        fails(
            "backslash_quotes.csv",
            INGEST,
            1,
            &[
                "backslash_quotes.csv, line 3, column 'note': a quote escaped with a backslash \
               (\\\")",
                "--escape '\\'",
            ],
        ),
        // ids that are no text
        fails(
            "binary_ids.parquet",
            INGEST,
            1,
            &[
                "binary_ids.parquet, row 2, column 'customer_id': a binary id that is not UTF-8 \
               text (bytes ff fe at byte 0)",
            ],
        ),
        fails(
            "list_ids.parquet",
            INGEST,
            1,
            &["list_ids.parquet, column 'customer_id': holds nested values (list[str])"],
        ),
        // the other commands' inputs
        fails(
            "customers_duplicate_ids.csv",
            &["segment", "IN"],
            1,
            &["customers_duplicate_ids.csv: customer 'a' appears twice (lines 2 and 4)"],
        ),
        fails(
            "customers_duplicate_ids.csv",
            &["report", "IN"],
            1,
            &["customer 'a' appears twice"],
        ),
        fails(
            "model_negative.json",
            &["value", "TX", "--model-in", "IN"],
            1,
            &["model_negative.json: parameter r is -0.24"],
        ),
        fails(
            "model_garbage.json",
            &["value", "TX", "--model-in", "IN"],
            1,
            &["model_garbage.json, line 2", "not a cpm model file"],
        ),
        fails(
            "response_unknown_group.csv",
            &["allocate", "TX", "--budget", "100", "--response", "IN"],
            2,
            &["Whales"],
        ),
        fails(
            "rules_unknown_key.toml",
            &["segment", "TX", "--rules", "IN"],
            1,
            &[
                "rules_unknown_key.toml",
                "line 8",
                "unknown field `stratgy`",
            ],
        ),
        fails(
            "rules_gap.toml",
            &["segment", "TX", "--rules", "IN"],
            1,
            &["rules_gap.toml"],
        ),
    ]
}

/// Runs one case twice: into a new output (none may appear on failure)
/// and over an existing one (it must stay as it was).
fn run_case(case: &Case, dir: &Path) {
    let input = data(&format!("bad/{}", case.file));
    let transactions = data("orders.csv");
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| match *a {
            "IN" => input.clone(),
            "TX" => transactions.clone(),
            other => other.to_string(),
        })
        .collect();
    let stdin = if case.stdin {
        std::fs::read(&input).unwrap()
    } else {
        Vec::new()
    };
    for existing in [false, true] {
        // the report writes pages, the others tables
        let extension = if case.args[0] == "report" {
            "json"
        } else {
            "csv"
        };
        let output = dir.join(format!("{}-{existing}.{extension}", case.file));
        if existing {
            std::fs::write(&output, "previous output\n").unwrap();
        }
        let mut all = args.clone();
        all.extend(["-o".to_string(), output.display().to_string()]);
        let run = cpm(&all).stdin(stdin.clone()).run().code_is(case.code);
        let run = run.stderr_has(case.says);
        if case.code != 0 {
            if existing {
                assert_eq!(
                    std::fs::read_to_string(&output).unwrap(),
                    "previous output\n",
                    "{}: the existing output changed",
                    case.file
                );
            } else {
                assert!(!output.exists(), "{}: an output was created", case.file);
            }
        } else if let Some(check) = case.check {
            check(&parse_csv(&std::fs::read(&output).unwrap()));
        }
        drop(run);
    }
    // nothing half-written left beside the outputs
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{}: {leftovers:?}", case.file);
}

#[test]
fn every_bad_input_is_answered_and_loses_nothing() {
    let dir = tempdir();
    let cases = corpus();
    let files: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.file).collect();
    assert!(files.len() >= 35, "the corpus has {} files", files.len());
    for case in &cases {
        run_case(case, dir.path());
    }
}

#[test]
fn a_20_mb_field_is_refused_past_the_limit_and_read_whole_within_a_raised_one() {
    let dir = tempdir();
    let input = dir.path().join("big_field.csv");
    let big = "x".repeat(20_000_000);
    std::fs::write(
        &input,
        format!(
            "order_id,customer_id,order_date,revenue,note\n1,A,2024-01-01,10.00,\"{big}\"\n\
             2,B,2024-01-02,20.00,short\n"
        ),
    )
    .unwrap();
    let output = dir.path().join("out.csv");
    let (input, output_name) = (input.display().to_string(), output.display().to_string());
    cpm(&["ingest", &input, "-q", "-o", &output_name])
        .run()
        .code_is(1)
        .stderr_has(&[
            "big_field.csv, line 2, column 'note': a quoted field opens on line 2 and runs past \
             the limit of 1.0 MiB (--max-field-size)",
        ]);
    assert!(!output.exists());
    cpm(&[
        "ingest",
        &input,
        "-q",
        "--max-field-size",
        "32MiB",
        "-o",
        &output_name,
    ])
    .run()
    .ok();
    let out = parse_csv(&std::fs::read(&output).unwrap());
    assert_eq!(column(&out, "note"), [big, "short".to_string()]);
}

#[test]
fn a_stray_quote_pair_never_swallows_the_rows_between() {
    // 200,000 rows; a free-text note opens a quote on line 6 and another
    // closes one 100,000 lines later: one value of everything between
    let dir = tempdir();
    let input = dir.path().join("stray_pair.csv");
    let mut text = String::from("order_id,customer_id,order_date,revenue,note\n");
    for i in 1..=200_000u32 {
        let note = match i {
            5 => "\"he said",
            100_005 => "hi\"",
            _ => "ok",
        };
        text.push_str(&format!("{i},C{},2024-01-01,1.00,{note}\n", i % 97));
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("out.csv");
    let input = input.display().to_string();
    cpm(&["ingest", &input, "-o", &output.display().to_string()])
        .run()
        .code_is(1)
        .stderr_has(&[
            "stray_pair.csv, line 6, column 'note': a quoted field opens on line 6 and closes on \
             line 100006: it spans 100,001 lines (the limit is 100, --max-field-lines)",
        ]);
    assert!(!output.exists());
    // a real multi-line note within the limit is read, and counted
    let report = dir.path().join("quality.json");
    cpm(&[
        "ingest",
        &data("bad/embedded_newlines.csv"),
        "-o",
        "/dev/null",
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok();
    let quality = crate::util::read_json(&report);
    assert_eq!(quality["rows_with_line_breaks"], 1);
    assert_eq!(quality["longest_field_lines"], 2);
}

#[test]
fn inputs_that_can_be_read_once_are_read_whole() {
    // 20,001 rows, more than any sniffing head: /dev/stdin on a pipe, a
    // named FIFO and process substitution give every row, as '-' does
    let dir = tempdir();
    let mut text = String::from("order_id,customer_id,order_date,revenue\n");
    for i in 0..20_001u32 {
        text.push_str(&format!(
            "{i},C{},2024-01-{:02},{}.50\n",
            i % 501,
            i % 28 + 1,
            i % 90
        ));
    }
    let file = dir.path().join("many.csv");
    std::fs::write(&file, &text).unwrap();
    let rows = |run: crate::util::Run| run.ok().csv().len() - 1;
    assert_eq!(
        rows(cpm(&["ingest", "-", "-q"]).stdin(text.clone()).run()),
        20_001
    );
    assert_eq!(
        rows(
            cpm(&["ingest", "/dev/stdin", "-q"])
                .stdin(text.clone())
                .run()
        ),
        20_001
    );

    let fifo = dir.path().join("orders.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let (fifo, text) = (fifo.clone(), text.clone());
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    assert_eq!(
        rows(cpm(&["ingest", &fifo.display().to_string(), "-q"]).run()),
        20_001
    );
    writer.join().unwrap();

    let substituted = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' segment <(cat '{}') -q -f csv | wc -l",
            env!("CARGO_BIN_EXE_cpm"),
            file.display()
        ))
        .output()
        .unwrap();
    assert!(substituted.status.success());
    // a header and the 501 customers
    assert_eq!(String::from_utf8_lossy(&substituted.stdout).trim(), "502");
}

#[test]
fn files_joined_with_cat_lose_their_inner_bom_and_header_and_backslashes_read_with_escape() {
    let run = cpm(&["ingest", &data("bad/joined_with_cat.csv")])
        .run()
        .ok()
        .stderr_has(&[
            "joined_with_cat.csv: line 4 began with a byte order mark (files joined with cat?): \
             removed",
            "joined_with_cat.csv: line 4 repeated the header (files joined with cat?): skipped, \
             not rows",
        ]);
    let out = run.csv();
    assert_eq!(column(&out, "order_id"), ["1", "2", "3", "4"]);
    assert_eq!(column(&out, "customer_id"), ["A", "B", "C", "A"]);
    let out = cpm(&[
        "ingest",
        &data("bad/backslash_quotes.csv"),
        "--escape",
        "\\",
        "-q",
    ])
    .run()
    .ok()
    .csv();
    assert_eq!(
        column(&out, "note"),
        ["plain", "she said \"hi\", then left", "C:\\exports\\"]
    );
}

#[test]
fn a_file_named_twice_is_read_once() {
    let orders = data("orders.csv");
    let again = format!("{}/./orders.csv", crate::util::testdata("").display());
    let run = cpm(&["ingest", &orders, &again, "--quality-report", "/dev/null"])
        .run()
        .ok()
        .stderr_has(&["orders.csv is named twice: read once", "rows read", "7"]);
    assert_eq!(run.csv().len() - 1, 7);
}

#[test]
fn a_source_column_that_exists_is_refused() {
    cpm(&[
        "ingest",
        &data("orders.csv"),
        "--source-column",
        "customer_id",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--source-column customer_id: the data have a column 'customer_id' already"]);
    cpm(&["ingest", &data("orders.csv"), "--source-column", "channel"])
        .run()
        .code_is(2);
}

#[test]
fn two_outputs_on_one_path_are_refused_before_anything_is_written() {
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let twice = path("x.csv");
    let again = format!("{}/./x.csv", dir.path().display());
    let orders = data("orders.csv");
    let retail = data("retail_export.csv");
    let page = path("x.json");
    let page_again = format!("{}/./x.json", dir.path().display());
    let cases: [Vec<&str>; 4] = [
        vec!["ingest", &orders, "-o", &twice, "--rejects", &again],
        vec!["ingest", &orders, "-o", &twice, "--quality-report", &twice],
        vec!["segment", &orders, "-o", &twice, "--summary-out", &again],
        vec![
            "report",
            &retail,
            "-o",
            &page,
            "-o",
            &page_again,
            "--no-model",
        ],
    ];
    for args in cases {
        cpm(&args)
            .run()
            .code_is(2)
            .stderr_has(&["are the same file: give each output its own"]);
        assert!(!dir.path().join("x.csv").exists(), "{args:?} wrote");
        assert!(!dir.path().join("x.json").exists(), "{args:?} wrote");
    }
    let list = path("list.csv");
    cpm(&[
        "allocate",
        &retail,
        "--budget",
        "100",
        "--target-list",
        "10",
        "-o",
        &list,
        "--allocation-out",
        &list,
    ])
    .run()
    .code_is(2)
    .stderr_has(&["are the same file"]);
}

#[test]
fn numbers_that_are_not_numbers_are_usage_errors() {
    let small = data("segment_small.csv");
    let cases: [(&[&str], &str); 10] = [
        (
            &["--tier-cuts", "NaN,5,20"],
            "--tier-cuts needs three increasing",
        ),
        (
            &["--tier-cuts", "50,5,20"],
            "--tier-cuts needs three increasing",
        ),
        (
            &["--r-edges", "NaN,30"],
            "--r-edges [NaN, 30.0]: edges are finite",
        ),
        (&["--r-edges", "90,30"], "--r-edges must increase"),
        (
            &["--value-split", "NaN"],
            "--value-split NaN: a finite amount",
        ),
        (
            &["--risk-ratio", "NaN"],
            "--risk-ratio NaN: a finite number above 0",
        ),
        (&["--risk-ratio", "0"], "--risk-ratio 0"),
        (&["--bins", "1"], "--bins must be between 2 and 9"),
        (
            &["--tier-by", "nosuch"],
            "--tier-by nosuch: no such column (found: customer_id",
        ),
        (
            &["--tier-by", "customer_id"],
            "--tier-by customer_id: the column holds str, not amounts",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["segment", small.as_str()];
        all.extend_from_slice(args);
        cpm(&all).run().code_is(2).stderr_has(&[says]);
    }
    let retail = data("retail_export.csv");
    for penalty in ["NaN", "-1"] {
        cpm(&["value", &retail, &format!("--penalty={penalty}")])
            .run()
            .code_is(2)
            .stderr_has(&["a finite number, 0 or more"]);
    }
    for column in ["customer_id", "first_order"] {
        cpm(&["allocate", &retail, "--budget", "100", "--value", column])
            .run()
            .code_is(2)
            .stderr_has(&[&format!("--value {column}: the column holds")]);
    }
}

#[test]
fn a_time_unit_against_the_saved_model_is_refused() {
    let dir = tempdir();
    let model = dir.path().join("model.json").display().to_string();
    let retail = data("retail_export.csv");
    cpm(&[
        "value",
        "-q",
        &retail,
        "--model-out",
        &model,
        "-o",
        "/dev/null",
    ])
    .run()
    .ok();
    cpm(&["value", &retail, "--model-in", &model, "--time-unit", "day"])
        .run()
        .code_is(2)
        .stderr_has(&["--time-unit day disagrees with the model, which was fitted in weeks"]);
    cpm(&[
        "value",
        "-q",
        &retail,
        "--model-in",
        &model,
        "--time-unit",
        "week",
        "-o",
        "/dev/null",
    ])
    .run()
    .ok();
}

#[test]
fn blank_ids_in_a_canonical_parquet_file_are_counted_rejects() {
    let dir = tempdir();
    let path = dir.path().join("canonical.parquet");
    write_canonical(&path, &["", "  ", "A", "B"]);
    let file = path.display().to_string();
    let out = cpm(&["segment", &file, "--max-rejects", "2"])
        .run()
        .ok()
        .stderr_has(&["2 of 4 rows left out (2 missing customer_id)"])
        .csv();
    assert_eq!(column(&out, "customer_id"), ["A", "B"]);
    // read a batch at a time: a blank id past the first rows (which a
    // batch reader looks at) is an error naming its row
    let ids: Vec<String> = (0..9000)
        .map(|i| {
            if i == 8500 {
                " ".into()
            } else {
                format!("c{}", i % 50)
            }
        })
        .collect();
    write_canonical(&path, &ids.iter().map(String::as_str).collect::<Vec<_>>());
    cpm(&["segment", &file])
        .env("CPM_STREAM_ABOVE", "1")
        .run()
        .code_is(1)
        .stderr_has(&["customer_id is empty in row 8501"]);
}

#[test]
fn sums_past_the_range_of_a_number_and_subnormal_responses_are_errors() {
    for command in ["segment", "ingest"] {
        cpm(&[command, &data("bad/overflowing_sums.csv")])
            .run()
            .code_is(1)
            .stderr_has(&["the revenue of customer 'A' does not add up to a number"]);
    }
    cpm(&[
        "allocate",
        &data("allocate_customers.csv"),
        "--budget",
        "10",
        "--response",
        &data("bad/subnormal_saturation.csv"),
    ])
    .run()
    .code_is(2)
    .stderr_has(&["group 'Champions': the response has uplift value 200.0 and saturation 1e-310"]);
}

#[test]
fn escape_sequences_in_the_data_never_reach_a_terminal() {
    let file = data("bad/escape_sequences.csv");
    for format in ["table", "markdown"] {
        let run = cpm(&["ingest", &file, "--max-rejects", "1", "-f", format])
            .run()
            .ok();
        let shown = format!("{}{}", run.stdout(), run.stderr());
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{format}: {shown:?}"
        );
        assert!(run.stdout().contains("\\u{1b}]0;pwned\\u{7}A"), "{format}");
    }
    // the reject message of a failing run, too
    let failed = cpm(&["ingest", &file, "--max-rejects", "0"])
        .run()
        .code_is(1);
    assert!(!failed.stderr().contains('\u{1b}'), "{:?}", failed.stderr());
    assert!(
        failed.stderr().contains("x\\u{1b}[31m"),
        "{}",
        failed.stderr()
    );
    // a data file keeps them exact
    let csv = cpm(&["ingest", "-q", &file, "--max-rejects", "1", "-f", "csv"])
        .run()
        .ok();
    assert!(csv.stdout().contains("\u{1b}]0;pwned\u{7}A"));
}

#[test]
fn a_huge_bad_row_is_quoted_by_an_excerpt() {
    let dir = tempdir();
    let file = dir.path().join("huge.csv");
    let note = "x".repeat(100_000);
    std::fs::write(
        &file,
        format!(
            "customer_id,order_date,revenue,note\nA,2024-01-01,oops,{note}\nB,2024-01-02,5,ok\n"
        ),
    )
    .unwrap();
    let rejects = dir.path().join("rejects.csv");
    let failed = cpm(&[
        "ingest",
        &file.display().to_string(),
        "--rejects",
        &rejects.display().to_string(),
    ])
    .run()
    .code_is(1)
    .stderr_has(&["non-numeric revenue", "… (100,018 characters)"]);
    assert!(
        failed.stderr().len() < 2_000,
        "{} bytes",
        failed.stderr().len()
    );
    let listed = parse_csv(&std::fs::read(&rejects).unwrap());
    let raw = &column(&listed, "raw")[0];
    assert!(
        raw.starts_with("A,2024-01-01,oops,xxx") && raw.chars().count() < 240,
        "{raw}"
    );
}

#[test]
fn options_that_cannot_work_are_said_before_any_row_is_read() {
    let orders = data("orders.csv");
    cpm(&["ingest", &orders, "--date-format", "%Q-%d"])
        .run()
        .code_is(2)
        .stderr_has(&["--date-format '%Q-%d': not a date layout"]);
    cpm(&["ingest", &orders, "--skip-rows", "100"])
        .run()
        .code_is(1)
        .stderr_has(&["orders.csv: nothing left after --skip-rows 100"]);
    let dir = tempdir();
    let file = dir.path().join("tables");
    std::fs::write(&file, "").unwrap();
    cpm(&[
        "report",
        &data("report_small.csv"),
        "--no-model",
        "--tables-dir",
        &file.display().to_string(),
        "-o",
        &dir.path().join("r.json").display().to_string(),
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--tables-dir", "a file is there, not a folder"]);
}

#[test]
fn a_year_9999_and_a_summary_by_its_own_column_are_answered() {
    let dir = tempdir();
    let file = dir.path().join("y9999.csv");
    std::fs::write(
        &file,
        "customer_id,order_date,revenue\nA,2024-01-01,5\nB,9999-12-31,6\n",
    )
    .unwrap();
    let report = cpm(&[
        "report",
        "-q",
        &file.display().to_string(),
        "--no-model",
        "-f",
        "json",
    ])
    .run()
    .ok();
    let json: serde_json::Value = serde_json::from_str(&report.stdout()).unwrap();
    assert_eq!(json["as_of"], "9999-12-31");
    cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--by",
        "revenue",
        "--summary",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--by revenue: a column of the summary itself"]);
}

#[test]
fn two_headers_for_one_canonical_column_take_the_exact_name_and_say_so() {
    let file = data("bad/two_revenue_columns.csv");
    let run = cpm(&["ingest", &file, "-f", "csv"])
        .run()
        .ok()
        .stderr_has(&["columns 'revenue' and 'Revenue' both name revenue: 'revenue' is taken"]);
    let out = run.csv();
    assert_eq!(column(&out, "revenue"), ["5.0"]);
    assert_eq!(column(&out, "Revenue"), ["7"]);
    // the same from segment, which ingests the export first
    cpm(&["segment", &file, "-o", "/dev/null"])
        .run()
        .ok()
        .stderr_has(&["'Revenue' passes through"]);
}

#[test]
fn nested_columns_never_leave_half_a_csv_on_stdout() {
    let file = data("bad/nested_columns.ndjson");
    let failed = cpm(&["ingest", "-q", &file, "-f", "csv"])
        .run()
        .code_is(2)
        .stderr_has(&["column 'tags' holds nested data (list[str]), which CSV cannot hold"]);
    assert!(failed.stdout().is_empty(), "{:?}", failed.stdout());
    let kept = cpm(&[
        "ingest",
        "-q",
        &file,
        "-f",
        "csv",
        "--columns",
        "customer_id,revenue",
    ])
    .run()
    .ok()
    .csv();
    assert_eq!(kept, [["customer_id", "revenue"], ["A", "5.0"]]);
}

#[test]
fn a_response_value_that_is_not_a_number_is_named_by_group_and_column() {
    cpm(&[
        "allocate",
        &data("allocate_customers.csv"),
        "--budget",
        "10",
        "--response",
        &data("bad/response_not_a_number.csv"),
    ])
    .run()
    .code_is(1)
    .stderr_has(&[
        "response_not_a_number.csv: line 2, group 'Champions', column 'max': 'abc' is not a number",
    ]);
}

/// A canonical transaction table in Parquet: these customer ids, a day
/// and an amount each.
fn write_canonical(path: &Path, ids: &[&str]) {
    use polars::prelude::*;
    let days: Vec<i32> = (0..ids.len() as i32).map(|i| 19723 + i % 30).collect();
    let mut frame = df!(
        "customer_id" => ids,
        "order_date" => days,
        "revenue" => vec![1.0; ids.len()],
    )
    .unwrap();
    let dates = frame
        .column("order_date")
        .unwrap()
        .cast(&DataType::Date)
        .unwrap();
    frame.with_column(dates).unwrap();
    ParquetWriter::new(std::fs::File::create(path).unwrap())
        .finish(&mut frame)
        .unwrap();
}

#[test]
fn contact_lists_and_rejects_files_are_formula_safe_and_data_exact_unless_asked() {
    let dir = tempdir();
    // contact list: the formula id of report_small.csv gets an apostrophe
    let tx = data("report_small.csv");
    let run = |args: &[&str], extra: &[&str]| {
        let all: Vec<&str> = args.iter().chain(extra).copied().collect();
        column(&cpm(&all).run().ok().csv(), "customer_id")
    };
    let allocate = [
        "allocate",
        &tx,
        "--budget",
        "100",
        "--target-list",
        "5",
        "-q",
        "-f",
        "csv",
    ];
    assert!(run(&allocate, &[]).contains(&"'=1+2".to_string()));
    assert!(run(&allocate, &["--no-excel-safe"]).contains(&"=1+2".to_string()));
    // rejects file: its raw rows and reasons guarded
    let rejects = dir.path().join("rejects.csv");
    let ingest = |extra: &[&str]| {
        let mut args = vec![
            "ingest".to_string(),
            data("bad/formula_rejects.csv"),
            "--max-rejects".to_string(),
            "2".to_string(),
            "-q".to_string(),
            "-o".to_string(),
            "/dev/null".to_string(),
            "--rejects".to_string(),
            rejects.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        cpm(&args).run().ok();
        column(&parse_csv(&std::fs::read(&rejects).unwrap()), "raw")
    };
    let raw = ingest(&[]);
    assert!(raw[0].starts_with("'=HYPERLINK("), "{raw:?}");
    assert!(raw[1].starts_with("'+1-555"), "{raw:?}");
    assert!(ingest(&["--no-excel-safe"])[0].starts_with("=HYPERLINK("));
    // a data output stays exact, unless --excel-safe
    let segment = ["segment", &tx, "-q", "-f", "csv"];
    assert!(run(&segment, &[]).contains(&"=1+2".to_string()));
    assert!(run(&segment, &["--excel-safe"]).contains(&"'=1+2".to_string()));
}
