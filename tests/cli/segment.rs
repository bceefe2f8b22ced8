//! `cpm segment`: facts by hand, scores, segments, tiers, the matrix,
//! breakdowns and pipelines.

use crate::util::{canonical_sample, column, cpm, data, parse_csv, tempdir};

fn segment(args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["segment", "-q"];
    all.extend_from_slice(args);
    cpm(&all).run().ok().csv()
}

#[test]
fn facts_scores_segments_and_cells_by_hand() {
    let run = cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
    ])
    .run()
    .ok()
    .stderr_has(&["1 transactions after 2024-03-31 excluded"]);
    let c = run.csv();
    assert_eq!(column(&c, "customer_id"), ["A", "B", "C", "D"]);
    // A: order 1 has two lines, order 2 is the same day, C4 is a refund
    assert_eq!(column(&c, "orders"), ["3", "2", "1", "1"]);
    assert_eq!(column(&c, "revenue"), ["60.0", "100.0", "8.0", "12.0"]);
    assert_eq!(column(&c, "margin"), ["34.0", "60.0", "5.0", "7.0"]);
    assert_eq!(
        column(&c, "avg_order_value"),
        ["20.0", "50.0", "8.0", "12.0"]
    );
    assert_eq!(
        column(&c, "first_order"),
        ["2024-01-01", "2024-01-20", "2024-03-10", "2024-01-05"]
    );
    assert_eq!(
        column(&c, "last_order"),
        ["2024-02-10", "2024-03-01", "2024-03-10", "2024-01-05"]
    );
    assert_eq!(column(&c, "days_since_last"), ["50", "30", "21", "86"]);
    assert_eq!(column(&c, "repeat_purchases"), ["1", "1", "0", "0"]);
    assert_eq!(column(&c, "first_to_last"), ["40.0", "41.0", "0.0", "0.0"]);
    assert_eq!(column(&c, "tenure"), ["90.0", "71.0", "21.0", "86.0"]);
    assert_eq!(column(&c, "region"), ["north", "south", "south", "north"]);
    // scores by rank, 1 + floor(5 k / 4) with k customers worse, derived
    // by hand: recency D 86, A 50, B 30, C 21 days score 1, 2, 3, 4;
    // orders: C and D tie at 1 and span scores 1-2, so take 1, and A and B
    // share 2-5: B (2 orders) 2 + floor(4 · 0 / 2), A 2 + floor(4 · 1 / 2)
    // = 4; revenue C 8, D 12, A 60, B 100 score 1, 2, 3, 4
    assert_eq!(column(&c, "rfm_score"), ["243", "324", "411", "112"]);
    assert_eq!(
        column(&c, "segment"),
        ["At Risk", "About To Sleep", "Promising", "Lost"]
    );
    assert_eq!(
        column(&c, "strategy"),
        ["win back", "win back", "nurture", "deprioritise"]
    );
    // value = margin (median 20.5); risk = days since last / expected gap
    // (own gap 40 and 41 days; one-time buyers against the median 40.5)
    assert_eq!(
        column(&c, "matrix_cell"),
        ["Maintain", "Maintain", "Develop", "Deprioritise"]
    );
    assert_eq!(
        column(&c, "tier"),
        ["bronze", "platinum", "bronze", "bronze"]
    );
}

#[test]
fn weeks_as_the_time_unit() {
    let c = segment(&[
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "--time-unit",
        "week",
    ]);
    let tenure: f64 = column(&c, "tenure")[0].parse().unwrap();
    assert!((tenure - 90.0 / 7.0).abs() < 1e-9);
}

#[test]
fn ties_share_scores_and_unfilled_bins_are_reported() {
    // three distinct order counts cannot fill five scores: the warning
    // says so and names the remedies
    cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
    ])
    .run()
    .ok()
    .stderr_has(&[
        "frequency: only 3 of 5 scores used (1, 2, 4)",
        "--f-edges 2,3,5,10",
        "--scoring rfm-r",
    ]);
    // CDNOW: 1,205 of 2,357 customers bought once, and score F1; 2 and 3
    // orders take the next scores
    let c = segment(&[&data("cdnow_sample.csv")]);
    let scores_of = |orders: &str| -> Vec<String> {
        let mut scores: Vec<String> = column(&c, "orders")
            .iter()
            .zip(column(&c, "f_score"))
            .filter(|(o, _)| *o == orders)
            .map(|(_, score)| score)
            .collect();
        scores.dedup();
        scores
    };
    assert_eq!(scores_of("1"), ["1"]);
    assert_eq!(scores_of("2"), ["2"]);
    assert_eq!(scores_of("3"), ["3"]);
    // the full CDNOW (60% bought once) now fills every score
    let dir = tempdir();
    let out = dir.path().join("customers.parquet").display().to_string();
    let full = cpm(&["segment", &data("cdnow_master.csv"), "-o", &out])
        .run()
        .ok();
    assert!(!full.stderr().contains("scores used"), "{}", full.stderr());
}

