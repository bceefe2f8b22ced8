//! `cpm allocate`: splits derived by hand, bounds from a response file,
//! the comparison of methods, target lists, usage errors, and a run on raw
//! transactions.

use crate::util::{column, cpm, data, parse_csv, tempdir};

/// Runs allocate on the small customer table and returns its CSV output.
fn allocate(args: &[&str]) -> Vec<Vec<String>> {
    let mut all = vec!["allocate", "-q", "--format", "csv"];
    let input = data("allocate_customers.csv");
    all.push(&input);
    all.extend_from_slice(args);
    cpm(&all).run().ok().csv()
}

/// The spend of each group, by name.
fn spend_of(table: &[Vec<String>], group: &str) -> f64 {
    let groups = column(table, "group");
    let at = groups.iter().position(|g| g == group).unwrap();
    column(table, "spend")[at].parse().unwrap()
}

#[test]
fn the_optimal_split_equalises_marginal_returns_as_derived_by_hand() {
    let table = allocate(&["--budget", "10"]);
    assert_eq!(
        table[0],
        [
            "group",
            "customers",
            "value",
            "spend",
            "budget_share",
            "expected_return",
            "roi",
            "marginal_roi",
            "strategy",
            "action"
        ]
    );
    // Champions and Lost: U = 0.1 × 2000 = 200, k = 2; Promising: U = 50,
    // k = 1. Equal marginals 100·e^(−s/2) = 50·e^(−p) give p = s/2 − ln 2,
    // and 2s + p = 10: s = (10 + ln 2) / 2.5
    let s = (10.0 + 2f64.ln()) / 2.5;
    assert!((spend_of(&table, "Champions") - s).abs() < 1e-6);
    assert!((spend_of(&table, "Lost") - s).abs() < 1e-6);
    assert!((spend_of(&table, "Promising") - (s / 2.0 - 2f64.ln())).abs() < 1e-6);
    let marginal: Vec<f64> = column(&table, "marginal_roi")
        .iter()
        .map(|m| m.parse().unwrap())
        .collect();
    assert!(marginal.iter().all(|m| (m - marginal[0]).abs() < 1e-6));
    // the playbook of the segment
    assert!(column(&table, "strategy").contains(&"retain".to_string()));
}

#[test]
fn a_group_held_at_its_maximum_by_the_response_file() {
    let table = allocate(&[
        "--budget",
        "10",
        "--response",
        &data("allocate_response.csv"),
    ]);
    assert!((spend_of(&table, "Champions") - 1.0).abs() < 1e-9);
    // Lost and Promising share 9 at equal marginals: 1.5·s = 9 + ln 2
    let s = (9.0 + 2f64.ln()) / 1.5;
    assert!((spend_of(&table, "Lost") - s).abs() < 1e-6);
    let groups = column(&table, "group");
    let at = groups.iter().position(|g| g == "Champions").unwrap();
    assert_eq!(column(&table, "action")[at], "Thank them personally");
}

#[test]
fn compare_shows_what_optimising_buys() {
    let run = cpm(&[
        "allocate",
        &data("allocate_customers.csv"),
        "--budget",
        "10",
        "--compare",
        "--format",
        "csv",
    ])
    .run()
    .ok()
    .stderr_has(&["optimal", "proportional", "equal"]);
    let stderr = run.stderr();
    // the comparison's total row: optimal first, then proportional, equal
    let total = stderr
        .lines()
        .rfind(|l| l.contains("total"))
        .expect("a total row");
    let numbers: Vec<f64> = total
        .replace(',', "")
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse().ok())
        .collect();
    let (optimal, proportional, equal) = (numbers[1], numbers[3], numbers[5]);
    assert!(optimal >= proportional && optimal >= equal, "{total}");
}

#[test]
fn the_target_list_takes_the_best_next_contact_within_the_budget() {
    let list = allocate(&[
        "--budget",
        "3",
        "--contact-cost",
        "1",
        "--target-list",
        "10",
    ]);
    assert_eq!(
        list[0],
        ["customer_id", "group", "expected_value", "cost", "action"]
    );
    // first contacts in Champions and Lost add 200·(1 − e^-0.5) each; the
    // second in Champions (47.7) beats the first in Promising (31.6)
    assert_eq!(column(&list, "customer_id"), ["c1", "c3", "c2"]);
    let first: f64 = column(&list, "expected_value")[0].parse().unwrap();
    assert!((first - 200.0 * (1.0 - (-0.5f64).exp())).abs() < 1e-9);
    let shorter = allocate(&["--budget", "3", "--target-list", "2"]);
    assert_eq!(shorter.len(), 3);
}

