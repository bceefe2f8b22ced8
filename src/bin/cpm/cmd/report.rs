//! `cpm report`: the portfolio summary: KPIs, composition, concentration,
//! migration, cohorts, profitability, model health, data quality; for the
//! terminal, Markdown, JSON, HTML, and as CSV tables.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use chrono::NaiveDate;
use cpm::io::Input;
use cpm::io::batches::Batches;
use cpm::report::period::Period;
use cpm::report::render::Format;
use cpm::report::{ReportConfig, Sources};
use cpm::segment::TierConfig;
use cpm::summary::SummaryConfig;
use cpm::value::holdout::HoldoutReport;
use cpm::value::{Filled, Model, ValueConfig};
use polars::prelude::*;

use super::{check_output, input_paths};
use crate::args::{InputArgs, MarginArg};
use crate::ui::Ui;
use cpm::pipeline::{Calibration, LoadOptions, Loaded, Spool, Spooled};

const EXAMPLES: &str = "\
Examples:
  # the month ending on the last day of the data, on the terminal
  cpm report cdnow_master.csv

  # every Monday: last week's HTML page and JSON for the dashboard
  cpm report retail_export.csv --as-of today --period week -o weekly.html \\
      -o weekly.json -q

  # Markdown for the team chat; the tables as CSV for a spreadsheet
  cpm report retail_export.csv --format markdown --tables-dir tables/ > report.md

  # at the end of a pipeline, with a holdout check of the models
  cpm ingest retail_export.csv --format ipc | cpm report --calibration-end 2023-06-30 \\
      -o holdout.md

  # a customer table against last month's, without the models
  cpm report report_customers_after.csv --compare report_customers_before.csv --no-model";

/// Arguments of `cpm report`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    /// Analysis day: the KPI period ends on it (YYYY-MM-DD or 'today').
    /// Default: the day after the last transaction, as for segment and
    /// value, and the period then ends on the last transaction's day.
    #[arg(long, value_name = "DATE", value_parser = crate::args::parse_day, help_heading = "Report")]
    as_of: Option<chrono::NaiveDate>,

    /// The KPI period: week, month or quarter, ending on the as-of day.
    #[arg(long, value_enum, default_value_t = PeriodArg::Month, help_heading = "Report")]
    period: PeriodArg,

    /// Skip the models (no CLV, P(alive) or model health); faster.
    #[arg(long, help_heading = "Report")]
    no_model: bool,

    /// Fit the models up to this day as well and compare their predictions
    /// with what happened after it (model health's holdout table).
    #[arg(long, value_name = "DATE", value_parser = crate::args::parse_day, help_heading = "Report")]
    calibration_end: Option<chrono::NaiveDate>,

    /// Migration from this earlier customer table (default: the segments
    /// at the end of the previous period, from the same transactions).
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    compare: Option<PathBuf>,

    /// Alert when the largest customer's share of revenue is above this
    /// (a fraction, or a percentage like 10%).
    #[arg(long, value_name = "SHARE", default_value = "0.1", value_parser = parse_share, help_heading = "Report")]
    concentration_alert: f64,

    /// How many of the largest customers to list.
    #[arg(long, value_name = "N", default_value_t = 10, help_heading = "Report")]
    top: usize,

    #[command(flatten)]
    margin: MarginArg,

    /// Write the report to FILE (atomically); repeatable. The extension
    /// picks the format: .html .json .md .txt.
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    output: Vec<PathBuf>,

    /// The format on stdout: terminal, markdown, json or html (default:
    /// terminal). With one -o whose extension says nothing, its format.
    #[arg(long, short = 'f', value_parser = format_parser(), value_name = "FORMAT", help_heading = "Output")]
    format: Option<Format>,

    /// Also write each table as DIR/NAME.csv.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    tables_dir: Option<PathBuf>,

    /// Write CSV tables as they are: no apostrophe before text a
    /// spreadsheet would run as a formula (= + - @).
    #[arg(long, help_heading = "Output")]
    no_excel_safe: bool,

    /// Print when the report was made (otherwise the same input gives the
    /// same bytes).
    #[arg(long, help_heading = "Output")]
    stamp: bool,

    /// Width of the terminal page in characters (default: the terminal's,
    /// at most 100; 100 when it does not tell).
    #[arg(long, value_name = "N", help_heading = "Output")]
    width: Option<u16>,
}

