//! `cpm segment`: the customer table with RFM scores, named segments and
//! their playbook, value tiers and the value/risk matrix.

use std::path::PathBuf;

use anyhow::{Result, bail};
use cpm::io::TableStyle;
use cpm::segment::{Monetary, RfmConfig, Rule, ScoringMethod, SegmentConfig, Segmented};
use cpm::summary::SummaryConfig;
use polars::prelude::*;

use crate::args::{AsOfArg, EngineArgs, InputArgs, OutputArgs, TierArgs, TimeUnitArg};
use crate::ui::Ui;

const EXAMPLES: &str = "\
Examples:
  # segment summary on stderr, customer table to a file
  cpm segment retail_export.csv -o customers.parquet --summary

  # straight from an ingest, in binary form
  cpm ingest retail_export.csv --format ipc | cpm segment > customers.csv

  # fixed recency thresholds in days, mean spend, weeks for tenure
  cpm segment retail_export.csv --r-edges 30,90,180,365 --monetary mean --time-unit week \\
      -o fixed.csv

  # the segment summary per country, as of the end of the quarter
  cpm segment retail_export.csv --as-of 2023-09-30 --by Country \\
      --summary-out segments.csv -o /dev/null

  # Champions and At Risk only, most revenue first
  cpm segment retail_export.csv --keep \"segment IN ('Champions', 'At Risk')\" \\
      --sort revenue:desc -o focus.csv";

/// Arguments of `cpm segment`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    output: OutputArgs,

    #[command(flatten)]
    as_of: AsOfArg,

    /// Unit of first_to_last and tenure: day or week (= days / 7).
    #[arg(long, value_enum, default_value_t = TimeUnitArg::Day, help_heading = "Facts")]
    time_unit: TimeUnitArg,

    /// Scores per RFM dimension (2 to 9).
    #[arg(long, default_value_t = 5, value_name = "N", help_heading = "RFM")]
    bins: usize,

    /// Fixed recency edges in days, ascending (e.g. 30,90,180,365).
    #[arg(long, value_delimiter = ',', value_name = "DAYS", help_heading = "RFM")]
    r_edges: Option<Vec<f64>>,

    /// Fixed frequency edges in orders, ascending (e.g. 2,3,5,10).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ORDERS",
        help_heading = "RFM"
    )]
    f_edges: Option<Vec<f64>>,

    /// Fixed monetary edges, ascending.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "AMOUNTS",
        help_heading = "RFM"
    )]
    m_edges: Option<Vec<f64>>,

    /// How scores are cut: rank (ntile over the rank, ties at the lowest
    /// score they span, the customers above spread over the scores left; so
    /// one-time buyers score F1) or rfm-r (the R rfm package's quantile
    /// breaks, each plus 1, as rfm 0.3.0 does).
    #[arg(long, value_enum, default_value_t = ScoringArg::Rank, help_heading = "RFM")]
    scoring: ScoringArg,

    /// Segment rule table: default (11 segments covering all 125 codes),
    /// rfm-r (the R rfm package's table; unmatched codes are "Others"), or a
    /// TOML file of [[segment]] entries (name, r, f, m, strategy, action)
    /// that must cover every code exactly once.
    #[arg(
        long,
        default_value = "default",
        value_name = "TABLE",
        help_heading = "RFM"
    )]
    rules: String,

    /// Add each customer's next best item (`next_best`): of the categories
    /// (else products) they have not bought, the one with the highest lift
    /// from theirs. Needs transaction lines with a category or product.
    #[arg(long, help_heading = "Cross-sell")]
    next_best: bool,

    /// Monetary score from total revenue or mean order value.
    #[arg(long, value_enum, default_value_t = MonetaryArg::Total, help_heading = "RFM")]
    monetary: MonetaryArg,

    #[command(flatten)]
    tiers: TierArgs,

    /// Break the segment summary down by these columns (e.g. region,channel).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "COLUMNS",
        help_heading = "Summary"
    )]
    by: Vec<String>,

    /// Print the segment and tier summaries on stderr.
    #[arg(long, help_heading = "Summary")]
    summary: bool,

    /// Write the segment summary to FILE (format from its extension).
    #[arg(long, value_name = "FILE", help_heading = "Summary")]
    summary_out: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineArgs,
}

