//! Contractual customers (`value --model sbg`): a subscription export
//! (customer, start, end; an empty end is a subscriber still active) or
//! a per-subscriber table in renewal periods (`recency`, `T`), valued with
//! the sBG model ([`super::sbg`]), one fit per cohort or plan (`--by`):
//! the chance of renewing, the renewals expected over the horizon, the
//! discounted expected residual lifetime (DERL) and, with a revenue per
//! period, its CLV.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::clv::Horizon;
use super::sbg::{Cohort, Sbg, SbgFit};
use crate::summary::TimeUnit;

/// How subscribers are valued.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The renewal period: month or year.
    pub period: TimeUnit,
    /// The analysis day; default: the day after the latest start or end.
    pub as_of: Option<NaiveDate>,
    /// Fit one model per value of this column (a cohort, a plan).
    pub by: Option<String>,
    /// The horizon of `expected_renewals`.
    pub horizon: Horizon,
    /// Annual discount rate of DERL and CLV.
    pub discount_rate: f64,
    /// Margin as a fraction of the revenue per period.
    pub margin: Option<f64>,
    /// L2 penalty on the parameters.
    pub penalty: f64,
}

/// One group's fitted sBG model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupFit {
    /// The value of the `--by` column (`None`: everyone).
    pub group: Option<String>,
    /// The fit.
    #[serde(flatten)]
    pub fit: SbgFit,
}

/// The fitted sBG models, as `--model-out` saves them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubscriptionModel {
    /// One fit per group (one in all without `--by`).
    pub sbg: Vec<GroupFit>,
    /// The `--by` column.
    pub by: Option<String>,
    /// The renewal period.
    pub period: TimeUnit,
    /// The analysis day.
    pub as_of: Option<NaiveDate>,
    /// Subscribers fitted on.
    pub subscribers: u64,
    /// When the fit ran (RFC 3339).
    pub fitted_at: String,
}

impl SubscriptionModel {
    /// Reads a model file named `name` that holds `sbg` fits.
    pub fn from_json(text: &str, name: &str) -> Result<SubscriptionModel> {
        let model: SubscriptionModel = serde_json::from_str(text).map_err(|e| {
            crate::error::InputError::at_line(
                name,
                e.line() as u64,
                format!("not a cpm sBG model file: {e}"),
            )
        })?;
        for group in &model.sbg {
            let Sbg { alpha, beta } = group.fit.params;
            if !(alpha > 0.0 && beta > 0.0 && alpha.is_finite() && beta.is_finite()) {
                bail!(crate::error::InputError::file(
                    name,
                    "an sBG model's alpha and beta are positive numbers".to_string(),
                ));
            }
        }
        Ok(model)
    }
}

/// Observed and fitted survival of a group, renewal by renewal.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivalRow {
    /// The group (`None`: everyone).
    pub group: Option<String>,
    /// Renewals made.
    pub renewal: u32,
    /// The share still active by Kaplan–Meier (`None` past the data).
    pub observed: Option<f64>,
    /// The model's share.
    pub fitted: f64,
    /// The model's renewal rate at this renewal, S(k) / S(k − 1).
    pub retention: Option<f64>,
}

/// Subscribers valued.
pub struct SubscriptionsValued {
    /// The table with `recency`, `T`, `active`, `renewal_rate`,
    /// `expected_renewals`, `derl` and, with revenue, `clv`.
    pub table: DataFrame,
    /// The models fitted, or given.
    pub model: SubscriptionModel,
    /// Survival per group, observed and fitted, to the last renewal seen
    /// plus the horizon.
    pub survival: Vec<SurvivalRow>,
    /// What the analyst should know, a sentence each.
    pub cautions: Vec<String>,
}

/// Whether a table is a subscription export or a per-subscriber sBG
/// table.
pub fn is_subscription_table(frame: &DataFrame) -> bool {
    let has = |name: &str| frame.column(name).is_ok();
    (has("start") && has("end")) || (has("recency") && has("T") && !has("frequency"))
}

