//! `report`: how is the portfolio doing? The figures of the Monday
//! summary ([`Report`], built by [`build`]) from a segmented customer table
//! and, when there are any, the transactions, the fitted models and
//! ingest's quality report; then rendered for a terminal, Markdown, HTML
//! with charts, JSON and CSV tables ([`render`]).
//!
//! The pipeline: inputs → [`assemble`] (read, values and segments filled
//! in) → sources → [`build`] → [`Report`] (the JSON schema) →
//! [`document::document`] (a [`crate::present::Document`]: sections of
//! titled tables, for people) → one renderer per format.

pub mod activity;
pub mod assemble;
pub mod breakdown;
pub mod charts;
pub mod cohorts;
pub mod composition;
pub mod concentration;
pub mod document;
pub mod economics;
pub mod history;
pub mod kpis;
pub mod migration;
pub mod period;
pub mod pushdown;
pub mod render;
pub mod satisfaction;
pub mod summary;
pub mod targets;

use anyhow::Result;
use chrono::{Days, NaiveDate};
use polars::prelude::*;
use serde::Serialize;

use crate::ingest::report::QualityReport;
use crate::schema::CUSTOMER_ID;
use crate::value::Model;
use crate::value::historic::WhaleCurve;
use crate::value::holdout::HoldoutReport;
use cohorts::Cohort;
use composition::{Part, RfmGrid};
use concentration::Concentration;
use kpis::PeriodKpis;
use migration::Migration;
use period::Period;

/// The version of the JSON schema: raised when a key changes meaning or
/// goes away (new keys may be added without it).
pub const SCHEMA_VERSION: u32 = 1;

/// Points of the Pareto and whale curves (plus the origin).
const CURVE_POINTS: usize = 100;

/// What the report is asked for.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// The period of the KPIs and the migration.
    pub period: Period,
    /// The largest customer's share of revenue above which the report
    /// raises an alert (0.1: 10%).
    pub concentration_alert: f64,
    /// How many of the largest customers to list.
    pub top_customers: usize,
    /// A time stamp to print (`--stamp`); none keeps runs byte-identical.
    pub stamp: Option<String>,
    /// The page's title (`--title`), instead of "Customer portfolio report".
    pub title: Option<String>,
    /// How customers are valued when the input has no CLV: the models'
    /// time unit, horizon, discount rate and penalty, the margin on
    /// revenue when the transactions have no cost (`--margin`), and a
    /// saved model to score with (`--model-in`).
    pub models: crate::value::Valuation,
    /// Goals for the report's figures (`--target`).
    pub targets: Vec<targets::Target>,
    /// Attributes of the customers to break the portfolio down by
    /// (`--by region`).
    pub by: Vec<String>,
    /// Acquisition costs and cost to serve given beside the data.
    pub costs: economics::CostInputs,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            period: Period::Month,
            concentration_alert: 0.1,
            top_customers: 10,
            stamp: None,
            title: None,
            models: crate::value::Valuation::default(),
            targets: Vec::new(),
            by: Vec::new(),
            costs: economics::CostInputs::default(),
        }
    }
}

/// What the report is made from.
pub struct Sources<'a> {
    /// One row per customer, segmented (`segment`, `tier`, `matrix_cell`,
    /// scores), valued when the models ran.
    pub customers: &'a DataFrame,
    /// The transaction lines, when the input had them.
    pub transactions: Option<u64>,
    /// What the KPIs and the cohorts read from the transactions, when the
    /// input had them: read here ([`activity::Activity::read`]) or by an
    /// engine ([`pushdown`]).
    pub activity: Option<&'a activity::Activity>,
    /// The analysis day, when known.
    pub as_of: Option<NaiveDate>,
    /// The last day of the KPI period (the as-of day, or the last day with
    /// transactions when the as-of day is the default day after it).
    pub period_end: Option<NaiveDate>,
    /// The segmented customer table at the end of the previous period, or
    /// an earlier table given by the user, with what it is (a date, a
    /// file); without it there is no migration (the caller notes why).
    pub earlier: Option<(&'a DataFrame, String)>,
    /// The fitted models, when the predictive part ran.
    pub model: Option<&'a Model>,
    /// The holdout comparison, with `--calibration-end`.
    pub holdout: Option<&'a HoldoutReport>,
    /// With `--intervals`: the totals with their bounds.
    pub intervals: Option<&'a crate::value::intervals::IntervalTotals>,
    /// Ingest's report, when the input was a raw export.
    pub quality: Option<&'a QualityReport>,
    /// Sections left out and why, known before the build (say `--no-model`).
    pub notes: Vec<String>,
    /// The attributes of `--by`, in its order (the activity's groupings
    /// have the same order).
    pub attributes: &'a [breakdown::Attribute],
    /// The items each customer bought (lines with a category or product).
    pub baskets: Option<&'a crate::crosssell::Baskets>,
}

