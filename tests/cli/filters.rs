//! `--where` on the input rows and `--keep`, `--sort`, `--limit`,
//! `--columns` on the output, on every command: SQL expressions, counted
//! rows, and mistakes pointed at.

use crate::util::{column, cpm, data, read_json, tempdir};

#[test]
fn where_filters_transactions_before_the_facts() {
    let retail = data("retail_export.csv");
    let uk = cpm(&[
        "segment",
        &retail,
        "-v",
        "--where",
        "Country = 'United Kingdom' AND revenue > 0",
    ])
    .run()
    .ok()
    .stderr_has(&["--where: 15,656 of 19,576 transactions kept"]);
    let c = uk.csv();
    assert!(column(&c, "Country").iter().all(|c| c == "United Kingdom"));
    assert_eq!(c.len() - 1, 2509, "the UK's customers");
    // refunds are left out, so no revenue is below what was bought
    assert!(
        column(&c, "revenue")
            .iter()
            .all(|r| r.parse::<f64>().unwrap() > 0.0)
    );
    // on a customer table, --where filters customers
    let dir = tempdir();
    let customers = dir.path().join("customers.csv").display().to_string();
    cpm(&["segment", "-q", &retail, "-o", &customers])
        .run()
        .ok();
    let some = cpm(&[
        "segment",
        "-q",
        &customers,
        "--where",
        "orders >= 10 AND Country <> 'United Kingdom'",
        "-f",
        "csv",
    ])
    .run()
    .ok()
    .csv();
    assert!(!some.is_empty() && some.len() < 100, "{} rows", some.len());
    assert!(
        column(&some, "orders")
            .iter()
            .all(|o| o.parse::<u32>().unwrap() >= 10)
    );
}

#[test]
fn keep_sort_limit_and_columns_shape_the_output() {
    let top = cpm(&[
        "value",
        "-q",
        &data("retail_export.csv"),
        "--keep",
        "p_alive > 0.5",
        "--sort",
        "clv:desc,customer_id",
        "--limit",
        "20",
        "--columns",
        "customer_id,clv,p_alive",
        "-f",
        "csv",
    ])
    .run()
    .ok()
    .csv();
    assert_eq!(top[0], ["customer_id", "clv", "p_alive"]);
    assert_eq!(top.len(), 21);
    let clv: Vec<f64> = column(&top, "clv")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(clv.windows(2).all(|w| w[0] >= w[1]), "{clv:?}");
    assert!(
        column(&top, "p_alive")
            .iter()
            .all(|p| p.parse::<f64>().unwrap() > 0.5)
    );
    // segments: only those named
    let some = cpm(&[
        "segment",
        "-q",
        &data("retail_export.csv"),
        "--keep",
        "segment IN ('Champions', 'At Risk')",
        "-f",
        "csv",
    ])
    .run()
    .ok()
    .csv();
    let segments = column(&some, "segment");
    assert_eq!(segments.len(), 498 + 137);
    assert!(segments.iter().all(|s| s == "Champions" || s == "At Risk"));
}

#[test]
fn ingest_counts_the_rows_where_leaves_out() {
    let dir = tempdir();
    let report = dir.path().join("quality.json");
    cpm(&[
        "ingest",
        "-q",
        &data("orders.csv"),
        "--where",
        "revenue >= 20",
        "-o",
        &dir.path().join("clean.parquet").display().to_string(),
        "--quality-report",
        &report.display().to_string(),
    ])
    .run()
    .ok();
    let q = read_json(&report);
    let n = |key: &str| q[key].as_u64().unwrap();
    assert!(n("rows_filtered") > 0, "{q}");
    assert_eq!(
        n("rows_read"),
        n("rows_kept") + n("rows_rejected") + n("duplicates_removed") + n("rows_filtered")
    );
}

#[test]
fn a_bad_expression_is_a_usage_error_that_points_at_it() {
    let retail = data("retail_export.csv");
    cpm(&[
        "segment",
        &retail,
        "--where",
        "Country = 'United Kingdom' AND",
    ])
    .run()
    .code_is(2)
    .stderr_has(&[
        "--where: Expected: an expression, found: EOF",
        "  Country = 'United Kingdom' AND\n                                ^",
    ]);
    cpm(&["report", &retail, "--where", "Contry = 'France'"])
        .run()
        .code_is(2)
        .stderr_has(&["--where: no column 'Contry' (found: customer_id, order_date"]);
    cpm(&["segment", &retail, "--keep", "segment = 'Champions' OR"])
        .run()
        .code_is(2)
        .stderr_has(&["--keep: Expected: an expression"]);
    cpm(&["segment", &retail, "--sort", "clv:up"])
        .run()
        .code_is(2)
        .stderr_has(&["--sort clv:up: expected COLUMN, COLUMN:asc or COLUMN:desc"]);
    cpm(&["segment", &retail, "--columns", "customer_id,clv"])
        .run()
        .code_is(2)
        .stderr_has(&["--columns: no column 'clv' (found: customer_id"]);
}
