//! Column aliases, `--map`, quantity × price, ids and date forms.

use crate::util::{column, cpm, data};

fn ingest(args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["ingest", "-q"];
    all.extend_from_slice(args);
    cpm(&all).run().ok().csv()
}

#[test]
fn common_export_names_map_automatically() {
    let records = ingest(&[&data("dates_us.csv")]);
    assert_eq!(records[0], ["customer_id", "order_date", "revenue"]);
    let records = ingest(&[&data("orders_pipe.txt")]);
    // a bare "id" could be anyone's: it passes through unmapped
    assert_eq!(records[0], ["customer_id", "order_date", "revenue", "id"]);
    let records = ingest(&[&data("dates_dotted.csv"), "--decimal-comma"]);
    assert_eq!(column(&records, "revenue"), ["10.5", "20.0"]);
}

#[test]
fn map_overrides_name_source_columns() {
    let records = ingest(&[
        &data("kunden.csv"),
        "--map",
        "customer_id=Kunde",
        "--map",
        "order_date=Datum",
        "--map",
        "revenue=Betrag",
    ]);
    assert_eq!(records[0], ["customer_id", "order_date", "revenue"]);
    assert_eq!(column(&records, "customer_id"), ["7", "8"]);
}

#[test]
fn revenue_is_quantity_times_price_when_there_is_no_amount() {
    let records = ingest(&[&data("quantity_price.csv"), "--max-rejects", "0"]);
    assert_eq!(
        records[0],
        [
            "customer_id",
            "order_date",
            "revenue",
            "order_id",
            "StockCode",
            "Quantity",
            "UnitPrice",
            "Country"
        ]
    );
    let revenue: Vec<f64> = column(&records, "revenue")
        .iter()
        .map(|v| v.parse().unwrap())
        .collect();
    let expected = [15.3, 20.34, -27.5, 20.4];
    for (got, want) in revenue.iter().zip(expected) {
        assert!((got - want).abs() < 1e-9, "{revenue:?}");
    }
    let records = ingest(&[
        &data("kunden.csv"),
        "--map",
        "customer_id=Kunde",
        "--map",
        "order_date=Datum",
        "--map",
        "revenue=Betrag*Kunde",
    ]);
    assert_eq!(column(&records, "revenue"), ["70.0", "160.0"]);
}

#[test]
fn a_missing_required_column_lists_what_was_found_and_accepted() {
    cpm(&["ingest", &data("bad/missing_column.csv")])
        .run()
        .code_is(1)
        .stderr_has(&[
            "missing_column.csv: no column for order_date (found: customer, when, amount)",
            "InvoiceDate",
            "--map order_date=COLUMN",
        ]);
    // every missing column in one message, and a --map line to paste
    let dir = crate::util::tempdir();
    let german = dir.path().join("umsatz.csv");
    std::fs::write(
        &german,
        "Kundennummer,Belegdatum,Betrag\n7,2024-01-02,10.5\n",
    )
    .unwrap();
    cpm(&["ingest", &german.display().to_string()])
        .run()
        .code_is(1)
        .stderr_has(&[
            "no column for customer_id, order_date, revenue (found: Kundennummer, Belegdatum, Betrag)",
            "map them: --map customer_id=Kundennummer --map order_date=Belegdatum --map revenue=Betrag",
        ]);
    cpm(&[
        "ingest",
        "-q",
        &german.display().to_string(),
        "--map",
        "customer_id=Kundennummer",
        "--map",
        "order_date=Belegdatum",
        "--map",
        "revenue=Betrag",
    ])
    .run()
    .ok();
    cpm(&["ingest", &data("orders.csv"), "--map", "customer_id=Kunde"])
        .run()
        .code_is(1)
        .stderr_has(&["--map names column 'Kunde', which is not there"]);
    cpm(&["ingest", &data("orders.csv"), "--map", "shoe_size=x"])
        .run()
        .code_is(2)
        .stderr_has(&["not a canonical column"]);
}

#[test]
fn customer_ids_keep_their_leading_zeros() {
    let records = ingest(&[&data("dates_compact.csv")]);
    assert_eq!(column(&records, "customer_id"), ["00001", "00002"]);
}

#[test]
fn every_date_form_is_read() {
    let cases: [(&str, &[&str]); 5] = [
        ("dates_compact.csv", &["1997-01-01", "1997-01-12"]),
        ("dates_us.csv", &["2010-12-01", "2010-12-13", "2011-01-02"]),
        ("dates_dotted.csv", &["2023-12-31", "2024-01-01"]),
        ("dates_dayfirst.csv", &["2023-12-25", "2024-02-01"]),
        // offsets are normalised to UTC before the day is taken
        (
            "dates_iso_offsets.csv",
            &["2024-03-06", "2024-03-04", "2024-03-05", "2024-03-05"],
        ),
    ];
    for (file, expected) in cases {
        let mut args = vec![data(file)];
        if file == "dates_dotted.csv" {
            args.push("--decimal-comma".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(column(&ingest(&args), "order_date"), expected, "{file}");
    }
}

#[test]
fn ambiguous_day_month_is_an_error_until_date_format_settles_it() {
    cpm(&["ingest", &data("bad/ambiguous_dates.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["ambiguous_dates.csv, column 'order_date'", "--date-format"]);
    let records = ingest(&[&data("bad/ambiguous_dates.csv"), "--date-format", "dmy"]);
    assert_eq!(column(&records, "order_date"), ["2024-02-01", "2024-04-03"]);
    let records = ingest(&[
        &data("bad/ambiguous_dates.csv"),
        "--date-format",
        "%m/%d/%Y",
    ]);
    assert_eq!(column(&records, "order_date"), ["2024-01-02", "2024-03-04"]);
}
