//! Reading every input format and encoding, writing every output format,
//! and the output guarantees (atomic files, broken pipes, full disks).

use std::io::Read;
use std::process::{Command, Stdio};

use crate::util::{column, cpm, data, parse_csv, tempdir, testdata};

/// The customer ids of testdata/orders.csv after ingest (row 1004 is an
/// exact duplicate and goes).
const ORDERS_IDS: [&str; 7] = [
    "00017", "00042", "00017", "00099", "00042", "00017", "00123",
];

fn ingest_ids(input: &str) -> Vec<String> {
    let run = cpm(&["ingest", "-q", input]).run().ok();
    column(&run.csv(), "customer_id")
}

#[test]
fn every_input_format_reads_the_same_orders() {
    for file in [
        "orders.csv",
        "orders.parquet",
        "orders.arrows",
        "orders.ndjson",
        "orders.json",
    ] {
        assert_eq!(ingest_ids(&data(file)), ORDERS_IDS, "{file}");
    }
}

#[test]
fn arrow_ipc_file_is_read() {
    use polars::prelude::*;
    let dir = tempdir();
    let path = dir.path().join("orders.feather");
    let mut frame = df!(
        "customer_id" => ["A", "B"],
        "order_date" => ["2024-01-01", "2024-01-02"],
        "revenue" => [1.5, 2.5],
    )
    .unwrap();
    let file = std::fs::File::create(&path).unwrap();
    IpcWriter::new(file).finish(&mut frame).unwrap();
    assert_eq!(ingest_ids(&path.display().to_string()), ["A", "B"]);
}

#[test]
fn format_is_sniffed_from_magic_bytes_not_the_name() {
    let dir = tempdir();
    let disguised = dir.path().join("orders.csv");
    std::fs::copy(testdata("orders.parquet"), &disguised).unwrap();
    assert_eq!(ingest_ids(&disguised.display().to_string()), ORDERS_IDS);
}

#[test]
fn tsv_and_pipe_delimiters_are_sniffed_and_shown_with_verbose() {
    let run = cpm(&["ingest", "-v", &data("orders.tsv")]).run().ok();
    assert_eq!(column(&run.csv(), "revenue"), ["10.0", "20.0"]);
    assert!(run.stderr().contains("delimiter '\\t'"), "{}", run.stderr());
    let run = cpm(&["ingest", "-v", &data("orders_pipe.txt")]).run().ok();
    assert_eq!(column(&run.csv(), "customer_id"), ["A", "B"]);
    assert!(run.stderr().contains("delimiter '|'"));
}

#[test]
fn stdin_is_read_with_dash_or_without_arguments() {
    let bytes = std::fs::read(testdata("orders.csv")).unwrap();
    let with_dash = cpm(&["ingest", "-q", "-"]).stdin(bytes.clone()).run().ok();
    assert_eq!(column(&with_dash.csv(), "customer_id"), ORDERS_IDS);
    let piped = cpm(&["ingest", "-q"]).stdin(bytes).run().ok();
    assert_eq!(column(&piped.csv(), "customer_id"), ORDERS_IDS);
    let binary = std::fs::read(testdata("orders.arrows")).unwrap();
    let ipc = cpm(&["ingest", "-q"]).stdin(binary).run().ok();
    assert_eq!(column(&ipc.csv(), "customer_id"), ORDERS_IDS);
}

