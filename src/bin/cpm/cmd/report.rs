//! `cpm report`: the portfolio summary: KPIs, composition, concentration,
//! migration, cohorts, profitability, model health, data quality; for the
//! terminal, Markdown, JSON, HTML, and as CSV tables.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cpm::report::ReportConfig;
use cpm::report::assemble::{self, Assembly};
use cpm::report::economics::ChannelCosts;
use cpm::report::period::Period;
use cpm::report::render::Format;
use cpm::summary::SummaryConfig;

use super::{check_output, input_paths};
use crate::args::{AsOfArg, CalibrationArg, EngineArgs, InputArgs, IntervalArgs, ModelArgs};
use crate::ui::Ui;
use cpm::pipeline::LoadOptions;

const EXAMPLES: &str = "\
Examples:
  # the month ending on the last day of the data, on the terminal
  cpm report cdnow_master.csv

  # every Monday: last week's HTML page and JSON for the dashboard
  cpm report retail_export.csv --as-of today --period week -o weekly.html \\
      -o weekly.json -q

  # targets first on the page; cron mails a miss (exit code 3)
  cpm report retail_export.csv --target 'retention_rate>=0.25' \
      --target 'top_20pct_share<=0.8' --fail-on-miss -o weekly.html

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

    #[command(flatten)]
    as_of: AsOfArg,

    /// The KPI period: week, month or quarter, ending on the as-of day.
    #[arg(long, value_enum, default_value_t = PeriodArg::Month, help_heading = "Report")]
    period: PeriodArg,

    /// Skip the models (no CLV, P(alive) or model health); faster.
    #[arg(long, help_heading = "Report")]
    no_model: bool,

    #[command(flatten)]
    calibration: CalibrationArg,

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

    /// Break the portfolio down by these attributes of the customers
    /// (region,channel; repeatable): each value's composition, KPIs and
    /// concentration, and how diversified revenue is across the values.
    #[arg(
        long,
        value_name = "ATTRIBUTE",
        value_delimiter = ',',
        help_heading = "Report"
    )]
    by: Vec<String>,

    #[command(flatten)]
    model: ModelArgs,

    #[command(flatten)]
    intervals: IntervalArgs,

    /// Write the report to FILE (atomically); repeatable. The extension
    /// picks the format: .html .json .md .txt, or .eml for a mail message
    /// (the charts attached; for sendmail).
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

    /// Make the HTML page mail-safe: the charts as PNG images (mail
    /// clients strip inline SVG), drawn with the font cpm ships.
    #[arg(long, help_heading = "Output")]
    email: bool,

    /// Print when the report was made (otherwise the same input gives the
    /// same bytes).
    #[arg(long, help_heading = "Output")]
    stamp: bool,

    /// The page's title, e.g. "Acme, weekly" (default: Customer portfolio
    /// report).
    #[arg(long, value_name = "TEXT", help_heading = "Output")]
    title: Option<String>,

    /// Width of the terminal page in characters (default: the terminal's,
    /// at most 100; 100 when it does not tell).
    #[arg(long, value_name = "N", help_heading = "Output")]
    width: Option<u16>,

    /// Cost to serve one order (every customer without a cost_per_order
    /// of their own or of their channel).
    #[arg(long, value_name = "AMOUNT", help_heading = "Costs")]
    cost_per_order: Option<f64>,

    /// Cost to serve one line with a purchase (every customer without a
    /// cost_per_line of their own or of their channel).
    #[arg(long, value_name = "AMOUNT", help_heading = "Costs")]
    cost_per_line: Option<f64>,

    /// Cost of one refund line (every customer without a cost_per_refund
    /// of their own or of their channel).
    #[arg(long, value_name = "AMOUNT", help_heading = "Costs")]
    cost_per_refund: Option<f64>,

    /// A CSV of costs per channel: channel and any of acquisition_cost,
    /// cost_per_order, cost_per_line, cost_per_refund, joined on the
    /// customers' --channel-column.
    #[arg(long, value_name = "FILE", help_heading = "Costs")]
    acquisition_costs: Option<PathBuf>,

    /// The customers' column naming their acquisition channel.
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "channel",
        help_heading = "Costs"
    )]
    channel_column: String,

    /// Keep this run's headline figures in DIR (one small JSON per as-of
    /// day, replacing that day's) and show the last periods' trend from
    /// the entries there.
    #[arg(long, value_name = "DIR", help_heading = "Trend")]
    history: Option<PathBuf>,

    /// How many periods the trend shows, this one included.
    #[arg(long, value_name = "N", default_value_t = cpm::report::history::DEFAULT_LENGTH,
          value_parser = clap::value_parser!(usize), help_heading = "Trend")]
    history_length: usize,

    /// A goal for one of the report's figures, e.g. 'retention_rate>=0.35',
    /// 'churned_customers<=300', 'top_20pct_share<=0.7',
    /// 'revenue_change_pct>=0' (repeatable): shown met or missed first.
    #[arg(long = "target", value_name = "GOAL", help_heading = "Targets")]
    goals: Vec<cpm::report::targets::Target>,

    /// Exit with code 3 when a target is missed, after writing every
    /// output (for cron).
    #[arg(long, requires = "goals", help_heading = "Targets")]
    fail_on_miss: bool,

    #[command(flatten)]
    engine: EngineArgs,
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

