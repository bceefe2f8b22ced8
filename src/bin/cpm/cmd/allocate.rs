//! `cpm allocate`: split a budget across groups of customers for the best
//! expected return, compare with the usual splits, and list whom to
//! contact.

use std::path::PathBuf;

use anyhow::{Result, bail};
use cpm::allocate::plan::{AllocateConfig, Plan, Split, Targets};
use cpm::allocate::response::{Defaults, read_overrides};
use cpm::allocate::table as tables;
use cpm::allocate::targets::{Limits, TargetList};
use cpm::allocate::{Method, Response};
use cpm::io::TableStyle;
use cpm::io::human;
use cpm::present::terminal::render_frames;
use cpm::summary::SummaryConfig;

use crate::args::{AsOfArg, EngineArgs, InputArgs, ModelArgs, OutputArgs};
use crate::ui::Ui;

const EXAMPLES: &str = "\
Examples:
  # split 2,000 across the segments of an export (segments and CLV computed)
  cpm allocate retail_export.csv --budget 2000 -o split.csv

  # after segment and value, by matrix cell, with the usual splits beside it
  cpm segment retail_export.csv --format ipc | cpm value --format ipc | cpm allocate \\
      --budget 2000 --by matrix_cell --compare -o cells.csv

  # bounds and response per group from a file
  cpm allocate retail_export.csv --budget 2000 --response allocate_response.csv \\
      -o plan.csv

  # whom to contact at 1.20 each, ready for the mailing tool
  cpm value retail_export.csv -o valued.parquet
  cpm allocate valued.parquet --budget 6000 --contact-cost 1.2 --target-list 5000 \\
      -o contacts.csv

  # 500 contacts among Champions and At Risk only, at 1.50 each
  cpm allocate valued.parquet --budget 2000 --groups 'Champions,At Risk' \\
      --contact-cost 1.5 --target-list 500 -o focus.csv";

/// Arguments of `cpm allocate`.
#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    output: OutputArgs,

    #[command(flatten)]
    model: ModelArgs,

    /// The budget to split, in money (required).
    #[arg(
        long,
        value_name = "AMOUNT",
        allow_hyphen_values = true,
        help_heading = "Budget"
    )]
    budget: f64,

    /// The column whose values are the groups: segment, tier, matrix_cell or
    /// any column of the customer table (segment, tier and matrix_cell are
    /// computed when missing).
    #[arg(
        long,
        default_value = "segment",
        value_name = "COLUMN",
        help_heading = "Budget"
    )]
    by: String,

    /// The column of each customer's value (default: clv when present, else
    /// revenue).
    #[arg(long, value_name = "COLUMN", help_heading = "Budget")]
    value: Option<String>,

    /// Only these groups get budget and contacts, e.g. 'Champions,At Risk'
    /// (without a --response file of max = 0 for the others).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAMES",
        help_heading = "Budget"
    )]
    groups: Vec<String>,

    /// optimal (equal marginal returns), proportional (to value) or equal.
    #[arg(long, value_enum, default_value_t = MethodArg::Optimal, help_heading = "Budget")]
    method: MethodArg,

    /// Show all three methods side by side with their expected returns.
    #[arg(long, help_heading = "Budget")]
    compare: bool,

    /// Value at stake per group as a fraction of its value: U = uplift × value.
    #[arg(
        long,
        default_value_t = 0.1,
        value_name = "FRACTION",
        help_heading = "Response"
    )]
    uplift: f64,

    /// Spend per customer that saturates a group: k = customers × this.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "AMOUNT",
        help_heading = "Response"
    )]
    cost_per_customer: f64,

    /// Per-group overrides: a CSV or TOML file with columns group,
    /// uplift_value, saturation, min, max, action (all but group optional).
    #[arg(long, value_name = "FILE", help_heading = "Response")]
    response: Option<PathBuf>,

    /// Make a target list of at most N customers (the list becomes the
    /// output): the best first, while a contact's expected value (the
    /// group's uplift × clv) is at least its cost and the budget lasts.
    #[arg(long, value_name = "N", help_heading = "Targets")]
    target_list: Option<usize>,

    /// Cost of one contact for the target list (default: --cost-per-customer).
    #[arg(long, value_name = "AMOUNT", help_heading = "Targets")]
    contact_cost: Option<f64>,

    /// With a target list, also write the allocation the list makes to FILE.
    #[arg(long, value_name = "FILE", help_heading = "Targets")]
    allocation_out: Option<PathBuf>,

    /// Print the allocation table on stderr.
    #[arg(long, help_heading = "Output")]
    summary: bool,

    #[command(flatten)]
    as_of: AsOfArg,

    #[command(flatten)]
    engine: EngineArgs,
}

