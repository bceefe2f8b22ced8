//! `cpm facts`: the per-customer facts table of transactions, the boundary
//! between the step that needs every row and everything after it.

use anyhow::Result;

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
    let facts = cpm::pipeline::facts(&inputs, &args.input.load_options()?, as_of, ui)?;
    output.write(&facts)?;
    ui.step("write");
    Ok(())
}