/// The whole report; its JSON form is the documented schema (README,
/// "JSON schema").
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `--stamp`'s time, else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// `--title` (the company, "weekly"), else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The analysis day.
    pub as_of: Option<NaiveDate>,
    /// Totals of the portfolio.
    pub portfolio: Portfolio,
    /// This period against the one before.
    pub kpis: Option<Kpis>,
    /// Segments, tiers and matrix cells.
    pub composition: Composition,
    /// How concentrated revenue is.
    pub concentration: Concentration,
    /// Whether the largest customer's share is above the threshold.
    pub concentration_alert: ConcentrationAlert,
    /// The largest customers by revenue.
    pub top_customers: Vec<TopCustomer>,
    /// Segment moves since the end of the previous period (or an earlier
    /// table).
    pub migration: Option<Migration>,
    /// Acquisition-month cohorts.
    pub cohorts: Option<Vec<Cohort>>,
    /// Customers and revenue by R and F score.
    pub rfm_grid: Option<RfmGrid>,
    /// The whale curve's summary of historic profit.
    pub profitability: Option<WhaleCurve>,
    /// The fitted models and, with a holdout, how well they predicted it.
    pub model: Option<ModelHealth>,
    /// Ingest's counts, when the input was a raw export.
    pub data_quality: Option<DataQuality>,
    /// The Pareto curve of revenue and the whale curve of profit, as
    /// (share of customers, cumulative share) points.
    pub curves: Curves,
    /// What could not be reported, and why.
    pub notes: Vec<String>,
    /// The targets, met or missed (absent without `--target`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<targets::Checked>,
    /// The portfolio by each `--by` attribute, then by value (absent
    /// without `--by`).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "breakdown::as_map"
    )]
    pub by: Vec<(String, breakdown::ByAttribute)>,
    /// With `--history`: the headline figures of the last periods, this
    /// one's last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<history::Headline>,
    /// What to sell next (lines with a category or product), absent
    /// without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_sell: Option<crate::crosssell::CrossSell>,
    /// Satisfaction (an `nps` or `csat` column), absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<satisfaction::Satisfaction>,
    /// What the customers cost and return (absent without any cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub economics: Option<economics::Economics>,
    /// The executive summary: three to five sentences on what changed and
    /// what needs action.
    pub summary: Vec<String>,
}

/// Totals of the portfolio.
#[derive(Debug, Clone, Serialize)]
pub struct Portfolio {
    /// Customers in the table.
    pub customers: u64,
    /// Transaction lines read, when the input had them.
    pub transactions: Option<u64>,
    /// Revenue to date.
    pub revenue: Option<f64>,
    /// Profit to date (revenue less cost, or × margin).
    pub profit: Option<f64>,
    /// Customer lifetime value over the horizon.
    pub clv: Option<f64>,
    /// What the CLV is: its horizon, discount rate and margin ("next 12m,
    /// 10% a year, 30% margin"), when there is one.
    pub clv_basis: Option<String>,
    /// Purchases expected over the horizon.
    pub expected_purchases: Option<f64>,
    /// The mean probability that a customer is still active.
    pub mean_p_alive: Option<f64>,
}

/// The KPIs of the period ending at the as-of day and of the one before.
#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    /// The period's length.
    pub period: Period,
    /// The period ending at the as-of day.
    pub current: PeriodKpis,
    /// The period before it.
    pub previous: PeriodKpis,
}

impl Kpis {
    /// A warning when the reported period has no transactions at all (an
    /// as-of day past the data, say): every figure of it is 0, which a
    /// report mailed by cron must not say silently.
    pub fn empty_period_warning(&self) -> Option<String> {
        let current = &self.current;
        (current.orders == 0 && current.active_customers == 0).then(|| {
            format!(
                "the reported period {} to {} has no transactions: its figures are all 0; \
                 check --as-of (the data may end before it)",
                current.start, current.end
            )
        })
    }
}

/// The portfolio by segment, value tier and value/risk cell.
#[derive(Debug, Clone, Serialize)]
pub struct Composition {
    /// By RFM segment.
    pub segments: Option<Vec<Part>>,
    /// By value tier.
    pub tiers: Option<Vec<Part>>,
    /// By value/risk matrix cell.
    pub matrix_cells: Option<Vec<Part>>,
}

