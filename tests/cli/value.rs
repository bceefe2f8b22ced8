//! `cpm value`: the models reproduce the published CDNOW figures from raw
//! transactions and from the shipped summaries; saved models score without
//! refitting; degenerate inputs are errors, never NaN.

use crate::util::{canonical_sample, column, cpm, data, read_json, tempdir};

/// Fits on the CDNOW sample's 39-week calibration and returns the model
/// file's JSON and the customer table.
fn fit_cdnow(input: &str, extra: &[&str]) -> (serde_json::Value, Vec<Vec<String>>) {
    let dir = tempdir();
    let model = dir.path().join("model.json");
    let mut args = vec![
        "value".to_string(),
        "-q".into(),
        data(input),
        "--model-out".into(),
        model.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let run = cpm(&args).run().ok();
    (read_json(&model), run.csv())
}

fn close(value: &serde_json::Value, want: f64, tolerance: f64) -> bool {
    (value.as_f64().unwrap() - want).abs() < tolerance
}

#[test]
fn raw_transactions_reproduce_the_published_bgnbd_and_gamma_gamma_fits() {
    let (model, customers) = fit_cdnow("cdnow_sample.csv", &["--as-of", "1997-09-30"]);
    let b = &model["bgnbd"];
    // ../shared/REFERENCE.md, to 3 decimals
    assert!(close(&b["r"], 0.243, 5e-4), "{b}");
    assert!(close(&b["alpha"], 4.414, 5e-4), "{b}");
    assert!(close(&b["a"], 0.793, 5e-4), "{b}");
    assert!(close(&b["b"], 2.426, 5e-4), "{b}");
    assert!(close(&b["log_likelihood"], -9582.429, 0.01), "{b}");
    let g = &model["gamma_gamma"];
    assert!(
        close(&g["p"], 6.25, 0.01) && close(&g["q"], 3.74, 0.01),
        "{g}"
    );
    assert!(close(&g["log_likelihood"], -4055.92, 0.01), "{g}");
    assert_eq!(model["time_unit"], "week");
    assert_eq!(model["as_of"], "1997-09-30");
    assert_eq!(model["customers"], 2357);
    // the reference customer (00004: x = 2, t_x = 30.43, T = 38.86)
    assert_eq!(customers[1][0], "00004");
    let p_alive: f64 = column(&customers, "p_alive")[0].parse().unwrap();
    assert!((p_alive - 0.7266).abs() < 5e-5, "{p_alive}");
}

#[test]
fn the_model_file_has_exactly_the_documented_keys() {
    let (model, _) = fit_cdnow("cdnow_sample.csv", &["--as-of", "1997-09-30"]);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&model),
        [
            "as_of",
            "bgnbd",
            "customers",
            "fitted_at",
            "gamma_gamma",
            "time_unit"
        ]
    );
    assert_eq!(
        keys(&model["bgnbd"]),
        [
            "a",
            "alpha",
            "b",
            "covariance",
            "log_likelihood",
            "r",
            "std_errors"
        ]
    );
    assert_eq!(
        keys(&model["gamma_gamma"]),
        [
            "covariance",
            "gamma",
            "log_likelihood",
            "p",
            "q",
            "std_errors"
        ]
    );
    assert_eq!(model["bgnbd"]["std_errors"].as_array().unwrap().len(), 4);
    // the standard errors are the covariance's diagonal, square-rooted
    let covariance = model["bgnbd"]["covariance"].as_array().unwrap();
    for (i, se) in model["bgnbd"]["std_errors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let variance = covariance[i][i].as_f64().unwrap();
        assert!((variance.sqrt() - se.as_f64().unwrap()).abs() < 1e-12);
    }
}

#[test]
fn the_shipped_summaries_give_the_same_fit() {
    let (from_btyd, _) = fit_cdnow("cdnow_customers_summary_with_transactions.csv", &[]);
    let (from_lifetimes, customers) = fit_cdnow("cdnow_customers_summary.csv", &[]);
    for model in [&from_btyd, &from_lifetimes] {
        let b = &model["bgnbd"];
        assert!(
            close(&b["r"], 0.243, 5e-4) && close(&b["b"], 2.426, 5e-4),
            "{b}"
        );
    }
    assert!(close(&from_btyd["gamma_gamma"]["gamma"], 15.44, 0.01));
    // no spend in the lifetimes summary: no spend model, no clv column
    assert!(from_lifetimes["gamma_gamma"].is_null());
    assert!(!customers[0].contains(&"clv".to_string()));
}

