//! A CSV, NDJSON, Parquet or Arrow IPC input read a batch at a time gives
//! what it gives read whole: the same facts, segments, values, ingest
//! outputs, rejects, warnings and errors, whatever the batch size
//! (`CPM_BATCH_ROWS`, rows per batch; the default batch holds every test
//! file whole).

use std::fmt::Write as _;

use crate::util::{cpm, data, tempdir, testdata};

/// Exit code, stdout and stderr of `cpm ARGS` with batches of `rows` rows
/// (`None`: the default).
fn outcome(args: &[&str], rows: Option<usize>) -> (i32, Vec<u8>, String) {
    let mut run = cpm(args);
    if let Some(rows) = rows {
        run = run.env("CPM_BATCH_ROWS", &rows.to_string());
    }
    let run = run.run();
    (run.code(), run.stdout_bytes().to_vec(), run.stderr())
}

/// Batch sizes to try on `input`: a row or a few on a small file, a few
/// hundred on a large one (thousands of batches of a row each would only
/// be slow).
fn batch_sizes(input: &str) -> [usize; 3] {
    let lines = std::fs::read(input).map_or(0, |bytes| bytes.split(|&b| b == b'\n').count());
    if lines < 1_000 {
        [1, 2, 7]
    } else {
        [397, 1_000, 4_099]
    }
}

/// Asserts that `cpm ARGS` (its input first after the command) does the
/// same in batches of a few sizes as whole.
fn same_in_batches(args: &[&str]) {
    let whole = outcome(args, None);
    for rows in batch_sizes(args[1]) {
        let batched = outcome(args, Some(rows));
        assert!(
            batched == whole,
            "cpm {} in batches of {rows} rows: exit {} vs {}\n--- stderr whole ---\n{}\n--- \
             stderr batched ---\n{}",
            args.join(" "),
            batched.0,
            whole.0,
            whole.2,
            batched.2
        );
    }
}

#[test]
fn facts_segments_and_values_do_not_depend_on_the_batch_size() {
    // dates settled late (retail: 1/1/2022 first), CRLF, a BOM, refunds,
    // quantity x price, identical rows without an order id (CDNOW)
    for name in [
        "retail_export.csv",
        "orders.csv",
        "orders_crlf.csv",
        "orders_bom.csv",
        "quantity_price.csv",
        "dates_us.csv",
        "report_small.csv",
        "cdnow_sample.csv",
        "orders.parquet",
        "decimal_money.parquet",
        "orders.ndjson",
        "many_keys.ndjson",
    ] {
        let input = data(name);
        same_in_batches(&["facts", &input, "-f", "csv"]);
        same_in_batches(&["segment", &input, "-f", "csv"]);
    }
    same_in_batches(&["value", &data("cdnow_sample.csv"), "-f", "csv"]);
    same_in_batches(&[
        "segment",
        &data("retail_export.csv"),
        "-f",
        "csv",
        "--where",
        "revenue > 10",
    ]);
}

#[test]
fn arrow_ipc_exports_are_read_in_batches_as_whole() {
    // a warehouse's Arrow export of raw rows (its own column names and
    // types), as an IPC file and as a stream
    use polars::prelude::*;
    let dir = tempdir();
    for source in ["orders.parquet", "decimal_money.parquet"] {
        let file = std::fs::File::open(testdata(source)).unwrap();
        let mut frame = ParquetReader::new(file).finish().unwrap();
        for (suffix, stream) in [("arrow", false), ("arrows", true)] {
            let path = dir.path().join(format!("{source}.{suffix}"));
            let out = std::fs::File::create(&path).unwrap();
            if stream {
                IpcStreamWriter::new(out).finish(&mut frame).unwrap();
            } else {
                IpcWriter::new(out).finish(&mut frame).unwrap();
            }
            let path = path.display().to_string();
            same_in_batches(&["facts", &path, "-f", "csv"]);
            same_in_batches(&["segment", &path, "-f", "csv"]);
            let from_parquet = outcome(&["segment", &data(source), "-f", "csv"], None);
            assert!(outcome(&["segment", &path, "-f", "csv"], Some(2)) == from_parquet);
        }
    }
}