/// The over-concentration alert.
#[derive(Debug, Clone, Serialize)]
pub struct ConcentrationAlert {
    /// The threshold, a share 0–1.
    pub threshold: f64,
    /// Whether the largest customer's share is above it.
    pub triggered: bool,
}

/// One of the largest customers.
#[derive(Debug, Clone, Serialize)]
pub struct TopCustomer {
    /// The customer.
    pub customer_id: String,
    /// Revenue to date.
    pub revenue: f64,
    /// Share of the portfolio's positive revenue.
    pub share: Option<f64>,
    /// The customer's segment, when known.
    pub segment: Option<String>,
}

/// The models' parameters and fit.
#[derive(Debug, Clone, Serialize)]
pub struct ModelHealth {
    /// Customers the models were fitted on.
    pub customers: u64,
    /// The unit of the models' times (alpha's, the tracking periods').
    pub time_unit: crate::summary::TimeUnit,
    /// The purchase model: `bgnbd`, `pnbd` or `mbgnbd`.
    pub purchase_model: crate::value::purchase::PurchaseModelKind,
    /// Its parameters by name.
    pub purchase_parameters: std::collections::BTreeMap<&'static str, f64>,
    /// Its log-likelihood.
    pub purchase_log_likelihood: f64,
    /// BG/NBD r, alpha, a, b, when it is the purchase model (as before
    /// the others came).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgnbd: Option<[f64; 4]>,
    /// BG/NBD's log-likelihood, when it is the purchase model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgnbd_log_likelihood: Option<f64>,
    /// Gamma-Gamma p, q, gamma, when a spend model was fitted.
    pub gamma_gamma: Option<[f64; 3]>,
    /// Gamma-Gamma's log-likelihood.
    pub gamma_gamma_log_likelihood: Option<f64>,
    /// The spend per purchase used instead of Gamma-Gamma, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_fallback: Option<crate::value::SpendFallback>,
    /// Predicted against actual after `--calibration-end`.
    pub holdout: Option<HoldoutReport>,
    /// With `--intervals`: expected purchases and CLV over the horizon,
    /// all customers, with their bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intervals: Option<crate::value::intervals::IntervalTotals>,
    /// P(alive) over repeat purchases × the time of the last purchase, at
    /// the longest tenure among the customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_alive_matrix: Option<crate::value::tables::AliveMatrix>,
    /// The fits for people (named and rounded as `cpm value` shows them).
    #[serde(skip)]
    pub fitted: Vec<crate::value::tables::Fitted>,
}

/// Ingest's counts.
#[derive(Debug, Clone, Serialize)]
pub struct DataQuality {
    /// Rows read.
    pub rows_read: u64,
    /// Rows kept.
    pub rows_kept: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Duplicate rows removed.
    pub duplicates_removed: u64,
    /// Rejected rows by reason.
    pub rejects_by_reason: Vec<(String, u64)>,
}

/// Chart data: (share of customers, cumulative share) points.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    /// Revenue (clamped at 0), largest customers first.
    pub pareto: Vec<(f64, f64)>,
    /// Profit, most profitable customers first; above 1 where the
    /// unprofitable customers destroy value.
    pub whale: Option<Vec<(f64, f64)>>,
}