/// `--period`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PeriodArg {
    Week,
    Month,
    Quarter,
}

impl From<PeriodArg> for Period {
    fn from(period: PeriodArg) -> Period {
        match period {
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
            PeriodArg::Quarter => Period::Quarter,
        }
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(percent) => (percent, 100.0),
        None => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&(v / scale)) => Ok(v / scale),
        _ => Err("expected a share between 0 and 1, or a percentage like 10%".to_string()),
    }
}

/// `--format`: the report's formats by name, so that completions offer
/// them (table, text and md accepted too).
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    let values = Format::ALL.map(|(name, _)| {
        let aliases: &[&str] = match name {
            "terminal" => &["table", "text"],
            "markdown" => &["md"],
            _ => &[],
        };
        clap::builder::PossibleValue::new(name).aliases(aliases)
    });
    clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(values), |name| {
        Format::parse(&name).unwrap_or(Format::Terminal)
    })
}

/// How the report's inputs were read.
enum Read {
    /// Canonical transactions in a file read a batch at a time (the
    /// input, or a Parquet file spooled from a raw export: kept until the
    /// end).
    Batched(Batches<'static>, Option<Box<Spooled>>),
    /// Anything read whole.
    Whole(Loaded),
    /// The transactions of a holdout run, read whole, summarised at the
    /// as-of day and at the end of the calibration.
    Calibrated(Box<Calibration>),
}

/// Where each rendering goes.
struct Target {
    path: Option<PathBuf>,
    format: Format,
}

/// Runs `cpm report`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let targets = targets(&args)?;
    let margin = args.margin.margin;
    let as_of = args.as_of;
    let calibration_end = args.calibration_end;
    if args.no_model && calibration_end.is_some() {
        bail!(cpm::error::usage(
            "--calibration-end checks the models: it does not go with --no-model"
        ));
    }
    let inputs = super::resolve(&args.input.inputs, ui)?;
    let outputs: Vec<&std::path::Path> = targets.iter().filter_map(|t| t.path.as_deref()).collect();
    super::check_distinct_outputs(&outputs)?;
    let mut protected = input_paths(&inputs);
    protected.extend(args.compare.iter().cloned());
    for path in targets.iter().filter_map(|t| t.path.as_deref()) {
        check_output(path, &protected)?;
    }

