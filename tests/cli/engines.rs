//! The facts computed where the data lives: DuckDB's facts equal cpm's own,
//! and the SQL of every dialect parses. The engines come from the venv
//! `.ci/run` installs (`$HOME/.cache/cpm-engines`, or `CPM_ENGINES`): under
//! CI these tests run, never skip; elsewhere, without the venv, they say
//! loudly that they skipped.

use std::path::PathBuf;

use crate::util::{cpm, data, tempdir};

/// The folder of the engines' clients (`duckdb`, `python` with sqlglot),
/// or `None` (skipped, loudly; a failure under CI).
fn engines() -> Option<PathBuf> {
    let folder = std::env::var_os("CPM_ENGINES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/cpm-engines/bin"))
        })
        .filter(|folder| folder.join("duckdb").is_file());
    if folder.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the engines are missing under CI: .ci/run installs them"
        );
        eprintln!("SKIPPED: no engines (run .ci/run once, or set CPM_ENGINES)");
    }
    folder
}

/// `cpm ARGS` with the engines' folder first on PATH: stdout, stderr, code.
fn run(folder: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    let path = format!(
        "{}:{}",
        folder.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = cpm(args).env("PATH", &path).run();
    (run.stdout(), run.stderr(), run.code())
}

/// One row of the edge fixture: customer, day, revenue, order, region,
/// channel.
type Row = (
    Option<&'static str>,
    &'static str,
    f64,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// Raw transactions covering every rule the engines must keep: exact
/// duplicates of an order's line (removed), a refund (not a purchase) on
/// the first purchase day, a revenue of 0 (a purchase), a customer with
/// only refunds, lines without an order id (an order each), same-day
/// purchases, an empty id, a NaN revenue, a constant and a varying extra,
/// padded ids, and dates after the as-of day of the tests.
fn edge_fixture(dir: &std::path::Path) -> String {
    use polars::prelude::*;
    let day = |text: &str| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .unwrap()
            .signed_duration_since(chrono::NaiveDate::default())
            .num_days() as i32
    };
    let rows: [Row; 16] = [
        (Some("a"), "2024-01-01", 10.0, Some("1"), "north", "web"),
        (Some("a"), "2024-01-01", 10.0, Some("1"), "north", "web"),
        (Some("a"), "2024-01-01", -4.0, Some("1R"), "north", "web"),
        (Some("a"), "2024-01-01", 5.0, Some("2"), "north", "shop"),
        (Some("a"), "2024-02-10", 0.0, Some("3"), "north", "web"),
        (Some("b"), "2024-01-05", -7.5, Some("4R"), "south", "web"),
        (Some("c "), "2024-01-07", 12.25, None, "east", "web"),
        (Some("c"), "2024-01-07", 12.25, None, "east", "web"),
        (Some("c"), "2024-03-01", 3.0, None, "east", "web"),
        (Some(""), "2024-01-09", 1.0, Some("5"), "west", "web"),
        (Some("d"), "2024-01-09", f64::NAN, Some("6"), "west", "web"),
        (Some("d"), "2024-01-11", 8.0, Some("7"), "west", "web"),
        (Some("d"), "2024-04-02", 9.0, Some("8"), "west", "web"),
        (None, "2024-01-12", 2.0, Some("9"), "west", "web"),
        (Some("e"), "2024-02-29", 0.1, Some("10"), "north", "web"),
        (Some("e"), "2024-02-29", 0.2, Some("10"), "north", "web"),
    ];
    let dates = Series::new(
        "order_date".into(),
        rows.iter().map(|r| day(r.1)).collect::<Vec<_>>(),
    )
    .cast(&DataType::Date)
    .unwrap();
    let mut frame = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "customer_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            dates.into_column(),
            Column::new(
                "revenue".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "order_id".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            ),
            Column::new(
                "region".into(),
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            ),
            Column::new(
                "channel".into(),
                rows.iter().map(|r| r.5).collect::<Vec<_>>(),
            ),
        ],
    )
    .unwrap();
    let path = dir.join("edges.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    path.display().to_string()
}

