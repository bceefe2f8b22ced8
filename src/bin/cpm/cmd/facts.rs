//! `cpm facts`: the per-customer facts table of transactions, the boundary
//! between the step that needs every row and everything after it.

use anyhow::Result;

use crate::args::{AsOfArg, EngineArgs, InputArgs, OutputArgs};
use crate::ui::Ui;

const EXAMPLES: &str = "\
Examples:
  # the facts of an export, then segments from them alone
  cpm facts retail_export.csv -o facts.parquet
  cpm segment facts.parquet -o customers.csv

  # the facts as of the end of a quarter
  cpm facts retail_export.csv --as-of 2023-09-30 -o facts_q3.parquet

  # the SQL that computes them in Spark, from a table in the lake
  cpm facts --sql spark --source lake.transactions --map customer_id=cust_no

  # computed by DuckDB where the Parquet files are, read back here
  cpm facts --engine duckdb --source \"'tx/*.parquet'\" -o facts.parquet";

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

    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs `cpm facts`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let as_of = args.as_of.as_of;
    if let Some(sql) = args.engine.sql(&args.input, as_of)? {
        return cpm::io::write_stdout(|w| Ok(w.write_all(sql.as_bytes())?));
    }
    let (inputs, output) =
        super::inputs_or_engine(&args.input, &args.engine, &args.output, &[], &[], ui)?;
    let facts = match args.engine.facts(&args.input, as_of, ui)? {
        Some(facts) => {
            ui.step("facts in the engine");
            facts
        }
        None => cpm::pipeline::facts(&inputs, &args.input.load_options()?, as_of, ui)?,
    };
    output.write(&facts)?;
    ui.step("write");
    Ok(())
}
