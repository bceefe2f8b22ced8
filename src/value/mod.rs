//! `value`: what are our customers worth? The purchase models behind one
//! trait ([`purchase`]: BG/NBD, Pareto/NBD, MBG/NBD, BG/BB) and the
//! Gamma-Gamma model of spend ([`gamma_gamma`]), fitted by maximum
//! likelihood ([`fit`]) with the special functions they need
//! ([`special`]), their predictions ([`predict`]) and intervals
//! ([`intervals`]), the discounted customer lifetime value ([`clv`]), the
//! holdout and the choice between models ([`holdout`], [`compare`]); and
//! for subscriptions the sBG model ([`sbg`], [`subscriptions`]).

pub mod bgbb;
pub mod bgnbd;
pub mod clv;
pub mod compare;
pub mod fit;
pub mod gamma_gamma;
pub mod historic;
pub mod holdout;
pub mod intervals;
pub mod mbgnbd;
pub mod pareto_nbd;
pub mod predict;
pub mod purchase;
pub mod sbg;
pub mod special;
pub mod subscriptions;
pub mod tables;

use anyhow::{Result, anyhow, bail};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::summary::TimeUnit;
use bgnbd::Histories;
use clv::Horizon;
use gamma_gamma::{GammaGamma, GammaGammaFit};
use purchase::{PurchaseFit, PurchaseModelKind};

/// How customers are valued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ValueConfig {
    /// The time unit the models are fitted in (their parameters depend on
    /// it; it is stored with the model).
    pub time_unit: TimeUnit,
    /// The CLV and prediction horizon, unit explicit.
    pub horizon: Horizon,
    /// Annual discount rate of the CLV, converted to the monthly step.
    pub discount_rate: f64,
    /// Margin as a fraction of revenue, when the table has no margin.
    pub margin: Option<f64>,
    /// L2 penalty on the parameters, as lifetimes' `penalizer_coef`.
    pub penalty: f64,
    /// The purchase model to fit.
    pub model: PurchaseModelKind,
    /// `--intervals`: bounds for the predictions, and how they are drawn.
    pub intervals: Option<intervals::IntervalConfig>,
}

impl Default for ValueConfig {
    fn default() -> Self {
        ValueConfig {
            time_unit: TimeUnit::Week,
            horizon: Horizon {
                amount: 12.0,
                unit: 'm',
            },
            discount_rate: 0.1,
            margin: None,
            penalty: 0.0,
            model: PurchaseModelKind::Bgnbd,
            intervals: None,
        }
    }
}

/// How a command values customers that have no CLV yet: the models'
/// settings, and a saved model to score with instead of fitting.
#[derive(Debug, Clone, Default)]
pub struct Valuation {
    /// Time unit, horizon, discount rate, margin, penalty.
    pub config: ValueConfig,
    /// A saved model (`--model-in`); `None`: fitted.
    pub model: Option<Model>,
    /// `--model auto`: every purchase model compared on the holdout, the
    /// best used (needs a calibration end).
    pub compare: bool,
}

/// The fitted models, as `--model-out` saves them and `--model-in` reads
/// them back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    /// Purchases and dropout: `"bgnbd": {…}` or `"pnbd": {…}`.
    #[serde(flatten)]
    pub purchase: PurchaseFit,
    /// Spend per purchase; absent when the input has no repeat spend, or
    /// when it could not be used ([`Model::spend_fallback`]).
    pub gamma_gamma: Option<GammaGammaFit>,
    /// The spend per purchase used instead of Gamma-Gamma, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend_fallback: Option<SpendFallback>,
    /// The unit of the BG/NBD's times (and of alpha).
    pub time_unit: TimeUnit,
    /// The analysis day the models were fitted at.
    pub as_of: Option<NaiveDate>,
    /// Customers fitted on.
    pub customers: u64,
    /// When the fit ran (RFC 3339).
    pub fitted_at: String,
}