/// Builds the report from `sources`.
pub fn build(sources: Sources, config: &ReportConfig) -> Result<Report> {
    let customers = sources.customers;
    let has = |name: &str| customers.column(name).is_ok();
    let numbers = |name: &str| -> Result<Option<Vec<f64>>> {
        if has(name) {
            crate::segment::numbers(customers, name).map(Some)
        } else {
            Ok(None)
        }
    };
    // from +0.0: an empty sum is 0, not the -0.0 of Iterator::sum
    let finite_sum = |values: &[f64]| {
        values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0, |sum, v| sum + v)
    };
    let mut notes = sources.notes;
    if let Some(fallback) = sources.model.and_then(|m| m.spend_fallback.as_ref()) {
        notes.push(format!(
            "CLV takes each repeat customer's own mean spend: the Gamma-Gamma spend model is not \
             used ({})",
            fallback.reason
        ));
    }
    let revenue = numbers("revenue")?;
    let profit = numbers("profit")?;
    let clv = numbers("clv")?;
    let p_alive = numbers("p_alive")?;
    let portfolio = Portfolio {
        customers: customers.height() as u64,
        transactions: sources.transactions,
        revenue: revenue.as_deref().map(finite_sum),
        profit: profit.as_deref().map(finite_sum),
        clv: clv.as_deref().map(finite_sum),
        // a CLV the input brought has its own basis
        clv_basis: (sources.model.and(clv.as_ref())).map(|_| clv_basis(config)),
        expected_purchases: numbers("expected_purchases")?.as_deref().map(finite_sum),
        mean_p_alive: p_alive
            .filter(|p| !p.is_empty())
            .map(|p| finite_sum(&p) / p.len() as f64),
    };
    let revenue = revenue.unwrap_or_else(|| {
        notes.push("no revenue column: concentration is empty".to_string());
        Vec::new()
    });

    let (kpis, cohorts) = match sources.activity {
        Some(activity) => {
            let [current, previous] = kpis::period_kpis(activity, config.models.config.margin);
            let kpis = Kpis {
                period: config.period,
                current,
                previous,
            };
            notes.extend(kpis.empty_period_warning());
            (Some(kpis), Some(cohorts::cohorts(activity)))
        }
        _ => {
            notes.push(
                "no transactions: the period KPIs and the cohorts need them (a customer table \
                 has no dates of single purchases)"
                    .to_string(),
            );
            (None, None)
        }
    };
    let part = |by: &str| -> Result<Option<Vec<Part>>> {
        if has(by) {
            composition::composition(customers, by).map(Some)
        } else {
            Ok(None)
        }
    };
    let composition = Composition {
        segments: part("segment")?,
        tiers: part("tier")?,
        matrix_cells: part("matrix_cell")?,
    };
    let concentration = concentration::concentration(&revenue);
    let concentration_alert = ConcentrationAlert {
        threshold: config.concentration_alert,
        triggered: concentration
            .largest_customer_share
            .is_some_and(|s| s > config.concentration_alert),
    };
    let migration = match &sources.earlier {
        Some((earlier, from)) => {
            let to = sources
                .period_end
                .or(sources.as_of)
                .map_or_else(|| "now".to_string(), |d| d.to_string());
            Some(migration::migration(earlier, customers, from, &to)?)
        }
        None => None,
    };
    let rfm_grid = if has("r_score") && has("f_score") {
        Some(composition::rfm_grid(customers)?)
    } else {
        None
    };
    let profitability = profit.as_deref().map(crate::value::historic::whale_curve);
    let alive_matrix = match (sources.model, has("tenure") && has("repeat_purchases")) {
        (Some(model), true) => {
            let longest = |name: &str| -> Result<f64> {
                let values = customers.column(name)?.cast(&DataType::Float64)?;
                Ok(values.f64()?.max().unwrap_or(0.0))
            };
            let (tenure, most) = (longest("tenure")?, longest("repeat_purchases")?);
            (tenure > 0.0)
                .then(|| crate::value::tables::alive_matrix(model, tenure, most as u32))
                .transpose()?
        }
        _ => None,
    };
    let model = sources.model.map(|model| ModelHealth {
        customers: model.customers,
        time_unit: model.time_unit,
        purchase_model: model.purchase.kind(),
        purchase_parameters: (model.purchase.parameters().iter())
            .map(|(name, value, _)| (*name, *value))
            .collect(),
        purchase_log_likelihood: model.purchase.log_likelihood(),
        bgnbd: bgnbd(model).map(|(parameters, _)| parameters),
        bgnbd_log_likelihood: bgnbd(model).map(|(_, ll)| ll),
        gamma_gamma: model
            .gamma_gamma
            .as_ref()
            .map(|g| [g.params.p, g.params.q, g.params.gamma]),
        gamma_gamma_log_likelihood: model.gamma_gamma.as_ref().map(|g| g.log_likelihood),
        spend_fallback: model.spend_fallback.clone(),
        holdout: sources.holdout.cloned(),
        intervals: sources.intervals.cloned(),
        p_alive_matrix: alive_matrix,
        fitted: crate::value::tables::fitted(model),
    });
    let data_quality = sources.quality.map(|q| DataQuality {
        rows_read: q.rows_read,
        rows_kept: q.rows_kept,
        rows_rejected: q.rows_rejected,
        duplicates_removed: q.duplicates_removed,
        rejects_by_reason: q
            .rejects_by_reason
            .iter()
            .map(|(why, n)| (why.clone(), *n))
            .collect(),
    });
    let positive_revenue: Vec<f64> = revenue.iter().map(|v| v.max(0.0)).collect();
    // without a cost of any kind profit is revenue × one margin, and its
    // whale curve would only repeat the Pareto curve
    let costed = ["margin", "acquisition_cost", "service_cost"]
        .iter()
        .any(|name| has(name));
    if profit.is_some() && !costed {
        notes.push("no whale curve: without cost it would repeat the Pareto curve".to_string());
    }
    let curves = Curves {
        pareto: concentration::cumulative_curve(&positive_revenue, CURVE_POINTS),
        whale: (profit.as_deref())
            .filter(|_| costed)
            .map(|p| concentration::cumulative_curve(p, CURVE_POINTS)),
    };
    let by = (sources.attributes.iter().enumerate())
        .map(|(i, attribute)| {
            let by = breakdown::breakdown(customers, attribute, i, sources.activity, config)?;
            Ok((attribute.name.clone(), by))
        })
        .collect::<Result<Vec<_>>>()?;
    if !by.is_empty() && sources.activity.is_some_and(|a| a.grouped.is_empty()) {
        notes.push(
            "no KPIs by attribute: an engine's aggregates are not broken down (run the report \
             here for them)"
                .to_string(),
        );
    }
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        generated_at: config.stamp.clone(),
        title: config.title.clone(),
        as_of: sources.as_of,
        portfolio,
        kpis,
        composition,
        top_customers: top_customers(customers, &revenue, config.top_customers)?,
        concentration,
        concentration_alert,
        migration,
        cohorts,
        rfm_grid,
        profitability,
        model,
        data_quality,
        curves,
        notes,
        targets: Vec::new(),
        by,
        history: Vec::new(),
        economics: economics::economics(customers, config.costs.channel_column())?,
        satisfaction: satisfaction::satisfaction(customers)?,
        cross_sell: (sources.baskets)
            .map(|baskets| crate::crosssell::cross_sell(customers, baskets))
            .transpose()?,
        summary: Vec::new(),
    };
    report.targets = targets::check(&report, &config.targets);
    report.summary = summary::sentences(&report);
    Ok(report)
}

