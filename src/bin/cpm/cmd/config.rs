//! `cpm config show|init`: the settings in effect and where each comes
//! from; a commented starter `cpm.toml`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::config::Settings;
use crate::ui::Ui;

/// `cpm config --help` examples.
pub const EXAMPLES: &str = "\
Settings come from the command line, else a CPM_<OPTION> variable
(CPM_MARGIN=0.3), else the settings file, else the built-in defaults. The
file is --config FILE, else CPM_CONFIG, else cpm.toml in the working folder:
top-level keys set an option of every subcommand that takes it, a [report]
(or [value], ...) table one subcommand's, [map] the column map, [targets]
the report's targets. Relative paths in it are relative to its folder.

Examples:
  cpm config init                 # a commented cpm.toml to edit
  cpm config show report          # what report will use, and from where
  cpm --config cpm.toml report retail_export.csv --period week -o weekly.html";

/// What `cpm config` does.
#[derive(Subcommand)]
pub enum Action {
    /// Print every option's value in effect and where it comes from
    Show {
        /// Only this subcommand's options (and those of every subcommand).
        command: Option<String>,
    },
    /// Write a commented starter settings file
    Init {
        /// The file to write.
        #[arg(default_value = "cpm.toml")]
        file: PathBuf,

        /// Replace the file when it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `cpm config`.
pub fn run(action: Action, settings: &Settings, ui: &Ui) -> Result<()> {
    match action {
        Action::Show { command } => show(settings, command.as_deref()),
        Action::Init { file, force } => {
            if file.exists() && !force {
                bail!(cpm::error::usage(format!(
                    "{} exists: edit it, or replace it with --force",
                    file.display()
                )));
            }
            cpm::io::atomic::stage(&file, |w| Ok(w.write_all(STARTER.as_bytes())?))?
                .commit(ui.durable())?;
            ui.print(&format!(
                "wrote {}: uncomment what you need, then see it with cpm config show\n",
                file.display()
            ));
            Ok(())
        }
    }
}

/// Prints the settings in effect as aligned columns on stdout.
fn show(settings: &Settings, only: Option<&str>) -> Result<()> {
    let rows = settings.effective(only);
    if rows.is_empty() {
        bail!(cpm::error::usage(format!(
            "cpm config show {}: no such subcommand",
            only.unwrap_or_default()
        )));
    }
    let width = |f: fn(&crate::config::Effective) -> &str, title: &str| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let (wc, wo, wv) = (
        width(|r| &r.command, "command"),
        width(|r| &r.option, "option"),
        width(|r| &r.value, "value"),
    );
    let mut text = format!("# {}\n", settings.describe());
    let mut line = |c: &str, o: &str, v: &str, f: &str| {
        text.push_str(&format!("{c:wc$}  {o:wo$}  {v:wv$}  {f}\n"));
    };
    line("command", "option", "value", "from");
    for r in &rows {
        line(&r.command, &r.option, &r.value, &r.from);
    }
    cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?))
}

/// The starter file `cpm config init` writes: every line a setting to
/// uncomment (a test uncomments them all and reads the file back).
const STARTER: &str = include_str!("config_starter.toml");
