//! `cpm value`: what are the customers worth? Historic profit, and the
//! BG/NBD + Gamma-Gamma predictions: P(alive), expected purchases, the
//! chance of no purchase, expected order value and CLV over a horizon.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cpm::io::TableStyle;
use cpm::summary::{SummaryConfig, TimeUnit};
use cpm::value::clv::Horizon;
use cpm::value::holdout::Holdout;
use cpm::value::{Model, ValueConfig, Valued};
use polars::prelude::*;

use super::inputs_and_output;
use crate::args::{AsOfArg, InputArgs, OutputArgs, TierArgs, TimeUnitArg};
use crate::ui::Ui;
use cpm::io::batches::Batches;
use cpm::pipeline::Loaded;

const EXAMPLES: &str = "\
Examples:
  # value every customer of an export: fit, predict 12 months, CLV
  cpm value retail_export.csv -o valued.parquet

  # after segment, in a pipeline; 52 weeks at a 12% annual discount rate
  cpm segment retail_export.csv --format ipc | cpm value --horizon 52w \\
      --discount-rate 0.12 > valued.csv

  # fit monthly, keep the model, score weekly without refitting
  cpm value retail_export.csv --model-out model.json -o /dev/null
  cpm value retail_export.csv --model-in model.json -o scores.csv

  # the top 20 customers by CLV
  cpm value retail_export.csv --sort clv:desc --limit 20 \\
      --columns customer_id,clv,p_alive -o top20.csv

  # a lifetimes-style summary (frequency, recency, T[, monetary_value]) in weeks
  cpm value cdnow_customers_summary.csv --time-unit week -o summary_valued.csv";

/// Arguments of `cpm value`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    output: OutputArgs,

    #[command(flatten)]
    as_of: AsOfArg,

    /// Time unit of the models: day or week (the default). Their parameters
    /// depend on it (it is stored with the model, so --model-in sets it);
    /// weeks suit most retail data.
    #[arg(long, value_enum, help_heading = "Model")]
    time_unit: Option<TimeUnitArg>,

    /// Prediction and CLV horizon with its unit: 12m, 52w, 365d.
    #[arg(
        long,
        default_value = "12m",
        value_name = "SPAN",
        help_heading = "Model"
    )]
    horizon: Horizon,

    /// Annual discount rate of the CLV (0.1 = 10%), applied monthly.
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "RATE",
        help_heading = "Model"
    )]
    discount_rate: f64,

    /// Margin as a fraction of revenue, for profit and CLV when the input
    /// has no cost (without either, both are in revenue).
    #[arg(long, value_name = "FRACTION", help_heading = "Model")]
    margin: Option<f64>,

    /// L2 penalty on the model parameters (lifetimes' penalizer_coef), for
    /// fits that do not converge.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "COEF",
        help_heading = "Model"
    )]
    penalty: f64,

    /// Save the fitted models as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    model_out: Option<PathBuf>,

    /// Score with saved models instead of fitting.
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    model_in: Option<PathBuf>,

    /// Fit on transactions up to this day, predict the days after it up to
    /// the as-of day, and compare with what happened.
    #[arg(long, value_name = "DATE", value_parser = crate::args::parse_day, help_heading = "Holdout")]
    calibration_end: Option<chrono::NaiveDate>,

    /// Write the holdout comparison as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Holdout")]
    holdout_report: Option<PathBuf>,

    /// With a segmented input (after `cpm segment`), tiers and matrix cells
    /// are placed afresh on clv and p_alive, as `segment` would place them
    /// after `value`.
    #[command(flatten)]
    tiers: TierArgs,
}

