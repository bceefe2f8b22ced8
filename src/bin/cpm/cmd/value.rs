//! `cpm value`: what are the customers worth? Historic profit, and the
//! BG/NBD + Gamma-Gamma predictions: P(alive), expected purchases, the
//! chance of no purchase, expected order value and CLV over a horizon.

use std::path::PathBuf;

use anyhow::{Result, bail};
use cpm::io::TableStyle;
use cpm::io::atomic::Staged;
use cpm::present::terminal::render_frames;
use cpm::summary::SummaryConfig;
use cpm::value::compare::Comparison;
use cpm::value::holdout::Holdout;
use cpm::value::{ValueConfig, Valued};
use polars::prelude::*;

use crate::args::{
    AsOfArg, CalibrationArg, EngineArgs, InputArgs, IntervalArgs, ModelArg, ModelArgs, OutputArgs,
    TierArgs,
};
use crate::ui::Ui;

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
  cpm value cdnow_customers_summary.csv --time-unit week -o summary_valued.csv

  # subscriptions (customer_id, start, end, plan, revenue): sBG per plan
  cpm value subscriptions.csv --model sbg --period month --by plan -o renewals.csv";

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

    #[command(flatten)]
    model: ModelArgs,

    #[command(flatten)]
    intervals: IntervalArgs,

    #[command(flatten)]
    calibration: CalibrationArg,

    /// Write the holdout comparison as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Holdout")]
    holdout_report: Option<PathBuf>,

    /// With a segmented input (after `cpm segment`), tiers and matrix cells
    /// are placed afresh on clv and p_alive, as `segment` would place them
    /// after `value`.
    #[command(flatten)]
    tiers: TierArgs,

    /// Save the fitted models as JSON (for --model-in here, in allocate
    /// and in report).
    #[arg(long, value_name = "FILE", help_heading = "Model")]
    model_out: Option<PathBuf>,

    /// The renewal period of --model sbg: month (the default) or year.
    #[arg(long, value_enum, help_heading = "Subscriptions (--model sbg)")]
    period: Option<PeriodArg>,

    /// The profitability table also by these attributes of the customers
    /// (region,channel; repeatable). With --model sbg: one model per value
    /// of one column (a cohort, a plan).
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    by: Vec<String>,

    #[command(flatten)]
    engine: EngineArgs,
}

/// The renewal period of `--model sbg`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PeriodArg {
    /// Calendar months.
    Month,
    /// Calendar years.
    Year,
}

/// Runs `cpm value`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    if args.model.model == Some(ModelArg::Sbg) {
        return subscriptions(args, ui);
    }
    if args.period.is_some() {
        bail!(cpm::error::usage(
            "--period is --model sbg's (subscriptions)"
        ));
    }
    let valuation = args.model.valuation()?;
    let (mut config, mut model_in) = (valuation.config, valuation.model);
    config.intervals = args.intervals.config();
    if valuation.compare && args.calibration.calibration_end.is_none() {
        bail!(cpm::error::usage(
            "--model auto chooses the model on a holdout: give --calibration-end"
        ));
    }
    let summary_config = SummaryConfig {
        as_of: args.as_of.as_of,
        time_unit: config.time_unit,
    };
    (args.engine).check_remote(&args.input, args.calibration.calibration_end)?;
    if args.calibration.calibration_end.is_none() && args.holdout_report.is_some() {
        bail!(cpm::error::usage(
            "--holdout-report needs --calibration-end"
        ));
    }
    let model_file: Vec<_> = args.model.model_in.iter().cloned().collect();
    let model_out = args.model_out.as_deref();
    let (inputs, output) = super::inputs_or_engine(
        &args.input,
        &args.engine,
        &args.output,
        &[model_out, args.holdout_report.as_deref()],
        &model_file,
        ui,
    )?;
    let load = args.input.load_options()?;
    let (table, as_of, holdout) = match args.calibration.calibration_end {
        None => {
            let customers = super::customers(
                &inputs,
                &args.input,
                &args.engine,
                &summary_config,
                is_customer_table,
                ui,
            )?;
            (customers.table, customers.as_of, None)
        }
        Some(end) => {
            let read = cpm::pipeline::transactions(&inputs, &load, is_customer_table, ui)?;
            let source = read.batches().ok_or(cpm::pipeline::NeedsTransactions)?;
            let calibration = cpm::pipeline::calibrate(&source, &summary_config, end, ui)?;
            (calibration.calibrated, Some(end), Some(calibration.holdout))
        }
    };
    let comparison = match (&holdout, valuation.compare) {
        (Some(holdout), true) => {
            let compared = cpm::value::compare::compare(&table, &config, holdout)?;
            ui.step("models compared");
            config.model = compared.comparison.chosen;
            model_in = Some(compared.model);
            Some(compared.comparison)
        }
        _ => None,
    };
    let mut valued = cpm::value::value(table, &config, &args.tiers.config(), as_of, model_in)?;
    if cpm::value::without_spend(&valued.table)? {
        valued.table = valued.table.drop_many(cpm::value::SPEND_COLUMNS);
    }
    for caution in &valued.cautions {
        ui.warn(caution);
    }
    ui.step("value");
    let style = TableStyle {
        width: args.output.width,
        ..TableStyle::default()
    };
    let checked = holdout.as_ref().map(|h| (h, comparison));
    let (table, staged, text) = told(valued, checked, &args, &config, &style, ui)?;
    if output.is_terminal_summary(&args.output) {
        output.commit(staged)?;
        return cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?));
    }
    ui.print(&text);
    output.write_after(&table, staged)?;
    ui.step("write");
    Ok(())
}