#[test]
fn ndjson_edges_read_in_batches_as_whole() {
    // blank lines after the records (a batch of them alone), and an empty
    // file (the error a whole read gives)
    let dir = tempdir();
    let records = std::fs::read_to_string(testdata("orders.ndjson")).unwrap();
    let trailing = dir.path().join("trailing.ndjson");
    std::fs::write(&trailing, format!("{records}\n\n  \n")).unwrap();
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    for path in [&trailing, &empty] {
        same_in_batches(&["facts", &path.display().to_string(), "-f", "csv"]);
    }
    let (code, _, stderr) = outcome(&["facts", &empty.display().to_string()], Some(1));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("empty.ndjson: cannot read as NDJSON"),
        "{stderr}"
    );
}

#[test]
fn rejects_duplicates_and_their_warnings_do_not_depend_on_the_batch_size() {
    // ragged rows, bad values, repeated headers and BOMs of files joined
    // with cat, exact duplicates, ambiguous dates (an error), too many
    // rejects (an error naming the first)
    for name in [
        "bad/ragged.csv",
        "bad/bad_values.csv",
        "bad/joined_with_cat.csv",
        "bad/duplicates.csv",
        "bad/ambiguous_dates.csv",
        "bad/mixed_dates.csv",
        "bad/null_tokens.csv",
        "bad/embedded_newlines.csv",
        // NDJSON: a blank id, a line that is not JSON, kinds that no
        // column holds together, nesting too deep (each told by line)
        "bad/blank_ids.ndjson",
        "bad/ndjson_bad_line.ndjson",
        "bad/ndjson_mixed_kinds.ndjson",
        "bad/deep_nesting.ndjson",
        "bad/nested_columns.ndjson",
    ] {
        let input = data(name);
        same_in_batches(&["facts", &input, "-f", "csv"]);
        same_in_batches(&["facts", &input, "-f", "csv", "--max-rejects", "100%"]);
    }
}

#[test]
fn duplicates_and_attributes_across_batches_are_told_as_in_one() {
    // an order's line repeated 40 rows later (another batch), and a
    // passed-through attribute that reads as integers for 50 rows, then
    // as decimals, then as text
    let mut text = String::from("order_id,customer_id,order_date,revenue,score,tier\n");
    for i in 0..120 {
        let score = match i {
            0..50 => format!("{}", i % 3),
            50..90 => format!("{}.5", i % 3),
            _ => format!("s{}", i % 3),
        };
        let customer = i % 9;
        let _ = writeln!(
            text,
            "o{},c{customer},2024-02-{:02},{}.25,{score},t{}",
            i / 2,
            1 + i % 27,
            10 + i,
            customer % 2
        );
        if i == 3 {
            let _ = writeln!(text, "o1,c3,2024-02-04,13.25,0,t1");
        }
    }
    let dir = tempdir();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, &text).unwrap();
    let input = path.display().to_string();
    same_in_batches(&["facts", &input, "-f", "csv"]);
    same_in_batches(&["segment", &input, "-f", "csv", "--where", "tier = 't1'"]);
    // ingest writes score as text: the rows written as integers are read
    // again, whole
    let whole = ingest_outcome(&input, &["-v"], None);
    assert!(
        whole[2].contains(",2.5,") && whole[2].contains(",s1,"),
        "{}",
        whole[2]
    );
    for rows in [1, 2, 7] {
        let batched = ingest_outcome(&input, &["-v"], Some(rows));
        assert_eq!(batched[2..], whole[2..], "batches of {rows} rows");
        assert!(
            batched[1].contains("column 'score' changes type"),
            "{}",
            batched[1]
        );
    }
    let (code, out, _) = outcome(&["facts", &input, "-f", "csv"], Some(7));
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    // tier is constant per customer, score is not
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with("first_day_revenue,tier,as_of,facts_version")
    );
    assert!(testdata("retail_export.csv").exists());
}

