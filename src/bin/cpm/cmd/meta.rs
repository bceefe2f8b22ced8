//! `cpm completions SHELL` and `cpm man`: generated from the clap definition.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Prints a completion script for `shell` of the command line `command`.
pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> Result<()> {
    cpm::io::write_stdout(|w| {
        clap_complete::generate(shell, &mut command, "cpm", w);
        Ok(())
    })
}

/// Prints the manual page of the command line `command` or of one
/// `subcommand` in roff, or writes every page into `out_dir`.
pub fn man(command: clap::Command, subcommand: Option<&str>, out_dir: Option<&Path>) -> Result<()> {
    let mut command = command.disable_help_subcommand(true);
    if let Some(dir) = out_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        return clap_mangen::generate_to(command, dir)
            .with_context(|| format!("cannot write the manual pages into {}", dir.display()));
    }
    // built, so that subcommands carry the global options and their names
    command.build();
    let page = match subcommand {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                bail!(cpm::error::usage(format!(
                    "cpm man {name}: no such subcommand (one of: {})",
                    names.join(", ")
                )));
            }
        },
    };
    cpm::io::write_stdout(|w| Ok(clap_mangen::Man::new(page).render(w)?))
}