impl Model {
    /// Reads a model file (`--model-out`'s JSON) named `name`; errors name
    /// the line, or the parameter that is not a positive finite number.
    pub fn from_json(text: &str, name: &str) -> Result<Model> {
        let model: Model = serde_json::from_str(text).map_err(|e| {
            crate::error::InputError::at_line(
                name,
                e.line() as u64,
                format!("not a cpm model file: {e}"),
            )
        })?;
        let mut parameters: Vec<(&str, f64)> = (model.purchase.parameters().iter())
            .map(|(name, value, _)| (*name, *value))
            .collect();
        if let Some(gg) = &model.gamma_gamma {
            let g = gg.params;
            parameters.extend([("p", g.p), ("q", g.q), ("gamma", g.gamma)]);
        }
        if let Some(fallback) = &model.spend_fallback {
            parameters.push(("population_mean", fallback.population_mean));
        }
        for (parameter, value) in parameters {
            if !(value > 0.0 && value.is_finite()) {
                bail!(crate::error::InputError::file(
                    name,
                    format!(
                        "parameter {parameter} is {value}: a model's parameters are positive numbers"
                    ),
                ));
            }
        }
        Ok(model)
    }
}

/// Spend per purchase when Gamma-Gamma cannot be used (it does not fit:
/// constant spend, too few repeat customers; its mean does not exist; or
/// frequency and spend are correlated, which it assumes they are not):
/// each repeat customer's own mean repeat-purchase value, and the repeat
/// customers' mean for the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpendFallback {
    /// `customer_mean`.
    pub method: String,
    /// The repeat customers' mean repeat-purchase value: the expected
    /// order value of a customer without one of their own.
    pub population_mean: f64,
    /// Why Gamma-Gamma was not used.
    pub reason: String,
}

/// Frequency–spend correlation among repeat customers past which
/// Gamma-Gamma, which assumes none, is not used.
pub const SPEND_CORRELATION_LIMIT: f64 = 0.3;

impl SpendFallback {
    /// The expected order value of a customer with x repeat purchases of
    /// mean value m.
    fn expected_order_value(&self, x: f64, m: f64) -> f64 {
        if x > 0.0 && m > 0.0 {
            m
        } else {
            self.population_mean
        }
    }
}

/// The spend model of repeat customers (x repeat purchases of mean value
/// m): Gamma-Gamma when it fits and applies, else the customers' own
/// means ([`SpendFallback`]); neither when no repeat customer has a
/// positive mean.
fn spend_model(
    x: &[f64],
    m: &[f64],
    penalty: f64,
) -> (Option<GammaGammaFit>, Option<SpendFallback>) {
    let why = match GammaGamma::fit(x, m, penalty) {
        Ok(fit) if fit.params.q <= 1.0 => format!(
            "its fit has q = {:.3} ≤ 1, where the mean order value does not exist",
            fit.params.q
        ),
        Ok(fit) if fit.correlation.abs() > SPEND_CORRELATION_LIMIT => format!(
            "purchase frequency and spend are correlated ({:.2}) among repeat customers, and \
             the model assumes they are not",
            fit.correlation
        ),
        Ok(fit) => return (Some(fit), None),
        Err(e) => format!("{e:#}"),
    };
    let means: Vec<f64> = (x.iter().zip(m))
        .filter(|(x, m)| **x > 0.0 && **m > 0.0)
        .map(|(_, m)| *m)
        .collect();
    if means.is_empty() {
        return (None, None);
    }
    let fallback = SpendFallback {
        method: "customer_mean".to_string(),
        population_mean: means.iter().sum::<f64>() / means.len() as f64,
        reason: why,
    };
    (None, Some(fallback))
}

/// Per customer, what the models read: x, t_x, T in the model's unit, and
/// the mean repeat-purchase value (when known).
pub struct ModelInputs {
    /// Repeat purchases.
    pub x: Vec<f64>,
    /// Time of the last purchase after the first.
    pub t_x: Vec<f64>,
    /// Time from the first purchase to the analysis day.
    pub t: Vec<f64>,
    /// Mean repeat-purchase value (`mean_repeat_value`, lifetimes
    /// `monetary_value`).
    pub m: Option<Vec<f64>>,
    /// The distinct histories, which the fit sums over and the
    /// predictions are computed for.
    pub histories: Histories,
    /// Each customer's place in `histories`.
    pub history_of: Vec<u32>,
    /// BG/BB: customers who bought more than once in an opportunity,
    /// counted once per opportunity.
    pub merged: usize,
}

