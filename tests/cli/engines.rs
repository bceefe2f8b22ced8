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
        let mut remote = vec!["facts", "-f", "csv"];
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

#[test]
fn facts_in_spark_equal_the_local_facts() {
    // Spark local[2] on the edge fixture (a JVM start per statement file:
    // about 12 s each, so one fixture)
    let Some(folder) = engines() else { return };
    let dir = tempdir();
    let edges = edge_fixture(dir.path());
    let spark = spark_sql(&folder);
    let source = format!("parquet.`{edges}`");
    let engine = [
        "--engine",
        "spark",
        "--source",
        &source,
        "--engine-cmd",
        &spark,
    ];
    let master = ["--engine-conf", "spark.master=local[2]"];
    same_facts(&folder, &edges, &[&engine[..], &master[..]].concat());
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