/// Values subscribers: histories from the table, one sBG fit per group
/// (or `model`'s), the predictions as columns.
pub fn value(
    mut table: DataFrame,
    config: &SubscriptionConfig,
    model: Option<SubscriptionModel>,
) -> Result<SubscriptionsValued> {
    let mut cautions = Vec::new();
    let (recency, t, as_of) = histories(&table, config, &mut cautions)?;
    let weights: Vec<f64> = match table.column("weights") {
        Ok(w) => (w.cast(&DataType::Float64)?.f64()?.iter())
            .map(|w| w.unwrap_or(f64::NAN))
            .collect(),
        Err(_) => vec![1.0; recency.len()],
    };
    let histories = Histories {
        recency: &recency,
        t: &t,
        weights: &weights,
    };
    let groups = group_labels(&table, config.by.as_deref())?;
    let mut members: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (i, group) in groups.iter().enumerate() {
        members.entry(group.clone()).or_default().push(i);
    }
    let given = model.is_some();
    let model = match model {
        Some(model) => model,
        None => fit_groups(&members, &histories, config, as_of, &mut cautions)?,
    };
    let fits: BTreeMap<Option<String>, Sbg> = (model.sbg.iter())
        .map(|g| (g.group.clone(), g.fit.params))
        .collect();
    let per_year = config.period.per_year();
    let d = (config.discount_rate.ln_1p() / per_year).exp_m1();
    let horizon = config.horizon.in_units(config.period);
    let n = recency.len();
    let (mut rate, mut expected, mut derl) = (vec![None; n], vec![None; n], vec![None; n]);
    for (group, rows) in &members {
        let Some(fit) = fits.get(group) else {
            if given {
                cautions.push(format!(
                    "{} {}: not in the saved model, no predictions",
                    config.by.as_deref().unwrap_or("group"),
                    group.as_deref().unwrap_or("(all)")
                ));
            }
            continue;
        };
        for &i in rows {
            if recency[i] < t[i] {
                rate[i] = Some(0.0);
                expected[i] = Some(0.0);
                derl[i] = Some(0.0);
                continue;
            }
            // active in period T: T − 1 renewals made, renewal T next
            let made = t[i] - 1.0;
            rate[i] = Some(fit.renewal_rate(made));
            expected[i] = Some(fit.expected_renewals(horizon, made));
            derl[i] = Some(fit.derl(d, t[i])?);
        }
    }
    let active: Vec<bool> = recency.iter().zip(&t).map(|(r, t)| r >= t).collect();
    let whole = |v: &[f64]| v.iter().map(|v| *v as i64).collect::<Vec<i64>>();
    table.with_column(Column::new("recency".into(), whole(&recency)))?;
    table.with_column(Column::new("T".into(), whole(&t)))?;
    table.with_column(Column::new("active".into(), active))?;
    table.with_column(Column::new("renewal_rate".into(), rate))?;
    table.with_column(Column::new("expected_renewals".into(), expected))?;
    if let Ok(revenue) = table.column("revenue") {
        let revenue = revenue.cast(&DataType::Float64)?;
        let margin = config.margin.unwrap_or_else(|| {
            cautions.push("no --margin: CLV is in revenue".to_string());
            1.0
        });
        let clv: Vec<Option<f64>> = (revenue.f64()?.iter().zip(&derl))
            .map(|(r, d)| Some(r? * margin * (*d)?))
            .collect();
        table.with_column(Column::new("derl".into(), derl))?;
        table.with_column(Column::new("clv".into(), clv))?;
    } else {
        table.with_column(Column::new("derl".into(), derl))?;
        cautions
            .push("no revenue column (revenue per period): DERL in periods, no CLV".to_string());
    }
    let survival = survival_table(&members, &histories, &fits, horizon);
    Ok(SubscriptionsValued {
        table,
        model,
        survival,
        cautions,
    })
}

/// Every row's (recency, T) and weight (the subscribers it stands for).
struct Histories<'a> {
    recency: &'a [f64],
    t: &'a [f64],
    weights: &'a [f64],
}

impl Histories<'_> {
    /// The cohort of the rows `rows`.
    fn cohort(&self, rows: &[usize]) -> Result<Cohort> {
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        Cohort::new(
            &pick(self.recency),
            &pick(self.t),
            Some(&pick(self.weights)),
        )
    }
}

