//! `cpm allocate`: splits derived by hand, bounds from a response file,
//! the comparison of methods, target lists, usage errors, and a run on raw
//! transactions.

use crate::util::{column, cpm, data};

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
    .stderr_has(&["spend_optimal", "return_proportional", "return_equal"]);
    let stderr = run.stderr();
    // the comparison's total row: optimal first, then proportional, equal
    let total = stderr
        .lines()
        .rfind(|l| l.contains("total"))
        .expect("a total row");
    let numbers: Vec<f64> = total
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