/// 100,000 generated lines (a fixed sequence) in an export's own column
/// names (mapped by their aliases, here and in the engine): 5,000
/// customers over a year, orders of one to three lines, a refund in 23, a
/// line without an order id in 31, a repeated line in 47 (removed: the
/// rows have order ids), cents that do not add up exactly in binary.
fn generated(dir: &std::path::Path) -> String {
    use polars::prelude::*;
    let rows = 100_000u64;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut ids, mut days, mut revenue, mut orders) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut order = 0u64;
    let mut i = 0;
    while i < rows {
        let customer = format!("C{:05}", next() % 5_000);
        let day = 19_000 + (next() % 365) as i32;
        order += 1;
        for _ in 0..1 + next() % 3 {
            let cents = (next() % 20_000) as f64 / 100.0;
            let refund = i % 23 == 0;
            ids.push(customer.clone());
            days.push(day);
            revenue.push(if refund { -cents } else { cents });
            orders.push((i % 31 != 0).then(|| format!("O{order}")));
            if i % 47 == 0 {
                ids.push(customer.clone());
                days.push(day);
                revenue.push(*revenue.last().unwrap());
                orders.push(orders.last().unwrap().clone());
            }
            i += 1;
        }
    }
    let dates = Series::new("InvoiceDate".into(), days)
        .cast(&DataType::Date)
        .unwrap();
    let mut frame = DataFrame::new(
        ids.len(),
        vec![
            Column::new("Customer ID".into(), ids),
            dates.into_column(),
            Column::new("amount".into(), revenue),
            Column::new("Invoice".into(), orders),
        ],
    )
    .unwrap();
    let path = dir.join("generated.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut frame)
        .unwrap();
    path.display().to_string()
}

#[test]
fn facts_in_duckdb_equal_the_local_facts() {
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let edges = edge_fixture(dir.path());
    // canonical tables of the shipped exports (ingest's typing is cpm's)
    let mut sources = vec![edges, data("orders.parquet"), generated(dir.path())];
    for name in ["retail_export.csv", "cdnow_master.csv"] {
        let out = dir.path().join(format!("{name}.parquet"));
        let out = out.display().to_string();
        cpm(&[
            "ingest",
            &data(name),
            "-q",
            "--max-rejects",
            "100%",
            "-o",
            &out,
        ])
        .run()
        .ok();
        sources.push(out);
    }
    for source in &sources {
        let quoted = format!("'{source}'");
        same_facts(
            &folder,
            source,
            &["--engine", "duckdb", "--source", &quoted],
        );
    }
}

/// Asserts that the facts of `input` computed here and by the engine
/// `engine` names (its flags) are the same, as of a day given or not, and
/// that the rows after it are told alike.
fn same_facts(folder: &std::path::Path, input: &str, engine: &[&str]) {
    let after = |stderr: &str| -> Vec<String> {
        (stderr.lines())
            .filter(|line| line.contains("excluded"))
            .map(str::to_string)
            .collect()
    };
    for as_of in [None, Some("2024-02-10")] {
        let mut local = vec!["facts", input, "-f", "csv", "--max-rejects", "100%"];
        let mut remote = vec!["facts", "-f", "csv", "--max-rejects", "100%"];
        remote.extend_from_slice(engine);
        if let Some(day) = as_of {
            local.extend(["--as-of", day]);
            remote.extend(["--as-of", day]);
        }
        let (expected, told, code) = run(folder, &local);
        assert_eq!(code, 0, "{told}");
        let (got, stderr, code) = run(folder, &remote);
        assert_eq!(code, 0, "{stderr}");
        let differs = (got.lines().zip(expected.lines())).find(|(a, b)| a != b);
        assert!(
            got == expected,
            "{input} by {engine:?}, as of {as_of:?}: {} lines against {}; first differing \
             (engine, local): {differs:?}",
            got.lines().count(),
            expected.lines().count()
        );
        assert_eq!(after(&stderr), after(&told), "{input} by {engine:?}");
    }
}

/// Spark's `spark-sql`, from the venv's pyspark.
fn spark_sql(folder: &std::path::Path) -> String {
    let out = std::process::Command::new(folder.join("python"))
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "pyspark is missing from the venv");
    let home = String::from_utf8(out.stdout).unwrap();
    format!("{}/bin/spark-sql", home.trim())
}

/// A Parquet file's rows, or a folder of Parquet parts' (Spark's), sorted
/// by customer.
fn read_facts(path: &std::path::Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    let mut files: Vec<PathBuf> = match path.is_dir() {
        true => (std::fs::read_dir(path).unwrap())
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect(),
        false => vec![path.to_path_buf()],
    };
    files.sort();
    let mut frames = files.iter().map(|f| {
        ParquetReader::new(std::fs::File::open(f).unwrap())
            .finish()
            .unwrap()
    });
    let mut frame = frames.next().expect("no Parquet part");
    for part in frames {
        frame.vstack_mut(&part).unwrap();
    }
    frame
        .sort(["customer_id"], SortMultipleOptions::default())
        .unwrap()
}

