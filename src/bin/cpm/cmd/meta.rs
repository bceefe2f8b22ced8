//! `cpm completions SHELL` and `cpm man`: generated from the clap definition.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

/// Prints a completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut command = Cli::command();
    cpm::io::write_stdout(|w| {
        clap_complete::generate(shell, &mut command, "cpm", w);
        Ok(())
    })
}

/// Prints the manual page in roff.
pub fn man() -> Result<()> {
    let command = Cli::command();
    cpm::io::write_stdout(|w| Ok(clap_mangen::Man::new(command).render(w)?))
}