/// Reads the model inputs from a customer table. With `first_order`,
/// `last_order` and `days_since_last` (cpm's customer table) the times are
/// computed from the dates in `unit`, whatever unit the table was made in;
/// otherwise `first_to_last` and `tenure` (or lifetimes' `recency` and
/// `T`, BTYD's `t_x` and `T`) are taken as being in `unit`. x is
/// `repeat_purchases` (lifetimes `frequency`, BTYD `x`), the mean repeat
/// value `mean_repeat_value` (`monetary_value`, `zbar`); a `weights`
/// column counts the customers each row stands for. For BG/BB
/// (`model`) times become whole opportunities of one `unit` from each
/// customer's first purchase, and x at most one purchase per opportunity.
pub fn model_inputs(
    customers: &DataFrame,
    unit: TimeUnit,
    model: PurchaseModelKind,
) -> Result<ModelInputs> {
    let has = |name: &str| customers.column(name).is_ok();
    let x = numbers(customers, &["repeat_purchases", "frequency", "x"])?;
    let (t_x, t) = if has("first_order") && has("last_order") && has("days_since_last") {
        let days = |name: &str| -> Result<Vec<f64>> {
            let values = customers.column(name)?.cast(&DataType::Int32)?;
            Ok(values
                .i32()?
                .iter()
                .map(|d| d.map_or(f64::NAN, f64::from))
                .collect())
        };
        let (first, last) = (days("first_order")?, days("last_order")?);
        let since = numbers(customers, &["days_since_last"])?;
        let per = unit.days();
        let t_x = first
            .iter()
            .zip(&last)
            .map(|(f, l)| (l - f) / per)
            .collect();
        let t = first
            .iter()
            .zip(&last)
            .zip(&since)
            .map(|((f, l), s)| (l + s - f) / per)
            .collect();
        (t_x, t)
    } else {
        (
            numbers(customers, &["first_to_last", "recency", "t_x"])?,
            numbers(customers, &["tenure", "T", "periods"])?,
        )
    };
    let (x, t_x, t, merged) = if model == PurchaseModelKind::Bgbb {
        in_opportunities(x, &t_x, &t)
    } else {
        (x, t_x, t, 0)
    };
    let m = ["mean_repeat_value", "monetary_value", "zbar"]
        .iter()
        .find(|name| has(name))
        .map(|name| numbers(customers, &[name]))
        .transpose()?;
    let weights = has("weights")
        .then(|| numbers(customers, &["weights"]))
        .transpose()?;
    let (histories, history_of) = Histories::weighted(&x, &t_x, &t, weights.as_deref())?;
    Ok(ModelInputs {
        x,
        t_x,
        t,
        m,
        histories,
        history_of,
        merged,
    })
}

/// Histories in whole opportunities (BG/BB): t_x and T rounded down, x at
/// most t_x (one purchase per opportunity), and how many customers had
/// more.
fn in_opportunities(x: Vec<f64>, t_x: &[f64], t: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>, usize) {
    let t_x: Vec<f64> = t_x.iter().map(|v| bgbb::opportunities(*v)).collect();
    let t: Vec<f64> = t.iter().map(|v| bgbb::opportunities(*v)).collect();
    let merged = x.iter().zip(&t_x).filter(|(x, t_x)| x > t_x).count();
    let x = x.iter().zip(&t_x).map(|(x, t_x)| x.min(*t_x)).collect();
    (x, t_x, t, merged)
}

/// The customer table's columns of spend, which `cpm value` leaves out of
/// a table without any: 0 there means unknown, not nothing.
pub const SPEND_COLUMNS: [&str; 4] = ["revenue", "avg_order_value", "mean_repeat_value", "margin"];

/// Whether a customer table has a revenue column that is 0 for every
/// customer: a purchase log without amounts, whose spend is unknown.
pub fn without_spend(table: &DataFrame) -> Result<bool> {
    let Ok(revenue) = table.column("revenue") else {
        return Ok(false);
    };
    let revenue = revenue.cast(&DataType::Float64)?;
    Ok(table.height() > 0 && revenue.f64()?.iter().all(|r| r == Some(0.0)))
}

/// Restates `first_to_last` and `tenure` of a customer table in the
/// models' unit (`inputs`' t_x and T), as the table of the same
/// transactions summarised in that unit has them: a table segmented in
/// days and then valued in weeks equals one valued first. A table without
/// those columns (lifetimes' recency and T) is left as it is.
pub fn restate_times(table: &mut DataFrame, inputs: &ModelInputs) -> Result<()> {
    for (name, values) in [("first_to_last", &inputs.t_x), ("tenure", &inputs.t)] {
        if table.column(name).is_ok() {
            table.with_column(Column::new(name.into(), values.clone()))?;
        }
    }
    Ok(())
}