#[test]
fn budget_and_bound_mistakes_are_usage_errors() {
    let input = data("allocate_customers.csv");
    cpm(&["allocate", &input]).run().code_is(2);
    cpm(&["allocate", &input, "--budget", "-5"])
        .run()
        .code_is(2)
        .stderr_has(&["--budget -5"]);
    cpm(&["allocate", &input, "--budget", "0.5", "--response"])
        .run()
        .code_is(2);
    let dir = crate::util::tempdir();
    let bounds = dir.path().join("bounds.csv");
    let with_bounds = |text: &str| {
        std::fs::write(&bounds, text).unwrap();
        let file = bounds.display().to_string();
        cpm(&["allocate", &input, "--budget", "10", "--response", &file])
            .run()
            .code_is(2)
    };
    with_bounds("group,min\nChampions,20\nLots,1\n").stderr_has(&["no such group: 'Lots'"]);
    with_bounds("group,min\nChampions,20\n")
        .stderr_has(&["minimums add up to 20.00", "budget of 10.00"]);
    cpm(&["allocate", &input, "--budget", "10", "--by", "region"])
        .run()
        .code_is(2)
        .stderr_has(&["--by region: no such column"]);
}

#[test]
fn raw_transactions_get_segments_and_clv_computed() {
    let run = cpm(&[
        "allocate",
        &data("cdnow_sample.csv"),
        "--budget",
        "1000",
        "--format",
        "csv",
    ])
    .run()
    .ok();
    assert!(
        !run.stderr().contains("valued by revenue"),
        "{}",
        run.stderr()
    );
    let table = run.csv();
    let groups = column(&table, "group");
    assert!(groups.contains(&"Champions".to_string()), "{groups:?}");
    let total: f64 = column(&table, "spend")
        .iter()
        .map(|s| s.parse::<f64>().unwrap())
        .sum();
    assert!((total - 1000.0).abs() < 1e-6);
}

/// The retail export valued once, as CSV in `dir`.
fn valued_retail(dir: &std::path::Path) -> String {
    let valued = dir.join("valued.csv").display().to_string();
    cpm(&["value", "-q", &data("retail_export.csv"), "-o", &valued])
        .run()
        .ok();
    valued
}

fn numbers(table: &[Vec<String>], name: &str) -> Vec<f64> {
    column(table, name)
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

#[test]
fn a_contact_list_takes_only_customers_worth_their_cost() {
    let dir = tempdir();
    let valued = valued_retail(dir.path());
    let plan = dir.path().join("plan.csv");
    let run = cpm(&[
        "allocate",
        &valued,
        "--budget",
        "6000",
        "--contact-cost",
        "1.2",
        "--target-list",
        "5000",
        "--allocation-out",
        &plan.display().to_string(),
        "-f",
        "csv",
    ])
    .run()
    .ok();
    let list = run.csv();
    let n = list.len() - 1;
    let values = numbers(&list, "expected_value");
    assert!(
        values.iter().all(|v| *v >= 1.2),
        "a contact worth less than it costs"
    );
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "best first");
    assert!(n > 1000 && n < 2999, "{n} contacts");
    // expected value = uplift × clv, P(alive) counted once (in clv)
    let customers = parse_csv(&std::fs::read(&valued).unwrap());
    let ids = column(&customers, "customer_id");
    let clv = numbers(&customers, "clv");
    let first = ids.iter().position(|id| *id == list[1][0]).unwrap();
    assert!((values[0] - 0.1 * clv[first]).abs() < 1e-9 * clv[first]);
    // one line on stderr, piped or not, that adds up
    let cost = n as f64 * 1.2;
    let total: f64 = values.iter().sum();
    let line = run
        .stderr()
        .lines()
        .find(|l| l.starts_with("target list:"))
        .unwrap_or_else(|| panic!("no target list line in {}", run.stderr()))
        .to_string();
    let human = |x: f64| cpm::io::human::money(x);
    for part in [
        format!("{} customers", cpm::io::human::count(n as u64)),
        format!("for {}", human(cost)),
        format!("expected value {}", human(total)),
        format!("budget left {}", human(6000.0 - cost)),
    ] {
        assert!(line.contains(&part), "{part} not in {line}");
    }
    // the allocation written beside it describes the list
    let plan = parse_csv(&std::fs::read(&plan).unwrap());
    let contacts: f64 = numbers(&plan, "contacts").iter().sum();
    let spend: f64 = numbers(&plan, "spend").iter().sum();
    let returns: f64 = numbers(&plan, "expected_return").iter().sum();
    assert_eq!(contacts as usize, n);
    assert!((spend - cost).abs() < 1e-6 && (returns - total).abs() < 1e-6 * total);
}

