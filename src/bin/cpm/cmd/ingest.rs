//! `cpm ingest`: raw exports in, the canonical transaction table out, with
//! rejects and a data-quality report.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cpm::ingest::{DuplicatePolicy, IngestConfig, QualityReport, Reject};
use cpm::io::atomic::{Stage, Staged, TempFile};
use cpm::io::batch_writer::{BatchWriter, TypeChanged};
use cpm::io::{Input, RawTable, ReadOptions};
use cpm::pipeline::LoadOptions;
use polars::prelude::*;

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

    /// Reject rows dated after this day (YYYY-MM-DD or 'today').
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
    let config = &load.ingest;
    let customer_table: Vec<_> = args.customers.iter().cloned().collect();
    let (inputs, output) = inputs_and_output(
        &args.input,
        &args.output,
        &[args.rejects.as_deref(), args.quality_report.as_deref()],
        &customer_table,
        ui,
    )?;
    let options: ReadOptions = args.input.read_options();
    let ingested = match streamed(&args, config, &inputs, &output, &options, ui)? {
        Some(streamed) => streamed,
        None => whole(&args, config, &inputs, &output, &options, ui)?,
    };
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
    match ingested.transactions {
        Transactions::Staged(file) => {
            staged.push(file);
            output.commit(staged)?;
        }
        Transactions::Spooled(temp) => {
            output.commit(staged)?;
            cpm::io::write_stdout(|w| {
                let mut rows = std::fs::File::open(temp.path())?;
                std::io::copy(&mut rows, w)?;
                Ok(())
            })?;
        }
        Transactions::Whole(frame) => output.write_after(&frame, staged)?,
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

/// An ingest's outcome, before anything is put in place.
struct Ingest {
    /// The kept rows.
    transactions: Transactions,
    /// The rejects file (`--rejects`), written.
    rejects_file: Option<Staged>,
    /// The first rejected rows (all of them when read whole), for messages.
    first_rejects: Vec<Reject>,
    report: QualityReport,
}

/// The kept rows: the output file written a batch at a time, the rows
/// for stdout written a batch at a time to a temporary file (copied once
/// every check has passed), or whole in memory.
enum Transactions {
    Staged(Staged),
    Spooled(TempFile),
    Whole(DataFrame),
}

/// Where the batches of kept rows are written.
enum RowsOut {
    /// The output file, staged.
    File(Stage),
    /// Stdout's rows, in a temporary file until every check has passed.
    Stdout(TempFile, std::io::BufWriter<std::fs::File>),
}

impl RowsOut {
    /// The output file staged, or a temporary file for stdout.
    fn open(path: Option<&std::path::Path>) -> Result<RowsOut> {
        Ok(match path {
            Some(path) => RowsOut::File(Stage::open(path)?),
            None => {
                let temp = TempFile::new(".rows")?;
                let file = std::fs::File::create(temp.path())
                    .with_context(|| format!("writing {}", temp.path().display()))?;
                RowsOut::Stdout(temp, std::io::BufWriter::new(file))
            }
        })
    }

    fn writer(&mut self) -> &mut dyn std::io::Write {
        match self {
            RowsOut::File(stage) => stage.writer(),
            RowsOut::Stdout(_, writer) => writer,
        }
    }

    /// The rows written, ready to be put in place or copied.
    fn finish(self) -> Result<Transactions> {
        Ok(match self {
            RowsOut::File(stage) => Transactions::Staged(stage.finish()?),
            RowsOut::Stdout(temp, mut writer) => {
                std::io::Write::flush(&mut writer).context("writing a temporary file")?;
                Transactions::Spooled(temp)
            }
        })
    }
}

/// Ingests CSV or Parquet files into the output (a file, or stdout through
/// a temporary file) a batch at a time ([`cpm::pipeline::stream_ingest`]):
/// memory does not grow with the rows.
/// `None` for any other run, or when a column changes type after the first
/// batch: that one is read whole.
fn streamed(
    args: &Args,
    config: &IngestConfig,
    inputs: &[Input],
    output: &super::Output,
    options: &ReadOptions,
    ui: &Ui,
) -> Result<Option<Ingest>> {
    let Some(format) = output.batch_format() else {
        return Ok(None);
    };
    let out_path = output.path().unwrap_or(std::path::Path::new("<stdout>"));
    let Some(opened) = cpm::pipeline::opened_for_batches(inputs, options, false)? else {
        return Ok(None);
    };
    let customers = customer_table(args, options, ui)?;
    let filter = args.input.row_filter()?;
    let batches = cpm::pipeline::RowBatches {
        csv: &options.csv,
        ingest: config,
        filter: filter.as_ref(),
        is_table: None,
        customers: customers.as_ref(),
    };
    let mut out = RowsOut::open(output.path())?;
    let rejects_path = args.rejects.as_deref().unwrap_or(out_path);
    let mut rejects_out = args.rejects.as_deref().map(Stage::open).transpose()?;
    let mut first_rejects = Vec::new();
    let guard_rows = output.guards_formulas();
    let guard_rejects = output.guards_side_files();
    let bar = ui.progress(opened.iter().map(|o| o.size).sum(), "reading");
    let read = {
        let Some(mut writer) = BatchWriter::new(format, out.writer()) else {
            return Ok(None);
        };
        let mut rejects_writer = rejects_out.as_mut().map(|stage| (stage.writer(), true));
        let report = cpm::pipeline::stream_ingest(
            &opened,
            &batches,
            &|n| bar.inc(n),
            &mut |rows| {
                let rows = match guard_rows {
                    true => cpm::io::spreadsheet::guard_formulas(&rows)?,
                    false => rows,
                };
                writer
                    .write(&rows)
                    .with_context(|| format!("writing {}", out_path.display()))
            },
            &mut |rejects| {
                if let Some((out, header)) = &mut rejects_writer {
                    let mut frame = rejects_frame(&rejects)?;
                    if guard_rejects {
                        frame = cpm::io::spreadsheet::guard_formulas(&frame)?;
                    }
                    CsvWriter::new(&mut **out)
                        .include_header(*header)
                        .finish(&mut frame)
                        .map_err(anyhow::Error::from)
                        .with_context(|| format!("writing {}", rejects_path.display()))?;
                    *header = false;
                }
                let room = cpm::pipeline::REJECTS_KEPT.saturating_sub(first_rejects.len());
                first_rejects.extend(rejects.into_iter().take(room));
                Ok(())
            },
        );
        report.and_then(|report| {
            writer
                .finish()
                .with_context(|| format!("writing {}", out_path.display()))?;
            Ok(report)
        })
    };
    bar.finish_and_clear();
    let report = match read {
        Ok(report) => report,
        Err(e) => match e.downcast_ref::<TypeChanged>() {
            Some(changed) => {
                ui.info(&format!("{changed}: the input is read whole"));
                return Ok(None);
            }
            None => return Err(e),
        },
    };
    for input in &report.inputs {
        ui.info(&format!(
            "{}: {}{}{}, {} rows",
            input.name,
            input.format,
            input
                .delimiter
                .as_ref()
                .map(|d| format!(", delimiter '{d}'"))
                .unwrap_or_default(),
            input
                .encoding
                .as_ref()
                .map(|e| format!(", encoding {e}"))
                .unwrap_or_default(),
            input.rows
        ));
    }
    Ok(Some(Ingest {
        transactions: out.finish()?,
        rejects_file: rejects_out.map(Stage::finish).transpose()?,
        first_rejects,
        report,
    }))
}

/// Ingests the inputs read whole.
fn whole(
    args: &Args,
    config: &IngestConfig,
    inputs: &[Input],
    output: &super::Output,
    options: &ReadOptions,
    ui: &Ui,
) -> Result<Ingest> {
    let tables = cpm::pipeline::read_all(inputs, options, ui)?;
    let ingested = cpm::ingest::ingest(tables, customer_table(args, options, ui)?, config)?;
    let rejects_file = match &args.rejects {
        Some(path) => {
            let mut frame = rejects_frame(&ingested.rejects)?;
            // a rejects file is read in a spreadsheet: its raw text guarded
            if output.guards_side_files() {
                frame = cpm::io::spreadsheet::guard_formulas(&frame)?;
            }
            Some(cpm::io::atomic::stage(path, |w| {
                Ok(CsvWriter::new(w).include_header(true).finish(&mut frame)?)
            })?)
        }
        None => None,
    };
    Ok(Ingest {
        transactions: Transactions::Whole(ingested.transactions),
        rejects_file,
        first_rejects: ingested.rejects,
        report: ingested.report,
    })
}

/// The customer attribute table (`--customers`), read.
fn customer_table(args: &Args, options: &ReadOptions, ui: &Ui) -> Result<Option<RawTable>> {
    Ok(match &args.customers {
        Some(path) => cpm::pipeline::read_all(&[Input::Path(path.clone())], options, ui)?.pop(),
        None => None,
    })
}

/// Rejects as a frame with the columns source, line, reason, raw.
fn rejects_frame(rejects: &[Reject]) -> Result<DataFrame> {
    Ok(df!(
        "source" => rejects.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(),
        "line" => rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
        "reason" => rejects.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
        "raw" => rejects.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
    )?)
}
