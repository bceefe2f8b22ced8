//! `cpm report`: the figures on handcrafted transactions against answers
//! computed by hand, the JSON schema pinned by a golden file, the HTML
//! page's safety, CSV tables against formula injection, determinism, the
//! cron behaviour, and the page rendered in a real browser.

use std::path::Path;

use crate::util::{Run, canonical_sample, cpm, data, parse_csv, read_json, tempdir, testdata};

/// The report of the CDNOW sample with a holdout from 1997-09-30, written
/// to `out` (its extension picks the format).
fn sample_report_with_holdout(out: &Path) {
    cpm(&[
        "report",
        &data("cdnow_sample.csv"),
        "--calibration-end",
        "1997-09-30",
        "-q",
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .ok();
}

/// The handcrafted report (see testdata/report_small.csv): March 2024
/// against February, without the models.
fn small_report(format: &str) -> String {
    let input = data("report_small.csv");
    cpm(&[
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--format",
        format,
    ])
    .run()
    .ok()
    .stdout()
}

fn small_json() -> serde_json::Value {
    serde_json::from_str(&small_report("json")).expect("valid JSON")
}

fn close(value: &serde_json::Value, want: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - want).abs() < 1e-9)
}

#[test]
fn each_kpi_matches_the_hand_computed_answer() {
    let json = small_json();
    let now = &json["kpis"]["current"];
    // March: A (bought in January too), C and -42 (new), D (bought in
    // February too); February's B and =1+2 did not come back
    assert_eq!(now["start"], "2024-03-01");
    assert_eq!(now["active_customers"], 4);
    assert_eq!(now["new_customers"], 2);
    assert_eq!(now["returning_customers"], 2);
    assert_eq!(now["churned_customers"], 2);
    assert!(close(&now["revenue"], 435.0));
    // D's two lines of order o7 are one order
    assert_eq!(now["orders"], 4);
    assert!(close(&now["average_order_value"], 108.75));
    assert!(close(&now["repeat_rate"], 0.5));
    assert!(close(&now["retention_rate"], 1.0 / 3.0));
    let before = &json["kpis"]["previous"];
    // February: B, D, =1+2, all new; January's A, E and the script all gone;
    // B's refund counts in revenue but is not an order
    assert_eq!(before["start"], "2024-02-01");
    assert_eq!(before["end"], "2024-02-29");
    assert_eq!(before["active_customers"], 3);
    assert_eq!(before["new_customers"], 3);
    assert_eq!(before["churned_customers"], 3);
    assert!(close(&before["revenue"], 245.0));
    assert_eq!(before["orders"], 3);
    assert!(close(&before["repeat_rate"], 0.0));
    assert!(close(&before["retention_rate"], 0.0));
}

#[test]
fn the_concentration_metrics_match_the_hand_computed_answer() {
    let json = small_json();
    let c = &json["concentration"];
    // revenue by customer: 300, 180, 150, 110, 70, 30, 25, 15 (total 880)
    assert!(close(&c["top_1pct_share"], 300.0 / 880.0));
    assert!(close(&c["top_10pct_share"], 300.0 / 880.0));
    assert!(close(&c["top_20pct_share"], 480.0 / 880.0));
    assert!(close(&c["largest_customer_share"], 300.0 / 880.0));
    // 300 + 180 + 150 + 110 = 740 ≥ 80% of 880
    assert_eq!(c["customers_for_80pct"], 4);
    // ascending Σ i·x = 5545: 2·5545 / (8·880) − 9/8
    assert!(close(&c["gini"], 11090.0 / 7040.0 - 1.125));
    assert!(close(&c["hhi"], 163_650.0 / 774_400.0));
    assert_eq!(json["concentration_alert"]["triggered"], true);
    // a looser threshold: no alert
    let input = data("report_small.csv");
    let out = cpm(&[
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--concentration-alert",
        "40%",
    ])
    .run()
    .ok()
    .stdout();
    assert!(!out.contains("over-concentration"), "{out}");
    assert!(small_report("terminal").contains("over-concentration"));
}