/// The output, rejects file and quality report of `cpm ingest INPUT ARGS`
/// written in batches of `rows` rows (`None`: the default), with the exit
/// code and stderr.
fn ingest_outcome(input: &str, args: &[&str], rows: Option<usize>) -> Vec<String> {
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (out, rejects, report) = (path("out.csv"), path("rejects.csv"), path("quality.json"));
    let mut all = vec!["ingest", input, "-o", &out, "--rejects", &rejects];
    all.extend(["--quality-report", &report]);
    all.extend_from_slice(args);
    let (code, _, stderr) = outcome(&all, rows);
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|_| "(none)".into());
    vec![
        code.to_string(),
        stderr,
        read(&out),
        read(&rejects),
        read(&report),
    ]
}

#[test]
fn ingest_writes_the_same_output_rejects_and_report_in_any_batch_size() {
    for (name, args) in [
        ("retail_export.csv", &[][..]),
        ("orders.csv", &["--source-column", "file"][..]),
        ("orders.parquet", &[][..]),
        ("decimal_money.parquet", &["--max-rejects", "100%"][..]),
        ("cdnow_sample.csv", &["--drop-duplicates"][..]),
        ("quantity_price.csv", &["--where", "revenue > 5"][..]),
        ("bad/ragged.csv", &["--max-rejects", "100%"][..]),
        ("bad/bad_values.csv", &[][..]),
        ("bad/duplicates.csv", &[][..]),
        ("bad/joined_with_cat.csv", &[][..]),
        ("bad/formula_rejects.csv", &["--max-rejects", "100%"][..]),
        ("bad/ambiguous_dates.csv", &[][..]),
        ("bad/overflowing_sums.csv", &[][..]),
        ("orders.ndjson", &[][..]),
        ("bad/blank_ids.ndjson", &["--max-rejects", "100%"][..]),
    ] {
        let input = data(name);
        let whole = ingest_outcome(&input, args, None);
        for rows in batch_sizes(&input) {
            let batched = ingest_outcome(&input, args, Some(rows));
            for (what, (a, b)) in ["exit code", "stderr", "output", "rejects", "report"]
                .iter()
                .zip(whole.iter().zip(&batched))
            {
                assert_eq!(
                    a, b,
                    "{name} {args:?}: the {what} in batches of {rows} rows"
                );
            }
        }
    }
}

#[test]
fn an_ingest_to_stdout_is_typed_and_deduplicated_as_in_one_batch() {
    // stdout's rows are written a batch at a time to a temporary file,
    // copied to stdout once every check has passed
    for name in [
        "retail_export.csv",
        "cdnow_sample.csv",
        "bad/duplicates.csv",
        "bad/ragged.csv",
    ] {
        same_in_batches(&["ingest", &data(name), "-f", "csv", "--max-rejects", "100%"]);
    }
}

#[test]
fn a_pipeline_of_ingest_in_batches_gives_the_segments_of_the_file() {
    // ingest | segment: the Arrow IPC stream written a batch at a time
    // (several record batches) reads back as the rows of one
    for name in ["retail_export.csv", "cdnow_sample.csv"] {
        let input = data(name);
        let direct = cpm(&["segment", &input, "-q", "-f", "csv"])
            .run()
            .ok()
            .stdout();
        for rows in [None, Some(1_000)] {
            let mut ingest = cpm(&["ingest", &input, "-q", "--format", "ipc"]);
            if let Some(rows) = rows {
                ingest = ingest.env("CPM_BATCH_ROWS", &rows.to_string());
            }
            let stream = ingest.run().ok().stdout_bytes().to_vec();
            let piped = cpm(&["segment", "-", "-q", "-f", "csv"])
                .stdin(stream)
                .run()
                .ok()
                .stdout();
            assert_eq!(piped, direct, "{name}, batches of {rows:?} rows");
        }
    }
}

