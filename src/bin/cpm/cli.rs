//! The top of the command line (clap derive): `cpm`, its global options and
//! the subcommands, whose arguments each cmd/ module declares; the groups
//! they share are in args.rs. Nothing here reaches the library: each
//! subcommand turns its arguments into the library's plain config structs.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::args::GlobalArgs;
use crate::cmd;

const ABOUT: &str = "Customer portfolio management from the command line";

const LONG_ABOUT: &str = "\
cpm turns customer and transaction exports (CSV, TSV, Parquet, Arrow, JSON) \
into decisions. Each subcommand is useful alone, on a raw export, and inside a \
pipeline: data goes to stdout (a table on a terminal, CSV on a pipe), \
messages and reports to stderr.";

const EXAMPLES: &str = "\
Examples:
  cpm ingest retail_export.csv -o clean.parquet
  cpm ingest 'exports/*.csv' --source-column file --rejects rejects.csv -o exports.parquet
  cpm ingest retail_export.csv --format ipc | cpm segment -o customers.parquet
  gzip -c orders.csv | cpm ingest --format ipc > clean.arrows
  cpm completions bash > cpm.bash";

/// `cpm`: the top-level parser.
#[derive(Parser)]
#[command(name = "cpm", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Read, map, type and validate exports into the canonical transaction table
    Ingest(Box<cmd::ingest::Args>),
    /// Per-customer facts (purchase days, orders, revenue sums) of transactions, versioned
    Facts(Box<cmd::facts::Args>),
    /// Customer table with RFM scores, named segments, value tiers and the value/risk matrix
    Segment(Box<cmd::segment::Args>),
    /// Historic profit, P(alive), expected purchases and CLV from BG/NBD + Gamma-Gamma
    Value(Box<cmd::value::Args>),
    /// Split a budget across segments for the best expected return; whom to contact
    Allocate(Box<cmd::allocate::Args>),
    /// The portfolio summary: KPIs, composition, concentration, migration, cohorts, models
    Report(Box<cmd::report::Args>),
    /// Show the settings in effect and where each comes from, or write a starter cpm.toml
    #[command(after_help = cmd::config::EXAMPLES)]
    Config {
        /// show or init.
        #[command(subcommand)]
        action: cmd::config::Action,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  cpm completions bash > cpm.bash  # then: source cpm.bash\n  cpm completions zsh > _cpm      # a folder of your $fpath"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff), or write every page into a folder
    #[command(
        after_help = "Examples:\n  cpm man > cpm.1                 # then: man ./cpm.1\n  cpm man segment > cpm-segment.1\n  cpm man --out-dir man1          # every page"
    )]
    Man {
        /// The subcommand whose page to print (default: cpm's own).
        subcommand: Option<String>,

        /// Write every page (cpm.1, cpm-ingest.1, ...) into this folder
        /// instead.
        #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
        out_dir: Option<PathBuf>,
    },
}
