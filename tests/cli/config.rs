//! Settings from a file and the environment (cpm.toml, --config,
//! CPM_CONFIG, CPM_<OPTION>): precedence, the keyed lists merged, relative
//! paths, errors with the file's line, `cpm config show|init`.

use std::path::Path;

use crate::util::{cpm, data, tempdir};

/// Writes `text` as `name` in `dir`; its path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The small report's JSON (March 2024, no models) with these extra
/// arguments and settings file.
fn small_json(config: &str, extra: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let input = data("report_small.csv");
    let mut args = vec!["report", &input, "--as-of", "2024-03-31", "--no-model"];
    args.extend(["--format", "json", "--config", config]);
    args.extend(extra);
    let mut run = cpm(&args);
    for (key, value) in env {
        run = run.env(key, value);
    }
    serde_json::from_str(&run.run().ok().stdout()).unwrap()
}

#[test]
fn the_command_line_beats_the_environment_which_beats_the_file() {
    let dir = tempdir();
    let config = write(
        dir.path(),
        "cpm.toml",
        "[report]\ntitle = \"From the file\"\n",
    );
    let json = small_json(&config, &[], &[]);
    assert_eq!(json["title"], "From the file");
    let json = small_json(&config, &[], &[("CPM_TITLE", "From the environment")]);
    assert_eq!(json["title"], "From the environment");
    let json = small_json(
        &config,
        &["--title", "From the command line"],
        &[("CPM_TITLE", "From the environment")],
    );
    assert_eq!(json["title"], "From the command line");
    // a section's value beats the top of the file's
    let config = write(
        dir.path(),
        "both.toml",
        "title = \"From the top\"\n[report]\ntitle = \"From [report]\"\n",
    );
    assert_eq!(small_json(&config, &[], &[])["title"], "From [report]");
}