/// Where each rendering goes.
struct Target {
    path: Option<PathBuf>,
    format: Format,
}

/// Runs `cpm report`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let targets = targets(&args)?;
    if args.model.model == Some(crate::args::ModelArg::Auto)
        && args.calibration.calibration_end.is_none()
    {
        bail!(cpm::error::usage(
            "--model auto chooses the model on a holdout: give --calibration-end"
        ));
    }
    if args.no_model && args.calibration.calibration_end.is_some() {
        bail!(cpm::error::usage(
            "--calibration-end checks the models: it does not go with --no-model"
        ));
    }
    (args.engine).check_remote(&args.input, args.calibration.calibration_end)?;
    let inputs = super::resolve(&args.input.inputs, ui)?;
    let outputs: Vec<&Path> = targets.iter().filter_map(|t| t.path.as_deref()).collect();
    super::check_distinct_outputs(&outputs)?;
    let mut protected = input_paths(&inputs);
    protected.extend(args.compare.iter().cloned());
    protected.extend(args.model.model_in.iter().cloned());
    for path in &outputs {
        check_output(path, &protected)?;
    }
    let summary = SummaryConfig {
        as_of: args.as_of.as_of,
        ..SummaryConfig::default()
    };
    let load = LoadOptions {
        stream_above: (args.input.stream_above).unwrap_or(cpm::facts::REPORT_STREAM_ABOVE),
        ..args.input.load_options()?
    };
    let period = args.period.into();
    let plan = match args.engine.remote(&args.input, summary.as_of)? {
        Some((source, options)) => {
            let session = cpm::engine::Session::open(source, options)?;
            assemble::read_in_engine(&session, &summary, period, ui)?
        }
        None => assemble::read(
            &inputs,
            &load,
            &summary,
            args.calibration.calibration_end,
            ui,
        )?,
    };
    let assembly = Assembly {
        as_of_given: args.as_of.as_of.is_some(),
        no_model: args.no_model,
        earlier: args
            .compare
            .as_deref()
            .map(|path| assemble::compared(path, ui))
            .transpose()?,
    };
    let config = ReportConfig {
        period,
        concentration_alert: args.concentration_alert,
        top_customers: args.top,
        stamp: args
            .stamp
            .then(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        title: args.title.clone(),
        models: {
            let mut models = args.model.valuation()?;
            models.config.intervals = args.intervals.config();
            models
        },
        targets: args.goals.clone(),
        by: args.by.clone(),
        costs: cpm::report::economics::CostInputs {
            cost_per_order: args.cost_per_order,
            cost_per_line: args.cost_per_line,
            cost_per_refund: args.cost_per_refund,
            channels: (args.acquisition_costs.as_deref())
                .map(|path| ChannelCosts::read(path, &args.channel_column))
                .transpose()?,
        },
    };
    let mut report = assemble::assemble(plan, assembly, &config, ui)?;
    let entry = match &args.history {
        Some(dir) => history(&mut report, dir, args.history_length, ui)?,
        None => None,
    };
    write_outputs(&report, &args, &targets, &protected, entry, ui)?;
    ui.step("write");
    let missed: Vec<String> = (report.targets.iter())
        .filter(|t| !t.met)
        .map(|t| match t.value {
            Some(value) => format!("{} (is {value:.4})", t.target),
            None => format!("{} (not in this report)", t.target),
        })
        .collect();
    if !missed.is_empty() {
        let message = format!(
            "{} of {} targets missed: {}",
            missed.len(),
            report.targets.len(),
            missed.join("; ")
        );
        if args.fail_on_miss {
            bail!(cpm::error::TargetsMissed(message));
        }
        ui.warn(&message);
    }
    Ok(())
}