#[test]
fn a_saved_model_scores_new_data_without_refitting() {
    let dir = tempdir();
    let model = dir.path().join("model.json").display().to_string();
    let args = |more: &[&str]| {
        let mut a = vec!["value", "-q"];
        a.extend_from_slice(more);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let input = data("cdnow_customers_summary_with_transactions.csv");
    let fitted = cpm(&args(&[&input, "--model-out", &model])).run().ok();
    let scored = cpm(&args(&[&input, "--model-in", &model])).run().ok();
    assert_eq!(fitted.stdout(), scored.stdout());
    // a longer horizon predicts more purchases
    let longer = cpm(&args(&[&input, "--model-in", &model, "--horizon", "104w"]))
        .run()
        .ok();
    let purchases =
        |csv: &[Vec<String>]| -> f64 { column(csv, "expected_purchases")[0].parse().unwrap() };
    assert!(purchases(&longer.csv()) > purchases(&scored.csv()));
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"bgnbd\": 3}\n").unwrap();
    cpm(&args(&[
        &input,
        "--model-in",
        &broken.display().to_string(),
    ]))
    .run()
    .code_is(1)
    .stderr_has(&["broken.json", "line 1", "not a cpm model file"]);
}

#[test]
fn degenerate_inputs_are_errors_not_nan() {
    // every customer bought once
    cpm(&["value", &data("segment_small.csv"), "--as-of", "2024-01-02"])
        .run()
        .code_is(1)
        .stderr_has(&["every customer bought once"]);
    cpm(&["value", &data("cdnow_sample.csv"), "--horizon", "12"])
        .run()
        .code_is(2)
        .stderr_has(&["horizon '12'", "m (months), w (weeks) or d (days)"]);
}

#[test]
fn profit_and_clv_follow_the_margin() {
    let (_, full) = fit_cdnow("cdnow_sample.csv", &["--as-of", "1997-09-30"]);
    let (_, thirty) = fit_cdnow(
        "cdnow_sample.csv",
        &["--as-of", "1997-09-30", "--margin", "0.3"],
    );
    let first = |csv: &[Vec<String>], name: &str| -> f64 { column(csv, name)[0].parse().unwrap() };
    assert!((first(&thirty, "profit") - 0.3 * first(&full, "revenue")).abs() < 1e-9);
    assert!((first(&thirty, "clv") - 0.3 * first(&full, "clv")).abs() < 1e-9);
    for csv in [&full, &thirty] {
        for value in column(csv, "clv") {
            let v: f64 = value.parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{value}");
        }
    }
}

#[test]
fn holdout_tracks_the_published_cdnow_repeat_purchases() {
    let dir = tempdir();
    let report = dir.path().join("holdout.json");
    let run = cpm(&[
        "value",
        "-q",
        &data("cdnow_sample.csv"),
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        "1998-06-30",
        "--holdout-report",
        &report.display().to_string(),
    ])
    .run()
    .ok();
    let h = read_json(&report);
    let mut keys: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "by_frequency",
            "mae",
            "rmse",
            "total_actual",
            "total_predicted",
            "tracking"
        ]
    );
    // ../shared/REFERENCE.md: cumulative repeat transactions, weeks 1-10, 39, 78
    let tracking = h["tracking"].as_array().unwrap();
    let actual = |week: usize| tracking[week - 1]["actual_cumulative"].as_f64().unwrap();
    let first_ten: Vec<f64> = (1..=10).map(actual).collect();
    assert_eq!(
        first_ten,
        [
            0.0, 19.0, 42.0, 81.0, 119.0, 192.0, 261.0, 351.0, 428.0, 504.0
        ]
    );
    assert_eq!((actual(39), actual(78)), (2457.0, 4339.0));
    assert_eq!(h["total_actual"], 4339.0 - 2457.0);
    // the expected curve is BTYD's (t = end - first purchase day): 2,501.52
    // and 4,165.63 at weeks 39 and 78; the holdout's conditional
    // expectations add up to 1,653.39 (REFERENCE.md; the fitted parameters
    // agree with BTYD's to about 5 digits)
    for (week, published) in [(39, 2501.52), (78, 4165.63)] {
        let expected = tracking[week - 1]["expected_cumulative"].as_f64().unwrap();
        assert!(
            (expected - published).abs() < 0.05,
            "week {week}: {expected}"
        );
    }
    let predicted = h["total_predicted"].as_f64().unwrap();
    assert!((predicted - 1653.39).abs() < 0.05, "{predicted}");
    let rows = h["by_frequency"].as_array().unwrap();
    assert_eq!(rows[0]["x"], 0);
    assert_eq!(rows[0]["customers"], 1411);
    let customers = run.csv();
    let actual_column = column(&customers, "holdout_purchases");
    let sum: f64 = actual_column
        .iter()
        .map(|v| v.parse::<f64>().unwrap())
        .sum();
    assert_eq!(sum, 4339.0 - 2457.0);
}