    let mut notes = Vec::new();
    let summary_config = SummaryConfig {
        as_of,
        ..SummaryConfig::default()
    };
    let load = LoadOptions {
        stream_above: (args.input.stream_above).unwrap_or(cpm::facts::REPORT_STREAM_ABOVE),
        ..args.input.load_options()?
    };
    let is_table = cpm::segment::is_customer_table;
    // the transactions are read three times (facts, KPIs and cohorts, the
    // previous period's facts): a large canonical Parquet file, or a raw
    // export spooled to one, a batch at a time each time; anything else
    // whole (the holdout reads them whole: it needs the rows themselves)
    let large = match calibration_end {
        None => cpm::pipeline::large_canonical(&inputs, &load, is_table)?,
        Some(_) => None,
    };
    let read = match (large, calibration_end) {
        (Some(batches), _) => Read::Batched(batches, None),
        (None, None) => match cpm::pipeline::spool(&inputs, &load, is_table, ui)? {
            Spool::Spooled(spooled) => {
                Read::Batched(Batches::Parquet(spooled.file.clone()), Some(spooled))
            }
            Spool::Loaded(loaded) => Read::Whole(loaded),
        },
        (None, Some(end)) => Read::Calibrated(Box::new(cpm::pipeline::calibration(
            &inputs,
            &load,
            &summary_config,
            end,
            is_table,
            ui,
        )?)),
    };
    let (mut table, frame, quality, as_of) = match &read {
        Read::Batched(source, spooled) => {
            let summary = cpm::pipeline::summarize(source, &summary_config, ui)?;
            let quality = spooled.as_ref().map(|s| Box::new(s.quality.clone()));
            (summary.table, None, quality, summary.as_of)
        }
        Read::Calibrated(calibration) => (
            calibration.full.table.clone(),
            Some(&calibration.transactions),
            calibration.quality.clone(),
            calibration.full.as_of,
        ),
        Read::Whole(loaded) => match loaded {
            Loaded::Customers(table) => {
                let as_of = as_of.or_else(|| table_as_of(table));
                (table.clone(), None, None, as_of)
            }
            Loaded::Facts(facts) => {
                let customers = cpm::pipeline::derive(facts.clone(), &summary_config, ui)?;
                (customers.table, None, None, customers.as_of)
            }
            Loaded::Transactions(transactions, quality) => {
                let summary =
                    cpm::pipeline::summarize(&Batches::Frame(transactions), &summary_config, ui)?;
                (
                    summary.table,
                    Some(transactions),
                    quality.clone(),
                    summary.as_of,
                )
            }
        },
    };
    // the transactions, wherever they are
    let transactions: Option<Batches> = match (&read, frame) {
        (Read::Batched(source, _), _) => Some(source.clone()),
        (_, Some(frame)) => Some(Batches::Frame(frame)),
        _ => None,
    };
    if margin.is_none() && table.column("margin").is_err() {
        notes
            .push("no cost in the data and no --margin: profit and CLV are in revenue".to_string());
    }
    let valued = if args.no_model {
        notes.push("--no-model: no CLV, P(alive) or model health".to_string());
        None
    } else {
        valued(
            &mut table,
            transactions.is_some(),
            as_of,
            margin,
            &mut notes,
            ui,
        )?
    };
    if valued.is_none() && table.column("profit").is_err() && table.column("revenue").is_ok() {
        let (_, profit) = cpm::value::historic::profit(&table, margin)?;
        table.with_column(profit)?;
    }
    ui.step("value");
    let table = match cpm::segment::fill_in(table.clone()) {
        Ok(segmented) => segmented,
        Err(e) => {
            notes.push(format!(
                "no segments: {e:#} (composition, the R×F grid and the migration need them)"
            ));
            table
        }
    };
    ui.step("segment");