#[test]
fn the_cohort_triangle_matches_the_hand_computed_answer() {
    let json = small_json();
    let cohorts = json["cohorts"].as_array().unwrap();
    let months: Vec<&str> = cohorts
        .iter()
        .map(|c| c["month"].as_str().unwrap())
        .collect();
    assert_eq!(months, ["2024-01", "2024-02", "2024-03"]);
    let retention = |i: usize| -> Vec<f64> {
        cohorts[i]["retention"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    // January: A, E, the script; none in February, A in March
    assert_eq!(cohorts[0]["customers"], 3);
    assert_eq!(retention(0), [1.0, 0.0, 1.0 / 3.0]);
    // February: B, D, =1+2; D in March
    assert_eq!(retention(1), [1.0, 1.0 / 3.0]);
    assert_eq!(retention(2), [1.0]);
    let revenue: Vec<f64> = cohorts[1]["revenue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // 200 − 20 + 40 + 25 in February, D's 60 + 10 in March
    assert_eq!(revenue, [245.0, 70.0]);
}

#[test]
fn the_migration_counts_match_the_hand_computed_answer() {
    // two customer tables: a Lost → Champions (up), b Champions → At Risk
    // (down), c and d stay, e is gone, f is new
    let input = data("report_customers_after.csv");
    let earlier = data("report_customers_before.csv");
    let json: serde_json::Value = serde_json::from_str(
        &cpm(&["report", &input, "--compare", &earlier, "--format", "json"])
            .run()
            .ok()
            .stdout(),
    )
    .unwrap();
    let m = &json["migration"];
    assert_eq!(m["from"], "report_customers_before.csv");
    assert_eq!(
        m["from_segments"],
        serde_json::json!(["Champions", "At Risk", "Lost", "(new)"])
    );
    assert_eq!(
        m["to_segments"],
        serde_json::json!(["Champions", "New Customers", "At Risk", "(gone)"])
    );
    assert_eq!(
        m["customers"],
        serde_json::json!([[1, 0, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1], [0, 1, 0, 0]])
    );
    assert_eq!(m["moved_up"]["customers"], 1);
    assert!(close(&m["moved_up"]["revenue"], 10.0));
    assert_eq!(m["moved_down"]["customers"], 1);
    assert!(close(&m["moved_down"]["revenue"], 20.0));
    assert_eq!(m["stayed"]["customers"], 2);
    assert_eq!(m["new"]["customers"], 1);
    assert_eq!(m["gone"], 1);
    // a customer table: what needs transactions is said to be missing
    let notes = json["notes"].to_string();
    assert!(notes.contains("no transactions"), "{notes}");
    assert_eq!(json["kpis"], serde_json::Value::Null);
}

#[test]
fn the_migration_from_the_same_transactions_adds_up() {
    let json = small_json();
    let m = &json["migration"];
    assert_eq!(m["from"], "2024-02-29");
    // C and -42 bought first in March: new; the other six were there
    assert_eq!(m["new"]["customers"], 2);
    let moved: u64 = ["moved_up", "moved_down", "stayed", "moved_unranked", "new"]
        .iter()
        .map(|k| m[*k]["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(moved, 8);
    let cells: u64 = m["customers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(cells, 8);
}

#[test]
fn an_as_of_past_the_data_warns_of_an_empty_period() {
    let run = cpm(&[
        "report",
        &data("report_small.csv"),
        "--as-of",
        "2030-06-30",
        "--no-model",
        "--format",
        "json",
    ])
    .run()
    .ok()
    .stderr_has(&["the reported period 2030-06-01 to 2030-06-30 has no transactions"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let notes = json["notes"].to_string();
    assert!(notes.contains("has no transactions"), "{notes}");
    // a period with transactions says nothing of the kind
    assert!(
        !small_json()["notes"]
            .to_string()
            .contains("no transactions: its")
    );
}

#[test]
fn the_json_schema_is_pinned_by_a_golden_file() {
    let golden = std::fs::read_to_string(testdata("report_small.json")).unwrap();
    assert_eq!(
        small_report("json"),
        golden,
        "the JSON report changed: when on purpose, regenerate testdata/report_small.json \
         and raise SCHEMA_VERSION if a key changed meaning or went away"
    );
}

#[test]
fn the_models_add_their_health_and_the_holdout() {
    let dir = tempdir();
    let out = dir.path().join("report.json");
    sample_report_with_holdout(&out);
    let json = read_json(&out);
    assert_eq!(json["schema_version"], 1);
    let model = &json["model"];
    assert_eq!(model["customers"], 2357);
    assert_eq!(model["bgnbd"].as_array().unwrap().len(), 4);
    assert!(model["bgnbd_log_likelihood"].as_f64().unwrap() < 0.0);
    assert_eq!(model["gamma_gamma"].as_array().unwrap().len(), 3);
    let holdout = &model["holdout"];
    assert!(holdout["total_actual"].as_f64().unwrap() > 0.0);
    assert!(!holdout["tracking"].as_array().unwrap().is_empty());
    assert!(json["portfolio"]["clv"].as_f64().unwrap() > 0.0);
    // the P(alive) matrix: BG/NBD keeps one-time buyers alive; the later
    // the last purchase, the likelier alive; the more purchases before a
    // long silence, the likelier dead
    let matrix = &model["p_alive_matrix"];
    let frequencies = matrix["frequencies"].as_array().unwrap();
    assert_eq!(frequencies.len(), 15);
    assert_eq!(frequencies[14], 0);
    let cell = |row: usize, column: usize| matrix["values"][row][column].as_f64();
    assert_eq!(cell(14, 0), Some(1.0));
    assert_eq!(cell(14, 5), None);
    for row in 0..14 {
        let values: Vec<f64> = (0..11).map(|c| cell(row, c).unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    }
    assert!(cell(0, 2).unwrap() < cell(13, 2).unwrap());
}

#[test]
fn the_html_page_draws_the_model_diagnostics_and_the_comparison() {
    let dir = tempdir();
    let page = dir.path().join("report.html");
    cpm(&[
        "report",
        &data("cdnow_sample.csv"),
        "--model",
        "auto",
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        "1998-06-30",
        "-q",
        "-o",
        page.to_str().unwrap(),
    ])
    .run()
    .ok();
    // the page's text, with the escapes of / and ' read back
    let html = std::fs::read_to_string(&page)
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'");
    for chart in [
        "Tracking: cumulative repeat purchases, actual and expected",
        "Tracking: repeat purchases per period, actual and expected",
        "Calibration against holdout: mean holdout purchases by calibration repeat purchases",
        "P(alive) by repeat purchases (x) and the time of the last one",
    ] {
        assert!(html.contains(&format!("aria-label=\"{chart}")), "{chart}");
    }
    // every compared model is a line of the calibration/holdout chart and
    // a row of the comparison table
    for model in ["BG/NBD", "Pareto/NBD (chosen)", "MBG/NBD"] {
        assert!(html.matches(model).count() >= 2, "{model}");
    }
    assert!(html.contains("model chosen: Pareto/NBD predicts each customer"));
    assert!(html.contains("BG/BB not compared"));
}

#[test]
fn the_html_page_is_well_formed_self_contained_and_escapes_text() {
    let html = small_report("html");
    // well-formed: the page is written as XML-compatible HTML
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let document = roxmltree::Document::parse_with_options(&html, options)
        .unwrap_or_else(|e| panic!("{e}\n{html}"));
    assert_eq!(document.root_element().tag_name().name(), "html");
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script"), "no script, and no injected one");
    assert!(!html.contains("<link") && !html.contains("@import") && !html.contains("url("));
    // the customer id shows as text
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"));
    let text: String = document
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(text.contains("<script>alert(1)</script>"));
    // every chart the data allows: segments, Pareto, cohorts, R×F; no
    // whale curve without cost (no profit: costs are unknown)
    assert_eq!(
        document
            .descendants()
            .filter(|n| n.has_tag_name("svg"))
            .count(),
        4
    );
    assert!(html.contains("costs unknown: no cost column"));
}

#[test]
fn the_whale_curve_is_drawn_when_cost_makes_profit_differ_from_revenue() {
    let dir = tempdir();
    let page = dir.path().join("report.html");
    cpm(&[
        "report",
        &data("orders.csv"),
        "--no-model",
        "-q",
        "-o",
        page.to_str().unwrap(),
    ])
    .run()
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("aria-label=\"Whale curve"),
        "orders.csv has a cost column"
    );
    assert!(!html.contains("no whale curve"));
}

#[test]
fn csv_tables_guard_against_formula_injection_and_leave_numbers_alone() {
    let dir = tempdir();
    let tables = dir.path().join("tables");
    let input = data("report_small.csv");
    let tables_arg = tables.display().to_string();
    let args = [
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--tables-dir",
        &tables_arg,
        "-q",
        "-o",
    ];
    let out = dir.path().join("r.md").display().to_string();
    let mut safe = args.to_vec();
    safe.push(&out);
    cpm(&safe).run().ok();
    let read = |name: &str| parse_csv(&std::fs::read(tables.join(name)).unwrap());
    let top = read("top_customers.csv");
    let ids: Vec<&str> = top[1..].iter().map(|r| r[0].as_str()).collect();
    assert!(ids.contains(&"'=1+2"), "{ids:?}");
    assert!(ids.contains(&"'-42"), "{ids:?}");
    assert!(ids.contains(&"<script>alert(1)</script>"));
    // numbers untouched: shares as fractions, a fall in KPIs negative
    assert_eq!(top[1][0], "C");
    assert_eq!(top[1][2], (300.0f64 / 880.0).to_string());
    let kpis = read("kpis.csv");
    let new = kpis.iter().find(|r| r[0] == "new").unwrap();
    assert_eq!(new[3], "-1");
    // --no-excel-safe writes the text as it is
    let mut raw = args.to_vec();
    raw.push(&out);
    raw.push("--no-excel-safe");
    cpm(&raw).run().ok();
    let top = read("top_customers.csv");
    assert!(top.iter().any(|r| r[0] == "=1+2"));
}

#[test]
fn a_net_refund_stays_a_number_in_the_tables() {
    let dir = tempdir();
    let input = dir.path().join("refund.csv");
    std::fs::write(
        &input,
        "customer_id,order_date,revenue\nr1,2024-03-01,50\nr1,2024-03-02,-150\nr2,2024-03-03,80\n",
    )
    .unwrap();
    let tables = dir.path().join("t");
    cpm(&[
        "report",
        &input.display().to_string(),
        "--no-model",
        "--tables-dir",
        &tables.display().to_string(),
        "-q",
        "-o",
        &dir.path().join("r.json").display().to_string(),
    ])
    .run()
    .ok();
    let top = parse_csv(&std::fs::read(tables.join("top_customers.csv")).unwrap());
    let r1 = top.iter().find(|r| r[0] == "r1").unwrap();
    assert_eq!(r1[1], "-100");
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let dir = tempdir();
    let input = data("cdnow_sample.csv");
    let run = |name: &str, stamp: bool| -> Vec<u8> {
        let path = dir.path().join(name);
        let mut args = vec![
            "report".to_string(),
            input.clone(),
            "-q".to_string(),
            "-o".to_string(),
            path.display().to_string(),
        ];
        if stamp {
            args.push("--stamp".to_string());
        }
        cpm(&args).run().ok();
        std::fs::read(path).unwrap()
    };
    for extension in ["html", "json", "md", "txt"] {
        let first = run(&format!("a.{extension}"), false);
        let second = run(&format!("b.{extension}"), false);
        assert!(first == second, "{extension} differs between runs");
    }
    let stamped = String::from_utf8(run("c.json", true)).unwrap();
    assert!(stamped.contains("\"generated_at\""));
    assert!(
        !String::from_utf8(run("d.json", false))
            .unwrap()
            .contains("generated_at")
    );
}

#[test]
fn cron_runs_are_silent_with_q_and_write_every_output() {
    let dir = tempdir();
    let html = dir.path().join("weekly.html");
    let json = dir.path().join("weekly.json");
    let input = data("cdnow_sample.csv");
    let run = cpm(&[
        "report",
        &input,
        "--as-of",
        "today",
        "--period",
        "week",
        "-o",
        &html.display().to_string(),
        "-o",
        &json.display().to_string(),
        "-q",
    ])
    .run()
    .ok();
    assert_eq!(run.stdout(), "");
    assert_eq!(run.stderr(), "");
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    assert_eq!(read_json(&json)["kpis"]["period"], "week");
    // no temporary files left beside them
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_failed_run_exits_non_zero_and_leaves_the_old_report() {
    let dir = tempdir();
    let out = dir.path().join("report.html");
    std::fs::write(&out, "old report").unwrap();
    let missing = dir.path().join("missing.csv");
    cpm(&[
        "report",
        &missing.display().to_string(),
        "-o",
        &out.display().to_string(),
    ])
    .run()
    .code_is(1)
    .stderr_has(&["missing.csv"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old report");
    let input = data("report_small.csv");
    cpm(&["report", &input, "-o", "report.xlsx"])
        .run()
        .code_is(2)
        .stderr_has(&["-o report.xlsx", ".html .json .md .txt"]);
    cpm(&[
        "report",
        &input,
        "--no-model",
        "--calibration-end",
        "2024-02-01",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["--no-model"]);
    cpm(&["report", &input, "--concentration-alert", "150%"])
        .run()
        .code_is(2)
        .stderr_has(&["--concentration-alert"]);
}

#[test]
fn the_terminal_page_fits_100_columns_and_markdown_is_tables() {
    let input = data("cdnow_sample.csv");
    let page = cpm(&["report", &input, "--margin", "0.3", "-q"])
        .run()
        .ok()
        .stdout();
    for title in [
        "Portfolio",
        "This period against the one before",
        "Composition",
        "Concentration of revenue",
        "Segment migration",
        "Cohorts by month of first purchase",
        "Profitability",
        "Model health",
        "Data quality",
    ] {
        assert!(page.contains(title), "no {title} in\n{page}");
    }
    let widest = page.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 100, "a line of {widest} characters");
    assert!(page.contains('█'), "shares have bars");
    let markdown = small_report("markdown");
    assert!(markdown.starts_with("# Customer portfolio report"));
    assert!(markdown.contains("| measure | previous | current | change | change % |"));
    assert!(markdown.contains("&lt;script&gt;"));
    assert!(markdown.contains("> **Alert:** over-concentration"));
}

/// Hosts Chromium itself calls (component updates, sign-in, network time)
/// even with background networking disabled; any other request through
/// the proxy comes from the page.
const BROWSER_HOSTS: [&str; 4] = [
    "accounts.google.com",
    "update.googleapis.com",
    "clients2.google.com",
    "optimizationguide-pa.googleapis.com",
];

#[test]
fn the_html_page_renders_in_a_real_browser_without_errors_or_requests() {
    let Some(browser) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| which(b))
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs chromium (.ci/run): it is missing"
        );
        eprintln!("skipped: no chromium on PATH (.ci/run installs it)");
        return;
    };
    let dir = tempdir();
    let page = dir.path().join("report.html");
    sample_report_with_holdout(&page);
    check_in_browser(browser, &page, dir.path());
    // the retail export's page with every optional section: targets, the
    // trend of a history, the breakdown by country
    let page = dir.path().join("retail.html");
    let history = dir.path().join("history").display().to_string();
    for as_of in ["2023-10-31", "2023-11-30", "2023-12-31"] {
        cpm(&[
            "report",
            &data("retail_export.csv"),
            "--as-of",
            as_of,
            "--by",
            "Country",
            "--history",
            &history,
            "--target",
            "retention_rate>=0.3",
            "-q",
            "-o",
            &page.display().to_string(),
        ])
        .run()
        .ok();
    }
    let html = std::fs::read_to_string(&page).unwrap();
    for id in ["summary", "targets", "trend", "by", "terms"] {
        assert!(
            html.contains(&format!("<section id=\"{id}\"")),
            "no {id} section"
        );
    }
    check_in_browser(browser, &page, dir.path());
    // the page for mail: no SVG at all, its charts as PNG images
    let mail = dir.path().join("mail.html");
    cpm(&[
        "report",
        &data("retail_export.csv"),
        "--email",
        "-q",
        "-o",
        &mail.display().to_string(),
    ])
    .run()
    .ok();
    assert!(!std::fs::read_to_string(&mail).unwrap().contains("<svg"));
    check_in_browser(browser, &mail, dir.path());
}

/// Opens `page` in headless `browser` (profile and screenshot in `dir`):
/// it must log nothing to the console, make no request and not be blank.
fn check_in_browser(browser: &str, page: &Path, dir: &Path) {
    // every request goes through this proxy, which records and refuses it
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = proxy.local_addr().unwrap().port();
    proxy.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let recorder = {
        let stop = stop.clone();
        std::thread::spawn(move || record_requests(&proxy, &stop))
    };
    let shot = dir.join("shot.png");
    let _ = std::fs::remove_file(&shot);
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--proxy-bypass-list=<-loopback>",
            "--window-size=1200,2400",
        ])
        .arg(format!("--proxy-server=127.0.0.1:{port}"))
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let requests = recorder.join().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let from_page: Vec<&String> = requests
        .iter()
        .filter(|r| !BROWSER_HOSTS.iter().any(|h| r.contains(h)))
        .collect();
    assert!(
        from_page.is_empty(),
        "the page made requests: {from_page:#?}"
    );
    assert_not_blank(&shot);
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The first line of every request made to `proxy` until `stop`.
fn record_requests(
    proxy: &std::net::TcpListener,
    stop: &std::sync::atomic::AtomicBool,
) -> Vec<String> {
    use std::io::Read;
    let mut requests = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match proxy.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut head = [0u8; 512];
                let n = stream.read(&mut head).unwrap_or(0);
                let text = String::from_utf8_lossy(&head[..n]);
                requests.push(text.lines().next().unwrap_or_default().to_string());
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    requests
}

/// The screenshot decodes and is not one colour.
fn assert_not_blank(shot: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let pixels = &pixels[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut colours: Vec<&[u8]> = pixels.chunks(step).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 50,
        "the screenshot has {} colours: blank",
        colours.len()
    );
}

#[test]
fn tables_never_overwrite_an_input() {
    let dir = tempdir();
    // an input named like one of the tables, in the tables' folder
    let input = dir.path().join("portfolio.csv");
    std::fs::copy(testdata("report_small.csv"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    cpm(&[
        "report",
        &input.display().to_string(),
        "--no-model",
        "--tables-dir",
        &dir.path().display().to_string(),
    ])
    .run()
    .code_is(2)
    .stderr_has(&["portfolio.csv"]);
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn thin_customer_tables_report_what_they_allow() {
    let dir = tempdir();
    // no rows at all
    let empty = dir.path().join("empty.csv");
    std::fs::write(
        &empty,
        "customer_id,days_since_last,orders,revenue,last_order\n",
    )
    .unwrap();
    let json = cpm(&["report", &empty.display().to_string(), "--format", "json"])
        .run()
        .ok()
        .stdout();
    assert!(!json.contains("-0.0"), "{json}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["portfolio"]["customers"],
        0
    );
    // facts without order dates: no segments, said so, the rest reported
    let thin = dir.path().join("thin.csv");
    std::fs::write(
        &thin,
        "customer_id,days_since_last,orders,revenue\na,3,2,100\nb,40,1,50\n",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &cpm(&["report", &thin.display().to_string(), "--format", "json"])
            .run()
            .ok()
            .stdout(),
    )
    .unwrap();
    assert!(json["notes"].to_string().contains("no segments"));
    assert!(close(
        &json["concentration"]["largest_customer_share"],
        100.0 / 150.0
    ));
}

#[test]
fn a_month_that_ends_the_data_ends_the_cohorts_and_kpis() {
    let dir = tempdir();
    let input = dir.path().join("march.csv");
    std::fs::write(
        &input,
        "customer_id,order_id,order_date,revenue\n\
         a,1,2024-01-15,10\na,2,2024-03-31,20\nb,3,2024-02-10,30\n",
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &cpm(&[
            "report",
            &input.display().to_string(),
            "--no-model",
            "--margin",
            "0.5",
            "--format",
            "json",
        ])
        .run()
        .ok()
        .stdout(),
    )
    .unwrap();
    // the as-of day is 2024-04-01, but the period and the cohorts end on
    // the last day with data: no empty April
    assert_eq!(json["as_of"], "2024-04-01");
    assert_eq!(json["kpis"]["current"]["start"], "2024-03-01");
    assert_eq!(json["kpis"]["current"]["end"], "2024-03-31");
    let january = &json["cohorts"][0];
    assert_eq!(january["retention"], serde_json::json!([1.0, 0.0, 1.0]));
    assert_eq!(json["migration"]["to"], "2024-03-31");
    // no cost column: margin is revenue × --margin
    assert!(close(&json["kpis"]["current"]["margin"], 10.0));
}

#[test]
fn a_large_parquet_input_read_in_batches_gives_the_same_report() {
    let dir = tempdir();
    let input = canonical_sample(dir.path());
    let args = ["report", &input, "-q", "--format", "json"];
    let whole = cpm(&args).run().ok().stdout();
    // every Parquet input counts as large: two passes, a batch at a time
    let batched = cpm(&args).env("CPM_STREAM_ABOVE", "1").run().ok().stdout();
    assert_eq!(batched, whole);
    assert!(whole.contains("\"cohorts\""));
}

#[test]
fn the_html_page_stays_well_formed_with_control_characters_and_noncharacters_in_ids() {
    // ids with U+0001, U+FFFE and an ESC sequence: characters XML forbids
    let dir = tempdir();
    let page = dir.path().join("r.html");
    cpm(&[
        "report",
        &data("bad/control_ids.csv"),
        "--no-model",
        "-q",
        "-o",
        &page.display().to_string(),
    ])
    .run()
    .ok();
    let html = std::fs::read_to_string(&page).unwrap();
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(&html, options).unwrap_or_else(|e| panic!("{e}"));
    assert!(html.contains("A\\u{1}B") && html.contains("C\\u{fffe}D"));
    assert!(!html.contains('\u{1b}'));
}

#[test]
fn the_model_options_are_value_s_own() {
    // the weekly report scores with the model fitted each month, over the
    // horizon asked for; without a model, the time unit asked for
    let dir = tempdir();
    let model = dir.path().join("model.json").display().to_string();
    let export = data("retail_export.csv");
    cpm(&[
        "value",
        &export,
        "-q",
        "--model-out",
        &model,
        "-o",
        "/dev/null",
    ])
    .run()
    .ok();
    let report = |more: &[&str]| -> serde_json::Value {
        let mut args = vec!["report", export.as_str(), "-q", "-f", "json"];
        args.extend_from_slice(more);
        serde_json::from_str(&cpm(&args).run().ok().stdout()).unwrap()
    };
    let saved = read_json(Path::new(&model));
    let scored = report(&["--model-in", &model]);
    for (i, name) in ["r", "alpha", "a", "b"].iter().enumerate() {
        assert_eq!(scored["model"]["bgnbd"][i], saved["bgnbd"][name], "{name}");
    }
    let year = scored["portfolio"]["clv"].as_f64().unwrap();
    let half = report(&["--model-in", &model, "--horizon", "6m"])["portfolio"]["clv"]
        .as_f64()
        .unwrap();
    assert!(half > 0.0 && half < year, "{half} {year}");
    let daily = report(&["--time-unit", "day", "--penalty", "0.001"]);
    assert_eq!(daily["model"]["time_unit"], "day");
}

/// The small report (March 2024, no models) with `targets`, written as
/// JSON and HTML: the run, the JSON's targets, the HTML.
fn small_with_targets(targets: &[&str], extra: &[&str]) -> (Run, serde_json::Value, String) {
    let dir = tempdir();
    let (json, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let input = data("report_small.csv");
    let mut args = vec!["report", &input, "--as-of", "2024-03-31", "--no-model"];
    for target in targets {
        args.extend(["--target", target]);
    }
    args.extend(extra);
    let (j, h) = (json.display().to_string(), html.display().to_string());
    args.extend(["-o", &j, "-o", &h]);
    let run = cpm(&args).run();
    let page = std::fs::read_to_string(&html).unwrap_or_default();
    (run, read_json(&json), page)
}

#[test]
fn targets_are_met_or_missed_by_the_hand_computed_kpis() {
    // March against February: retention 1/3, churned 2, revenue 435
    // against 245 (+77.55%), churned 2 against 3 (-33.3%)
    let targets = [
        "retention_rate>=0.3333333333333333",
        "retention_rate>0.34",
        "churned<=2",
        "churned_customers<2",
        "revenue_change_pct>=77.5",
        "churned_customers_change_pct<=-33.3",
        "clv>0",
    ];
    let (run, json, html) = small_with_targets(&targets, &[]);
    let run = run.ok();
    let checked = json["targets"].as_array().unwrap();
    let met: Vec<bool> = checked
        .iter()
        .map(|t| t["met"].as_bool().unwrap())
        .collect();
    assert_eq!(met, [true, false, true, false, true, true, false]);
    assert!((checked[4]["value"].as_f64().unwrap() - 100.0 * 190.0 / 245.0).abs() < 1e-9);
    assert!(checked[6]["value"].is_null(), "no models: no CLV");
    assert!(
        run.stderr().contains("3 of 7 targets missed"),
        "{}",
        run.stderr()
    );
    // the targets come first on the page, after the summary
    let sections: Vec<&str> = (html.split("<section id=\"").skip(1))
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .collect();
    assert_eq!(sections[..2], ["summary", "targets"]);
    assert!(html.contains("3 of 7 targets missed"));
}

#[test]
fn fail_on_miss_exits_3_after_writing_every_output() {
    let (run, json, html) = small_with_targets(&["retention_rate>=0.5"], &["--fail-on-miss"]);
    run.code_is(3)
        .stderr_has(&["1 of 1 targets missed: retention_rate >= 0.5 (is 0.3333)"]);
    assert_eq!(json["targets"][0]["met"], false);
    assert!(html.contains("missed"));
    let (run, _, _) = small_with_targets(&["retention_rate>=0.3"], &["--fail-on-miss"]);
    run.ok();
    cpm(&[
        "report",
        &data("report_small.csv"),
        "--target",
        "retained>=0.3",
    ])
    .run()
    .code_is(2)
    .stderr_has(&["no figure 'retained'", "retention_rate"]);
}

#[test]
fn the_title_and_the_period_head_the_page() {
    let dir = tempdir();
    let (html, md) = (dir.path().join("r.html"), dir.path().join("r.md"));
    cpm(&[
        "report",
        &data("report_small.csv"),
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--period",
        "week",
        "--title",
        "Acme <b>weekly</b>",
        "-o",
        html.to_str().unwrap(),
        "-o",
        md.to_str().unwrap(),
    ])
    .run()
    .ok();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h1>Acme &lt;b&gt;weekly&lt;&#x2f;b&gt;, 2024-03-31</h1>"));
    assert!(page.contains("<p class=\"subtitle\">week 2024-03-25 to 2024-03-31"));
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.starts_with("# Acme &lt;b&gt;weekly&lt;/b&gt;\n"),
        "{markdown}"
    );
}

#[test]
fn tiers_come_in_their_own_order() {
    // bronze holds the most revenue of the small report, yet platinum leads
    let json = small_json();
    let names: Vec<&str> = (json["composition"]["tiers"].as_array().unwrap().iter())
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["platinum", "silver", "bronze"]);
}

/// The report (March 2024 against February, no models) of
/// testdata/`file` with `extra` arguments, as JSON.
fn march_json(file: &str, extra: &[&str]) -> serde_json::Value {
    let input = data(file);
    let mut args = vec![
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "-f",
        "json",
    ];
    args.extend(extra);
    serde_json::from_str(&cpm(&args).run().ok().stdout()).unwrap()
}

/// The March report of testdata/report_regions.csv by region.
fn regions_json(extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--by", "region"];
    args.extend(extra);
    march_json("report_regions.csv", &args)
}

#[test]
fn by_region_each_value_and_the_diversification_match_the_hand_computed_answer() {
    // revenue to date: A 150, C 300, E 70 (North 520); B 180, D 100
    // (South 280); F 15 without a region; 815 in all
    let json = regions_json(&[]);
    let by = &json["by"]["region"];
    let values = by["values"].as_object().unwrap();
    let order: Vec<&str> = values.keys().map(String::as_str).collect();
    assert_eq!(order, ["North", "South", "(none)"], "largest revenue first");
    let north = &values["North"];
    assert_eq!(north["customers"], 3);
    assert_eq!(north["revenue"], 520.0);
    assert!(close(&north["revenue_share"], 520.0 / 815.0));
    assert!(close(&north["customer_share"], 0.5));
    // North in March: A returning (o2 50), C new (o5 300); nobody of
    // North bought in February, so nobody churned and retention is none
    let now = &north["kpis"]["current"];
    assert_eq!(
        (
            now["active_customers"].as_u64(),
            now["new_customers"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (now["revenue"].as_f64(), now["orders"].as_u64()),
        (Some(350.0), Some(2))
    );
    assert_eq!(now["churned_customers"], 0);
    assert!(now["retention_rate"].is_null());
    // ... February's North: nobody, January's A and E gone
    let before = &north["kpis"]["previous"];
    assert_eq!(
        (
            before["churned_customers"].as_u64(),
            before["retention_rate"].as_f64()
        ),
        (Some(2), Some(0.0))
    );
    // South in March: D (o7 60) stayed of February's B and D; February's
    // revenue 200 - 20 + 40 = 220 in two orders (a refund is no order)
    let south = &values["South"];
    let now = &south["kpis"]["current"];
    assert_eq!(
        (
            now["churned_customers"].as_u64(),
            now["retention_rate"].as_f64()
        ),
        (Some(1), Some(0.5))
    );
    assert_eq!(now["revenue"], 60.0);
    let before = &south["kpis"]["previous"];
    assert_eq!(
        (before["revenue"].as_f64(), before["orders"].as_u64()),
        (Some(220.0), Some(2))
    );
    // the values' KPIs add up to the portfolio's
    let total: f64 = values
        .values()
        .map(|v| v["kpis"]["current"]["revenue"].as_f64().unwrap())
        .sum();
    assert_eq!(total, json["kpis"]["current"]["revenue"].as_f64().unwrap());
    // concentration within North: C's 300 of 520
    assert!(close(
        &north["concentration"]["largest_customer_share"],
        300.0 / 520.0
    ));
    // composition within a value: its segments hold its customers
    let segments = north["composition"]["segments"].as_array().unwrap();
    let held: u64 = segments
        .iter()
        .map(|p| p["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(held, 3);
    // diversification: shares 520, 280, 15 of 815
    let d = &by["diversification"];
    let hhi = [520.0f64, 280.0, 15.0]
        .iter()
        .map(|v| (v / 815.0).powi(2))
        .sum::<f64>();
    assert!(close(&d["hhi"], hhi));
    assert!(close(&d["equivalent_values"], 1.0 / hhi));
    assert_eq!(d["largest"], "North");
    assert!(close(&d["largest_share"], 520.0 / 815.0));
    assert_eq!(d["alert"], true, "63.8% is above the default 10%");
    let calm = regions_json(&["--concentration-alert", "0.7"]);
    assert_eq!(calm["by"]["region"]["diversification"]["alert"], false);
    // without --by there is no by key at all
    assert!(small_json().get("by").is_none());
}

#[test]
fn by_region_reads_as_a_section_and_refuses_what_it_cannot_break_down() {
    let input = data("report_regions.csv");
    let args = [
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--by",
        "region",
    ];
    let page = cpm(&args).run().ok().stdout();
    for said in [
        "By region",
        "region: North makes 63.8% of revenue (alert above 10.0%)",
        "region: HHI 0.525 over 3 values, as concentrated as 1.9 equal ones",
    ] {
        assert!(page.contains(said), "{said} not in\n{page}");
    }
    cpm(&["report", &input, "--no-model", "--by", "channel"])
        .run()
        .code_is(2)
        .stderr_has(&["--by channel: no such column in the customer table (found: customer_id"]);
    cpm(&["report", &input, "--no-model", "--by", "segment"])
        .run()
        .code_is(2)
        .stderr_has(&[
            "--by segment: the report's composition breaks the portfolio down by segment",
        ]);
}

/// The small report (no models) as of `as_of` with `--history dir`, as
/// JSON; the run.
fn with_history(dir: &Path, as_of: &str, extra: &[&str]) -> (Run, serde_json::Value) {
    let input = data("report_small.csv");
    let history = dir.display().to_string();
    let mut args = vec!["report", &input, "--as-of", as_of, "--no-model"];
    args.extend(["--history", &history, "--format", "json"]);
    args.extend(extra);
    let run = cpm(&args).run().ok();
    let json = serde_json::from_str(&run.stdout()).unwrap();
    (run, json)
}

#[test]
fn history_appends_each_day_replaces_a_rerun_and_skips_a_damaged_entry() {
    let dir = tempdir();
    let history = dir.path().join("history");
    // January (A 100, E 70, the script id 30), February (B 200 - 20, D 40,
    // =1+2 25), March (A 50, C 300, D 70, -42 15): 200, 245, 435
    with_history(&history, "2024-01-31", &[]);
    // a wrong February first: the run for that month replaces it
    std::fs::write(
        history.join("month-2024-02-29.json"),
        std::fs::read_to_string(history.join("month-2024-01-31.json"))
            .unwrap()
            .replace("\"end\": \"2024-01-31\"", "\"end\": \"2024-02-29\""),
    )
    .unwrap();
    with_history(&history, "2024-02-29", &[]);
    let (_, json) = with_history(&history, "2024-03-31", &[]);
    let files = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = (std::fs::read_dir(dir).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        names
    };
    let months = [
        "month-2024-01-31.json",
        "month-2024-02-29.json",
        "month-2024-03-31.json",
    ];
    assert_eq!(files(&history), months);
    let revenue: Vec<f64> = (json["history"].as_array().unwrap().iter())
        .map(|h| h["revenue"].as_f64().unwrap())
        .collect();
    assert_eq!(revenue, [200.0, 245.0, 435.0]);
    assert_eq!(json["history"][2]["churned_customers"], 2);
    // --history-length keeps the latest
    let (_, json) = with_history(&history, "2024-03-31", &["--history-length", "2"]);
    assert_eq!(json["history"].as_array().unwrap().len(), 2);
    assert_eq!(json["history"][0]["as_of"], "2024-02-29");
    // an earlier day's report shows the trend up to its own month only
    let (_, json) = with_history(&history, "2024-02-29", &[]);
    assert_eq!(json["history"].as_array().unwrap().len(), 2);
    // a weekly report beside them keeps its own entries
    with_history(&history, "2024-03-31", &["--period", "week"]);
    assert_eq!(files(&history).len(), 4);
    assert!(files(&history).contains(&"week-2024-03-31.json".to_string()));
    // a damaged entry and one named for another period: skipped, said,
    // noted
    std::fs::write(history.join("month-2023-12-31.json"), "{ not json").unwrap();
    std::fs::copy(
        history.join("month-2024-01-31.json"),
        history.join("month-2023-11-30.json"),
    )
    .unwrap();
    let (run, json) = with_history(&history, "2024-03-31", &[]);
    run.stderr_has(&[
        "month-2023-12-31.json: not a history entry",
        "month-2023-11-30.json: it holds the month ending 2024-01-31, not the period it is \
         named for",
    ]);
    assert_eq!(json["history"].as_array().unwrap().len(), 3);
    let notes = json["notes"].to_string();
    assert!(
        notes.contains("history: 2 damaged entries skipped"),
        "{notes}"
    );
    // the page shows the trend: revenue 200 → 435, a sparkline
    let page = cpm(&[
        "report",
        &data("report_small.csv"),
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--history",
        &history.display().to_string(),
        "-q",
    ])
    .run()
    .ok()
    .stdout();
    let row = page
        .lines()
        .find(|l| l.contains("│ revenue") && l.contains("200.00"))
        .unwrap_or_default();
    assert!(page.contains("Trend over the last 3 months"), "{page}");
    assert!(
        row.contains("▁▂█") && row.contains("200.00") && row.contains("435.00"),
        "{row}"
    );
}

#[test]
fn the_executive_summary_says_what_changed_in_the_hand_computed_figures() {
    // March 435 against February 245; March's buyers A, C, D and -42,
    // new C and -42 (February's new: B, D, =1+2); of February's B, D and
    // =1+2 only D came back; C alone (300 of 880) is Promising
    let json = small_json();
    let summary: Vec<&str> = (json["summary"].as_array().unwrap().iter())
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        summary,
        [
            "Revenue 435.00 this month, +77.6% on the month before (245.00).",
            "4 customers bought, 2 of them new (was 3); 2 of the month before's did not come \
             back; retention 33.3% (0.0% before).",
            "Promising are 12.5% of customers and make 34.1% of revenue.",
            "The largest customer makes 34.1% of revenue: a concentration risk.",
        ]
    );
    // the summary opens the page, before the targets
    let (_, _, html) = small_with_targets(&["retention_rate>=0.5"], &[]);
    let (summary, targets) = (html.find("id=\"summary\""), html.find("id=\"targets\""));
    assert!(summary.unwrap() < targets.unwrap());
    assert!(html.contains("1 of 1 targets missed: retention_rate &gt;= 0.5."));
}

/// The March economics of testdata/economics_orders.csv (margin 50%)
/// with testdata/channel_costs.csv.
fn economics_json(extra: &[&str]) -> serde_json::Value {
    let costs = data("channel_costs.csv");
    let mut args = vec!["--margin", "0.5", "--acquisition-costs", &costs];
    args.extend(extra);
    march_json("economics_orders.csv", &args)
}

#[test]
fn ltv_to_cac_and_payback_match_the_hand_computed_answer() {
    // A (search): 2 orders, 200 revenue, margin 100, serve 2 × 5, CAC 30;
    // B (social): 1 order, 50, margin 25, serve 2, CAC 20; C (search): 1
    // order, 300, margin 150, serve 5, CAC 30. Contribution (margin less
    // cost to serve): A 90, B 23, C 145; months since the first purchase
    // (at least 1): A 90 days, B 76 days, C 30 days → 1
    let json = economics_json(&[]);
    let e = &json["economics"];
    let month = 30.4375;
    let monthly = [90.0 / (90.0 / month), 23.0 / (76.0 / month), 145.0];
    assert_eq!(e["acquisition_cost"], 80.0);
    assert_eq!(e["service_cost"], 17.0);
    assert!(close(&e["ltv_to_cac"], (90.0 + 23.0 + 145.0) / 80.0));
    assert!(close(
        &e["payback_months"],
        80.0 / monthly.iter().sum::<f64>()
    ));
    // profit is net of acquisition and service: 275 - 80 - 17
    assert_eq!(json["portfolio"]["profit"], 178.0);
    let channels = e["by_channel"].as_array().unwrap();
    assert_eq!(channels[0]["name"], "search");
    assert!(close(&channels[0]["ltv_to_cac"], 235.0 / 60.0));
    assert!(close(
        &channels[0]["payback_months"],
        60.0 / (monthly[0] + monthly[2])
    ));
    assert!(close(&channels[1]["ltv_to_cac"], 23.0 / 20.0));
    assert!(close(&channels[1]["payback_months"], 20.0 / monthly[1]));
    let cohorts = e["by_cohort"].as_array().unwrap();
    let names: Vec<&str> = cohorts
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2024-01", "2024-03"]);
    assert!(close(&cohorts[0]["ltv_to_cac"], 113.0 / 50.0));
    assert!(close(&cohorts[1]["payback_months"], 30.0 / 145.0));
    // revenue 200, 50, 300 (median 200); cost to serve 10, 2, 5 (median
    // 5): C high value and low cost, A low value and high cost
    let cells = e["quadrant"].as_array().unwrap();
    let counts: Vec<u64> = cells
        .iter()
        .map(|c| c["customers"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 0, 1, 1]);
    assert!(close(&cells[0]["revenue_share"], 300.0 / 550.0));
    assert_eq!(cells[3]["service_cost"], 10.0);
    assert_eq!(cells[1]["revenue_share"], 0.0);
    // a flat cost per order for everyone: 4 orders × 1
    let flat = economics_json(&["--cost-per-order", "1"]);
    assert_eq!(
        flat["economics"]["service_cost"], 17.0,
        "the channel's cost wins"
    );
    let input = data("economics_orders.csv");
    let flat = cpm(&[
        "report",
        &input,
        "--no-model",
        "--cost-per-order",
        "1",
        "-f",
        "json",
    ])
    .run()
    .ok()
    .stdout();
    let flat: serde_json::Value = serde_json::from_str(&flat).unwrap();
    assert_eq!(flat["economics"]["service_cost"], 4.0);
    assert!(flat["economics"]["acquisition_cost"].is_null());
}

#[test]
fn without_any_cost_the_report_says_costs_are_unknown_instead_of_a_profit() {
    let json = small_json();
    assert!(json["portfolio"]["profit"].is_null());
    assert!(json["profitability"].is_null());
    assert!(json.get("economics").is_none());
    assert!(json["notes"].to_string().contains("costs unknown"));
    // a margin makes a profit, and the note goes
    let input = data("report_small.csv");
    let with_margin: serde_json::Value = serde_json::from_str(
        &cpm(&[
            "report",
            &input,
            "--no-model",
            "--margin",
            "0.25",
            "-f",
            "json",
        ])
        .run()
        .ok()
        .stdout(),
    )
    .unwrap();
    assert_eq!(with_margin["portfolio"]["profit"], 220.0);
    assert!(!with_margin["notes"].to_string().contains("costs unknown"));
}

#[test]
fn a_bad_channel_cost_names_the_file_line_and_column() {
    let dir = tempdir();
    let path = dir.path().join("costs.csv");
    let (input, costs) = (data("economics_orders.csv"), path.display().to_string());
    let cases = [
        (
            "channel,acquisition_cost\nsearch,30\nsocial,lots\n",
            "",
            "costs.csv, line 3, column 'acquisition_cost': 'lots' is not an amount",
        ),
        (
            "source,acquisition_cost\nsearch,30\n",
            "",
            "costs.csv: no 'channel' column (found: source, acquisition_cost)",
        ),
        (
            "channel,acquisition_cost\nsearch,30\n",
            "source",
            "--channel-column source: no such column",
        ),
    ];
    for (text, channel, said) in cases {
        std::fs::write(&path, text).unwrap();
        let mut args = vec![
            "report",
            &input,
            "--no-model",
            "--acquisition-costs",
            &costs,
        ];
        if !channel.is_empty() {
            args.extend(["--channel-column", channel]);
        }
        cpm(&args).run().code_is(2).stderr_has(&[said]);
    }
}

#[test]
fn satisfaction_nps_and_the_value_detractors_hold_match_the_hand_computed_answer() {
    // answers: A 10 and D 9 promoters, C 8 passive, B 3 detractor; E none,
    // F 11 out of range; revenue A 150, B 200, C 300, D 100, E 70, F 15
    let json = march_json("satisfaction_orders.csv", &[]);
    let sat = &json["satisfaction"];
    assert_eq!(sat["measure"], "nps");
    assert_eq!(sat["out_of_range"], 1);
    let all = &sat["overall"];
    assert_eq!(
        (all["customers"].as_u64(), all["responses"].as_u64()),
        (Some(6), Some(4))
    );
    assert!(close(&all["score"], 100.0 * (2.0 / 4.0 - 1.0 / 4.0)));
    assert!(close(&all["satisfied_share"], 0.5));
    let risk = &sat["value_at_risk"];
    assert_eq!(
        (risk["value"].as_str(), risk["customers"].as_u64()),
        (Some("revenue"), Some(1))
    );
    assert_eq!(risk["amount"], 200.0);
    assert!(close(&risk["share"], 200.0 / 835.0));
    let classes: Vec<(String, u64, f64)> = (sat["by_class"].as_array().unwrap().iter())
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            (
                name,
                c["customers"].as_u64().unwrap(),
                c["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("detractors".to_string(), 1, 200.0),
            ("passives".to_string(), 1, 300.0),
            ("promoters".to_string(), 2, 250.0)
        ]
    );
    assert!(sat["by_class"][0]["mean_p_alive"].is_null(), "no models");
    // every segment's answers add up to all of them
    let segments = sat["by_segment"].as_array().unwrap();
    let answers: u64 = segments
        .iter()
        .map(|s| s["responses"].as_u64().unwrap())
        .sum();
    assert_eq!(answers, 4);
    let summary = json["summary"].to_string();
    assert!(
        summary.contains("Detractors hold 24.0% of revenue: value at risk."),
        "{summary}"
    );
}

#[test]
fn the_email_page_draws_every_chart_as_a_png_and_has_no_svg() {
    let dir = tempdir();
    let (web, mail) = (dir.path().join("web.html"), dir.path().join("mail.html"));
    let input = data("report_small.csv");
    for (page, email) in [(&web, false), (&mail, true)] {
        let out = page.display().to_string();
        let mut args = vec!["report", &input, "--as-of", "2024-03-31", "--no-model"];
        args.extend(["-q", "-o", &out]);
        if email {
            args.push("--email");
        }
        cpm(&args).run().ok();
    }
    let (web, mail) = (
        std::fs::read_to_string(&web).unwrap(),
        std::fs::read_to_string(&mail).unwrap(),
    );
    let charts = web.matches("<svg").count();
    assert!(charts >= 3, "{charts} charts");
    assert!(!mail.contains("<svg"), "mail clients strip inline SVG");
    let images: Vec<&str> = (mail.split("src=\"data:image/png;base64,").skip(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(images.len(), charts, "one image per chart");
    for (i, image) in images.iter().enumerate() {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(image)
            .unwrap();
        let path = dir.path().join(format!("chart{i}.png"));
        std::fs::write(&path, &bytes).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        assert_eq!(reader.info().width, 760, "drawn at the SVG's size");
        assert_not_blank(&path);
    }
    // the summary opens the mail's body
    let first = mail.find("<section id=\"").unwrap();
    assert!(mail[first..].starts_with("<section id=\"summary\""));
    // the same with --format email on stdout
    let args = ["report", &input, "--no-model", "--format", "email"];
    assert!(!cpm(&args).run().ok().stdout().contains("<svg"));
}

#[test]
fn changes_are_marked_good_or_bad_by_the_way_their_measure_should_move() {
    let html = small_report("html");
    // March against February: churned 2 against 3 (fewer: good), revenue
    // 435 against 245 (more: good), new customers 2 against 3 (fewer: bad)
    assert!(
        html.contains("<td class=\"number down good\">-1</td>"),
        "churned"
    );
    assert!(
        html.contains("<td class=\"number up good\">+190</td>"),
        "revenue"
    );
    assert!(
        html.contains("<td class=\"number down bad\">-1</td>"),
        "new"
    );
    // tables scroll in their box on a phone; sections print without
    // being kept whole (which leaves half-empty pages)
    assert!(html.contains("<div class=\"scroll\"><table>"));
    assert!(html.contains("table, figure, .alert { break-inside: avoid; }"));
    assert!(!html.contains("section { break-inside: avoid; }"));
    // every term explained at the end
    for term in [
        "churned: customers active in the period before",
        "Gini: ",
        "HHI: ",
    ] {
        assert!(html.contains(term), "{term}");
    }
}

#[test]
fn cross_sell_pairs_and_next_best_match_the_basket_derived_by_hand() {
    // baskets: A bread butter jam; B bread butter; C bread butter milk;
    // D bread jam; E milk; F butter (its jam is a refund, no purchase).
    // Buyers: bread 4, butter 4, jam 2, milk 2 of 6; a pair needs 2
    // customers: bread+butter 3, bread+jam 2 (the others have 1)
    let input = data("crosssell_orders.csv");
    let json = march_json("crosssell_orders.csv", &[]);
    let c = &json["cross_sell"];
    assert_eq!(
        (c["column"].as_str(), c["customers"].as_u64()),
        (Some("category"), Some(6))
    );
    assert_eq!(c["min_pair_customers"], 2);
    let items: Vec<(&str, u64)> = (c["items"].as_array().unwrap().iter())
        .map(|i| {
            (
                i["item"].as_str().unwrap(),
                i["customers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [("bread", 4), ("butter", 4), ("jam", 2), ("milk", 2)]
    );
    // jam → bread: confidence 2/2, lift 1 / (4/6) = 1.5; bread → jam: 2/4,
    // 0.5 / (2/6) = 1.5; bread → butter and back: 3/4, 0.75 / (4/6)
    let pairs: Vec<(String, String, u64, f64, f64, f64)> = (c["pairs"].as_array().unwrap().iter())
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap().to_string();
            let number = |k: &str| p[k].as_f64().unwrap();
            let customers = p["customers"].as_u64().unwrap();
            (
                text("antecedent"),
                text("consequent"),
                customers,
                number("support"),
                number("confidence"),
                number("lift"),
            )
        })
        .collect();
    let want = [
        ("jam", "bread", 2, 2.0 / 6.0, 1.0, 1.5),
        ("bread", "jam", 2, 2.0 / 6.0, 0.5, 1.5),
        ("bread", "butter", 3, 0.5, 0.75, 1.125),
        ("butter", "bread", 3, 0.5, 0.75, 1.125),
    ];
    assert_eq!(pairs.len(), want.len());
    for (got, want) in pairs.iter().zip(want) {
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2),
            (want.0, want.1, want.2)
        );
        for (g, w) in [(got.3, want.3), (got.4, want.4), (got.5, want.5)] {
            assert!((g - w).abs() < 1e-12, "{got:?} against {want:?}");
        }
    }
    // next best: B and C jam (from bread, lift 1.5), D butter, F bread; A
    // and E none (milk has no pair)
    let next: Vec<(&str, u64)> = (c["next_best"].as_array().unwrap().iter())
        .map(|i| {
            (
                i["item"].as_str().unwrap(),
                i["customers"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(next, [("jam", 2), ("bread", 1), ("butter", 1)]);
    // each segment's penetration adds up to the item's buyers
    let penetration = c["penetration"].as_array().unwrap();
    let bread: f64 = (penetration.iter())
        .map(|p| p["shares"][0].as_f64().unwrap() * p["customers"].as_f64().unwrap())
        .sum();
    assert!((bread - 4.0).abs() < 1e-9);
    let page = cpm(&["report", &input, "--as-of", "2024-03-31", "--no-model"])
        .run()
        .ok()
        .stdout();
    for said in ["What to sell next", "white space", "pairs by lift"] {
        assert!(page.contains(said), "{said}");
    }
}

#[test]
fn cost_to_serve_counts_orders_lines_and_refunds() {
    // report_small.csv: 11 lines with a purchase (D's o7 has two), one
    // refund (B's o4), 10 orders with a purchase
    let input = data("report_small.csv");
    let run = |extra: &[&str]| march_json("report_small.csv", extra);
    let lines = run(&["--cost-per-line", "1", "--cost-per-refund", "3"]);
    assert_eq!(lines["economics"]["service_cost"], 11.0 + 3.0);
    let all = run(&[
        "--cost-per-order",
        "2",
        "--cost-per-line",
        "1",
        "--cost-per-refund",
        "3",
    ]);
    assert_eq!(all["economics"]["service_cost"], 20.0 + 14.0);
    // a customer table has no lines to count
    let dir = tempdir();
    let customers = dir.path().join("customers.csv").display().to_string();
    cpm(&["segment", &input, "-q", "-o", &customers]).run().ok();
    cpm(&["report", &customers, "--no-model", "--cost-per-refund", "3"])
        .run()
        .code_is(2)
        .stderr_has(&["a cost per line or per refund needs the transaction lines"]);
}

#[test]
fn an_eml_output_is_a_mail_message_with_the_charts_attached() {
    let dir = tempdir();
    let message = dir.path().join("weekly.eml");
    let input = data("report_small.csv");
    let out = message.display().to_string();
    let args = [
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--no-model",
        "--title",
        "Acme, weekly",
    ];
    let mut args = args.to_vec();
    args.extend(["-q", "-o", &out]);
    cpm(&args).run().ok();
    let text = std::fs::read_to_string(&message).unwrap();
    assert!(text.starts_with(
        "MIME-Version: 1.0\r\nSubject: Acme, weekly, month 2024-03-01 to 2024-03-31\r\n"
    ));
    assert!(text.lines().all(|l| l.len() <= 998), "RFC 5322 line length");
    // the parts, by their headers and base64 bodies
    let parts: Vec<(&str, Vec<u8>)> = (text.split("\r\n--cpm-").skip(1))
        .filter_map(|part| {
            let (headers, body) = part.split_once("\r\n\r\n")?;
            let kind = headers
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: "))?;
            use base64::Engine;
            let body: String = body
                .split("\r\n")
                .filter(|l| !l.starts_with("--"))
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .ok()?;
            Some((kind, bytes))
        })
        .collect();
    let kinds: Vec<&str> = parts.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds[..2],
        ["text/plain; charset=utf-8", "text/html; charset=utf-8"]
    );
    let plain = String::from_utf8(parts[0].1.clone()).unwrap();
    assert!(plain.contains("Revenue 435.00 this month, +77.6% on the month before (245.00)."));
    let html = String::from_utf8(parts[1].1.clone()).unwrap();
    assert!(!html.contains("<svg"));
    let images: Vec<&Vec<u8>> = (parts.iter().filter(|(k, _)| *k == "image/png"))
        .map(|(_, b)| b)
        .collect();
    assert!(images.len() >= 3);
    for (n, image) in images.iter().enumerate() {
        assert!(
            html.contains(&format!("src=\"cid:chart-{n}@cpm\"")),
            "chart {n} shown"
        );
        assert!(text.contains(&format!("Content-ID: <chart-{n}@cpm>")));
        assert!(image.starts_with(b"\x89PNG"));
    }
    // the same input, the same bytes
    let again = dir.path().join("again.eml");
    let mut args = args.clone();
    let last = args.len() - 1;
    let again_out = again.display().to_string();
    args[last] = &again_out;
    cpm(&args).run().ok();
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
}

#[test]
fn costs_say_what_they_cannot_know() {
    let dir = tempdir();
    let input = data("economics_orders.csv");
    // a channel the file does not name, and one named twice
    let costs = dir.path().join("costs.csv");
    std::fs::write(&costs, "channel,acquisition_cost\nSearch,30\nsocial,20\n").unwrap();
    let costs = costs.display().to_string();
    let args = [
        "report",
        &input,
        "--no-model",
        "--margin",
        "0.5",
        "--acquisition-costs",
        &costs,
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["-f", "json"]);
    let json: serde_json::Value =
        serde_json::from_str(&cpm(&json_args).run().ok().stdout()).unwrap();
    assert!(
        json["notes"]
            .to_string()
            .contains("no costs for the channels 'search'")
    );
    std::fs::write(
        dir.path().join("costs.csv"),
        "channel,acquisition_cost\nsearch,30\nsearch,40\n",
    )
    .unwrap();
    cpm(&args).run().code_is(2).stderr_has(&[
        "costs.csv, line 3, column 'channel': 'search' has costs on an earlier line",
    ]);
    // a cost to serve without a margin: profit is revenue less it, said
    let json: serde_json::Value = serde_json::from_str(
        &cpm(&[
            "report",
            &input,
            "--no-model",
            "--cost-per-order",
            "1",
            "-f",
            "json",
        ])
        .run()
        .ok()
        .stdout(),
    )
    .unwrap();
    assert_eq!(json["portfolio"]["profit"], 550.0 - 4.0);
    assert!(json["notes"].to_string().contains("no cost of goods"));
    // a customer table valued with a margin brings its own profit
    let valued = dir.path().join("valued.csv").display().to_string();
    let sample = data("cdnow_sample.csv");
    cpm(&["value", &sample, "--margin", "0.3", "-q", "-o", &valued])
        .run()
        .ok();
    let json: serde_json::Value =
        serde_json::from_str(&cpm(&["report", &valued, "-f", "json"]).run().ok().stdout()).unwrap();
    assert!(json["portfolio"]["profit"].is_number());
    assert!(!json["notes"].to_string().contains("costs unknown"));
}

#[test]
fn as_of_yesterday_ends_the_period_on_the_day_before_the_run() {
    // a Monday cron job's last complete week ends on Sunday
    let input = data("report_small.csv");
    let args = [
        "report",
        &input,
        "--as-of",
        "yesterday",
        "--period",
        "week",
        "--no-model",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["-q", "-f", "json"]);
    let yesterday = || {
        chrono::Local::now()
            .date_naive()
            .pred_opt()
            .unwrap()
            .to_string()
    };
    // the day before the run, read before and after it (midnight may pass)
    let before = yesterday();
    let json: serde_json::Value =
        serde_json::from_str(&cpm(&json_args).run().ok().stdout()).unwrap();
    let days = [before, yesterday()];
    for key in [&json["as_of"], &json["kpis"]["current"]["end"]] {
        assert!(
            days.iter().any(|d| key == d.as_str()),
            "{key} not in {days:?}"
        );
    }
    cpm(&["report", &input, "--as-of", "someday"])
        .run()
        .code_is(2)
        .stderr_has(&["expected YYYY-MM-DD, 'today' or 'yesterday'"]);
}
