//! The `cpm` binary: parse the command line, run the subcommand, print an
//! error once and pick the exit code (0 ok, 1 failure, 2 usage error, 101
//! a bug).

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod args;
mod cli;
mod cmd;
mod config;
mod ui;

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Command;

/// polars allocates and frees large buffers all the time: mimalloc keeps
/// them in the process where glibc malloc hands them back to the kernel and
/// faults them in again (bench/README.md has the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// On SIGINT, SIGTERM or SIGHUP, removes the temporary files of the
/// outputs being written and dies of the signal, as a program stopped by
/// it does (the shell sees 130, 143, 129); the old outputs stay.
fn remove_temps_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return; // the default actions stay: a temporary file may be left
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            cpm::io::atomic::remove_live_temps();
            let _ = signal_hook::low_level::emulate_default_handler(signal);
            std::process::exit(128 + signal);
        }
    });
}

/// Runs one subcommand.
fn run(command: Command, settings: &config::Settings, ui: &ui::Ui) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => cmd::ingest::run(*args, ui),
        Command::Facts(args) => cmd::facts::run(*args, ui),
        Command::Segment(args) => cmd::segment::run(*args, ui),
        Command::Value(args) => cmd::value::run(*args, ui),
        Command::Allocate(args) => cmd::allocate::run(*args, ui),
        Command::Report(args) => cmd::report::run(*args, ui),
        Command::Config { action } => cmd::config::run(action, settings, ui),
        Command::Completions { shell } => cmd::meta::completions(shell, cli::Cli::command()),
        Command::Man {
            subcommand,
            out_dir,
        } => cmd::meta::man(
            cli::Cli::command(),
            subcommand.as_deref(),
            out_dir.as_deref(),
        ),
    }
}

/// The library's errors that name its options, told with the flags that
/// set them.
fn in_flags(err: anyhow::Error) -> anyhow::Error {
    if let Some(too_many) = err.downcast_ref::<cpm::pipeline::TooManyRejects>() {
        return anyhow::anyhow!(too_many.message(
            "--max-rejects",
            "--decimal-comma",
            "See them all with cpm ingest --rejects FILE"
        ));
    }
    match err.downcast_ref::<cpm::pipeline::NeedsTransactions>() {
        Some(needs) => cpm::error::usage(needs.message("--calibration-end")),
        None => err,
    }
}

fn main() -> ExitCode {
    // a panic is a bug: one line on stderr and exit code 101
    cpm::panic::install_hook(|| std::process::exit(101));
    let (cli, settings) = match config::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(config::ParseError::Clap(err)) => {
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
        Err(config::ParseError::Settings(err)) => {
            ui::Ui::plain().error(&err);
            return ExitCode::from(2);
        }
    };
    remove_temps_on_signals();
    let ui = ui::Ui::new(&cli.global);
    match run(cli.command, &settings, &ui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let err = in_flags(err);
            let usage = err.chain().any(|e| e.is::<cpm::error::UsageError>());
            let missed = err.chain().any(|e| e.is::<cpm::error::TargetsMissed>());
            ui.error(&err);
            ExitCode::from(match (missed, usage) {
                (true, _) => 3,
                (_, true) => 2,
                _ => 1,
            })
        }
    }
}