#[test]
fn one_time_buyers_are_seen_on_the_retail_export() {
    let c = segment(&[&data("retail_export.csv")]);
    let count = |name: &str, value: &str| column(&c, name).iter().filter(|v| *v == value).count();
    // 2,999 customers; orders 1: 1,202, 2: 580, 3: 329, 4: 206, 5: 146,
    // 6: 104, 7: 86. By hand: the 1s (k = 0..1201) span F1-F2 and take F1;
    // the 1,797 above share F2-F5, where the 2s (k = 0..579) span F2-F3 and
    // take F2; the 1,217 above share F3-F5 (boundaries at k = 405.7 and
    // 811.3): the 3s (k = 0..328) F3; the 4s (329..534) span F3-F4, F3 is
    // held and most lie past 405.7, so F4; 5s and 6s F4; the 7s (785..870)
    // span F4-F5, most past 811.3, so F5, and all above
    assert_eq!(
        ["1", "2", "3", "4", "5"].map(|s| count("f_score", s)),
        [1202, 580, 329, 456, 432]
    );
    // recency and spend have few ties: 600 a score, give or take 2
    for name in ["r_score", "m_score"] {
        for s in ["1", "2", "3", "4", "5"] {
            assert!(count(name, s).abs_diff(600) <= 2, "{name} {s}");
        }
    }
    // the default table then names all eleven segments (counts checked
    // against an independent implementation of the rule and the table)
    let segments = [
        ("Champions", 498),
        ("Loyal Customers", 257),
        ("Potential Loyalist", 339),
        ("New Customers", 103),
        ("Promising", 163),
        ("Need Attention", 75),
        ("About To Sleep", 362),
        ("At Risk", 137),
        ("Can't Lose Them", 102),
        ("Hibernating", 445),
        ("Lost", 518),
    ];
    for (name, customers) in segments {
        assert_eq!(count("segment", name), customers, "{name}");
    }
    // At Risk names repeat buyers who lapsed, not one-time buyers
    let at_risk_once = column(&c, "segment")
        .iter()
        .zip(column(&c, "orders"))
        .filter(|(s, o)| *s == "At Risk" && o == "1")
        .count();
    assert_eq!(at_risk_once, 0);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let one = cpm(&["segment", "-q", &data("retail_export.csv")])
        .env("POLARS_MAX_THREADS", "1")
        .env("RAYON_NUM_THREADS", "1")
        .run()
        .ok();
    let many = cpm(&["segment", "-q", &data("retail_export.csv")])
        .run()
        .ok();
    assert_eq!(one.stdout(), many.stdout());
}

#[test]
fn fixed_edges_and_mean_spend() {
    let c = segment(&[
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "--r-edges",
        "30,60,90,180",
        "--m-edges",
        "10,20,30,40",
        "--monetary",
        "mean",
    ]);
    // recency 50, 30, 21, 86 days; mean order value 20, 50, 8, 12
    assert_eq!(column(&c, "r_score"), ["4", "4", "5", "3"]);
    assert_eq!(column(&c, "m_score"), ["3", "5", "1", "2"]);
    cpm(&["segment", &data("segment_small.csv"), "--r-edges", "90,30"])
        .run()
        .code_is(2)
        .stderr_has(&["must increase"]);
}

#[test]
fn segment_then_value_equals_value_then_segment() {
    let retail = data("retail_export.csv");
    let run = |first: &[&str], second: &[&str]| {
        let mut args = vec![first[0], "-q", &retail];
        args.extend_from_slice(&first[1..]);
        let piped = cpm(&args).run().ok();
        let mut args = vec![second[0], "-q"];
        args.extend_from_slice(&second[1..]);
        cpm(&args).stdin(piped.stdout_bytes()).run().ok().csv()
    };
    let segmented_first = run(&["segment"], &["value"]);
    let valued_first = run(&["value"], &["segment"]);
    // every column, in the same order: tiers and matrix cells on clv and
    // p_alive, first_to_last and tenure in value's weeks
    assert_eq!(segmented_first[0], valued_first[0]);
    assert_eq!(segmented_first, valued_first);
    let cell = column(&valued_first, "matrix_cell");
    assert!(cell.iter().any(|c| c == "Protect"), "{cell:?}");
    // the binary form, and options of the tiers that both steps take
    let tiers = ["--tier-cuts", "2,10,30", "-f", "ipc"];
    let segmented_first = run(
        &[&["segment"], &tiers[..]].concat(),
        &["value", "--tier-cuts", "2,10,30"],
    );
    let valued_first = run(
        &["value", "-f", "ipc"],
        &["segment", "--tier-cuts", "2,10,30"],
    );
    assert_eq!(segmented_first, valued_first);
    let platinum = column(&valued_first, "tier")
        .iter()
        .filter(|t| *t == "platinum")
        .count();
    assert_eq!(platinum, 60, "2% of 2,999 customers, rounded up");
}