#[test]
fn gzip_and_zstd_are_decompressed() {
    let dir = tempdir();
    let raw = std::fs::read(testdata("orders.csv")).unwrap();
    let gz = dir.path().join("orders.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &raw).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let zst = dir.path().join("orders.csv.zst");
    std::fs::write(&zst, zstd::encode_all(&raw[..], 3).unwrap()).unwrap();
    assert_eq!(ingest_ids(&gz.display().to_string()), ORDERS_IDS);
    assert_eq!(ingest_ids(&zst.display().to_string()), ORDERS_IDS);
    let piped = cpm(&["ingest", "-q"])
        .stdin(std::fs::read(&gz).unwrap())
        .run()
        .ok();
    assert_eq!(column(&piped.csv(), "customer_id"), ORDERS_IDS);
}

#[test]
fn globs_concatenate_monthly_exports_aligned_by_name() {
    let run = cpm(&[
        "ingest",
        "-q",
        &data("exports/*.csv"),
        "--source-column",
        "file",
    ])
    .run()
    .ok();
    let records = run.csv();
    assert_eq!(
        records[0],
        [
            "customer_id",
            "order_date",
            "revenue",
            "order_id",
            "channel",
            "file"
        ]
    );
    // order 2 appears in both months: the second copy is a duplicate
    assert_eq!(column(&records, "order_id"), ["1", "2", "3", "4"]);
    assert_eq!(column(&records, "channel"), ["", "", "web", "store"]);
    let files = column(&records, "file");
    assert!(files[0].ends_with("2024-01.csv") && files[3].ends_with("2024-02.csv"));
}

#[test]
fn a_glob_that_matches_nothing_is_an_error() {
    cpm(&["ingest", &data("exports/*.parquet")])
        .run()
        .code_is(1)
        .stderr_has(&["no file matches this pattern"]);
}

#[test]
fn utf8_bom_and_crlf_line_ends_are_handled() {
    let run = cpm(&["ingest", "-q", &data("orders_bom.csv")]).run().ok();
    assert_eq!(run.csv()[0][0], "customer_id");
    let run = cpm(&["ingest", "-q", &data("orders_crlf.csv")]).run().ok();
    assert_eq!(column(&run.csv(), "revenue"), ["10.0", "20.0", "30.0"]);
}

#[test]
fn utf16_with_bom_is_decoded() {
    let run = cpm(&["ingest", "-v", &data("orders_utf16.csv")]).run().ok();
    assert_eq!(column(&run.csv(), "customer_id"), ["A", "B"]);
    assert!(run.stderr().contains("utf-16le"));
}

#[test]
fn latin1_needs_the_encoding_flag_and_the_error_names_line_and_column() {
    cpm(&[
        "ingest",
        &data("orders_latin1_semicolon.csv"),
        "--decimal-comma",
        "--map",
        "customer_id=Kunde",
    ])
    .run()
    .code_is(1)
    .stderr_has(&[
        "orders_latin1_semicolon.csv, line 3, column 'Region'",
        "invalid UTF-8",
        "--encoding",
    ]);
    let run = cpm(&[
        "ingest",
        "-q",
        &data("orders_latin1_semicolon.csv"),
        "--encoding",
        "latin1",
        "--decimal-comma",
        "--map",
        "customer_id=Kunde",
        "--map",
        "order_date=Belegdatum",
        "--map",
        "revenue=Betrag",
    ])
    .run()
    .ok();
    let records = run.csv();
    assert_eq!(column(&records, "Region"), ["Nord", "Süd", "Nord"]);
    assert_eq!(column(&records, "revenue"), ["1234.5", "99.95", "-12.0"]);
    assert_eq!(
        column(&records, "order_date"),
        ["2024-01-31", "2024-02-01", "2024-02-15"]
    );
}

#[test]
fn output_format_follows_the_extension_and_round_trips() {
    let dir = tempdir();
    for ext in ["parquet", "arrow", "csv", "tsv", "json", "ndjson"] {
        let out = dir.path().join(format!("clean.{ext}"));
        let out = out.display().to_string();
        cpm(&["ingest", "-q", &data("orders.csv"), "-o", &out])
            .run()
            .ok();
        assert_eq!(ingest_ids(&out), ORDERS_IDS, "{ext}");
    }
    let parquet = std::fs::read(dir.path().join("clean.parquet")).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
}

#[test]
fn arrow_and_feather_are_ipc_files_arrows_a_stream() {
    use polars::prelude::*;
    let dir = tempdir();
    for ext in ["arrow", "feather", "arrows"] {
        let out = dir.path().join(format!("clean.{ext}"));
        cpm(&[
            "ingest",
            "-q",
            &data("orders.csv"),
            "-o",
            &out.display().to_string(),
        ])
        .run()
        .ok();
        let bytes = std::fs::read(&out).unwrap();
        if ext == "arrows" {
            assert_eq!(
                &bytes[..4],
                [0xff; 4],
                "a stream starts with a continuation"
            );
            continue;
        }
        // the file format: magic at both ends, a footer a file reader finds
        assert_eq!(&bytes[..6], b"ARROW1", "{ext}");
        assert_eq!(&bytes[bytes.len() - 6..], b"ARROW1", "{ext}");
        let frame = IpcReader::new(std::fs::File::open(&out).unwrap())
            .finish()
            .unwrap();
        assert_eq!(frame.height(), ORDERS_IDS.len(), "{ext}");
    }
    // --format wins over the extension, with a warning
    let out = dir.path().join("stream.arrow").display().to_string();
    cpm(&["ingest", &data("orders.csv"), "--format", "ipc", "-o", &out])
        .run()
        .ok()
        .stderr_has(&[
            "stream.arrow is written as ipc (--format), not the arrow its extension names",
        ]);
}

#[test]
fn dash_is_stdout_and_dev_null_takes_anything() {
    let run = cpm(&["ingest", "-q", &data("orders.csv"), "-o", "-"])
        .run()
        .ok();
    assert_eq!(column(&run.csv(), "customer_id"), ORDERS_IDS);
    let json = cpm(&["ingest", "-q", &data("orders.csv"), "-o", "-", "-f", "json"])
        .run()
        .ok();
    assert!(json.stdout().starts_with("[{") && json.stdout().ends_with("}]\n"));
    if std::path::Path::new("/dev/null").exists() {
        let quiet = cpm(&["segment", &data("orders.csv"), "-o", "/dev/null"])
            .run()
            .ok();
        assert!(quiet.stdout().is_empty());
    }
}

#[test]
fn tables_for_people_in_markdown_and_fixed_width() {
    let md = cpm(&["ingest", "-q", &data("orders.csv"), "--format", "markdown"])
        .run()
        .ok();
    assert!(
        md.stdout()
            .starts_with("| customer_id | order_date | revenue |")
    );
    assert!(
        md.stdout()
            .contains("| 00017 | 2024-01-03 | 120.50 | 1001 | 70.00 | web |")
    );
    let table = cpm(&[
        "ingest",
        "-q",
        &data("orders.csv"),
        "--format",
        "table",
        "--width",
        "60",
    ])
    .run()
    .ok();
    assert!(
        table.stdout().lines().all(|l| l.chars().count() <= 60),
        "{}",
        table.stdout()
    );
    assert!(table.stdout().contains("7 rows"));
}

#[test]
fn a_failing_run_leaves_an_existing_output_untouched() {
    let dir = tempdir();
    let out = dir.path().join("clean.csv");
    std::fs::write(&out, "precious\n").unwrap();
    cpm(&[
        "ingest",
        &data("bad/ragged.csv"),
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .code_is(1);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
}

#[test]
fn a_replaced_output_is_whole_with_or_without_sync() {
    let dir = tempdir();
    let out = dir.path().join("clean.csv");
    std::fs::write(&out, "old\n").unwrap();
    let target = out.display().to_string();
    for sync in [false, true] {
        let mut args = vec!["ingest", "-q", "--max-rejects", "1%"];
        if sync {
            args.push("--sync");
        }
        let input = data("retail_export.csv");
        args.extend([input.as_str(), "-o", &target]);
        cpm(&args).run().ok();
        let written = std::fs::read_to_string(&out).unwrap();
        assert!(written.starts_with("customer_id,"), "sync {sync}");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file is left behind");
    }
}

#[test]
fn output_equal_to_input_is_refused_before_reading() {
    let dir = tempdir();
    let input = dir.path().join("orders.csv");
    std::fs::copy(testdata("orders.csv"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let same = dir.path().join(".").join("orders.csv");
    cpm(&[
        "ingest",
        &input.display().to_string(),
        "-o",
        &same.display().to_string(),
    ])
    .run()
    .code_is(2)
    .stderr_has(&["is also an input"]);
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_code_0() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .args(["ingest", "-q", &data("cdnow_master.csv")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // like `| head -c 64`
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_full_disk_is_exit_code_1_with_a_message() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not on this platform
    };
    let output = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .args(["ingest", "-q", &data("orders.csv")])
        .stdin(Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn csv_output_keeps_every_value() {
    let run = cpm(&["ingest", "-q", &data("orders.csv")]).run().ok();
    let records = parse_csv(run.stdout_bytes());
    assert_eq!(column(&records, "revenue")[0], "120.5");
    assert_eq!(column(&records, "cost")[2], "41.25");
    assert_eq!(column(&records, "order_id")[5], "C1006");
}

#[test]
fn headerless_files_preambles_and_null_tokens() {
    let dir = tempdir();
    let headerless = dir.path().join("plain.csv");
    std::fs::write(&headerless, "A,2024-01-01,10\nB,2024-01-02,20\n").unwrap();
    let run = cpm(&[
        "ingest",
        "-q",
        &headerless.display().to_string(),
        "--no-header",
        "--map",
        "customer_id=column_1",
        "--map",
        "order_date=column_2",
        "--map",
        "revenue=column_3",
    ])
    .run()
    .ok();
    assert_eq!(column(&run.csv(), "customer_id"), ["A", "B"]);

    let preamble = dir.path().join("report.csv");
    std::fs::write(
        &preamble,
        "Sales export; generated 2024-03-01\n\ncustomer_id;order_date;revenue;region\nA;2024-01-01;10;NA\nB;2024-01-02;20;-\n",
    )
    .unwrap();
    let run = cpm(&[
        "ingest",
        "-q",
        &preamble.display().to_string(),
        "--skip-rows",
        "2",
        "--null-values",
        "NA,-",
    ])
    .run()
    .ok();
    let records = run.csv();
    assert_eq!(column(&records, "revenue"), ["10.0", "20.0"]);
    assert_eq!(column(&records, "region"), ["", ""]);
}

#[test]
fn an_excel_workbook_is_read_by_sheet() {
    let workbook = data("orders.xlsx");
    // the first sheet is a note, not the orders: the error names the sheet
    cpm(&["ingest", &workbook])
        .run()
        .code_is(1)
        .stderr_has(&["orders.xlsx, sheet 'Notes': no column for customer_id"]);
    let dir = tempdir();
    let rejects = dir.path().join("rejects.csv");
    let run = cpm(&[
        "ingest",
        "-q",
        &workbook,
        "--sheet",
        "Orders",
        "--max-rejects",
        "1",
        "--rejects",
        &rejects.display().to_string(),
    ])
    .run()
    .ok();
    let rows = run.csv();
    assert_eq!(
        column(&rows, "customer_id"),
        ["17850", "17850", "13047", "12583", "13047"]
    );
    // Excel dates and times, quantity × price
    assert_eq!(column(&rows, "order_date")[4], "2023-12-20");
    assert_eq!(column(&rows, "revenue")[4], "39.9");
    // the reject's place is its row in the sheet, as Excel numbers it
    let rejects = parse_csv(&std::fs::read(&rejects).unwrap());
    assert_eq!(column(&rejects, "line"), ["5"]);
    assert_eq!(column(&rejects, "reason"), ["missing customer_id"]);
    cpm(&["segment", &workbook, "--sheet", "Sales"])
        .run()
        .code_is(1)
        .stderr_has(&["no sheet 'Sales' (sheets: Notes, Orders)"]);
}

#[test]
fn json_columns_come_in_the_order_their_keys_first_appear_on_every_run() {
    // 40 records, each with 12 of 60 attributes: polars' own order changes
    // from one run to the next; cpm's is the order of first appearance
    let text = std::fs::read_to_string(testdata("many_keys.ndjson")).unwrap();
    let mut expected: Vec<String> = Vec::new();
    for line in text.lines() {
        let record: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).unwrap();
        // serde_json's map is sorted: the order is read off the text
        let mut keys: Vec<(usize, &String)> = record
            .keys()
            .map(|k| (line.find(&format!("\"{k}\":")).unwrap(), k))
            .collect();
        keys.sort();
        for (_, key) in keys {
            if !expected.contains(key) {
                expected.push(key.clone());
            }
        }
    }
    assert_eq!(expected.len(), 63);
    for _ in 0..5 {
        let out = cpm(&["ingest", &data("many_keys.ndjson"), "-q", "-f", "csv"])
            .run()
            .ok()
            .csv();
        assert_eq!(out[0], expected);
    }
}

#[test]
fn parquet_decimal_money_and_binary_text_ids_are_read() {
    // DuckDB's DECIMAL(12,2) revenue
    let out = cpm(&["ingest", &data("decimal_money.parquet"), "-q", "-f", "csv"])
        .run()
        .ok()
        .csv();
    assert_eq!(column(&out, "revenue"), ["10.5", "20.25", "5.0"]);
    assert_eq!(column(&out, "customer_id"), ["A", "B", "A"]);
}