    let holdout = match (&read, &valued) {
        (Read::Calibrated(calibration), Some(_)) => Some(holdout(calibration, ui)?),
        _ => None,
    };
    // a default as-of day is the day after the last transaction: the
    // period ends on the last day with data
    let period_end = match (&args.as_of, as_of) {
        (None, Some(day)) if transactions.is_some() => day.pred_opt(),
        _ => as_of,
    };
    let earlier = if table.column("segment").is_ok() {
        earlier(&args, transactions.as_ref(), period_end, ui)?
    } else {
        None
    };
    if earlier.is_none() && table.column("segment").is_ok() {
        notes.push(match (&transactions, period_end) {
            (Some(_), Some(end)) => format!(
                "no migration: no customers before {}",
                cpm::report::previous_period_end(end, args.period.into()) + chrono::Days::new(1)
            ),
            _ => "no migration: it needs transactions, or an earlier customer table (--compare)"
                .to_string(),
        });
    }
    let config = ReportConfig {
        period: args.period.into(),
        concentration_alert: args.concentration_alert,
        top_customers: args.top,
        stamp: args
            .stamp
            .then(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        margin,
    };
    let sources = Sources {
        customers: &table,
        transactions: transactions.as_ref(),
        as_of,
        period_end,
        earlier: earlier
            .as_ref()
            .map(|(frame, label)| (frame, label.clone())),
        model: valued.as_ref(),
        holdout: holdout.as_ref(),
        quality: quality.as_deref(),
        notes,
    };
    let report = cpm::report::build(sources, &config)?;
    if let Some(warning) = report.kpis.as_ref().and_then(|k| k.empty_period_warning()) {
        ui.warn(&warning);
    }
    ui.step("report");

    write_outputs(&report, &args, &targets, &protected, ui)?;
    ui.step("write");
    Ok(())
}

/// Renders `report` for every target (and `--tables-dir`) before anything
/// is written, then writes the files all or none, then stdout: a failure
/// leaves every previous file as it was. `protected` are the inputs no
/// table file may replace.
fn write_outputs(
    report: &cpm::report::Report,
    args: &Args,
    targets: &[Target],
    protected: &[PathBuf],
    ui: &Ui,
) -> Result<()> {
    let page_width = args.width.filter(|w| *w > 0).unwrap_or_else(|| {
        cpm::io::table::terminal_width()
            .unwrap_or(cpm::io::table::DEFAULT_WIDTH)
            .min(cpm::io::table::DEFAULT_WIDTH)
    });
    let rendered = targets
        .iter()
        .map(|target| cpm::report::render::render(report, target.format, Some(page_width)))
        .collect::<Result<Vec<String>>>()?;
    let tables = match &args.tables_dir {
        Some(dir) => {
            let document = cpm::report::document::document(report);
            let files = cpm::report::render::csv::table_files(&document, !args.no_excel_safe)?;
            if dir.exists() && !dir.is_dir() {
                bail!(cpm::error::usage(format!(
                    "--tables-dir {}: a file is there, not a folder",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!(
                    "--tables-dir {}: cannot create the folder ({})",
                    dir.display(),
                    cpm::io::source::io_reason(&e)
                )
            })?;
            files
                .into_iter()
                .map(|(name, text)| {
                    let path = dir.join(name);
                    check_output(&path, protected)?;
                    Ok((path, text))
                })
                .collect::<Result<Vec<_>>>()?
        }
        None => Vec::new(),
    };
    // every file is written to its temporary file first, and renamed into
    // place only when all were written: all of them, or none
    let files = tables.iter().map(|(path, text)| (path, text)).chain(
        targets
            .iter()
            .zip(&rendered)
            .filter_map(|(target, text)| Some((target.path.as_ref()?, text))),
    );
    let staged = files
        .map(|(path, text)| cpm::io::atomic::stage(path, |w| Ok(w.write_all(text.as_bytes())?)))
        .collect::<Result<Vec<_>>>()?;
    cpm::io::atomic::commit_all(staged, ui.durable())?;
    if let Some(dir) = &args.tables_dir {
        ui.info(&format!(
            "{} tables written to {}",
            tables.len(),
            dir.display()
        ));
    }
    for (target, text) in targets.iter().zip(&rendered) {
        if target.path.is_none() {
            cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?))?;
        }
    }
    Ok(())
}

/// The renderings asked for: one per `-o`, or stdout.
fn targets(args: &Args) -> Result<Vec<Target>> {
    if args.output.is_empty() {
        return Ok(vec![Target {
            path: None,
            format: args.format.unwrap_or(Format::Terminal),
        }]);
    }
    args.output
        .iter()
        .map(|path| {
            let format = match (Format::from_path(path), args.format) {
                (Some(format), _) => format,
                (None, Some(format)) if args.output.len() == 1 => format,
                _ => bail!(cpm::error::usage(format!(
                    "-o {}: the extension does not say the format (.html .json .md .txt)",
                    path.display()
                ))),
            };
            Ok(Target {
                path: Some(path.clone()),
                format,
            })
        })
        .collect()
}

/// Values the customers with the models' defaults (and `margin`), adding
/// profit, P(alive) and CLV, when they have no CLV; `None` with a note when
/// the models were not fitted, and a warning too when the table came from
/// transactions.
fn valued(
    table: &mut DataFrame,
    from_transactions: bool,
    as_of: Option<NaiveDate>,
    margin: Option<f64>,
    notes: &mut Vec<String>,
    ui: &Ui,
) -> Result<Option<Model>> {
    let config = ValueConfig {
        margin,
        ..ValueConfig::default()
    };
    let input = std::mem::take(table);
    Ok(
        match cpm::value::fill_in(input, &config, &TierConfig::default(), as_of) {
            Filled::AsItWas(input) => {
                *table = input;
                notes.push(
                    "the input has CLV already: the models were not fitted again".to_string(),
                );
                None
            }
            Filled::Valued(valued, model) => {
                *table = valued;
                Some(*model)
            }
            Filled::NotValued(input, why) => {
                *table = input;
                if from_transactions {
                    ui.warn(&why);
                }
                notes.push(why);
                None
            }
        },
    )
}

/// Fits the models on the customers at the end of the calibration and
/// compares their predictions for the holdout with what happened.
fn holdout(calibration: &Calibration, ui: &Ui) -> Result<HoldoutReport> {
    let config = ValueConfig::default();
    let mut calibrated = calibration.calibrated.clone();
    let holdout = &calibration.holdout;
    let inputs = cpm::value::model_inputs(&calibrated, config.time_unit)?;
    let model = cpm::value::fit_models(&inputs, &config, Some(holdout.calibration_end))?;
    let report = cpm::value::holdout::holdout_report(&mut calibrated, &inputs, &model, holdout)?;
    ui.step("holdout");
    Ok(report)
}

/// The segmented customer table to migrate from: `--compare`'s file, or
/// the transactions' customers at the end of the period before the one
/// ending on `period_end`.
fn earlier(
    args: &Args,
    transactions: Option<&Batches>,
    period_end: Option<NaiveDate>,
    ui: &Ui,
) -> Result<Option<(DataFrame, String)>> {
    if let Some(path) = &args.compare {
        let input = [Input::Path(path.clone())];
        let table = match cpm::pipeline::load(
            &input,
            &InputArgs::defaults()?.load_options()?,
            cpm::segment::is_customer_table,
            ui,
        )? {
            Loaded::Customers(table) => table,
            Loaded::Facts(facts) => {
                cpm::pipeline::derive(facts, &SummaryConfig::default(), ui)?.table
            }
            Loaded::Transactions(..) => bail!(cpm::error::usage(format!(
                "--compare {}: expected a customer table (cpm segment's or cpm value's output), \
                 found transactions",
                path.display()
            ))),
        };
        return Ok(Some((cpm::segment::fill_in(table)?, display_name(path))));
    }
    let (Some(transactions), Some(period_end)) = (transactions, period_end) else {
        return Ok(None);
    };
    let end = cpm::report::previous_period_end(period_end, args.period.into());
    let config = SummaryConfig {
        as_of: Some(end),
        ..SummaryConfig::default()
    };
    let before = cpm::summary::summarize_batches(transactions, &config)?.customers;
    if before.height() == 0 {
        return Ok(None);
    }
    let table = cpm::segment::fill_in(before)?;
    ui.step("migration");
    Ok(Some((table, end.to_string())))
}

/// The as-of day of a customer table made by cpm: any customer's last
/// order plus its days since then.
fn table_as_of(table: &DataFrame) -> Option<NaiveDate> {
    if table.height() == 0 {
        return None;
    }
    let last = table
        .column("last_order")
        .ok()?
        .cast(&DataType::Date)
        .ok()?;
    let days = table
        .column("days_since_last")
        .ok()?
        .cast(&DataType::Int64)
        .ok()?;
    let last = last.date().ok()?.physical().get(0)?;
    let days = days.i64().ok()?.get(0)?;
    NaiveDate::default().checked_add_signed(chrono::Duration::days(i64::from(last) + days))
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