/// The first of `names` the table has, as f64s; an error naming what the
/// table does have when none is there, or when a value is missing.
fn numbers(frame: &DataFrame, names: &[&str]) -> Result<Vec<f64>> {
    let Some(column) = names.iter().find_map(|n| frame.column(n).ok()) else {
        bail!(
            "column '{}' not found in the customer table (found: {})",
            names.join("' or '"),
            crate::error::column_list(frame)
        );
    };
    let values = column
        .cast(&DataType::Float64)
        .map_err(|_| anyhow!("column '{}' is not numeric", column.name()))?;
    let values = values.f64()?;
    match values.to_vec_null_aware().left() {
        Some(values) => Ok(values),
        None => {
            let row = values.iter().position(|v| v.is_none()).unwrap_or_default();
            bail!("column '{}' is empty in row {}", column.name(), row + 1)
        }
    }
}

/// Fits BG/NBD on the customers' histories and, when their repeat spend
/// is known, Gamma-Gamma on the repeat customers' mean repeat value.
pub fn fit_models(
    inputs: &ModelInputs,
    config: &ValueConfig,
    as_of: Option<NaiveDate>,
) -> Result<Model> {
    let purchase = PurchaseFit::fit(config.model, &inputs.histories, config.penalty)?;
    let (gamma_gamma, spend_fallback) = match &inputs.m {
        Some(m) => spend_model(&inputs.x, m, config.penalty),
        None => (None, None),
    };
    Ok(Model {
        purchase,
        gamma_gamma,
        spend_fallback,
        time_unit: config.time_unit,
        as_of,
        customers: inputs.histories.customers() as u64,
        fitted_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// A customer table valued, and what the analyst should know of it.
pub struct Valued {
    /// The customers with profit, the predictions and CLV, their tiers and
    /// matrix cells placed afresh on the value.
    pub table: DataFrame,
    /// The models fitted, or given.
    pub model: Model,
    /// What the models were fitted on, per customer.
    pub inputs: ModelInputs,
    /// What makes the figures less reliable, in a sentence each (refunds
    /// left out of the spend model, frequency and spend correlated, no
    /// spend model, no cost): warnings, or notes in a report.
    pub cautions: Vec<String>,
    /// With `--intervals`: the portfolio's totals with their bounds.
    pub interval_totals: Option<intervals::IntervalTotals>,
}

/// Values a customer table as `cpm value` does: the models fitted with
/// `config` on the facts up to `as_of` (or `model`, read from a model
/// file), profit, then the predictions and CLV added as columns, and the
/// tiers and matrix cells placed afresh on them (`tiers`). A table without
/// revenue (a model summary: frequency, recency, T) takes the margin of
/// `config` as its profit rate.
pub fn value(
    mut table: DataFrame,
    config: &ValueConfig,
    tiers: &crate::segment::TierConfig,
    as_of: Option<NaiveDate>,
    model: Option<Model>,
) -> Result<Valued> {
    let mut inputs = model_inputs(&table, config.time_unit, config.model)?;
    restate_times(&mut table, &inputs)?;
    // a purchase log without amounts (ingest's revenue 0 throughout): the
    // purchase model alone
    let spendless = without_spend(&table)?;
    if spendless {
        inputs.m = None;
    }
    let model = match model {
        Some(model) => model,
        None => fit_models(&inputs, config, as_of)?,
    };
    let mut cautions = Vec::new();
    if inputs.merged > 0 {
        cautions.push(format!(
            "{} customers bought more than once in an opportunity (one {}): BG/BB counts one \
             purchase per opportunity",
            inputs.merged,
            config.time_unit.name()
        ));
    }
    match (&model.gamma_gamma, &model.spend_fallback) {
        (_, Some(fallback)) => cautions.push(format!(
            "the Gamma-Gamma spend model is not used ({}): CLV takes each repeat customer's own \
             mean spend, and the repeat customers' mean ({:.2}) for the others",
            fallback.reason, fallback.population_mean
        )),
        (Some(gg), None) => {
            if gg.excluded > 0 {
                cautions.push(format!(
                    "{} repeat customers with a repeat spend of 0 or less (refunds) left out of \
                     the spend model",
                    gg.excluded
                ));
            }
        }
        (None, None) => cautions.push(match inputs.m {
            Some(_) => "no repeat customer with a positive spend: no spend model, no CLV".into(),
            None if spendless => "no revenue in the input (no revenue column, or every amount \
                                  0): the purchase model runs; spend, profit and CLV are left out"
                .into(),
            None => "no mean_repeat_value (monetary_value) column: no spend model, no CLV".into(),
        }),
    }
    let margin_rate = if spendless {
        None
    } else if table.column("revenue").is_ok() {
        let (rate, profit) = historic::profit(&table, config.margin)?;
        if rate.is_none() {
            cautions.push("no cost and no --margin: profit and CLV are in revenue".to_string());
        }
        table.with_column(profit)?;
        rate
    } else {
        // a model summary: spend as it is, no history to take profit from
        config.margin
    };
    for column in predict::predict(&inputs, &model, config, margin_rate.unwrap_or(1.0))? {
        table.with_column(column)?;
    }
    let interval_totals = match config.intervals {
        Some(interval) => {
            let total = |name: &str| -> Result<Option<f64>> {
                match table.column(name) {
                    Ok(c) => Ok(c.cast(&DataType::Float64)?.f64()?.sum()),
                    Err(_) => Ok(None),
                }
            };
            let estimates = (total("expected_purchases")?.unwrap_or(0.0), total("clv")?);
            let rate = margin_rate.unwrap_or(1.0);
            match intervals::intervals(&inputs, &model, config, rate, interval, estimates) {
                Ok(drawn) => {
                    for column in drawn.columns {
                        table.with_column(column)?;
                    }
                    Some(drawn.totals)
                }
                Err(e) => {
                    cautions.push(format!("no intervals: {e:#}"));
                    None
                }
            }
        }
        None => None,
    };
    crate::segment::refresh_placement(&mut table, tiers)?;
    Ok(Valued {
        table,
        model,
        inputs,
        cautions,
        interval_totals,
    })
}

/// A customer table after [`fill_in`]: the value step a command that
/// needs values (report, allocate) runs for itself when its input did not
/// go through `cpm value`.
pub enum Filled {
    /// The table had its values (`clv`) already: as it was.
    AsItWas(DataFrame),
    /// Valued here, with the models fitted (and the totals' intervals
    /// when they were asked for).
    Valued(DataFrame, Box<Model>, Option<intervals::IntervalTotals>),
    /// The models could not be fitted (too few repeat customers, a table
    /// without the facts): the table as it was, and why.
    NotValued(DataFrame, String),
}

/// The customer table with the value models' columns ([`value`] with
/// `config`, scored with `model` when one is given, else fitted), unless
/// it has them already; a model that cannot be fitted is said, not an
/// error: the caller goes on without values and says why (a note in the
/// report, a warning elsewhere).
pub fn fill_in(
    table: DataFrame,
    config: &ValueConfig,
    tiers: &crate::segment::TierConfig,
    as_of: Option<NaiveDate>,
    model: Option<Model>,
) -> Filled {
    if table.column("clv").is_ok() {
        return Filled::AsItWas(table);
    }
    match value(table.clone(), config, tiers, as_of, model) {
        Ok(valued) => Filled::Valued(valued.table, Box::new(valued.model), valued.interval_totals),
        Err(e) => Filled::NotValued(
            table,
            format!("the value models could not be fitted: {e:#}"),
        ),
    }
}

/// The models' shared test data.
#[cfg(test)]
pub(crate) mod testing {
    use super::bgnbd::Histories;

    /// The CDNOW sample's 39-week calibration summary, in weeks:
    /// (x, t_x, T, mean repeat-purchase value).
    pub(crate) fn cdnow() -> Vec<[f64; 4]> {
        include_str!("../../testdata/cdnow_customers_summary_with_transactions.csv")
            .lines()
            .skip(1)
            .map(|line| {
                let v: Vec<f64> = line
                    .split(',')
                    .skip(1)
                    .map(|f| f.parse().unwrap())
                    .collect();
                [v[0], v[1], v[2], v[3]]
            })
            .collect()
    }

    /// The CDNOW sample's calibration histories, in weeks.
    pub(crate) fn cdnow_histories() -> Histories {
        let rows = cdnow();
        let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
        Histories::new(&column(0), &column(1), &column(2)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::bgnbd::{BgNbd, Histories};
    use super::gamma_gamma::GammaGamma;

    use super::testing::cdnow;

    #[test]
    fn bgnbd_fit_reproduces_the_paper() {
        let rows = cdnow();
        let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
        let histories = Histories::new(&column(0), &column(1), &column(2)).unwrap();
        let fit = BgNbd::fit(&histories, 0.0).unwrap();
        let p = fit.params;
        // ../shared/REFERENCE.md: r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4
        for (got, want) in [(p.r, 0.243), (p.alpha, 4.414), (p.a, 0.793), (p.b, 2.426)] {
            assert!((got - want).abs() < 5e-4, "{p:?}");
        }
        assert!(
            (fit.log_likelihood - -9582.429).abs() < 1e-2,
            "{}",
            fit.log_likelihood
        );
        assert!(fit.std_errors.iter().all(|se| se.is_some_and(|s| s > 0.0)));
    }

    #[test]
    fn bgnbd_recovers_the_parameters_of_simulated_customers() {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp, Gamma};
        let truth = BgNbd {
            r: 0.5,
            alpha: 5.0,
            a: 0.8,
            b: 2.5,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let rates = Gamma::new(truth.r, 1.0 / truth.alpha).unwrap();
        let dropouts = Beta::new(truth.a, truth.b).unwrap();
        let (mut x, mut t_x, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..20_000 {
            // buy till you die: purchases at rate λ; after each repeat
            // purchase, gone with probability p
            let (lambda, p): (f64, f64) = (rates.sample(&mut rng), dropouts.sample(&mut rng));
            let observed = rng.random_range(30.0..52.0);
            let (mut now, mut repeats, mut last) = (0.0, 0.0, 0.0);
            let gap = Exp::new(lambda).unwrap();
            loop {
                now += gap.sample(&mut rng);
                if now > observed {
                    break;
                }
                repeats += 1.0;
                last = now;
                if rng.random::<f64>() < p {
                    break;
                }
            }
            x.push(repeats);
            t_x.push(last);
            t.push(observed);
        }
        let fit = BgNbd::fit(&Histories::new(&x, &t_x, &t).unwrap(), 0.0).unwrap();
        let got = [fit.params.r, fit.params.alpha, fit.params.a, fit.params.b];
        let want = [truth.r, truth.alpha, truth.a, truth.b];
        for k in 0..4 {
            // within four standard errors: sampling error, as the fit itself
            // measures it
            let se = fit.std_errors[k].unwrap();
            assert!(
                (got[k] - want[k]).abs() < 4.0 * se,
                "{k}: {got:?} ± {:?}",
                fit.std_errors
            );
        }
    }

    #[test]
    fn gamma_gamma_fit_reproduces_the_paper() {
        let rows = cdnow();
        let x: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        let m: Vec<f64> = rows.iter().map(|r| r[3]).collect();
        let fit = GammaGamma::fit(&x, &m, 0.0).unwrap();
        let g = fit.params;
        // p 6.25, q 3.74, gamma 15.44, LL -4055.92 on 946 repeat customers;
        // the likelihood is flat along gamma (lifetimes stops at 15.45):
        // held to 3 significant digits, and to the published log-likelihood
        assert_eq!(fit.customers, 946);
        let three_digits = |v: f64| {
            let scale = 10f64.powi(2 - v.abs().log10().floor() as i32);
            (v * scale).round() / scale
        };
        for (got, want) in [(g.p, 6.25), (g.q, 3.74), (g.gamma, 15.44)] {
            assert_eq!(three_digits(got), three_digits(want), "{g:?}");
        }
        assert!(
            (fit.log_likelihood - -4055.92).abs() < 1e-2,
            "{}",
            fit.log_likelihood
        );
        assert!((fit.correlation - 0.11).abs() < 5e-3, "{}", fit.correlation);
        // standard errors from the Hessian; an independent computation
        // (scipy: Nelder-Mead, then central second differences of the
        // log-likelihood, inverted) gives 1.1897, 0.2902, 4.160
        let se: Vec<f64> = fit.std_errors.iter().map(|s| s.unwrap()).collect();
        for (got, want) in se.iter().zip([1.1897, 0.2902, 4.160]) {
            assert!((got / want - 1.0).abs() < 0.01, "{se:?}");
        }
    }
}