#[test]
fn tiers_follow_the_cuts_and_sum_to_everyone() {
    let c = segment(&[&data("cdnow_master.csv")]);
    let tiers = column(&c, "tier");
    let count = |t: &str| tiers.iter().filter(|x| *x == t).count();
    // 23,570 customers: ceil(1%) = 236, ceil(5%) = 1,179, ceil(20%) = 4,714
    assert_eq!(count("platinum"), 236);
    assert_eq!(count("gold"), 1179 - 236);
    assert_eq!(count("silver"), 4714 - 1179);
    assert_eq!(count("bronze"), 23570 - 4714);
}

#[test]
fn summary_by_attribute_and_to_a_file() {
    let dir = tempdir();
    let out = dir.path().join("segments.csv");
    cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "--by",
        "region",
        "--summary-out",
        &out.display().to_string(),
        "-o",
        &dir.path().join("customers.parquet").display().to_string(),
        "--summary",
    ])
    .run()
    .ok()
    .stderr_has(&["platinum", "At Risk"]);
    let s = parse_csv(&std::fs::read(&out).unwrap());
    assert_eq!(
        s[0][..3],
        [
            "region".to_string(),
            "segment".to_string(),
            "customers".to_string()
        ]
    );
    assert_eq!(column(&s, "region"), ["north", "north", "south", "south"]);
    assert_eq!(
        column(&s, "segment"),
        ["At Risk", "Lost", "Promising", "About To Sleep"]
    );
    assert_eq!(column(&s, "share"), ["0.25", "0.25", "0.25", "0.25"]);
    cpm(&["segment", &data("segment_small.csv"), "--by", "channel"])
        .run()
        .code_is(2)
        .stderr_has(&["--by channel: no such column"]);
}

#[test]
fn a_pipeline_from_ingest_equals_segment_on_the_raw_file() {
    let direct = cpm(&["segment", "-q", &data("retail_export.csv")])
        .run()
        .ok();
    let ingested = cpm(&[
        "ingest",
        "-q",
        &data("retail_export.csv"),
        "--max-rejects",
        "1%",
        "--format",
        "ipc",
    ])
    .run()
    .ok();
    let piped = cpm(&["segment", "-q"])
        .stdin(ingested.stdout_bytes().to_vec())
        .run()
        .ok();
    assert_eq!(direct.stdout(), piped.stdout());
}

#[test]
fn from_a_canonical_parquet_file_only_the_columns_needed_are_read() {
    let dir = tempdir();
    let clean = dir.path().join("clean.parquet").display().to_string();
    cpm(&[
        "ingest",
        "-q",
        &data("retail_export.csv"),
        "--max-rejects",
        "1%",
        "-o",
        &clean,
    ])
    .run()
    .ok();
    let direct = cpm(&["segment", "-q", &data("retail_export.csv")])
        .run()
        .ok();
    let from_parquet = cpm(&["segment", "-v", &clean]).run().ok();
    assert_eq!(direct.stdout(), from_parquet.stdout());
    // Country is constant per customer, StockCode is not: left unread
    from_parquet.stderr_has(&["columns: customer_id, order_date, revenue, order_id, Country"]);
}

#[test]
fn a_customer_table_is_segmented_without_recomputing_facts() {
    let dir = tempdir();
    let table = dir.path().join("customers.csv");
    cpm(&[
        "segment",
        "-q",
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "-o",
        &table.display().to_string(),
    ])
    .run()
    .ok();
    let again = segment(&[&table.display().to_string(), "--r-edges", "25,40,60,80"]);
    assert_eq!(column(&again, "days_since_last"), ["50", "30", "21", "86"]);
    assert_eq!(column(&again, "r_score"), ["3", "4", "5", "1"]);
}

#[test]
fn rfm_r_scoring_and_rules_reproduce_the_r_package() {
    // derived by hand from the R rules: breaks are the type-7 quantiles
    // plus 1; recency 27.4, 35, 47, 65.4; orders 2, 2.2, 2.8, 3.4;
    // revenue 11.4, 22.6, 51.4, 77; lower bounds (min, breaks), upper
    // (breaks, max + 1); then the R table, first match wins
    let c = segment(&[
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "--scoring",
        "rfm-r",
        "--rules",
        "rfm-r",
    ]);
    assert_eq!(column(&c, "rfm_score"), ["244", "425", "511", "112"]);
    assert_eq!(
        column(&c, "segment"),
        ["Loyal Customers", "Promising", "New Customers", "Lost"]
    );
}