/// What the CLV of `config` is, in words: "next 12m, discounted 10% a
/// year, 30% margin" (in revenue without a margin).
fn clv_basis(config: &ReportConfig) -> String {
    let c = &config.models.config;
    let margin = match c.margin {
        Some(m) => format!("{} margin", crate::io::human::percent(m)),
        None => "in revenue".to_string(),
    };
    format!(
        "next {}{}, discounted {} a year, {margin}",
        c.horizon.amount,
        c.horizon.unit,
        crate::io::human::percent(c.discount_rate)
    )
}

/// The `count` customers with the most revenue (ties by id).
fn top_customers(customers: &DataFrame, revenue: &[f64], count: usize) -> Result<Vec<TopCustomer>> {
    let mut values: Vec<f64> = revenue.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() || count == 0 {
        return Ok(Vec::new());
    }
    let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
    // the count-th largest value: only rows at or above it are candidates
    let nth = count.min(values.len()) - 1;
    let (_, &mut threshold, _) = values.select_nth_unstable_by(nth, |a, b| b.total_cmp(a));
    let ids = customers.column(CUSTOMER_ID)?.cast(&DataType::String)?;
    let ids = ids.str()?;
    let segments = match customers.column("segment") {
        Ok(column) => Some(column.cast(&DataType::String)?),
        Err(_) => None,
    };
    let text = |column: &StringChunked, row: usize| column.get(row).unwrap_or_default().to_string();
    let mut rows: Vec<usize> = (0..revenue.len())
        .filter(|&i| revenue[i].is_finite() && revenue[i] >= threshold)
        .collect();
    rows.sort_by(|&a, &b| {
        revenue[b]
            .total_cmp(&revenue[a])
            .then_with(|| ids.get(a).cmp(&ids.get(b)))
    });
    rows.truncate(count);
    rows.into_iter()
        .map(|i| {
            Ok(TopCustomer {
                customer_id: text(ids, i),
                revenue: revenue[i],
                share: (total > 0.0).then(|| revenue[i].max(0.0) / total),
                segment: match &segments {
                    Some(s) => Some(text(s.str()?, i)),
                    None => None,
                },
            })
        })
        .collect()
}

/// The last day of the period before the one ending on `end`: where the
/// migration starts.
pub fn previous_period_end(end: NaiveDate, period: Period) -> NaiveDate {
    period.start(end) - Days::new(1)
}

/// BG/NBD's parameters and log-likelihood when it is `model`'s purchase
/// model.
fn bgnbd(model: &Model) -> Option<([f64; 4], f64)> {
    match &model.purchase {
        crate::value::purchase::PurchaseFit::BgNbd(fit) => {
            let p = fit.params;
            Some(([p.r, p.alpha, p.a, p.b], fit.log_likelihood))
        }
        _ => None,
    }
}