/// Runs `cpm value`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    if !(0.0..=10.0).contains(&args.discount_rate) {
        bail!(cpm::error::usage(format!(
            "--discount-rate {} must be an annual rate between 0 and 10",
            args.discount_rate
        )));
    }
    if let Some(m) = args.margin
        && !(-1.0..=1.0).contains(&m)
    {
        bail!(cpm::error::usage(format!(
            "--margin {m} must be a fraction of revenue (e.g. 0.3)"
        )));
    }
    let model_in: Option<Model> = match &args.model_in {
        Some(path) => Some(read_model(path)?),
        None => None,
    };
    if !(args.penalty.is_finite() && args.penalty >= 0.0) {
        bail!(cpm::error::usage(format!(
            "--penalty {}: a finite number, 0 or more",
            args.penalty
        )));
    }
    let time_unit = match (&model_in, args.time_unit) {
        (Some(model), Some(unit)) if model.time_unit != unit.into() => {
            bail!(cpm::error::usage(format!(
                "--time-unit {} disagrees with the model, which was fitted in {}s: leave \
                 --time-unit out with --model-in",
                TimeUnit::from(unit).name(),
                model.time_unit.name()
            )))
        }
        (Some(model), _) => model.time_unit,
        (None, unit) => unit.map_or(TimeUnit::Week, Into::into),
    };
    let config = ValueConfig {
        time_unit,
        horizon: args.horizon,
        discount_rate: args.discount_rate,
        margin: args.margin,
        penalty: args.penalty,
    };
    let summary_config = SummaryConfig {
        as_of: args.as_of.as_of,
        time_unit,
    };
    let model_file: Vec<_> = args.model_in.iter().cloned().collect();
    let (inputs, output) = inputs_and_output(
        &args.input,
        &args.output,
        &[args.model_out.as_deref(), args.holdout_report.as_deref()],
        &model_file,
        ui,
    )?;

    let calibration_end = args.calibration_end;
    if calibration_end.is_none() && args.holdout_report.is_some() {
        bail!(cpm::error::usage(
            "--holdout-report needs --calibration-end"
        ));
    }
    let load = args.input.load_options()?;
    let (table, as_of, holdout) = match calibration_end {
        // a large canonical Parquet file is summarised a batch at a time
        None => {
            let customers =
                cpm::pipeline::customers(&inputs, &load, &summary_config, is_customer_table, ui)?;
            (customers.table, customers.as_of, None)
        }
        // the holdout reads the transactions whole: it needs the rows
        Some(end) => match cpm::pipeline::load(&inputs, &load, is_customer_table, ui)? {
            Loaded::Customers(_) | Loaded::Facts(_) => bail!(cpm::error::usage(
                "--calibration-end needs transactions, not a customer or facts table: what \
                 happened after the calibration comes from them"
            )),
            Loaded::Transactions(transactions, _) => {
                let full =
                    cpm::pipeline::summarize(&Batches::Frame(&transactions), &summary_config, ui)?;
                let as_of = full.as_of.unwrap_or(end);
                let (calibrated, holdout) =
                    Holdout::calibrate(&transactions, full.table, end, as_of, time_unit)?;
                (calibrated, Some(end), Some(holdout))
            }
        },
    };
    let valued = cpm::value::value(table, &config, &args.tiers.config(), as_of, model_in)?;
    for caution in &valued.cautions {
        ui.warn(caution);
    }
    let Valued {
        mut table,
        model,
        inputs: model_inputs,
        ..
    } = valued;
    ui.step("value");
    let style = TableStyle {
        width: args.output.width,
        ..TableStyle::default()
    };
    // the side files are put in place with the output: all, or none
    let mut staged = Vec::new();
    if let Some(holdout) = &holdout {
        let report =
            cpm::value::holdout::holdout_report(&mut table, &model_inputs, &model, holdout)?;
        ui.print(&rendered(&cpm::value::tables::holdout(&report)?, &style));
        if let Some(path) = &args.holdout_report {
            staged.push(cpm::io::atomic::stage(path, |w| {
                serde_json::to_writer_pretty(&mut *w, &report)?;
                Ok(writeln!(w)?)
            })?);
        }
        ui.step("holdout");
    }
    if table.column("profit").is_ok() {
        ui.print(&rendered(
            &cpm::value::tables::profitability(&table)?,
            &style,
        ));
        ui.step("profitability");
    }
    let report = cpm::value::tables::model(&model, &config)?;
    if let Some(path) = &args.model_out {
        staged.push(cpm::io::atomic::stage(path, |w| {
            serde_json::to_writer_pretty(&mut *w, &model)?;
            Ok(writeln!(w)?)
        })?);
    }
    let on_terminal = output.is_terminal_summary(&args.output);
    let text = cpm::io::table::render_table(&report, &style);
    if on_terminal {
        output.commit(staged)?;
        return cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?));
    }
    ui.print(&text);
    output.write_after(&table, staged)?;
    ui.step("write");
    Ok(())
}

/// A customer table for `value`: cpm's, or a lifetimes-style summary
/// (frequency, recency, T) or BTYD's (x, t_x, T).
fn is_customer_table(frame: &DataFrame) -> bool {
    let has = |name: &str| frame.column(name).is_ok();
    cpm::segment::is_customer_table(frame)
        || (has("T") && ((has("frequency") && has("recency")) || (has("x") && has("t_x"))))
}

/// Reads a model saved by --model-out.
fn read_model(path: &std::path::Path) -> Result<Model> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the model {}", path.display()))?;
    Model::from_json(&text, &path.display().to_string())
}

/// Tables for people on stderr, one after the other.
fn rendered(tables: &[DataFrame], style: &TableStyle) -> String {
    let style = style.for_summaries();
    tables
        .iter()
        .map(|table| cpm::io::table::render_table(table, &style))
        .collect()
}