#[test]
fn groups_held_at_zero_and_restricted_groups_are_split_by_name() {
    let dir = tempdir();
    let valued = valued_retail(dir.path());
    let bounds = dir.path().join("bounds.csv");
    std::fs::write(&bounds, "group,max\nLost,0\nPromising,0\n").unwrap();
    let table = cpm(&[
        "allocate",
        &valued,
        "--budget",
        "1000",
        "--response",
        &bounds.display().to_string(),
        "-f",
        "csv",
    ])
    .run()
    .ok()
    .csv();
    assert_eq!(spend_of(&table, "Lost"), 0.0);
    assert_eq!(spend_of(&table, "Promising"), 0.0);
    let total: f64 = numbers(&table, "spend").iter().sum();
    assert!((total - 1000.0).abs() < 1e-6);
    // the same restriction without a file: only the groups named
    let run = cpm(&[
        "allocate",
        &valued,
        "--budget",
        "2000",
        "--groups",
        "Champions,At Risk",
        "-f",
        "csv",
    ])
    .run()
    .ok()
    // past break-even, said on stderr although stdout is piped
    .stderr_has(&["past break-even", "--uplift 0.1", "--cost-per-customer 1"]);
    let table = run.csv();
    assert_eq!(column(&table, "group"), ["Champions", "At Risk"]);
    cpm(&[
        "allocate",
        &valued,
        "--budget",
        "10",
        "--groups",
        "Champions,Gold",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--groups: no group 'Gold' in column 'segment'", "At Risk"]);
    let list = cpm(&[
        "allocate",
        &valued,
        "--budget",
        "100",
        "--groups",
        "At Risk",
        "--target-list",
        "50",
        "-f",
        "csv",
    ])
    .run()
    .ok()
    .csv();
    assert!(column(&list, "group").iter().all(|g| g == "At Risk"));
    // a bound that is not one is named by its group
    std::fs::write(&bounds, "group,min,max\nLost,5,1\n").unwrap();
    cpm(&[
        "allocate",
        &valued,
        "--budget",
        "100",
        "--response",
        &bounds.display().to_string(),
    ])
    .run()
    .code_is(2)
    .stderr_has(&["group 'Lost': bounds min 5 and max 1"]);
}

#[test]
fn the_model_options_are_value_s_own() {
    // one model fitted by value scores allocate's customers: the split of
    // value's output; a shorter horizon values them otherwise
    let dir = tempdir();
    let model = dir.path().join("model.json").display().to_string();
    let valued = dir.path().join("valued.csv").display().to_string();
    let export = data("retail_export.csv");
    let fit = ["value", &export, "-q", "--model-out", &model, "-o", &valued];
    cpm(&fit).run().ok();
    let split = |input: &str, more: &[&str]| {
        let mut args = vec!["allocate", "-q", "-f", "csv", input, "--budget", "1000"];
        args.extend_from_slice(more);
        cpm(&args).run().ok().csv()
    };
    let from_value = split(&valued, &[]);
    assert_eq!(split(&export, &["--model-in", &model]), from_value);
    let shorter = split(&export, &["--horizon", "3m"]);
    assert_ne!(column(&shorter, "value"), column(&from_value, "value"));
    // the saved model is an input: no output may replace it
    cpm(&[
        "allocate",
        &export,
        "--budget",
        "10",
        "--model-in",
        &model,
        "-o",
        &model,
    ])
    .run()
    .code_is(2);
}
