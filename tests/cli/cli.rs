//! The command line itself: help, completions, man page, exit codes.

use crate::util::{cpm, data};

#[test]
fn help_lists_subcommands_and_each_has_examples() {
    let run = cpm(&["--help"]).run().ok();
    for line in ["ingest", "completions", "man"] {
        assert!(run.stdout().contains(line));
    }
    for sub in ["ingest", "completions", "man"] {
        let run = cpm(&[sub, "--help"]).run().ok();
        assert!(run.stdout().contains("Examples:"), "{sub}");
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    let bash = cpm(&["completions", "bash"]).run().ok();
    assert!(bash.stdout().contains("_cpm()"));
    cpm(&["completions", "zsh"]).run().ok();
    cpm(&["completions", "fish"]).run().ok();
    let man = cpm(&["man"]).run().ok();
    assert!(man.stdout().starts_with(".ie") || man.stdout().contains(".TH cpm"));
    // completions offer the values of the options that have a fixed set
    let values = bash.stdout();
    for offered in [
        "csv tsv parquet ipc arrow json ndjson table markdown",
        "optimal proportional equal",
        "week month quarter",
        "terminal markdown json html",
    ] {
        assert!(values.contains(offered), "completions lack {offered}");
    }
    // a subcommand's page, and every page into a folder
    let segment = cpm(&["man", "segment"]).run().ok();
    assert!(segment.stdout().contains(".TH cpm-segment 1"));
    assert!(
        segment.stdout().contains("tier\\-cuts"),
        "the options are on the page"
    );
    let dir = crate::util::tempdir();
    let folder = dir.path().join("man1");
    cpm(&["man", "--out-dir", &folder.display().to_string()])
        .run()
        .ok();
    for page in [
        "cpm.1",
        "cpm-ingest.1",
        "cpm-facts.1",
        "cpm-segment.1",
        "cpm-value.1",
        "cpm-allocate.1",
        "cpm-report.1",
    ] {
        assert!(folder.join(page).is_file(), "{page}");
    }
    cpm(&["man", "segmnet"])
        .run()
        .code_is(2)
        .stderr_has(&["cpm man segmnet: no such subcommand (one of: ingest, facts, segment"]);
}

#[test]
fn exit_codes_are_0_1_and_2() {
    cpm(&["ingest", "-q", &data("orders.csv")]).run().code_is(0);
    cpm(&["ingest", &data("no_such_file.csv")])
        .run()
        .code_is(1)
        .stderr_has(&["no_such_file.csv: cannot open: no such file"]);
    cpm(&["ingest", "--no-such-flag"]).run().code_is(2);
    cpm(&["frobnicate"]).run().code_is(2);
    cpm(&["ingest", &data("orders.csv"), "--max-rejects", "lots"])
        .run()
        .code_is(2)
        .stderr_has(&["--max-rejects 'lots'"]);
    cpm(&["ingest", &data("orders.csv"), "-o", "/tmp/x.unknown-ext"])
        .run()
        .code_is(2)
        .stderr_has(&["cannot tell the output format"]);
}

#[test]
fn errors_are_printed_once_without_colour_when_no_color_is_set() {
    let run = cpm(&["ingest", &data("bad/empty.csv")]).run().code_is(1);
    assert_eq!(run.stderr().matches("cpm:").count(), 1, "{}", run.stderr());
    assert!(!run.stderr().contains('\x1b'));
}

/// Runs cpm under a pseudo-terminal (util-linux `script`), or None where
/// that is not available.
fn on_a_terminal(args: &str) -> Option<(i32, String)> {
    let binary = env!("CARGO_BIN_EXE_cpm");
    let output = std::process::Command::new("script")
        .args(["-qec", &format!("{binary} {args}"), "/dev/null"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    Some((output.status.code()?, text))
}

#[test]
fn no_input_on_a_terminal_is_a_usage_error_not_a_hang() {
    let Some((code, text)) = on_a_terminal("ingest") else {
        return;
    };
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no input"), "{text}");
}

#[test]
fn binary_formats_are_refused_on_a_terminal_and_tables_shown() {
    let Some((code, text)) = on_a_terminal(&format!(
        "ingest -q {} --format parquet",
        data("orders.csv")
    )) else {
        return;
    };
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("refusing to write parquet to a terminal"),
        "{text}"
    );
    let (code, text) =
        on_a_terminal(&format!("ingest -q {} --width 80", data("orders.csv"))).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("┆ order_date ┆") && text.contains("7 rows"),
        "{text}"
    );
}

#[test]
fn segment_shows_its_summaries_on_a_terminal() {
    let args = format!(
        "segment -q {} --as-of 2024-03-31 --width 100",
        data("segment_small.csv")
    );
    let Some((code, text)) = on_a_terminal(&args) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    for part in ["At Risk", "platinum", "value share", "Personal win-back"] {
        assert!(text.contains(part), "{part} missing in:\n{text}");
    }
    assert!(
        !text.contains("customer_id"),
        "the customer table goes to files and pipes"
    );
}

#[test]
fn shaped_output_on_a_terminal_is_the_table_fitted_to_the_width() {
    // no --width: the terminal's, and 100 when it reports none (0)
    let args = format!(
        "value -q {} --sort clv:desc --limit 3 --columns customer_id,clv,p_alive,segment_basis",
        data("retail_export.csv")
    );
    let Some((code, text)) = on_a_terminal(&args) else {
        return;
    };
    assert_eq!(code, 2, "no such column: {text}");
    let args = format!(
        "value -q {} --sort clv:desc --limit 3 --columns customer_id,clv,p_alive",
        data("retail_export.csv")
    );
    let (code, text) = on_a_terminal(&args).unwrap();
    assert_eq!(code, 0, "{text}");
    // the table, not the model report; P(alive) as a percentage
    assert!(
        text.contains("┆ p_alive") && text.contains("3 rows"),
        "{text}"
    );
    assert!(!text.contains("BG/NBD"), "{text}");
    assert!(text.contains("89.2%"), "{text}");
    let args = format!("segment -q {} --limit 5", data("retail_export.csv"));
    let (code, text) = on_a_terminal(&args).unwrap();
    assert_eq!(code, 0, "{text}");
    let width = text
        .lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    // script's terminal reports 0 columns: 100
    assert!(width <= 100, "{text}");
    assert!(
        text.contains("to fit 100 columns: matrix_cell, tier, action"),
        "{text}"
    );
}