#[test]
fn the_files_targets_stay_beside_the_command_lines_which_replace_the_same_figure() {
    let dir = tempdir();
    let config = write(
        dir.path(),
        "cpm.toml",
        "[targets]\nchurned = \"<= 1\"\nretention_rate = \">= 0.5\"\n",
    );
    // the file alone: churned 2 misses <= 1, retention 1/3 misses >= 0.5
    let json = small_json(&config, &[], &[]);
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["metric"], "churned_customers");
    assert_eq!(targets[0]["goal"], 1.0);
    assert_eq!(targets[1]["met"], false);
    // the command line's retention target replaces the file's, churned stays
    let json = small_json(&config, &["--target", "retention_rate>=0.3"], &[]);
    let targets = json["targets"].as_array().unwrap();
    let shown: Vec<(String, f64, bool)> = (targets.iter())
        .map(|t| {
            let metric = t["metric"].as_str().unwrap().to_string();
            (
                metric,
                t["goal"].as_f64().unwrap(),
                t["met"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("churned_customers".to_string(), 1.0, false),
            ("retention_rate".to_string(), 0.3, true)
        ]
    );
}

#[test]
fn a_column_map_in_cpm_toml_reads_the_german_export_without_flags() {
    let dir = tempdir();
    let input = data("orders_latin1_semicolon.csv");
    let flags = [
        "--encoding",
        "windows-1252",
        "--decimal-comma",
        "--map",
        "customer_id=Kunde",
        "--map",
        "order_date=Belegdatum",
        "--map",
        "revenue=Betrag",
    ];
    let mut args = vec!["ingest", &input, "--format", "csv", "--no-config"];
    args.extend(flags);
    let by_flags = cpm(&args).run().ok().stdout();
    write(
        dir.path(),
        "cpm.toml",
        "encoding = \"windows-1252\"\ndecimal_comma = true\n\n[map]\n\
         customer_id = \"Kunde\"\norder_date = \"Belegdatum\"\nrevenue = \"Betrag\"\n",
    );
    // cpm.toml of the working folder, found without --config
    let by_file = cpm(&["ingest", &input, "--format", "csv"])
        .current_dir(dir.path())
        .run()
        .ok()
        .stdout();
    assert_eq!(by_file, by_flags);
    // one --map on the command line replaces the file's revenue only
    let one_more = cpm(&[
        "ingest",
        &input,
        "--format",
        "csv",
        "--map",
        "revenue=Betrag",
    ])
    .current_dir(dir.path())
    .run()
    .ok()
    .stdout();
    assert_eq!(one_more, by_flags);
    // --no-config ignores it: the German columns are not found
    cpm(&["ingest", &input, "--no-config"])
        .current_dir(dir.path())
        .run()
        .code_is(1);
    // CPM_CONFIG names a file elsewhere
    let elsewhere = tempdir();
    let from_env = cpm(&["ingest", &input, "--format", "csv"])
        .current_dir(elsewhere.path())
        .env(
            "CPM_CONFIG",
            &dir.path().join("cpm.toml").display().to_string(),
        )
        .run()
        .ok()
        .stdout();
    assert_eq!(from_env, by_flags);
}

#[test]
fn relative_paths_in_the_file_are_relative_to_its_folder() {
    let dir = tempdir();
    let config = write(
        dir.path(),
        "weekly.toml",
        "[report]\noutput = \"weekly.json\"\n",
    );
    let elsewhere = tempdir();
    let input = data("report_small.csv");
    cpm(&["report", &input, "--no-model", "-q", "--config", &config])
        .current_dir(elsewhere.path())
        .run()
        .ok();
    let json = crate::util::read_json(&dir.path().join("weekly.json"));
    assert!(json["schema_version"].is_number());
    assert!(!elsewhere.path().join("weekly.json").exists());
}

#[test]
fn a_wrong_setting_names_the_file_the_line_and_the_key() {
    let dir = tempdir();
    let input = data("report_small.csv");
    let cases = [
        (
            "margin = 0.3\n\n[report]\nperod = \"week\"\n",
            ":4: perod: cpm report has no option --perod",
        ),
        (
            "marign = 0.3\n",
            ":1: marign: no subcommand has an option --marign",
        ),
        (
            "\nmargin = \"lots\"\n",
            ":2: margin: invalid value 'lots' for '--margin",
        ),
        (
            "[report]\nperiod = \"fortnight\"\n",
            ":2: period: invalid value 'fortnight' for '--period <PERIOD>' [possible values:",
        ),
        (
            "[map]\ncustomer_id = \"Id\"\ncustomr_id = \"X\"\n",
            ":3: map: map 'customr_id=X': 'customr_id' is not a canonical column",
        ),
        (
            "[targets]\nchurned = \"<= 3\"\nretention = \"about a third\"\n",
            ":3: target: invalid value 'retention about a third'",
        ),
        (
            "margin = 0.3\nmargin = 0.4\n",
            ":2: not TOML: duplicate key",
        ),
        (
            "[report]\nquiet = true\n",
            ":2: quiet: --quiet is an option of every subcommand: set it at the top",
        ),
        (
            "[report]\nmargin = [0.1, 0.2]\n",
            ":2: margin: --margin takes one value, not a list",
        ),
        (
            "[segment]\nsummary = \"yes\"\n",
            ":2: summary: --summary is a switch: true or false",
        ),
        (
            "report = 3\n",
            ":1: 'report' is a subcommand: write its settings under [report]",
        ),
        (
            "period = \"week\"\n",
            ":1: period: invalid value 'week' for '--period <PERIOD>' [possible values: month, \
             year] (cpm value; write it under [report] to set cpm report's only)",
        ),
    ];
    for (text, said) in cases {
        let config = write(dir.path(), "bad.toml", text);
        let said = format!("{config}{said}");
        cpm(&["report", &input, "--config", &config])
            .run()
            .code_is(2)
            .stderr_has(&[&said]);
        // config show reads the same file, and fails the same way
        cpm(&["config", "show", "--config", &config])
            .run()
            .code_is(2)
            .stderr_has(&[&said]);
    }
    cpm(&["report", &input, "--config", "/nonexistent/cpm.toml"])
        .run()
        .code_is(2)
        .stderr_has(&["cannot read the settings file /nonexistent/cpm.toml (named by --config)"]);
}

#[test]
fn config_show_says_where_each_value_comes_from() {
    let dir = tempdir();
    let config = write(
        dir.path(),
        "cpm.toml",
        "margin = 0.3\n\n[value]\nhorizon = \"6m\"\n",
    );
    let shown = cpm(&["config", "show", "value"])
        .current_dir(dir.path())
        .env("CPM_DISCOUNT_RATE", "0.05")
        .run()
        .ok()
        .stdout();
    let row = |option: &str| -> Vec<String> {
        let line = (shown.lines())
            .find(|l| l.split_whitespace().nth(1) == Some(option))
            .unwrap_or_else(|| panic!("no row for {option} in\n{shown}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    assert!(
        shown.starts_with("# settings file: cpm.toml (from working folder)"),
        "{shown}"
    );
    assert_eq!(row("--margin"), ["value", "--margin", "0.3", "cpm.toml:1"]);
    assert_eq!(row("--horizon"), ["value", "--horizon", "6m", "cpm.toml:4"]);
    assert_eq!(
        row("--discount-rate"),
        ["value", "--discount-rate", "0.05", "CPM_DISCOUNT_RATE"]
    );
    assert_eq!(row("--seed"), ["value", "--seed", "1", "built-in"]);
    assert!(!shown.contains("\nreport "), "only value's rows: {shown}");
    let _ = config;
}

#[test]
fn config_init_writes_a_starter_whose_every_setting_is_valid() {
    let dir = tempdir();
    cpm(&["config", "init"]).current_dir(dir.path()).run().ok();
    let starter = std::fs::read_to_string(dir.path().join("cpm.toml")).unwrap();
    // a second init would lose the user's edits
    cpm(&["config", "init"])
        .current_dir(dir.path())
        .run()
        .code_is(2)
        .stderr_has(&["cpm.toml exists: edit it, or replace it with --force"]);
    cpm(&["config", "init", "--force"])
        .current_dir(dir.path())
        .run()
        .ok();
    // every commented setting and table, uncommented, is read back
    let uncommented: String = (starter.lines())
        .map(|line| {
            let rest = line.strip_prefix("# ").unwrap_or(line);
            let setting = rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '));
            format!("{}\n", if setting { rest } else { line })
        })
        .collect();
    let all = write(dir.path(), "all.toml", &uncommented);
    let shown = cpm(&["config", "show", "report", "--config", &all])
        .run()
        .ok()
        .stdout();
    for option in [
        "--date-format",
        "--map",
        "--margin",
        "--period",
        "--title",
        "--target",
    ] {
        assert!(
            shown
                .lines()
                .any(|l| l.contains(option) && l.contains("all.toml:")),
            "{option} not from the file in\n{shown}"
        );
    }
    let segment = cpm(&["config", "show", "segment", "--config", &all])
        .run()
        .ok()
        .stdout();
    assert!(
        segment
            .lines()
            .any(|l| l.contains("--rules") && l.contains("all.toml:"))
    );
}

#[test]
fn the_files_switches_need_and_yield_as_typed_ones_do() {
    let dir = tempdir();
    let input = data("report_small.csv");
    // --fail-on-miss needs a target: the file's targets count
    let config = write(
        dir.path(),
        "cpm.toml",
        "[report]\nfail_on_miss = true\nno_model = true\n\n[targets]\nretention = \">= 0.5\"\n",
    );
    cpm(&[
        "report",
        &input,
        "--as-of",
        "2024-03-31",
        "--config",
        &config,
    ])
    .run()
    .code_is(3)
    .stderr_has(&["1 of 1 targets missed: retention_rate >= 0.5 (is 0.3333)"]);
    // a command-line switch that conflicts with the file's wins
    let orders = data("orders.csv");
    let config = write(
        dir.path(),
        "dups.toml",
        "[ingest]\nkeep_duplicates = true\n",
    );
    cpm(&[
        "ingest",
        &orders,
        "--drop-duplicates",
        "-q",
        "--config",
        &config,
    ])
    .run()
    .ok();
}

#[test]
fn a_variable_is_checked_for_the_subcommand_that_runs_and_named_when_wrong() {
    let dir = tempdir();
    // a top-level key beside a variable another subcommand would refuse
    let config = write(
        dir.path(),
        "cpm.toml",
        "margin = 0.3\n[targets]\nchurned = \"<= 300\"\n",
    );
    let json = small_json(&config, &[], &[("CPM_PERIOD", "quarter")]);
    assert_eq!(json["kpis"]["period"], "quarter");
    let input = data("report_small.csv");
    cpm(&["report", &input, "--no-model", "--config", &config])
        .env("CPM_MARGIN", "abc")
        .run()
        .code_is(2)
        .stderr_has(&["CPM_MARGIN=abc: invalid value 'abc' for '--margin <FRACTION>'"]);
    // the file's target for churned gives way to the command line's under
    // the figure's full name
    let json = small_json(&config, &["--target", "churned_customers<=5"], &[]);
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0]["goal"], 5.0);
}