/// `--method`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum MethodArg {
    Optimal,
    Proportional,
    Equal,
}

impl From<MethodArg> for Method {
    fn from(method: MethodArg) -> Method {
        match method {
            MethodArg::Optimal => Method::Optimal,
            MethodArg::Proportional => Method::Proportional,
            MethodArg::Equal => Method::Equal,
        }
    }
}

/// Runs `cpm allocate`.
pub fn run(args: Args, ui: &Ui) -> Result<()> {
    check_args(&args)?;
    // the files read besides the input: no output may replace them
    let other_inputs: Vec<PathBuf> = (args.response.iter())
        .chain(&args.model.model_in)
        .cloned()
        .collect();
    let (inputs, output) = super::inputs_or_engine(
        &args.input,
        &args.engine,
        &args.output,
        &[args.allocation_out.as_deref()],
        &other_inputs,
        ui,
    )?;
    let config = config(&args)?;
    let summary_config = SummaryConfig {
        as_of: args.as_of.as_of,
        ..SummaryConfig::default()
    };
    let customers = super::customers(
        &inputs,
        &args.input,
        &args.engine,
        &summary_config,
        cpm::segment::is_customer_table,
        ui,
    )?;
    let style = TableStyle {
        width: args.output.width,
        ..TableStyle::default()
    };
    let assumed = assumptions(&args, &config.overrides);
    match cpm::allocate::plan::plan(customers.table, customers.as_of, &config, ui)? {
        Plan::Targets(targets) => {
            let Targets {
                table,
                mut allocation,
                list,
                limits,
            } = *targets;
            let summary = tables::with_total(&allocation)?;
            let summary = render_frames([&summary], &style)?;
            ui.print(&format!("{summary}{assumed}"));
            ui.print(&list_line(&list, limits));
            let mut staged = Vec::new();
            if let Some(path) = &args.allocation_out {
                let format = cpm::io::choose_format(Some(path), None, false)?;
                staged.push(cpm::io::atomic::stage(path, |w| {
                    cpm::io::write_frame(&mut allocation, format, &style, w)
                })?);
            }
            output.opened_in_spreadsheets().write_after(&table, staged)
        }
        Plan::Split(split) => told_split(*split, &args, &assumed, &style, output, ui),
    }
}

/// The library's settings of `args`, the `--response` file read.
fn config(args: &Args) -> Result<AllocateConfig> {
    let overrides = match &args.response {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| cpm::error::usage(format!("--response '{}': {e}", path.display())))?;
            read_overrides(&text, &path.display().to_string())?
        }
        None => Vec::new(),
    };
    let list = args.target_list.is_some() || args.contact_cost.is_some();
    let models = args.model.valuation()?;
    if models.compare {
        bail!(cpm::error::usage(
            "--model auto chooses the model on a holdout: value or report with \
             --calibration-end (then --model-in its model here)"
        ));
    }
    Ok(AllocateConfig {
        budget: args.budget,
        by: args.by.clone(),
        groups: args.groups.clone(),
        value: args.value.clone(),
        models,
        method: Method::from(args.method),
        defaults: Defaults {
            uplift: args.uplift,
            cost_per_customer: args.cost_per_customer,
        },
        overrides,
        overrides_from: (args.response.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        target_list: list.then(|| Limits {
            cost: args.contact_cost.unwrap_or(args.cost_per_customer),
            budget: args.budget,
            count: args.target_list.unwrap_or(usize::MAX),
        }),
        compare: args.compare,
    })
}