#[test]
fn holdout_needs_transactions_and_an_earlier_calibration_end() {
    cpm(&[
        "value",
        &data("cdnow_customers_summary.csv"),
        "--calibration-end",
        "1997-09-30",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--calibration-end needs transactions"]);
    cpm(&[
        "value",
        &data("cdnow_sample.csv"),
        "--calibration-end",
        "1998-09-30",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["must be before the as-of day"]);
}

#[test]
fn fits_and_predictions_do_not_depend_on_the_thread_count() {
    let run = |threads: Option<&str>| {
        let mut command = cpm(&[
            "value",
            "-q",
            &data("cdnow_sample.csv"),
            "--as-of",
            "1997-09-30",
            "-f",
            "csv",
        ]);
        if let Some(n) = threads {
            command = command
                .env("RAYON_NUM_THREADS", n)
                .env("POLARS_MAX_THREADS", n);
        }
        command.run().ok().stdout()
    };
    assert_eq!(run(Some("1")), run(None));
}

#[test]
fn data_that_cannot_pin_the_model_down_end_quickly_with_advice() {
    // one customer; six customers whose repeat spend is refunded: no
    // optimum exists, and the fit must say so rather than circle or
    // return the numbers it stopped at
    for (file, extra) in [
        ("value_one_customer.csv", None),
        ("value_one_customer.csv", Some("0.1")),
        ("value_refunds_only.csv", Some("0.1")),
    ] {
        let mut args = vec!["value".to_string(), data(file)];
        if let Some(penalty) = extra {
            args.extend(["--penalty".to_string(), penalty.to_string()]);
        }
        cpm(&args)
            .run()
            .code_is(1)
            .stderr_has(&["the BG/NBD fit", "--penalty"]);
    }
}

#[test]
fn profitability_whale_curve_and_profit_per_segment() {
    let dir = tempdir();
    let customers = dir.path().join("customers.csv").display().to_string();
    cpm(&[
        "segment",
        "-q",
        &data("cdnow_sample.csv"),
        "--as-of",
        "1997-09-30",
        "-o",
        &customers,
    ])
    .run()
    .ok();
    cpm(&["value", &customers, "--margin", "0.3"])
        .run()
        .ok()
        .stderr_has(&[
            "whale curve peak",
            "unprofitable customers",
            "profit they destroy",
            "unprofitable",
            "Champions",
        ])
        // the same fit as from the transactions: segment's table is in
        // days, value recomputes the times in weeks from its dates
        .stderr_has(&["0.2426", "4.4136"]);
}

#[test]
fn a_large_parquet_input_valued_in_batches_gives_the_same_table() {
    let dir = tempdir();
    let input = canonical_sample(dir.path());
    let args = |verbosity| ["value", &input, verbosity, "--format", "csv"].map(String::from);
    let whole = cpm(&args("-q")).run().ok().stdout();
    // every Parquet input counts as large: read a batch at a time
    let run = cpm(&args("-v"))
        .env("CPM_STREAM_ABOVE", "1")
        .run()
        .ok()
        .stderr_has(&["summarised a batch at a time"]);
    assert_eq!(run.stdout(), whole);
}

#[test]
fn lifetimes_documented_clv_example_is_reproduced() {
    // ../shared/REFERENCE.md: lifetimes' customer_lifetime_value example:
    // BG/NBD and Gamma-Gamma on the CDNOW summary, 12 monthly steps of 30
    // of the summary's units (lifetimes' freq="D" on a weekly summary:
    // here --time-unit day), 1% a month
    let run = cpm(&[
        "value",
        "-q",
        "-f",
        "csv",
        &data("cdnow_customers_summary_with_transactions.csv"),
        "--time-unit",
        "day",
        "--horizon",
        "12m",
        "--discount-rate",
        "0.12682503013196977",
    ])
    .run()
    .ok();
    let csv = run.csv();
    let numbers = |name: &str| -> Vec<f64> {
        column(&csv, name)[..10]
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let clv = [
        140.096211,
        18.943467,
        38.180574,
        38.180574,
        38.180574,
        1003.868107,
        28.109683,
        38.180574,
        167.418216,
        38.180574,
    ];
    for (got, published) in numbers("clv").iter().zip(clv) {
        assert!(
            (got / published - 1.0).abs() < 1e-6,
            "{got} against {published}"
        );
    }
    // Gamma-Gamma's E[M] of customers 1..10 (published to 2 decimals,
    // truncated)
    let spend = [
        24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17,
    ];
    for (got, published) in numbers("expected_order_value").iter().zip(spend) {
        assert!((got - published).abs() < 0.01, "{got} against {published}");
    }
}

#[test]
fn a_spend_model_that_cannot_be_fitted_leaves_the_purchase_model_and_a_clv() {
    // the CDNOW sample with every line worth 10: Gamma-Gamma cannot pin p
    // down; P(alive) and expected purchases stay those of the real sample,
    // CLV takes each customer's own mean spend, and the model file says so
    let dir = tempdir();
    let constant = dir.path().join("constant.csv");
    let text = std::fs::read_to_string(data("cdnow_sample.csv")).unwrap();
    let lines: Vec<String> = (text.lines().enumerate())
        .map(|(i, line)| match i {
            0 => line.to_string(),
            _ => format!("{},10.00", line.rsplit_once(',').unwrap().0),
        })
        .collect();
    std::fs::write(&constant, lines.join("\n") + "\n").unwrap();
    let model = dir.path().join("model.json");
    let (model_path, constant_path) = (model.display().to_string(), constant.display().to_string());
    let run = cpm(&[
        "value",
        "-f",
        "csv",
        &constant_path,
        "--as-of",
        "1997-09-30",
        "--model-out",
        &model_path,
    ])
    .run()
    .ok();
    let csv = run.csv();
    run.stderr_has(&[
        "the Gamma-Gamma spend model is not used",
        "p ran off to",
        "--penalty",
        "own mean spend",
    ]);
    let (_, real) = fit_cdnow("cdnow_sample.csv", &["--as-of", "1997-09-30"]);
    assert_eq!(column(&csv, "p_alive"), column(&real, "p_alive"));
    let spend = column(&csv, "expected_order_value");
    let own = column(&csv, "mean_repeat_value");
    let repeats = column(&csv, "repeat_purchases");
    for ((spend, own), x) in spend.iter().zip(&own).zip(&repeats) {
        if x != "0" {
            assert_eq!(spend, own);
        }
    }
    let saved = read_json(&model);
    assert!(saved["gamma_gamma"].is_null());
    assert_eq!(saved["spend_fallback"]["method"], "customer_mean");
    // the saved model scores the same file again
    let again = cpm(&[
        "value",
        "-f",
        "csv",
        &constant_path,
        "--as-of",
        "1997-09-30",
        "--model-in",
        &model_path,
    ])
    .run()
    .ok();
    assert_eq!(column(&again.csv(), "clv"), column(&csv, "clv"));
}

#[test]
fn raw_transactions_reproduce_the_published_pareto_nbd_fit_and_holdout() {
    // ../shared/REFERENCE.md: BTYD 0.5534, 10.5802, 0.6061, 11.6562, LL
    // -9594.976; CLVTools' standard errors 0.0476, 0.843, 0.187, 6.21
    let (model, customers) = fit_cdnow(
        "cdnow_sample.csv",
        &["--as-of", "1997-09-30", "--model", "pnbd"],
    );
    assert!(model["bgnbd"].is_null(), "one purchase model: {model}");
    let p = &model["pnbd"];
    assert!(close(&p["r"], 0.5534, 1e-3), "{p}");
    assert!(close(&p["alpha"], 10.58, 0.01), "{p}");
    assert!(close(&p["s"], 0.6061, 1e-3), "{p}");
    // beta is poorly determined (standard error 6): the log-likelihood is
    // the sharper test
    assert!(close(&p["beta"], 11.66, 0.05), "{p}");
    assert!(close(&p["log_likelihood"], -9594.976, 1e-2), "{p}");
    for (se, want) in p["std_errors"]
        .as_array()
        .unwrap()
        .iter()
        .zip([0.0476, 0.843, 0.187, 6.21])
    {
        assert!(
            (se.as_f64().unwrap() / want - 1.0).abs() < 0.02,
            "{se} against {want}"
        );
    }
    assert!(
        column(&customers, "clv")
            .iter()
            .all(|v| v.parse::<f64>().unwrap() >= 0.0)
    );
    // the holdout: 1,665.43 expected against 1,882, the tracking curve
    // 2,532.27 / 4,274.44 at weeks 39 / 78, at BTYD's estimates (these are
    // cpm's own, a beta 0.1% off: within 0.1 and 1)
    let dir = tempdir();
    let report = dir.path().join("holdout.json");
    cpm(&[
        "value",
        "-q",
        &data("cdnow_sample.csv"),
        "--model",
        "pnbd",
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        "1998-06-30",
        "--holdout-report",
        &report.display().to_string(),
    ])
    .run()
    .ok();
    let h = read_json(&report);
    assert!(
        close(&h["total_predicted"], 1665.43, 0.1),
        "{}",
        h["total_predicted"]
    );
    let tracking = h["tracking"].as_array().unwrap();
    for (week, published) in [(39, 2532.27), (78, 4274.44)] {
        let expected = &tracking[week - 1]["expected_cumulative"];
        assert!(close(expected, published, 1.0), "week {week}: {expected}");
    }
}

#[test]
fn a_saved_pareto_nbd_model_scores_and_says_what_it_is() {
    let dir = tempdir();
    let model = dir.path().join("model.json").display().to_string();
    let input = data("cdnow_customers_summary_with_transactions.csv");
    let fitted = cpm(&[
        "value",
        "-q",
        &input,
        "--model",
        "pnbd",
        "--model-out",
        &model,
    ])
    .run()
    .ok();
    let scored = cpm(&["value", "-q", &input, "--model-in", &model])
        .run()
        .ok();
    assert_eq!(fitted.stdout(), scored.stdout());
    cpm(&[
        "value",
        "-q",
        &input,
        "--model-in",
        &model,
        "--model",
        "bgnbd",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--model BG/NBD disagrees with the saved model, a Pareto/NBD"]);
    // the report names the model and its parameters
    let json = cpm(&[
        "report",
        "-q",
        "-f",
        "json",
        &data("cdnow_sample.csv"),
        "--model",
        "pnbd",
    ])
    .run()
    .ok()
    .stdout();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["model"]["purchase_model"], "pnbd");
    let parameters = report["model"]["purchase_parameters"].as_object().unwrap();
    let names: Vec<&str> = parameters.keys().map(String::as_str).collect();
    assert_eq!(names, ["alpha", "beta", "r", "s"]);
    assert!(report["model"]["bgnbd"].is_null());
}

#[test]
fn raw_transactions_reproduce_lifetimes_mbgnbd_fit() {
    // ../shared/REFERENCE.md: lifetimes' fit r 0.525, alpha 6.183, a 0.891,
    // b 1.614, LL -9582.1327; one-time buyers can be dead
    let (model, customers) = fit_cdnow(
        "cdnow_sample.csv",
        &["--as-of", "1997-09-30", "--model", "mbgnbd"],
    );
    let m = &model["mbgnbd"];
    for (name, want) in [("r", 0.525), ("alpha", 6.183), ("a", 0.891), ("b", 1.614)] {
        assert!(close(&m[name], want, 1e-3), "{m}");
    }
    assert!(close(&m["log_likelihood"], -9582.1327, 1e-2), "{m}");
    let once: Vec<f64> = (column(&customers, "p_alive").iter())
        .zip(column(&customers, "repeat_purchases"))
        .filter(|(_, x)| x == "0")
        .map(|(p, _)| p.parse().unwrap())
        .collect();
    assert!(once.iter().all(|p| *p < 1.0), "one-time buyers all alive");
}

/// Checks a BG/BB model file against BTYD's fit on the donations data
/// (../shared/REFERENCE.md).
fn assert_donations_fit(model: &serde_json::Value) {
    let b = &model["bgbb"];
    let published = [
        ("alpha", 1.203507081),
        ("beta", 0.7497666778),
        ("gamma", 0.6567568171),
        ("delta", 2.783887325),
    ];
    for (name, want) in published {
        assert!(close(&b[name], want, 2e-3 * want), "{b}");
    }
    assert!(close(&b["log_likelihood"], -33225.58, 0.01), "{b}");
    assert_eq!(b["std_errors"].as_array().unwrap().len(), 4);
    assert_eq!(model["customers"], 11104);
}

#[test]
fn the_donations_summary_reproduces_the_published_bgbb_fit() {
    let (model, rows) = fit_cdnow(
        "donations.csv",
        &["--model", "bgbb", "--time-unit", "year", "--horizon", "10y"],
    );
    assert_donations_fit(&model);
    assert_eq!(model["time_unit"], "year");
    // (x, t_x, n) = (0, 0, 6): P(alive in 2002) 0.108, E[X] over 10
    // years 0.1302, DERT at 10% 0.1148
    let first = |name: &str| -> f64 { column(&rows, name)[0].parse().unwrap() };
    assert!((first("p_alive") - 0.108).abs() < 5e-4);
    assert!((first("expected_purchases") - 0.1302).abs() < 2e-4);
    assert!((first("dert") - 0.1148).abs() < 2e-4);
}

#[test]
fn a_donation_log_in_years_reproduces_the_published_bgbb_fit() {
    // each donor of the summary as transactions: the first gift on
    // 1995-07-01, then gifts on July 1 of x years ending in year t_x
    let dir = tempdir();
    let log = dir.path().join("gifts.csv");
    let mut text = String::from("customer_id,date,revenue\n");
    let mut donor = 0;
    let summary = std::fs::read_to_string(data("donations.csv")).unwrap();
    for line in summary.lines().skip(1) {
        let v: Vec<u32> = line.split(',').map(|v| v.parse().unwrap()).collect();
        let (x, t_x, weight) = (v[0], v[1], v[3]);
        for _ in 0..weight {
            donor += 1;
            text += &format!("d{donor},1995-07-01,{}\n", 20 + donor % 7 * 5);
            for year in (t_x + 1 - x)..=t_x.min(t_x + x) {
                if x > 0 {
                    text += &format!("d{donor},{}-07-01,25\n", 1995 + year);
                }
            }
        }
    }
    std::fs::write(&log, text).unwrap();
    let model_file = dir.path().join("model.json");
    let run = cpm(&[
        "value",
        "-q",
        log.to_str().unwrap(),
        "--model",
        "bgbb",
        "--time-unit",
        "year",
        "--as-of",
        "2002-01-01",
        "--model-out",
        model_file.to_str().unwrap(),
    ])
    .run()
    .ok();
    assert_donations_fit(&read_json(&model_file));
    assert_eq!(run.csv().len(), 11_105);
}

#[test]
fn bgbb_says_when_customers_bought_more_than_once_in_an_opportunity() {
    // weekly retail data: several purchases in a year count as one
    cpm(&[
        "value",
        &data("cdnow_sample.csv"),
        "--model",
        "bgbb",
        "--time-unit",
        "month",
        "-o",
        "/dev/null",
    ])
    .run()
    .ok()
    .stderr_has(&["customers bought more than once in an opportunity (one month)"]);
}

/// Fits sBG per plan on `input` and returns the model file and the table.
fn fit_subscriptions(input: &str, extra: &[&str]) -> (serde_json::Value, Vec<Vec<String>>) {
    let mut args = vec!["--model", "sbg", "--by", "plan", "--period", "year"];
    args.extend(extra);
    fit_cdnow(input, &args)
}

/// Checks the fits of Fader & Hardie (2007)'s two cohorts, years 1–7.
fn assert_fader_hardie_cohorts(model: &serde_json::Value) {
    let fits = model["sbg"].as_array().unwrap();
    let by_plan = |plan: &str| fits.iter().find(|f| f["group"] == plan).unwrap();
    for (plan, alpha, beta, ll) in [
        ("Regular", 0.7041, 1.1820, -1680.2652),
        ("High End", 0.6681, 3.8061, -1611.1581),
    ] {
        let f = by_plan(plan);
        assert!(close(&f["alpha"], alpha, 5e-4), "{f}");
        assert!(close(&f["beta"], beta, 5e-4), "{f}");
        assert!(close(&f["log_likelihood"], ll, 1e-3), "{f}");
        assert_eq!(f["subscribers"], 1000);
    }
    assert_eq!(model["by"], "plan");
    assert_eq!(model["period"], "year");
}

#[test]
fn sbg_reproduces_the_published_retention_fits_per_plan() {
    let (model, rows) = fit_subscriptions("sbg_cohorts.csv", &["--horizon", "5y"]);
    assert_fader_hardie_cohorts(&model);
    // the 241 Regular subscribers still active after 7 renewals: the next
    // renewal at (β + 7) / (α + β + 7), the next 5 years' renewals
    // S(8..12) / S(7) from the paper's projection (22.0 … 17.0 of 24.1%)
    let active = (column(&rows, "active").iter())
        .position(|a| a == "true")
        .unwrap();
    let value = |name: &str| -> f64 { column(&rows, name)[active].parse().unwrap() };
    assert!((value("renewal_rate") - (1.1820 + 7.0) / (0.7041 + 1.1820 + 7.0)).abs() < 1e-3);
    let projected = [22.0, 20.4, 19.1, 18.0, 17.0].iter().sum::<f64>() / 23.9;
    assert!((value("expected_renewals") - projected).abs() < 0.02);
    assert!(value("derl") > value("expected_renewals"));
}

#[test]
fn a_subscription_export_gives_the_same_fits_and_a_clv() {
    let (model, rows) = fit_subscriptions(
        "subscriptions.csv",
        &["--as-of", "2017-06-30", "--margin", "0.3"],
    );
    assert_fader_hardie_cohorts(&model);
    assert_eq!(model["as_of"], "2017-06-30");
    assert_eq!(rows.len(), 2001);
    for i in 1..rows.len() {
        let get = |name: &str| -> f64 { column(&rows, name)[i - 1].parse().unwrap() };
        let clv = 0.3 * get("revenue") * get("derl");
        assert!((get("clv") - clv).abs() < 1e-9 * clv.max(1.0));
        if column(&rows, "end")[i - 1].is_empty() {
            assert_eq!(column(&rows, "T")[i - 1], "8");
            assert!(get("clv") > 0.0);
        } else {
            assert_eq!(get("clv"), 0.0);
        }
    }
}

#[test]
fn a_saved_sbg_model_scores_without_refitting() {
    let dir = tempdir();
    let model = dir.path().join("sbg.json");
    let fit = cpm(&[
        "value",
        "-q",
        &data("sbg_cohorts.csv"),
        "--model",
        "sbg",
        "--by",
        "plan",
        "--period",
        "year",
        "--model-out",
        model.to_str().unwrap(),
    ])
    .run()
    .ok();
    let scored = cpm(&[
        "value",
        "-q",
        &data("sbg_cohorts.csv"),
        "--model",
        "sbg",
        "--model-in",
        model.to_str().unwrap(),
    ])
    .run()
    .ok();
    assert_eq!(column(&fit.csv(), "derl"), column(&scored.csv(), "derl"));
}

#[test]
fn sbg_input_errors_name_the_row_and_column() {
    let dir = tempdir();
    let bad = dir.path().join("subs.csv");
    std::fs::write(
        &bad,
        "customer_id,start,end\na,2020-01-01,2020-03-01\nb,2020-13-01,\n",
    )
    .unwrap();
    cpm(&["value", bad.to_str().unwrap(), "--model", "sbg"])
        .run()
        .code_is(1)
        .stderr_has(&["row 2", "column 'start'", "2020-13-01"]);
    cpm(&[
        "value",
        &data("sbg_cohorts.csv"),
        "--model",
        "sbg",
        "--by",
        "tier",
    ])
    .run()
    .code_is(1)
    .stderr_has(&["--by tier: no such column", "plan"]);
    cpm(&["value", &data("cdnow_sample.csv"), "--period", "year"])
        .run()
        .code_is(2)
        .stderr_has(&["--period is --model sbg's"]);
    cpm(&["report", &data("cdnow_sample.csv"), "--model", "sbg"])
        .run()
        .code_is(2)
        .stderr_has(&["--model sbg and --model auto are value's"]);
}

#[test]
fn auto_compares_every_model_on_the_holdout_and_says_why_it_chose() {
    let dir = tempdir();
    let (holdout, model) = (dir.path().join("h.json"), dir.path().join("m.json"));
    let run = cpm(&[
        "value",
        &data("cdnow_sample.csv"),
        "--model",
        "auto",
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        "1998-06-30",
        "--holdout-report",
        holdout.to_str().unwrap(),
        "--model-out",
        model.to_str().unwrap(),
        "-o",
        "/dev/null",
    ])
    .run()
    .ok();
    let comparison = &read_json(&holdout)["comparison"];
    let candidates = comparison["candidates"].as_array().unwrap();
    let names: Vec<&str> = candidates
        .iter()
        .map(|c| c["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bgnbd", "pnbd", "mbgnbd", "bgbb"]);
    // the published log-likelihoods of each fit on the calibration
    for (candidate, ll) in candidates.iter().zip([-9582.43, -9594.98, -9582.13]) {
        assert!(close(&candidate["log_likelihood"], ll, 0.01), "{candidate}");
        assert_eq!(candidate["total_actual"], 1882.0);
    }
    // weekly CDNOW has customers with two purchases in a week: no BG/BB
    assert!(
        candidates[3]["not_fitted"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );
    let rmse = |c: &serde_json::Value| c["rmse"].as_f64().unwrap_or(f64::INFINITY);
    let best = candidates
        .iter()
        .min_by(|a, b| rmse(a).total_cmp(&rmse(b)))
        .unwrap();
    assert_eq!(comparison["chosen"], best["model"]);
    assert_eq!(comparison["chosen"], "pnbd");
    assert!(read_json(&model)["pnbd"].is_object());
    let stderr = run.stderr();
    assert!(stderr.contains("chosen: Pareto/NBD predicts each customer's holdout purchases best"));
    assert!(stderr.contains("Pareto/NBD (chosen)"), "{stderr}");
    // 1.6028 against 1.6072: close enough to say the choice matters little
    assert!(
        stderr.contains("the two are within 1% of each other"),
        "{stderr}"
    );
}

#[test]
fn auto_needs_a_holdout_and_the_report_uses_its_choice() {
    for command in ["value", "report", "allocate --budget 1000"] {
        let mut args: Vec<&str> = command.split(' ').collect();
        let input = data("cdnow_sample.csv");
        args.extend([input.as_str(), "--model", "auto"]);
        cpm(&args)
            .run()
            .code_is(2)
            .stderr_has(&["--model auto chooses the model on a holdout"]);
    }
    let dir = tempdir();
    let report = dir.path().join("r.json");
    cpm(&[
        "report",
        &data("cdnow_sample.csv"),
        "--model",
        "auto",
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        "1998-06-30",
        "-o",
        report.to_str().unwrap(),
    ])
    .run()
    .ok();
    let model = &read_json(&report)["model"];
    assert_eq!(model["purchase_model"], "pnbd");
    assert_eq!(model["holdout"]["comparison"]["chosen"], "pnbd");
    assert_eq!(
        model["holdout"]["comparison"]["candidates"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_purchase_log_without_amounts_gets_the_purchase_model_and_no_spend() {
    // the CDNOW sample without its amounts: the same histories, the same
    // BG/NBD; nothing of spend, profit or CLV, and the warnings say why
    let dir = tempdir();
    let log = dir.path().join("log.csv");
    let text: String = std::fs::read_to_string(data("cdnow_sample.csv"))
        .unwrap()
        .lines()
        .map(|line| line.split(',').take(3).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    std::fs::write(&log, text).unwrap();
    let model = dir.path().join("model.json");
    let run = cpm(&[
        "value",
        log.to_str().unwrap(),
        "--as-of",
        "1997-09-30",
        "--model-out",
        model.to_str().unwrap(),
    ])
    .run()
    .ok()
    .stderr_has(&[
        "no revenue column (found: customer_id, sample_id, date)",
        "the purchase model runs; spend, profit and CLV are left out",
    ]);
    let model = read_json(&model);
    assert!(close(&model["bgnbd"]["log_likelihood"], -9582.429, 0.01));
    assert!(model["gamma_gamma"].is_null());
    let header = &run.csv()[0];
    for absent in [
        "revenue",
        "mean_repeat_value",
        "profit",
        "clv",
        "expected_order_value",
    ] {
        assert!(
            !header.iter().any(|h| h == absent),
            "{absent} in {header:?}"
        );
    }
    assert!(header.iter().any(|h| h == "p_alive"));
}

/// `value` on the CDNOW calibration with `extra`, the customer table.
fn with_intervals(extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["value", "-q", "--as-of", "1997-09-30"];
    args.extend(extra);
    let input = data("cdnow_sample.csv");
    args.push(&input);
    cpm(&args).run().ok().csv()
}

#[test]
fn intervals_bound_each_prediction_and_a_seed_fixes_them() {
    let rows = with_intervals(&["--intervals", "0.9", "--seed", "7"]);
    let again = with_intervals(&["--intervals", "0.9", "--seed", "7"]);
    let other = with_intervals(&["--intervals", "0.9", "--seed", "8"]);
    let narrow = with_intervals(&["--intervals", "0.5", "--seed", "7"]);
    assert_eq!(column(&rows, "clv_upper"), column(&again, "clv_upper"));
    assert_ne!(column(&rows, "clv_upper"), column(&other, "clv_upper"));
    let numbers = |rows: &[Vec<String>], name: &str| -> Vec<f64> {
        column(rows, name)
            .iter()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    for name in ["p_alive", "expected_purchases", "clv"] {
        let (estimate, lower, upper) = (
            numbers(&rows, name),
            numbers(&rows, &format!("{name}_lower")),
            numbers(&rows, &format!("{name}_upper")),
        );
        let inside = (0..estimate.len())
            .filter(|&i| lower[i] - 1e-9 <= estimate[i] && estimate[i] <= upper[i] + 1e-9)
            .count();
        assert!(
            inside as f64 >= 0.99 * estimate.len() as f64,
            "{name}: {inside}"
        );
        let narrower = numbers(&narrow, &format!("{name}_upper"));
        let wide: f64 = upper.iter().zip(&lower).map(|(u, l)| u - l).sum();
        let half: f64 = (narrower
            .iter()
            .zip(numbers(&narrow, &format!("{name}_lower"))))
        .map(|(u, l)| u - l)
        .sum();
        assert!(
            half < wide,
            "{name}: 50% {half} not narrower than 90% {wide}"
        );
    }
    // one-time buyers are alive for sure in BG/NBD, whatever the draw
    let once = column(&rows, "repeat_purchases");
    let lower = numbers(&rows, "p_alive_lower");
    assert!(
        (0..once.len())
            .filter(|&i| once[i] == "0")
            .all(|i| lower[i] == 1.0)
    );
}

#[test]
fn the_report_shows_the_totals_with_their_interval() {
    let dir = tempdir();
    let report = dir.path().join("r.json");
    cpm(&[
        "report",
        &data("cdnow_sample.csv"),
        "--intervals",
        "0.9",
        "-o",
        report.to_str().unwrap(),
    ])
    .run()
    .ok();
    let intervals = &read_json(&report)["model"]["intervals"];
    assert_eq!(intervals["draws"], 200);
    for total in ["expected_purchases", "clv"] {
        let t = &intervals[total];
        let (estimate, lower, upper) = (
            t["estimate"].as_f64().unwrap(),
            t["lower"].as_f64().unwrap(),
            t["upper"].as_f64().unwrap(),
        );
        assert!(lower < estimate && estimate < upper, "{t}");
        assert!(upper / lower < 1.5, "{t}");
    }
    cpm(&["value", &data("cdnow_sample.csv"), "--intervals", "1.5"])
        .run()
        .code_is(2)
        .stderr_has(&["a probability between 0 and 1"]);
}

#[test]
fn the_summary_gives_a_new_customer_s_expected_purchases() {
    // BG/NBD's E[X(52)] for a new customer on CDNOW: 1.444004
    cpm(&[
        "value",
        &data("cdnow_sample.csv"),
        "--as-of",
        "1997-09-30",
        "--horizon",
        "52w",
        "-o",
        "/dev/null",
    ])
    .run()
    .ok()
    .stderr_has(&["a new customer's repeat purchases over the horizon ┆ 1.444 "]);
}

#[test]
fn profitability_by_an_attribute_adds_up_the_valued_customers() {
    let dir = tempdir();
    let out = dir.path().join("valued.csv");
    let run = cpm(&[
        "value",
        &data("retail_export.csv"),
        "--margin",
        "0.3",
        "--by",
        "Country",
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .ok();
    let rows = crate::util::parse_csv(&std::fs::read(&out).unwrap());
    let (country, profit) = (column(&rows, "Country"), column(&rows, "profit"));
    let uk: Vec<f64> = (country.iter().zip(&profit))
        .filter(|(c, _)| *c == "United Kingdom")
        .map(|(_, p)| p.parse().unwrap())
        .collect();
    let line = (run.stderr().lines())
        .find(|l| l.contains("United Kingdom"))
        .map(str::to_string)
        .expect("a United Kingdom row");
    let customers = format!("{},{:03}", uk.len() / 1000, uk.len() % 1000);
    let total: f64 = uk.iter().sum();
    let money = format!("{},{:06.2}", (total / 1000.0).floor(), total % 1000.0);
    assert!(
        line.contains(&customers) && line.contains(&money),
        "{customers} {money} in {line}"
    );
    cpm(&["value", &data("retail_export.csv"), "--by", "Region"])
        .run()
        .code_is(2)
        .stderr_has(&["--by Region: no such column in the customer table"]);
}