/// Fits one model per group; with groups, one where nobody left has none
/// (a caution says so).
fn fit_groups(
    members: &BTreeMap<Option<String>, Vec<usize>>,
    histories: &Histories,
    config: &SubscriptionConfig,
    as_of: Option<NaiveDate>,
    cautions: &mut Vec<String>,
) -> Result<SubscriptionModel> {
    let mut sbg = Vec::new();
    for (group, rows) in members {
        let cohort = histories.cohort(rows)?;
        let named = || {
            group.as_ref().map_or(String::new(), |g| {
                format!(" for {} {g}", config.by.as_deref().unwrap_or(""))
            })
        };
        match Sbg::fit(&cohort, config.penalty) {
            Ok(fit) => sbg.push(GroupFit {
                group: group.clone(),
                fit,
            }),
            Err(e) if members.len() > 1 => {
                cautions.push(format!("no sBG model{}: {e:#}", named()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(SubscriptionModel {
        sbg,
        by: config.by.clone(),
        period: config.period,
        as_of,
        subscribers: histories.weights.iter().sum::<f64>() as u64,
        fitted_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Each row's group label (`None` without `--by`; an empty value is
/// "(none)").
fn group_labels(table: &DataFrame, by: Option<&str>) -> Result<Vec<Option<String>>> {
    let Some(by) = by else {
        return Ok(vec![None; table.height()]);
    };
    let column = table.column(by).map_err(|_| {
        anyhow!(
            "--by {by}: no such column (found: {})",
            crate::error::column_list(table)
        )
    })?;
    let text = column.cast(&DataType::String)?;
    Ok((text.str()?.iter())
        .map(|v| Some(v.unwrap_or("(none)").to_string()))
        .collect())
}

/// Per row (recency, T) in PyMC-Marketing's layout, from `recency` and
/// `T` columns as they are, or from `start` and `end` dates in whole
/// periods; and the analysis day when dates gave it.
fn histories(
    table: &DataFrame,
    config: &SubscriptionConfig,
    cautions: &mut Vec<String>,
) -> Result<(Vec<f64>, Vec<f64>, Option<NaiveDate>)> {
    if table.column("start").is_err() {
        let number = |name: &str| -> Result<Vec<f64>> {
            let values = table.column(name)?.cast(&DataType::Float64)?;
            (values.f64()?.iter().enumerate())
                .map(|(i, v)| v.ok_or_else(|| anyhow!("row {}: column '{name}' is empty", i + 1)))
                .collect()
        };
        return Ok((number("recency")?, number("T")?, config.as_of));
    }
    let (start, end) = (dates(table, "start")?, dates(table, "end")?);
    let latest = (start.iter().chain(&end)).flatten().max().copied();
    let as_of = config
        .as_of
        .or_else(|| latest.and_then(|d| d.succ_opt()))
        .ok_or_else(|| anyhow!("no start date in the subscription table"))?;
    let (mut recency, mut t) = (Vec::new(), Vec::new());
    let mut later = 0;
    for (i, (start, end)) in start.iter().zip(&end).enumerate() {
        let Some(start) = start else {
            bail!("row {}: column 'start' is empty", i + 1);
        };
        if *start > as_of {
            bail!(
                "row {}: start {start} is after the analysis day {as_of}: set --as-of later",
                i + 1
            );
        }
        let period = periods_between(*start, as_of, config.period).0 + 1;
        match end.filter(|end| *end <= as_of) {
            Some(end) if end < *start => {
                bail!("row {}: end {end} is before start {start}", i + 1)
            }
            Some(end) => {
                // paid every period begun before the end, at least one
                let (whole, exact) = periods_between(*start, end, config.period);
                let paid = if exact { whole } else { whole + 1 }.max(1);
                recency.push(paid as f64);
                t.push(period.max(paid + 1) as f64);
            }
            None => {
                later += usize::from(end.is_some());
                recency.push(period as f64);
                t.push(period as f64);
            }
        }
    }
    if later > 0 {
        cautions.push(format!(
            "{later} subscriptions end after the analysis day {as_of}: active on it"
        ));
    }
    Ok((recency, t, Some(as_of)))
}

/// Whole periods from `from` to `to` (calendar months or years), and
/// whether `to` falls exactly on a period boundary.
fn periods_between(from: NaiveDate, to: NaiveDate, period: TimeUnit) -> (i64, bool) {
    let months = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    let mut whole = months(to) - months(from) - i64::from(to.day() < from.day());
    let mut step = 1;
    if period == TimeUnit::Year {
        step = 12;
        whole = whole.div_euclid(12);
    }
    let boundary = from.checked_add_months(chrono::Months::new((whole * step) as u32));
    (whole, boundary == Some(to))
}

/// A column of dates: a date column as it is, text as ISO dates (an
/// unparseable one is an error naming the row and the column).
fn dates(table: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>> {
    let column = table.column(name)?;
    if column.dtype() == &DataType::Date {
        let days = column.cast(&DataType::Int32)?;
        // NaiveDate's default is 1970-01-01, day 0 of a polars date
        return Ok((days.i32()?.iter())
            .map(|d| d.map(|d| NaiveDate::default() + chrono::Duration::days(i64::from(d))))
            .collect());
    }
    let text = column.cast(&DataType::String)?;
    (text.str()?.iter().enumerate())
        .map(|(i, v)| match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => NaiveDate::parse_from_str(&v[..v.len().min(10)], "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    anyhow!(
                        "row {}: column '{name}': '{v}' is not a date (YYYY-MM-DD)",
                        i + 1
                    )
                }),
        })
        .collect()
}

/// Survival per group, observed (Kaplan–Meier) and fitted, from renewal
/// 0 to the last renewal seen plus the horizon.
fn survival_table(
    members: &BTreeMap<Option<String>, Vec<usize>>,
    histories: &Histories,
    fits: &BTreeMap<Option<String>, Sbg>,
    horizon: f64,
) -> Vec<SurvivalRow> {
    let mut rows = Vec::new();
    for (group, members) in members {
        let Some(fit) = fits.get(group) else { continue };
        let Ok(cohort) = histories.cohort(members) else {
            continue;
        };
        // in period T, T − 1 renewals are behind a subscriber
        let seen = members.iter().map(|&i| histories.t[i]).fold(1.0, f64::max) - 1.0;
        let last = (seen + super::bgbb::opportunities(horizon)) as u64;
        let observed = cohort.observed_survival(last);
        for (k, observed) in observed.into_iter().enumerate() {
            rows.push(SurvivalRow {
                group: group.clone(),
                renewal: k as u32,
                observed,
                fitted: fit.survival(k as f64),
                retention: (k > 0).then(|| fit.renewal_rate(k as f64 - 1.0)),
            });
        }
    }
    rows
}

/// The tables `value --model sbg` shows: each group's fit, and survival
/// renewal by renewal, observed and fitted.
pub fn tables(valued: &SubscriptionsValued) -> Result<Vec<DataFrame>> {
    let label = |g: &Option<String>| g.clone().unwrap_or_else(|| "all".to_string());
    let fits = &valued.model.sbg;
    let se = |s: Option<f64>| s.map_or(String::new(), |s| format!("{s:.4}"));
    let fitted = df!(
        "group" => fits.iter().map(|g| label(&g.group)).collect::<Vec<_>>(),
        "subscribers" => fits.iter().map(|g| g.fit.subscribers).collect::<Vec<_>>(),
        "alpha" => fits.iter().map(|g| format!("{:.4} ± {}", g.fit.params.alpha, se(g.fit.std_errors[0]))).collect::<Vec<_>>(),
        "beta" => fits.iter().map(|g| format!("{:.4} ± {}", g.fit.params.beta, se(g.fit.std_errors[1]))).collect::<Vec<_>>(),
        "log-likelihood" => fits.iter().map(|g| crate::io::human::money(g.fit.log_likelihood)).collect::<Vec<_>>(),
    )?;
    let percent = |v: f64| format!("{:.1}%", 100.0 * v);
    let rows = &valued.survival;
    let survival = df!(
        "group" => rows.iter().map(|r| label(&r.group)).collect::<Vec<_>>(),
        "renewal" => rows.iter().map(|r| r.renewal).collect::<Vec<_>>(),
        "active (observed)" => rows.iter().map(|r| r.observed.map_or(String::new(), percent)).collect::<Vec<_>>(),
        "active (model)" => rows.iter().map(|r| percent(r.fitted)).collect::<Vec<_>>(),
        "renewal rate (model)" => rows.iter().map(|r| r.retention.map_or(String::new(), percent)).collect::<Vec<_>>(),
    )?;
    Ok(vec![fitted, survival])
}