/// `--scoring`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ScoringArg {
    Rank,
    RfmR,
}

/// `--monetary`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum MonetaryArg {
    Total,
    Mean,
}

/// Runs `cpm segment`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let summary_config = SummaryConfig {
        as_of: args.as_of.as_of,
        time_unit: args.time_unit.into(),
    };
    let config = config(&args)?;
    let (inputs, output) = super::inputs_or_engine(
        &args.input,
        &args.engine,
        &args.output,
        &[args.summary_out.as_deref()],
        &[],
        ui,
    )?;
    let (customers, baskets) = match args.next_best {
        true => with_baskets(&inputs, &args, &summary_config, ui)?,
        false => {
            let customers = super::customers(
                &inputs,
                &args.input,
                &args.engine,
                &summary_config,
                cpm::segment::is_customer_table,
                ui,
            )?;
            (customers.table, None)
        }
    };
    check_breakdowns(&customers, &args.by)?;
    let mut segmented = cpm::segment::segment(&customers, &config)?;
    if let Some(baskets) = &baskets {
        let best = cpm::crosssell::next_best_column(&segmented.customers, baskets)?;
        segmented.customers.with_column(best)?;
        ui.step("next best");
    }
    report_scorings(&segmented, ui);
    ui.step("segment");
    let on_terminal = output.is_terminal_summary(&args.output);
    // the summaries cost a few group-bys: made only when someone reads them
    if !(on_terminal || args.summary || args.summary_out.is_some()) {
        output.write(&segmented.customers)?;
        ui.step("write");
        return Ok(());
    }
    let style = TableStyle {
        width: args.output.width,
        ..TableStyle::default()
    };
    let (summaries, staged) = summaries(&segmented, &args, &style)?;
    if args.summary {
        ui.print(&summaries);
    }
    if on_terminal {
        output.commit(staged)?;
        return cpm::io::write_stdout(|w| Ok(w.write_all(summaries.as_bytes())?));
    }
    output.write_after(&segmented.customers, staged)
}

/// `--next-best`: the customers of the transaction lines of `inputs` and
/// the items each bought (the lines are read again, so they are spooled).
fn with_baskets(
    inputs: &[cpm::io::Input],
    args: &Args,
    summary: &SummaryConfig,
    ui: &Ui,
) -> Result<(DataFrame, Option<cpm::crosssell::Baskets>)> {
    if args.engine.is_remote() {
        bail!(cpm::error::usage(
            "--next-best reads the lines here, their categories or products: no --engine"
        ));
    }
    let options = args.input.load_options()?;
    let read = cpm::pipeline::transactions(inputs, &options, cpm::segment::is_customer_table, ui)?;
    let Some(lines) = read.batches() else {
        bail!(cpm::error::usage(
            "--next-best needs transaction lines with a category or product column, not a \
             customer table"
        ));
    };
    let customers = cpm::pipeline::summarize(&lines, summary, ui)?.table;
    let Some(baskets) = cpm::crosssell::Baskets::read(&lines, summary.as_of)? else {
        bail!(cpm::error::usage(
            "--next-best: the lines have no category or product column (map one: --map \
             category=COLUMN or --map product=StockCode)"
        ));
    };
    Ok((customers, Some(baskets)))
}

/// The library's settings of `args` (the `--rules` file read).
fn config(args: &Args) -> Result<SegmentConfig> {
    Ok(SegmentConfig {
        rfm: RfmConfig {
            bins: args.bins,
            r_edges: args.r_edges.clone(),
            f_edges: args.f_edges.clone(),
            m_edges: args.m_edges.clone(),
            monetary: match args.monetary {
                MonetaryArg::Total => Monetary::Total,
                MonetaryArg::Mean => Monetary::Mean,
            },
            scoring: match args.scoring {
                ScoringArg::Rank => ScoringMethod::Rank,
                ScoringArg::RfmR => ScoringMethod::RfmR,
            },
        },
        rules: rule_table(&args.rules)?,
        tiers: args.tiers.config(),
    })
}