/// Writes a split: the allocation is the output; its summary (with the
/// verdict), what it assumes and the comparison go to stderr, or to
/// stdout when that is a terminal and no file is asked for.
fn told_split(
    split: Split,
    args: &Args,
    assumed: &str,
    style: &TableStyle,
    output: super::Output,
    ui: &Ui,
) -> Result<()> {
    let summary = format!(
        "{}{}",
        render_frames([&tables::with_total(&split.allocation)?], style)?,
        verdict(
            &split.responses,
            &split.spends,
            args.budget,
            split.break_even
        )
    );
    let comparison = match &split.comparison {
        Some(table) => render_frames([table], style)?,
        None => String::new(),
    };
    if output.is_terminal_summary(&args.output) {
        let text = format!("{summary}{assumed}{comparison}");
        return cpm::io::write_stdout(|w| Ok(w.write_all(text.as_bytes())?));
    }
    if args.summary {
        ui.print(&summary);
    }
    // what the split assumes, always beside it
    ui.print(assumed);
    ui.print(&comparison);
    let mut allocation = split.allocation;
    if output.is_for_people() {
        // a table or Markdown for people: with the total row
        allocation = tables::with_total(&allocation)?;
    }
    output.write(&allocation)
}

/// Usage errors in the numbers, before anything is read.
fn check_args(args: &Args) -> Result<()> {
    let positive = |name: &str, v: f64| -> Result<()> {
        if v > 0.0 && v.is_finite() {
            Ok(())
        } else {
            bail!(cpm::error::usage(format!(
                "{name} {v}: must be more than 0"
            )))
        }
    };
    cpm::allocate::check_budget(args.budget)?;
    positive("--cost-per-customer", args.cost_per_customer)?;
    if let Some(cost) = args.contact_cost {
        positive("--contact-cost", cost)?;
    }
    if !(args.uplift >= 0.0 && args.uplift.is_finite()) {
        bail!(cpm::error::usage(format!(
            "--uplift {}: a fraction of value, 0 or more (0.1 = 10%)",
            args.uplift
        )));
    }
    if args.allocation_out.is_some() && args.target_list.is_none() && args.contact_cost.is_none() {
        bail!(cpm::error::usage(
            "--allocation-out goes with a target list (--target-list or --contact-cost); \
             the allocation is the output otherwise"
        ));
    }
    Ok(())
}

/// The one line a target list always gets on stderr: what it holds,
/// costs, is expected to return, and what is left of the budget.
fn list_line(list: &TargetList, limits: Limits) -> String {
    let cost = list.contacts.len() as f64 * limits.cost;
    let value: f64 = list.contacts.iter().map(|c| c.expected_value).sum();
    format!(
        "target list: {} customers to contact for {}, expected value {}, budget left {}\n",
        human::count(list.contacts.len() as u64),
        human::money(cost),
        human::money(value),
        human::money(limits.budget - cost)
    )
}

/// The response the split assumes, since it drives it.
fn assumptions(args: &Args, overrides: &[cpm::allocate::response::Override]) -> String {
    let mut text = format!(
        "assumed response: a group's value at stake is {} of its value (--uplift {}); a spend \
         of {} per customer gets 63% of it (--cost-per-customer {})",
        human::percent(args.uplift),
        args.uplift,
        human::money(args.cost_per_customer),
        args.cost_per_customer
    );
    if !overrides.is_empty() {
        text.push_str(&format!(
            "; {} groups as the --response file sets them",
            overrides.len()
        ));
    }
    text.push('\n');
    text
}

/// One line on what the split buys, and where more budget stops paying.
fn verdict(responses: &[Response], spends: &[f64], budget: f64, break_even: f64) -> String {
    let total: f64 = responses
        .iter()
        .zip(spends)
        .map(|(r, &s)| r.expected_return(s))
        .sum();
    let mut text = format!(
        "expected return {} on a budget of {} (ROI {})",
        human::money(total),
        human::money(budget),
        human::percent((total - budget) / budget)
    );
    if budget > break_even {
        text.push_str(&format!(
            "; beyond a budget of about {} the next unit of money returns less than it costs",
            human::money(break_even)
        ));
    } else {
        text.push_str(&format!(
            "; more budget keeps paying for itself up to about {}",
            human::money(break_even)
        ));
    }
    text.push('\n');
    text
}