#[test]
fn a_customer_table_joins_onto_every_batch_as_onto_the_whole() {
    let customers = data("customers.csv");
    let args = [
        "--customers",
        customers.as_str(),
        "--where",
        "region IS NOT NULL",
    ];
    let input = data("orders.csv");
    let whole = ingest_outcome(&input, &args, None);
    assert!(whole[4].contains("customers_in_table"), "{}", whole[4]);
    for rows in [1, 2, 7] {
        let batched = ingest_outcome(&input, &args, Some(rows));
        assert_eq!(batched, whole, "batches of {rows} rows");
    }
}

#[test]
fn several_inputs_read_in_batches_give_what_one_input_gives() {
    // the retail export cut in two files of the same columns
    let text = std::fs::read_to_string(testdata("retail_export.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let dir = tempdir();
    let (first, second) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let half = rows.len() / 2;
    for (path, part) in [(&first, &rows[..half]), (&second, &rows[half..])] {
        std::fs::write(path, format!("{header}\n{}\n", part.join("\n"))).unwrap();
    }
    let (first, second) = (first.display().to_string(), second.display().to_string());
    for command in ["facts", "segment"] {
        let whole = outcome(
            &[command, &data("retail_export.csv"), "-f", "csv", "-q"],
            None,
        );
        for rows in [None, Some(997)] {
            let parts = outcome(&[command, &first, &second, "-f", "csv", "-q"], rows);
            assert_eq!(parts.0, 0, "{}", parts.2);
            assert!(
                parts.1 == whole.1,
                "{command} of two files in batches of {rows:?} rows"
            );
        }
    }
    // monthly exports whose columns differ (one lacks channel): read whole,
    // as in one batch
    let exports = data("exports/*.csv");
    same_in_batches(&["facts", &exports, "-f", "csv"]);
    let whole = ingest_outcome(&exports, &["--source-column", "file"], None);
    for rows in [1, 2] {
        let batched = ingest_outcome(&exports, &["--source-column", "file"], Some(rows));
        assert_eq!(batched[2..], whole[2..], "batches of {rows} rows");
    }
}

#[test]
fn stdin_and_compressed_exports_are_read_in_batches_as_the_file() {
    // stdin, gzip and zstd are copied (decompressed) to a temporary file
    // first, then read a batch at a time like the plain file
    let plain = testdata("retail_export.csv");
    let bytes = std::fs::read(&plain).unwrap();
    let dir = tempdir();
    let gz = dir.path().join("export.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &bytes).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let zst = dir.path().join("export.csv.zst");
    std::fs::write(&zst, zstd::encode_all(bytes.as_slice(), 1).unwrap()).unwrap();
    let (gz, zst) = (gz.display().to_string(), zst.display().to_string());
    for command in ["facts", "segment"] {
        let whole = outcome(&[command, &plain.display().to_string(), "-f", "csv"], None);
        assert_eq!(whole.0, 0, "{}", whole.2);
        for rows in [None, Some(997)] {
            let mut piped = cpm(&[command, "-", "-f", "csv", "-vv"]).stdin(bytes.clone());
            if let Some(rows) = rows {
                piped = piped.env("CPM_BATCH_ROWS", &rows.to_string());
            }
            let piped = piped.run().ok();
            assert!(
                piped.stdout_bytes() == whole.1,
                "{command} of stdin, {rows:?}"
            );
            assert!(
                piped.stderr().contains("read, ingest and facts"),
                "stdin read whole: {}",
                piped.stderr()
            );
            for packed in [&gz, &zst] {
                let run = outcome(&[command, packed, "-f", "csv"], rows);
                assert!(
                    run.1 == whole.1,
                    "{command} of {packed}, {rows:?}: {}",
                    run.2
                );
            }
            // several compressed files: each spilled, then read in batches
            let run = outcome(&[command, &gz, &zst, "-f", "csv", "-q"], rows);
            assert_eq!(run.0, 0, "{}", run.2);
        }
    }
}

#[test]
fn a_report_reads_its_export_in_batches_and_gives_the_report_of_its_rows() {
    // the report spools a raw export to a canonical table a batch at a
    // time and reads it three times: the same at any batch size, and the
    // same as the report of ingest's table read whole, but for the data
    // quality, which only the export has
    let dir = tempdir();
    let canonical = dir.path().join("t.parquet").display().to_string();
    let json = |input: &str| -> serde_json::Value {
        let run = cpm(&["report", input, "--format", "json", "-q"]).run().ok();
        serde_json::from_str(&run.stdout()).expect("the report's JSON")
    };
    for name in [
        "retail_export.csv",
        "report_small.csv",
        "cdnow_sample.csv",
        "decimal_money.parquet",
    ] {
        let input = data(name);
        same_in_batches(&["report", &input, "--format", "json"]);
        cpm(&["ingest", &input, "-q", "-o", &canonical]).run().ok();
        let mut from_export = json(&input);
        let from_table = json(&canonical);
        let quality = from_export["data_quality"].take();
        assert!(quality["rows_read"].as_u64() > Some(0), "{name}: {quality}");
        assert!(from_table["data_quality"].is_null());
        from_export["data_quality"] = serde_json::Value::Null;
        assert_eq!(from_export, from_table, "{name}");
    }
}

#[test]
fn a_holdout_gathered_in_batches_is_the_holdout_of_the_whole_table() {
    // --calibration-end reads the transactions a batch at a time too: a raw
    // export spooled, a canonical file as it is; the customers at both
    // days and the repeat purchases meet across batches
    let dir = tempdir();
    let export = data("cdnow_sample.csv");
    let canonical = dir.path().join("cdnow.parquet");
    let canonical = canonical.display().to_string();
    cpm(&["ingest", &export, "-q", "-o", &canonical]).run().ok();
    let holdout = dir.path().join("holdout.json");
    let holdout = holdout.display().to_string();
    let outcome = |input: &str, env: &[(&str, &str)]| {
        let mut run = cpm(&[
            "value",
            input,
            "-q",
            "-f",
            "csv",
            "--calibration-end",
            "1997-09-30",
            "--holdout-report",
            &holdout,
        ]);
        for (key, value) in env {
            run = run.env(key, value);
        }
        let valued = run.run().ok().stdout();
        (valued, std::fs::read_to_string(&holdout).unwrap())
    };
    // the canonical table read whole: the reference
    let whole = outcome(&canonical, &[]);
    assert!(whole.1.contains("tracking"));
    for env in [
        &[("CPM_STREAM_ABOVE", "1")][..],
        &[("CPM_STREAM_ABOVE", "1"), ("CPM_BATCH_ROWS", "997")][..],
    ] {
        assert!(outcome(&canonical, env) == whole, "canonical, {env:?}");
    }
    for rows in ["397", "4099"] {
        let batched = outcome(&export, &[("CPM_BATCH_ROWS", rows)]);
        assert!(batched == whole, "the export in batches of {rows} rows");
    }
    // the report's model health: the same holdout, whatever the reading
    let report = |input: &str, env: &[(&str, &str)]| {
        let mut run = cpm(&[
            "report",
            input,
            "-q",
            "-f",
            "json",
            "--calibration-end",
            "1997-09-30",
        ]);
        for (key, value) in env {
            run = run.env(key, value);
        }
        let json: serde_json::Value = serde_json::from_str(&run.run().ok().stdout()).unwrap();
        json["model"].clone()
    };
    let reference = report(&canonical, &[]);
    assert!(reference["holdout"].is_object(), "{reference}");
    assert_eq!(report(&canonical, &[("CPM_STREAM_ABOVE", "1")]), reference);
    assert_eq!(report(&export, &[("CPM_BATCH_ROWS", "397")]), reference);
}