#[test]
fn custom_rule_tables_are_read_and_checked() {
    let c = segment(&[
        &data("segment_small.csv"),
        "--as-of",
        "2024-03-31",
        "--rules",
        &data("rules_value.toml"),
    ]);
    assert_eq!(
        column(&c, "segment"),
        ["Lapsed", "Active", "Active", "Lapsed"]
    );
    assert_eq!(column(&c, "action")[1], "Cross-sell the next category");
    cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--rules",
        &data("bad/rules_gap.toml"),
    ])
    .run()
    .code_is(1)
    .stderr_has(&[
        "rules_gap.toml: invalid rule table",
        "25 codes in no segment: 211, 212",
    ]);
    cpm(&[
        "segment",
        &data("segment_small.csv"),
        "--rules",
        "no-such-table",
    ])
    .run()
    .code_is(2);
}

#[test]
fn a_large_parquet_input_summarised_in_batches_gives_the_same_table() {
    let dir = tempdir();
    let input = canonical_sample(dir.path());
    let whole = cpm(&["segment", &input, "-q", "--format", "csv"])
        .run()
        .ok()
        .stdout();
    // every Parquet input counts as large: read a batch at a time
    let run = cpm(&["segment", &input, "-v", "--format", "csv"])
        .env("CPM_STREAM_ABOVE", "1")
        .run()
        .ok()
        .stderr_has(&["summarised a batch at a time"]);
    assert_eq!(run.stdout(), whole);
}

#[test]
fn the_r_rfm_package_segments_cdnow_master_as_published() {
    // ../shared/REFERENCE.md (issue 22 §6): the R `rfm` package's segment
    // counts on CDNOW master as of 1998-06-30, its scoring and its table
    let c = segment(&[
        &data("cdnow_master.csv"),
        "--scoring",
        "rfm-r",
        "--rules",
        "rfm-r",
        "--as-of",
        "1998-06-30",
    ]);
    let segments = column(&c, "segment");
    let count = |name: &str| segments.iter().filter(|s| *s == name).count();
    let published = [
        ("Potential Loyalist", 8433),
        ("About To Sleep", 6672),
        ("Lost", 4308),
        ("Champions", 2350),
        ("Promising", 951),
        ("Loyal Customers", 489),
        ("Can't Lose Them", 184),
        ("Need Attention", 106),
        ("Others", 51),
        ("New Customers", 15),
        ("At Risk", 11),
    ];
    for (name, customers) in published {
        assert_eq!(count(name), customers, "{name}");
    }
    assert_eq!(segments.len(), 23_570);
}

#[test]
fn next_best_names_the_highest_lift_category_not_bought_and_allocate_offers_it() {
    // the basket of tests/cli/report.rs's cross-sell test: B and C get
    // jam, D butter, F bread; A and E nothing
    let dir = tempdir();
    let customers = dir.path().join("customers.csv");
    let out = customers.display().to_string();
    let input = data("crosssell_orders.csv");
    cpm(&[
        "segment",
        &input,
        "--as-of",
        "2024-03-31",
        "--next-best",
        "-q",
        "-o",
        &out,
    ])
    .run()
    .ok();
    let rows = parse_csv(&std::fs::read(&customers).unwrap());
    let ids = column(&rows, "customer_id");
    let best = column(&rows, "next_best");
    let got: Vec<(String, String)> = ids.into_iter().zip(best).collect();
    let want = [
        ("A", ""),
        ("B", "jam"),
        ("C", "jam"),
        ("D", "butter"),
        ("E", ""),
        ("F", "bread"),
    ];
    for (id, item) in want {
        assert!(
            got.contains(&(id.to_string(), item.to_string())),
            "{id} {item} in {got:?}"
        );
    }
    // allocate's target list carries it as the offer
    let list = dir.path().join("list.csv");
    cpm(&[
        "allocate",
        &out,
        "--budget",
        "100",
        "--target-list",
        "10",
        "-q",
        "-o",
        &list.display().to_string(),
    ])
    .run()
    .ok();
    let rows = parse_csv(&std::fs::read(&list).unwrap());
    let offers: Vec<(String, String)> = column(&rows, "customer_id")
        .into_iter()
        .zip(column(&rows, "offer"))
        .collect();
    assert!(
        offers.contains(&("B".to_string(), "jam".to_string())),
        "{offers:?}"
    );
    // a customer table has no lines to read
    cpm(&["segment", &out, "--next-best"])
        .run()
        .code_is(2)
        .stderr_has(&["--next-best needs transaction lines"]);
    cpm(&["segment", &data("report_small.csv"), "--next-best"])
        .run()
        .code_is(2)
        .stderr_has(&["the lines have no category or product column"]);
}
