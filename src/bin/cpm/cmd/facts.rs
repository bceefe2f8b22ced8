//! `cpm facts`: the per-customer facts table of transactions, the boundary
//! between the step that needs every row and everything after it.

use anyhow::Result;

use super::customers::facts_from;
use super::inputs_and_output;
use crate::args::{AsOfArg, InputArgs, OutputArgs};
use crate::ui::Ui;

const EXAMPLES: &str = "\
Examples:
  # the facts of an export, then segments from them alone
  cpm facts retail_export.csv -o facts.parquet
  cpm segment facts.parquet -o customers.csv

  # the facts as of the end of a quarter
  cpm facts retail_export.csv --as-of 2023-09-30 -o facts_q3.parquet";

/// Arguments of `cpm facts`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    output: OutputArgs,

    #[command(flatten)]
    as_of: AsOfArg,
}

/// Runs `cpm facts`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let as_of = args.as_of.as_of;
    let (inputs, output) = inputs_and_output(&args.input, &args.output, &[], &[], ui)?;
    let mut clock = std::time::Instant::now();
    let facts = facts_from(&inputs, &args.input, as_of, ui, &mut clock)?;
    output.write(&facts)?;
    ui.timing("write", &mut clock);
    Ok(())
}
