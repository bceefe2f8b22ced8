//! `cpm facts`: the per-customer facts table of transactions, the boundary
//! between the step that needs every row and everything after it.

use anyhow::Result;

use cpm::facts::sql::Dialect;

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

    /// Print the SQL that computes the facts table from --source in this
    /// dialect, instead of computing it: duckdb, spark, bigquery,
    /// snowflake, trino.
    #[arg(long, value_name = "DIALECT", value_parser = parse_dialect)]
    sql: Option<Dialect>,

    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs `cpm facts`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let as_of = args.as_of.as_of;
    if let Some(dialect) = args.sql {
        let sql = sql(&args, dialect)?;
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

/// The statements that compute the facts of `--source` in `dialect`: the
/// columns as `--map` says (the engine's columns cannot be seen from here).
fn sql(args: &Args, dialect: Dialect) -> Result<String> {
    let source = args.engine.source_for("--sql", &args.input)?;
    let overrides = args.input.map_overrides()?;
    let map = cpm::engine::assumed_map(&overrides, source)?;
    let source = cpm::engine::Source {
        source: source.to_string(),
        overrides,
        as_of: args.as_of.as_of,
        date_format: args.input.date_format()?,
        max_rejects: args.input.load_options()?.max_rejects,
        duplicates: Default::default(),
    };
    cpm::engine::facts_sql(&source, &map, dialect)
}

/// `--sql`: a dialect by name.
fn parse_dialect(text: &str) -> Result<Dialect, String> {
    let all = Dialect::ALL;
    all.iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, dialect)| *dialect)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
            format!("one of {}", names.join(", "))
        })
}
