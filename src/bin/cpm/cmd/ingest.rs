//! `cpm ingest`: raw exports in, the canonical transaction table out, with
//! rejects and a data-quality report.

use std::path::PathBuf;

use anyhow::Result;
use cpm::ingest::{DuplicatePolicy, IngestConfig};
use cpm::io::atomic::Staged;
use cpm::pipeline::{IngestOutputs, Kept, LoadOptions};

use super::inputs_and_output;
use crate::args::{InputArgs, OutputArgs};
use crate::ui::Ui;

const EXAMPLES: &str = "\
Examples:
  # CSV export to a typed Parquet table, rejects and report beside it
  cpm ingest retail_export.csv -o clean.parquet --rejects rejects.csv \\
      --quality-report quality.json

  # monthly exports (quote the glob), each row remembering its file
  cpm ingest 'exports/2024-*.csv' --source-column file -o 2024.parquet

  # a German export: ';', decimal comma, Windows-1252, its own column names
  cpm ingest orders_latin1_semicolon.csv --encoding windows-1252 --decimal-comma \\
      --map customer_id=Kunde --map order_date=Belegdatum --map revenue=Betrag -o de.parquet

  # accept no bad row (the default is 1%); join customer attributes
  cpm ingest orders.csv --max-rejects 0 --customers customers.csv -o joined.parquet

  # an Excel workbook's second sheet, UK rows only (one row lacks its customer)
  cpm ingest orders.xlsx --sheet Orders --max-rejects 1 \\
      --where \"Country = 'United Kingdom'\" -o uk.csv

  # compressed, from a pipe, into the next step in binary form
  gzip -c retail_export.csv | cpm ingest --format ipc | cpm segment -o customers.parquet";

/// Arguments of `cpm ingest`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    output: OutputArgs,

    /// Write rejected rows to FILE as CSV: source,line,reason,raw.
    #[arg(long, value_name = "FILE", help_heading = "Validation")]
    rejects: Option<PathBuf>,

    /// Keep rows identical in every column. By default they are removed and
    /// counted when rows have an order id, and kept (with a warning) when
    /// not: without an order id two identical rows can be two purchases.
    #[arg(long, help_heading = "Validation", conflicts_with = "drop_duplicates")]
    keep_duplicates: bool,

    /// Remove identical rows even when there is no order id.
    #[arg(long, help_heading = "Validation")]
    drop_duplicates: bool,

    /// Reject rows dated after this day (YYYY-MM-DD, 'today' or 'yesterday').
    #[arg(long, value_name = "DATE", value_parser = crate::args::parse_day, help_heading = "Validation")]
    as_of: Option<chrono::NaiveDate>,

    /// A customer attribute table (region, signup_date, acquisition_cost...)
    /// joined on customer_id; orphans on both sides are counted.
    #[arg(long, value_name = "FILE", help_heading = "Sources")]
    customers: Option<PathBuf>,

    /// Add a column of this name holding each row's input file.
    #[arg(long, value_name = "NAME", help_heading = "Sources")]
    source_column: Option<String>,

    /// Write the quality report as JSON to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    quality_report: Option<PathBuf>,
}

/// Runs `cpm ingest`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let load = load_options(&args)?;
    let customer_table: Vec<_> = args.customers.iter().cloned().collect();
    let (inputs, output) = inputs_and_output(
        &args.input,
        &args.output,
        &[args.rejects.as_deref(), args.quality_report.as_deref()],
        &customer_table,
        ui,
    )?;
    let outputs = IngestOutputs {
        rows: output.path(),
        batch_format: output.batch_format(),
        rejects: args.rejects.as_deref(),
        customers: args.customers.as_deref(),
        guard_rows: output.guards_formulas(),
        guard_rejects: output.guards_side_files(),
    };
    let ingested = cpm::pipeline::ingest(&inputs, &load, &outputs, ui)?;
    ui.step("read and validate");
    let report = &ingested.report;
    told(report, &args, ui);
    // the rejects and the report are put in place with the output (all,
    // or none), or alone when too many rows were rejected
    let mut staged: Vec<Staged> = ingested.rejects_file.into_iter().collect();
    if let Some(path) = &args.quality_report {
        staged.push(cpm::io::atomic::stage(path, |w| {
            serde_json::to_writer_pretty(&mut *w, report)?;
            Ok(w.write_all(b"\n")?)
        })?);
    }
    let rejects_listed = args.rejects.is_some();
    if let Err(too_many) =
        cpm::pipeline::check_rejects(report, &ingested.first_rejects, &load, rejects_listed)
    {
        output.commit(staged)?;
        return Err(too_many);
    }
    match ingested.kept {
        Kept::Staged(file) => {
            staged.push(file);
            output.commit(staged)?;
        }
        Kept::Spooled(temp) => {
            output.commit(staged)?;
            cpm::io::write_stdout(|w| {
                let mut rows = std::fs::File::open(temp.path())?;
                std::io::copy(&mut rows, w)?;
                Ok(())
            })?;
        }
        Kept::Whole(frame) => output.write_after(&frame, staged)?,
    }
    ui.step("write");
    Ok(())
}

/// The front half's options of `args`: ingest's duplicates policy, the
/// source column, the as-of day and the filter, with the kept rows'
/// facts for the quality report.
fn load_options(args: &Args) -> Result<LoadOptions> {
    let front = args.input.load_options()?;
    Ok(LoadOptions {
        ingest: IngestConfig {
            as_of: args.as_of,
            duplicates: if args.keep_duplicates {
                DuplicatePolicy::Keep
            } else if args.drop_duplicates {
                DuplicatePolicy::Remove
            } else {
                DuplicatePolicy::Auto
            },
            source_column: args.source_column.clone(),
            kept_facts: true,
            filter: args.input.filter.clone(),
            ..front.ingest.clone()
        },
        ..front
    })
}

/// Tells the quality report: the date layouts (-v), each input's
/// warnings, the report itself, and what deserves a second look (rows
/// kept that repeat others, no rows, order dates after today).
fn told(report: &cpm::ingest::QualityReport, args: &Args, ui: &Ui) {
    for input in &report.inputs {
        if let Some(layout) = &input.date_format {
            ui.info(&format!("{}: dates read as {layout}", input.name));
        }
        for warning in &input.warnings {
            ui.warn(warning);
        }
    }
    ui.print(&report.render(args.output.width));
    if report.identical_rows_kept > 0 && !args.keep_duplicates {
        ui.warn(&format!(
            "{} rows repeat an earlier row exactly; kept, because without an order id they may \
             be separate purchases (--drop-duplicates removes them)",
            report.identical_rows_kept
        ));
    }
    if report.rows_read == 0 {
        ui.warn("the input has a header but no rows");
    }
    let today = chrono::Local::now().date_naive().to_string();
    if let Some(last) = report.kept.as_ref().and_then(|k| k.last_date.as_ref())
        && **last > *today
    {
        ui.warn(&format!(
            "the latest order date, {last}, is after today: check the export; segment, value \
             and report take the day after the latest date as the as-of day unless --as-of \
             (--as-of today leaves future rows out)"
        ));
    }
}