/// `--history DIR`: the last periods' headlines from DIR into `report`,
/// this run's among them; this run's entry, to be written with the
/// outputs. Damaged entries are skipped with a warning and a note.
fn history(
    report: &mut cpm::report::Report,
    dir: &Path,
    length: usize,
    ui: &Ui,
) -> Result<Option<(PathBuf, String)>> {
    use cpm::report::history::{self, Headline};
    let Some(current) = Headline::of(report) else {
        ui.warn("--history: this report has no period KPIs (no transactions): nothing kept");
        return Ok(None);
    };
    if dir.exists() && !dir.is_dir() {
        bail!(cpm::error::usage(format!(
            "--history {}: a file is there, not a folder",
            dir.display()
        )));
    }
    let read = history::read(dir, current.period)?;
    for skipped in &read.skipped {
        ui.warn(&format!("--history: {skipped}: skipped"));
    }
    if !read.skipped.is_empty() {
        report.notes.push(format!(
            "history: {} damaged entries skipped ({})",
            read.skipped.len(),
            read.skipped.join("; ")
        ));
    }
    if read.other_periods > 0 {
        report.notes.push(format!(
            "history: {} entries of reports by another period left out",
            read.other_periods
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!(
            "--history {}: cannot create the folder ({})",
            dir.display(),
            cpm::io::source::io_reason(&e)
        )
    })?;
    let entry = (
        current.path(dir),
        format!("{}\n", serde_json::to_string_pretty(&current)?),
    );
    report.history = history::with_current(read.entries, current, length);
    Ok(Some(entry))
}

/// Renders `report` for every target (and `--tables-dir`) before anything
/// is written, then writes the files (and the `--history` entry) all or
/// none, then stdout: a failure leaves every previous file as it was.
/// `protected` are the inputs no table file may replace.
fn write_outputs(
    report: &cpm::report::Report,
    args: &Args,
    targets: &[Target],
    protected: &[PathBuf],
    entry: Option<(PathBuf, String)>,
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
    let files = (tables.iter().chain(&entry))
        .map(|(path, text)| (path, text))
        .chain(
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

/// `format`, the HTML page made mail-safe with `--email`.
fn mailed(format: Format, email: bool) -> Format {
    match format {
        Format::Html if email => Format::Email,
        other => other,
    }
}

/// The renderings asked for: one per `-o`, or stdout.
fn targets(args: &Args) -> Result<Vec<Target>> {
    if args.output.is_empty() {
        return Ok(vec![Target {
            path: None,
            format: mailed(args.format.unwrap_or(Format::Terminal), args.email),
        }]);
    }
    args.output
        .iter()
        .map(|path| {
            let format = match (Format::from_path(path), args.format) {
                (Some(format), _) => format,
                (None, Some(format)) if args.output.len() == 1 => format,
                _ => bail!(cpm::error::usage(format!(
                    "-o {}: the extension does not say the format (.html .json .md .txt .eml)",
                    path.display()
                ))),
            };
            Ok(Target {
                path: Some(path.clone()),
                format: mailed(format, args.email),
            })
        })
        .collect()
}
