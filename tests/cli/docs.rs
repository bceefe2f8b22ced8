//! The documentation runs: every command of README's tour and recipes, and
//! every example of every `--help`, run as written in a copy of testdata/
//! (with `cpm` the binary under test), must exit 0.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cpm, testdata};

/// Copies testdata/ (recursively) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Shell commands of a text: lines that start with `cpm` or feed one
/// (`gzip`, `zcat`, `cat`), after the indentation, with `\` continuations
/// joined; comments and everything else skipped.
fn commands(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.split("  # ").next().unwrap_or(line).trim_end();
        if let Some(start) = pending.take() {
            let joined = format!("{start} {line}");
            match joined.strip_suffix('\\') {
                Some(more) => pending = Some(more.trim_end().to_string()),
                None => out.push(joined),
            }
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if !["cpm", "gzip", "zcat", "cat"].contains(&first) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => pending = Some(start.trim_end().to_string()),
            None => out.push(line.to_string()),
        }
    }
    out
}

/// Runs each command with `sh -c` in `dir`, `cpm` on the PATH and HOME in
/// `dir`; fails naming the command and what it said when one exits
/// non-zero.
fn run_all(commands: &[String], dir: &Path) {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_cpm"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for command in commands {
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "$ {command}\nexit: {}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The ```sh blocks of README's sections whose heading starts with one of
/// `headings`.
fn readme_blocks(headings: &[&str]) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut text = String::new();
    let mut in_section = false;
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("## ") {
            in_section = headings.iter().any(|h| line[3..].starts_with(h));
        } else if line.starts_with("```") {
            in_block = in_section && !in_block && line.trim() == "```sh";
        } else if in_block {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[test]
fn every_tour_and_recipe_command_of_the_readme_runs() {
    let dir = crate::util::tempdir();
    copy_dir(&testdata(""), &dir.path().join("testdata"));
    let commands = commands(&readme_blocks(&["A quick tour", "Recipes"]));
    assert!(commands.len() >= 15, "{commands:?}");
    run_all(&commands, dir.path());
}

#[test]
fn every_help_example_runs() {
    let dir = crate::util::tempdir();
    let data = dir.path().join("testdata");
    copy_dir(&testdata(""), &data);
    let mut all = Vec::new();
    for sub in [
        None,
        Some("ingest"),
        Some("segment"),
        Some("value"),
        Some("allocate"),
        Some("report"),
        Some("config"),
        Some("completions"),
        Some("man"),
    ] {
        let args: Vec<&str> = sub.into_iter().chain(["--help"]).collect();
        let help = cpm(&args).run().ok().stdout();
        let examples = help.split("Examples:").nth(1).unwrap_or_default();
        let found = commands(examples);
        assert!(!found.is_empty(), "cpm {sub:?} --help has no example");
        all.extend(found);
    }
    run_all(&all, &data);
}

#[test]
fn commands_are_read_with_their_continuations() {
    let text = "# a comment\n  cpm a \\\n      --b c  # why\nnot this\n  gzip -c x | cpm d\n";
    assert_eq!(commands(text), ["cpm a --b c", "gzip -c x | cpm d"]);
}