/// A usage error for a `--by` column the summary cannot be broken down
/// by: one of its own, or one the customer table lacks.
fn check_breakdowns(customers: &DataFrame, by: &[String]) -> Result<()> {
    for by in by {
        if cpm::segment::SUMMARY_COLUMNS.contains(&by.as_str()) {
            bail!(cpm::error::usage(format!(
                "--by {by}: a column of the summary itself; break the summary down by an \
                 attribute of the customers (region, channel)"
            )));
        }
        cpm::groups::check_attribute(customers, "--by", by)?;
    }
    Ok(())
}

/// The segment and tier summaries for people, and the summary table
/// staged for `--summary-out` (put in place with the output).
fn summaries(
    segmented: &Segmented,
    args: &Args,
    style: &TableStyle,
) -> Result<(String, Vec<cpm::io::atomic::Staged>)> {
    let mut summary = cpm::segment::segment_summary(&segmented.customers, &args.by)?;
    let tiers = cpm::segment::tier_summary(&segmented.customers, &segmented.value_column)?;
    let text = summaries_text(&summary, &tiers, style)?;
    let mut staged = Vec::new();
    if let Some(path) = &args.summary_out {
        let format = cpm::io::choose_format(Some(path), None, false)?;
        staged.push(cpm::io::atomic::stage(path, |w| {
            cpm::io::write_frame(&mut summary, format, style, w)
        })?);
    }
    Ok((text, staged))
}

/// The summaries for people: segments (the action moved to a playbook
/// table of its own, so the figures stay readable), then tiers.
fn summaries_text(summary: &DataFrame, tiers: &DataFrame, style: &TableStyle) -> Result<String> {
    let figures = summary.drop("action")?;
    let playbook = summary
        .select(["segment", "strategy", "action"])?
        .unique_stable(Some(&["segment".into()]), UniqueKeepStrategy::First, None)?;
    cpm::present::terminal::render_frames([&figures, tiers, &playbook], style)
}

/// `--rules`: a built-in table's name, or a TOML file.
fn rule_table(choice: &str) -> Result<Option<Vec<Rule>>> {
    match choice {
        "default" => Ok(None),
        "rfm-r" => Ok(Some(cpm::segment::rules::rfm_r_rules())),
        path => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                cpm::error::usage(format!(
                    "--rules '{path}': not default, rfm-r, or a readable TOML file ({e})"
                ))
            })?;
            Ok(Some(cpm::segment::rules::rules_from_toml(&text, path)?))
        }
    }
}

/// Warns when the data could not fill every score, naming the remedies,
/// and shows breaks with -v.
fn report_scorings(segmented: &Segmented, ui: &Ui) {
    for s in &segmented.scorings {
        let breaks: Vec<String> = s.breaks.iter().map(|b| format!("{b:.2}")).collect();
        ui.info(&format!("{}: breaks {}", s.dimension, breaks.join(", ")));
        if s.scores_used.len() < s.bins {
            let used: Vec<String> = s.scores_used.iter().map(u8::to_string).collect();
            let edges = match s.dimension {
                "recency" => "--r-edges 30,90,180,365",
                "frequency" => "--f-edges 2,3,5,10",
                _ => "--m-edges 50,100,250,500",
            };
            ui.warn(&format!(
                "{}: only {} of {} scores used ({}): too few distinct values among the \
                 customers (breaks {}); fixed edges choose the scores yourself ({edges}), or \
                 try --bins {} or --scoring rfm-r",
                s.dimension,
                s.scores_used.len(),
                s.bins,
                used.join(", "),
                breaks.join(", "),
                s.scores_used.len().max(2),
            ));
        }
    }
}