/// Asserts that the facts `engine` computed equal `local`'s on the
/// engine's columns: texts, dates and integers exactly, numbers within
/// 1e-9 relative.
fn same_frames(
    local: &polars::prelude::DataFrame,
    engine: &polars::prelude::DataFrame,
    case: &str,
) {
    use polars::prelude::*;
    assert_eq!(local.height(), engine.height(), "{case}: rows");
    for column in engine.columns() {
        let name = column.name().as_str();
        let here = local.column(name).unwrap();
        if column.dtype().is_float() {
            let (a, b) = (here.f64().unwrap(), column.f64().unwrap());
            for (row, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                let (x, y) = (x.unwrap(), y.unwrap());
                let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
                assert!(
                    (x - y).abs() <= 1e-9 * scale,
                    "{case}: {name}, row {row}: {x} and {y}"
                );
            }
        } else {
            let dtype = if name == "facts_version" {
                DataType::Int64
            } else {
                column.dtype().clone()
            };
            let (a, b) = (here.cast(&dtype).unwrap(), column.cast(&dtype).unwrap());
            assert!(a.equals_missing(&b), "{case}: {name} differs");
        }
    }
}

#[test]
fn facts_in_spark_equal_the_local_facts() {
    // Spark local[2]: every case's SQL (cpm facts --sql spark) in one
    // spark-sql run, one JVM start; then the customer tables in days and
    // weeks from Spark's facts and from cpm's
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let cdnow = path("cdnow.parquet");
    let args = ["ingest", &data("cdnow_master.csv"), "-q", "-o", &cdnow];
    assert_eq!(cpm(&args).run().code(), 0);
    let maps: [&[&str]; 4] = [
        &["--map", "order_id=order_id"],
        &["--map", "order_id=order_id", "--map", "cost=cost"],
        &[],
        &[
            "--map",
            "customer_id=Customer ID",
            "--map",
            "order_date=InvoiceDate",
            "--map",
            "revenue=amount",
            "--map",
            "order_id=Invoice",
        ],
    ];
    let inputs = [
        (edge_fixture(dir.path()), "2024-02-10"),
        (data("orders.parquet"), "2024-03-10"),
        (cdnow, "1997-06-30"),
        (generated(dir.path()), "2022-06-30"),
    ];
    let mut script = String::new();
    let mut cases = Vec::new();
    for ((input, day), map) in inputs.iter().zip(maps) {
        for as_of in [None, Some(*day)] {
            let source = format!("parquet.`{input}`");
            let mut args = vec!["facts", "--sql", "spark", "--source", &source];
            args.extend_from_slice(map);
            args.extend(as_of.iter().flat_map(|day| ["--as-of", day]));
            let (sql, stderr, code) = run(&folder, &args);
            assert_eq!(code, 0, "{stderr}");
            // the session settings once, then each SELECT into its folder
            let (settings, select): (Vec<&str>, Vec<&str>) =
                sql.lines().partition(|line| line.starts_with("SET "));
            if script.is_empty() {
                script = settings.join("\n") + "\n";
            }
            let out = path(&format!("spark-{}", cases.len()));
            let select = select.join("\n");
            script.push_str(&format!(
                "INSERT OVERWRITE DIRECTORY '{out}' USING parquet\n{select}\n"
            ));
            cases.push((input.clone(), as_of, out));
        }
    }
    let file = path("all.sql");
    std::fs::write(&file, &script).unwrap();
    let spark = std::process::Command::new(spark_sql(&folder))
        .args(["--master", "local[2]", "-f", &file])
        // as cpm runs it: the metastore in memory (no lock in this folder)
        .args([
            "--conf",
            "spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:memory:tests;create=true",
            "--conf",
            "spark.driver.extraJavaOptions=-Dderby.stream.error.file=/dev/null",
        ])
        .output()
        .unwrap();
    assert!(
        spark.status.success(),
        "{}",
        String::from_utf8_lossy(&spark.stderr)
    );
    for (i, (input, as_of, out)) in cases.iter().enumerate() {
        let case = format!("{input} as of {as_of:?}");
        let local = path(&format!("local-{i}.parquet"));
        let mut args = vec!["facts", input, "-q", "--max-rejects", "100%", "-o", &local];
        args.extend(as_of.iter().flat_map(|day| ["--as-of", day]));
        assert_eq!(cpm(&args).run().code(), 0, "{case}");
        let (local, mut engine) = (read_facts(local.as_ref()), read_facts(out.as_ref()));
        same_frames(&local, &engine, &case);
        // the customer tables of the two, in days and weeks
        let written = [
            path(&format!("spark-{i}.parquet")),
            path(&format!("here-{i}.parquet")),
        ];
        let names: Vec<String> = (engine.get_column_names().iter())
            .map(|n| n.to_string())
            .collect();
        let mut here = local.select(names).unwrap();
        for (frame, file) in [&mut engine, &mut here].into_iter().zip(&written) {
            let out = std::fs::File::create(file).unwrap();
            polars::prelude::ParquetWriter::new(out)
                .finish(frame)
                .unwrap();
        }
        for unit in ["day", "week"] {
            let table = |facts: &str| {
                let args = ["segment", facts, "--time-unit", unit, "-q", "-f", "csv"];
                run(&folder, &args)
            };
            let (expected, got) = (table(&written[1]), table(&written[0]));
            assert_eq!(expected.2, 0, "{case}: {}", expected.1);
            assert!(
                got == expected,
                "{case}, in {unit}s: the customer tables differ"
            );
        }
    }
}