/// Tells what the values say: the holdout comparison (and the models'
/// with `--model auto`) and the profitability on stderr, and the side
/// files (the holdout report, the model) staged, to be put in place with
/// the output, all or none. Returns the valued table, the staged files and
/// the model's summary.
fn told(
    valued: Valued,
    holdout: Option<(&Holdout, Option<Comparison>)>,
    args: &Args,
    config: &ValueConfig,
    style: &TableStyle,
    ui: &Ui,
) -> Result<(DataFrame, Vec<Staged>, String)> {
    let Valued {
        mut table,
        model,
        inputs: model_inputs,
        interval_totals,
        ..
    } = valued;
    let mut staged = Vec::new();
    if let Some((holdout, comparison)) = holdout {
        let mut report =
            cpm::value::holdout::holdout_report(&mut table, &model_inputs, &model, holdout)?;
        if let Some(comparison) = comparison {
            ui.print(&render_frames(
                &cpm::value::tables::comparison(&comparison)?,
                style,
            )?);
            for candidate in &comparison.candidates {
                if let Some(why) = &candidate.not_fitted {
                    ui.print(&format!(
                        "not compared: {}: {why}\n",
                        candidate.model.name()
                    ));
                }
            }
            ui.print(&format!("chosen: {}\n", comparison.why));
            report.comparison = Some(comparison);
        }
        let tables = cpm::value::tables::holdout(&report)?;
        ui.print(&render_frames(&tables, style)?);
        if let Some(path) = &args.holdout_report {
            staged.push(stage_json(path, &report)?);
        }
        ui.step("holdout");
    }
    if table.column("profit").is_ok() {
        let tables = cpm::value::tables::profitability(&table, &args.by)?;
        ui.print(&render_frames(&tables, style)?);
        ui.step("profitability");
    }
    if let Some(path) = &args.model_out {
        staged.push(stage_json(path, &model)?);
    }
    let mut summary = vec![cpm::value::tables::model(&model, config)?];
    if let Some(totals) = &interval_totals {
        summary.push(cpm::value::tables::interval_totals(totals)?);
    }
    Ok((table, staged, render_frames(&summary, style)?))
}

/// `value` as pretty JSON, staged at `path`.
fn stage_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<Staged> {
    cpm::io::atomic::stage(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        Ok(writeln!(w)?)
    })
}

/// A customer table for `value`: cpm's, or a lifetimes-style summary
/// (frequency, recency, T, or BG/BB's periods) or BTYD's (x, t_x, T).
fn is_customer_table(frame: &DataFrame) -> bool {
    let has = |name: &str| frame.column(name).is_ok();
    cpm::segment::is_customer_table(frame)
        || ((has("T") || has("periods"))
            && ((has("frequency") && has("recency")) || (has("x") && has("t_x"))))
}

/// `value --model sbg`: subscribers valued with the sBG model, one fit
/// per `--by` group.
fn subscriptions(args: Args, ui: &Ui) -> Result<()> {
    use cpm::value::subscriptions::{self, SubscriptionConfig, SubscriptionModel};
    if args.engine.is_remote() || args.calibration.calibration_end.is_some() {
        bail!(cpm::error::usage(
            "--model sbg reads a subscription table here: no --engine, no --calibration-end"
        ));
    }
    if args.model.time_unit.is_some() {
        bail!(cpm::error::usage(
            "--model sbg counts renewal periods: --period month|year, not --time-unit"
        ));
    }
    let model_in = match &args.model.model_in {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read the model {}: {e}", path.display()))?;
            Some(SubscriptionModel::from_json(
                &text,
                &path.display().to_string(),
            )?)
        }
        None => None,
    };
    let period = match (args.period, &model_in) {
        (_, Some(model)) => model.period,
        (Some(PeriodArg::Year), None) => cpm::summary::TimeUnit::Year,
        _ => cpm::summary::TimeUnit::Month,
    };
    if args.by.len() > 1 {
        bail!(cpm::error::usage(
            "--model sbg fits one model per value of one --by column"
        ));
    }
    let by = (model_in.as_ref()).map_or(args.by.first().cloned(), |m| m.by.clone());
    let config = SubscriptionConfig {
        period,
        as_of: args.as_of.as_of,
        by,
        horizon: args.model.horizon,
        discount_rate: args.model.discount_rate,
        margin: args.model.margin.margin,
        penalty: args.model.penalty,
    };
    let model_file: Vec<_> = args.model.model_in.iter().cloned().collect();
    let model_out = args.model_out.as_deref();
    let (inputs, output) = super::inputs_or_engine(
        &args.input,
        &args.engine,
        &args.output,
        &[model_out],
        &model_file,
        ui,
    )?;
    let loaded = cpm::pipeline::load(
        &inputs,
        &args.input.load_options()?,
        subscriptions::is_subscription_table,
        ui,
    )?;
    let cpm::pipeline::Loaded::Customers(table) = loaded else {
        bail!(
            "--model sbg needs a subscription table: customer_id, start, end (empty: still \
             active), or recency and T in renewal periods"
        );
    };
    let valued = subscriptions::value(table, &config, model_in)?;
    for caution in &valued.cautions {
        ui.warn(caution);
    }
    ui.step("value");
    let style = TableStyle {
        width: args.output.width,
        ..TableStyle::default()
    };
    let text = render_frames(&subscriptions::tables(&valued)?, &style)?;
    let staged: Vec<Staged> = match model_out {
        Some(path) => vec![stage_json(path, &valued.model)?],
        None => Vec::new(),
    };
    if output.is_terminal_summary(&args.output) {
        output.commit(staged)?;
        return cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?));
    }
    ui.print(&text);
    output.write_after(&valued.table, staged)?;
    ui.step("write");
    Ok(())
}