#[test]
fn the_sql_of_every_dialect_parses() {
    // no BigQuery, Snowflake or Trino server runs here: sqlglot parses
    // their renderings in their own dialects
    let Some(folder) = engines() else { return };
    for (dialect, glot) in [
        ("duckdb", "duckdb"),
        ("spark", "spark"),
        ("bigquery", "bigquery"),
        ("snowflake", "snowflake"),
        ("trino", "trino"),
    ] {
        let (sql, stderr, code) = run(
            &folder,
            &[
                "facts",
                "--sql",
                dialect,
                "--source",
                "lake.tx",
                "--map",
                "customer_id=cust no",
                "--map",
                "order_id=invoice",
                "--map",
                "cost=cost",
                "--as-of",
                "2024-01-31",
                "--date-format",
                "%d %b %Y %H:%M",
            ],
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(
            sql.contains("`cust no`") || sql.contains("\"cust no\""),
            "{sql}"
        );
        let check = "import sys, sqlglot\n\
                     statements = sqlglot.parse(sys.stdin.read(), read=sys.argv[1])\n\
                     assert statements and all(s is not None for s in statements)\n";
        let mut python = std::process::Command::new(folder.join("python"))
            .args(["-c", check, glot])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut python.stdin.take().unwrap(), sql.as_bytes()).unwrap();
        let out = python.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{dialect}: {}\n{sql}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_engine_that_fails_or_is_missing_says_why() {
    let Some(folder) = engines() else { return };
    let (_, stderr, code) = run(
        &folder,
        &[
            "facts",
            "--engine",
            "duckdb",
            "--source",
            "'no_such.parquet'",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("the engine failed (") && stderr.contains("no_such.parquet"),
        "{stderr}"
    );
    let (_, stderr, code) = run(
        &folder,
        &[
            "facts",
            "--engine",
            "duckdb",
            "--engine-cmd",
            "/no/such/duckdb",
            "--source",
            "t",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot start the engine"), "{stderr}");
    let (_, stderr, code) = run(&folder, &["facts", "--engine", "duckdb"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--engine needs --source"), "{stderr}");
    // the options that need the rows here
    let source = ["--engine", "duckdb", "--source", "t"];
    for (option, value) in [
        ("--calibration-end", "2024-01-01"),
        ("--where", "revenue > 0"),
    ] {
        let (_, stderr, code) = run(&folder, &[&["report", option, value], &source[..]].concat());
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(&format!("{option} ")), "{stderr}");
    }
    let (_, stderr, code) = run(
        &folder,
        &[&["segment", "--sql", "duckdb"], &source[..]].concat(),
    );
    assert_eq!(code, 2, "--sql is facts' alone: {stderr}");
}

#[test]
fn segment_value_and_allocate_on_duckdb_facts_give_the_local_answers() {
    // the facts from the engine, the rest here: the same tables, in days
    // and in weeks, as of a day given or not
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let canonical = dir.path().join("retail.parquet").display().to_string();
    cpm(&[
        "ingest",
        &data("retail_export.csv"),
        "-q",
        "--max-rejects",
        "100%",
        "-o",
        &canonical,
    ])
    .run()
    .ok();
    let source = format!("'{canonical}'");
    let commands: [&[&str]; 5] = [
        &["segment"],
        &["value", "--time-unit", "day"],
        &["value", "--time-unit", "week", "--as-of", "2023-10-01"],
        &["allocate", "--budget", "2000"],
        &["facts", "--as-of", "2023-10-01"],
    ];
    for command in commands {
        let mut local = command.to_vec();
        local.extend([canonical.as_str(), "-q", "-f", "csv"]);
        let mut engine = command.to_vec();
        engine.extend(["--engine", "duckdb", "--source", &source, "-q", "-f", "csv"]);
        let (expected, stderr, code) = run(&folder, &local);
        assert_eq!(code, 0, "{stderr}");
        let (got, stderr, code) = run(&folder, &engine);
        assert_eq!(code, 0, "{stderr}");
        assert!(got == expected, "{command:?}: the engine's answer differs");
    }
    let (_, stderr, code) = run(
        &folder,
        &[
            "value",
            "--engine",
            "duckdb",
            "--source",
            &source,
            "--calibration-end",
            "2023-06-30",
        ],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("does not go with --engine"), "{stderr}");
}

/// Asserts that two reports' JSON are the same: keys, texts and integers
/// exactly, numbers within 1e-9 relative (the engine adds in its own
/// order).
fn same_json(local: &serde_json::Value, engine: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (local, engine) {
        (Value::Object(a), Value::Object(b)) => {
            let (keys_a, keys_b): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            assert_eq!(keys_a, keys_b, "{path}");
            for (key, value) in a {
                same_json(value, &b[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: lengths");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_json(x, y, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (x, y) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            let scale = x.abs().max(y.abs()).max(f64::MIN_POSITIVE);
            assert!(
                (x - y).abs() <= 1e-9 * scale,
                "{path}: {x} here, {y} in the engine"
            );
        }
        _ => assert_eq!(local, engine, "{path}"),
    }
}

/// Asserts that `cpm report` of `input` here and with the engine flags
/// `engine` give the same JSON, for each of `cases` (extra flags).
fn same_report(folder: &std::path::Path, input: &str, engine: &[&str], cases: &[&[&str]]) {
    for case in cases {
        let mut local = vec!["report", input, "-f", "json", "-q"];
        local.extend_from_slice(case);
        let mut remote = vec!["report", "-f", "json", "-q", "--max-rejects", "100%"];
        remote.extend_from_slice(engine);
        remote.extend_from_slice(case);
        let (expected, stderr, code) = run(folder, &local);
        assert_eq!(code, 0, "{stderr}");
        let (got, stderr, code) = run(folder, &remote);
        assert_eq!(code, 0, "{input} by {engine:?}, {case:?}: {stderr}");
        let expected: serde_json::Value = serde_json::from_str(&expected).unwrap();
        let got: serde_json::Value = serde_json::from_str(&got).unwrap();
        same_json(&expected, &got, &format!("{input} {case:?}"));
        // the figures the engine's aggregates give are there, not empty
        for key in ["kpis", "cohorts"] {
            assert!(!got[key].is_null(), "{input} {case:?}: no {key}");
        }
    }
}

#[test]
fn the_report_from_duckdb_is_the_local_report() {
    // the KPIs, cohorts and migration from the engine's aggregates: the
    // same JSON, by month, week and quarter, as of a day given or not
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    // here, ingest's canonical table; the engine reads the raw rows of the
    // edge fixture (the report of a raw export adds ingest's data quality,
    // which the engine has not) and the canonical tables of the exports
    let canonical = |raw: &str, name: &str| {
        let out = dir.path().join(name).display().to_string();
        let args = ["ingest", raw, "-q", "--max-rejects", "100%", "-o", &out];
        assert_eq!(cpm(&args).run().code(), 0);
        out
    };
    let edges = edge_fixture(dir.path());
    let mut sources = vec![(
        edges.clone(),
        canonical(&edges, "edges_in.parquet"),
        "2024-03-01",
    )];
    for (name, day) in [
        ("retail_export.csv", "2023-06-15"),
        ("cdnow_master.csv", "1997-09-30"),
    ] {
        let table = canonical(&data(name), &format!("{name}.parquet"));
        sources.push((table.clone(), table, day));
    }
    for (raw, canonical, day) in &sources {
        let quoted = format!("'{raw}'");
        same_report(
            &folder,
            canonical,
            &["--engine", "duckdb", "--source", &quoted],
            &[
                &[],
                &["--as-of", day, "--period", "week"],
                &["--as-of", day, "--period", "quarter", "--no-model"],
            ],
        );
    }
}

#[test]
fn the_report_from_spark_is_the_local_report() {
    // Spark local[2]: its columns, then the facts, the aggregates and the
    // previous period's facts in one run (the day given); the rows after
    // it told as here
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let edges = edge_fixture(dir.path());
    let canonical = dir.path().join("edges_in.parquet").display().to_string();
    let args = [
        "ingest",
        &edges,
        "-q",
        "--max-rejects",
        "100%",
        "-o",
        &canonical,
    ];
    assert_eq!(cpm(&args).run().code(), 0);
    let spark = spark_sql(&folder);
    let source = format!("parquet.`{edges}`");
    let case = ["--as-of", "2024-02-10", "--period", "week"];
    let engine = [
        "--engine",
        "spark",
        "--source",
        &source,
        "--engine-cmd",
        &spark,
        "--engine-conf",
        "spark.master=local[2]",
        "--max-rejects",
        "100%",
    ];
    let report = |args: &[&str]| {
        let (json, stderr, code) = run(
            &folder,
            &[&["report", "-f", "json"], &case[..], args].concat(),
        );
        assert_eq!(code, 0, "{stderr}");
        let told: Vec<String> = (stderr.lines())
            .filter(|line| line.contains("excluded"))
            .map(str::to_string)
            .collect();
        (
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            told,
        )
    };
    let (expected, told_here) = report(&[&canonical]);
    let (got, told_there) = report(&engine);
    same_json(&expected, &got, "the edge fixture");
    assert!(!told_here.is_empty());
    assert_eq!(told_here, told_there);
}

#[test]
fn duckdb_reads_a_raw_csv_export_with_its_date_layout() {
    // the shipped retail export as text, its M/D/YYYY H:MM dates read with
    // --date-format: the facts cpm computes from the file; its bad rows
    // left out and counted; without the layout, too many rows left out
    let Some(folder) = engines() else { return };
    let export = data("retail_export.csv");
    let source = format!("read_csv('{export}', all_varchar=true)");
    let (expected, _, code) = run(&folder, &["facts", &export, "-f", "csv", "-q"]);
    assert_eq!(code, 0);
    for layout in ["mdy", "%m/%d/%Y %H:%M"] {
        let (got, stderr, code) = run(
            &folder,
            &[
                "facts",
                "--engine",
                "duckdb",
                "--source",
                &source,
                "--date-format",
                layout,
                "-f",
                "csv",
            ],
        );
        assert_eq!(code, 0, "{stderr}");
        assert!(got == expected, "--date-format {layout}: the facts differ");
        assert!(stderr.contains("16 of 19,612 rows of read_csv"), "{stderr}");
    }
    let (_, stderr, code) = run(
        &folder,
        &[
            "facts", "--engine", "duckdb", "--source", &source, "-f", "csv",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("more than --max-rejects allows") && stderr.contains("--date-format"),
        "{stderr}"
    );
}

#[test]
fn a_log_without_amounts_gives_the_same_facts_in_duckdb() {
    // the CDNOW sample without its amounts, ISO dates: revenue 0 on every
    // line in both renderings, the same orders, days and counts
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let log = dir.path().join("log.csv");
    let mut text = String::from("customer_id,date\n");
    let sample = std::fs::read_to_string(data("cdnow_sample.csv")).unwrap();
    for line in sample.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let day = fields[2];
        text += &format!("{},{}-{}-{}\n", fields[0], &day[..4], &day[4..6], &day[6..]);
    }
    std::fs::write(&log, text).unwrap();
    let log = log.display().to_string();
    let (expected, told, code) = run(&folder, &["facts", &log, "-f", "csv"]);
    assert_eq!(code, 0, "{told}");
    assert!(told.contains("no revenue column"), "{told}");
    let source = format!("read_csv('{log}', all_varchar=true)");
    let (got, stderr, code) = run(
        &folder,
        &[
            "facts", "--engine", "duckdb", "--source", &source, "-f", "csv",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(got == expected, "the facts of a log without amounts differ");
    assert_eq!(expected.lines().count(), 2358);
}
