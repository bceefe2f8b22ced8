//! A trend, not a snapshot (`report --history DIR`): each run keeps its
//! headline figures as `DIR/<period>-<its last day>.json` (the as-of day
//! names the period: `week-2023-12-31.json`), and the report shows the
//! last periods of each from them, up to its own. A run for a period
//! already there replaces its entry (a rerun, or another as-of day that
//! ends the same period); weekly and monthly entries live side by side; a
//! damaged entry is skipped with a warning.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Report;
use super::period::Period;

/// Periods of history the report shows by default.
pub const DEFAULT_LENGTH: usize = 12;

/// One run's headline figures: the KPIs of its period and the portfolio's
/// totals.
///
/// Unknown keys are ignored and a missing `Option` is none, so entries
/// of other versions of cpm read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// The run's as-of day.
    pub as_of: NaiveDate,
    /// The KPIs' period.
    pub period: Period,
    /// Its first day.
    pub start: NaiveDate,
    /// Its last day (with the period, the entry's file name).
    pub end: NaiveDate,
    /// Customers in the portfolio.
    pub customers: u64,
    /// Customers with a purchase in the period.
    pub active_customers: u64,
    /// Of them, those whose first purchase is in it.
    pub new_customers: u64,
    /// Active in the period before, not in this one.
    pub churned_customers: u64,
    /// Revenue of the period.
    pub revenue: f64,
    /// Its orders.
    pub orders: u64,
    /// Revenue per order.
    pub average_order_value: Option<f64>,
    /// Share of the period before's customers active again.
    pub retention_rate: Option<f64>,
    /// The top 20% of customers' share of revenue to date.
    pub top_20pct_share: Option<f64>,
    /// CLV of all customers over the horizon, when valued.
    pub clv: Option<f64>,
}

impl Headline {
    /// The headline of `report`; none without an as-of day or KPIs.
    pub fn of(report: &Report) -> Option<Headline> {
        let (as_of, kpis) = (report.as_of?, report.kpis.as_ref()?);
        let now = &kpis.current;
        Some(Headline {
            as_of,
            period: kpis.period,
            start: now.start,
            end: now.end,
            customers: report.portfolio.customers,
            active_customers: now.active_customers,
            new_customers: now.new_customers,
            churned_customers: now.churned_customers,
            revenue: now.revenue,
            orders: now.orders,
            average_order_value: now.average_order_value,
            retention_rate: now.retention_rate,
            top_20pct_share: report.concentration.top_20pct_share,
            clv: report.portfolio.clv,
        })
    }

    /// Its name in the history folder: `month-2023-12-31`.
    fn name(&self) -> String {
        format!("{}-{}", self.period.name(), self.end)
    }

    /// Its file in the history folder `dir`.
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.name()))
    }
}

/// What a history folder holds for one period's length.
#[derive(Debug, Default)]
pub struct History {
    /// The entries of that period, oldest first.
    pub entries: Vec<Headline>,
    /// Damaged entries skipped, each with why.
    pub skipped: Vec<String>,
    /// Entries of other periods' lengths (a weekly report beside a
    /// monthly one), left out.
    pub other_periods: usize,
}

/// Reads the entries of `dir` for reports of `period` (none when the
/// folder does not exist yet).
pub fn read(dir: &Path, period: Period) -> Result<History> {
    let mut history = History::default();
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(history),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the history folder {}", dir.display()));
        }
    };
    let mut paths: Vec<PathBuf> = listing
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot read the history folder {}", dir.display()))?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    for path in paths {
        match entry(&path) {
            Ok(headline) if headline.period == period => history.entries.push(headline),
            Ok(_) => history.other_periods += 1,
            Err(why) => history.skipped.push(format!("{}: {why:#}", path.display())),
        }
    }
    history.entries.sort_by_key(|h| h.end);
    Ok(history)
}

/// One entry, checked against its file name.
fn entry(path: &Path) -> Result<Headline> {
    let text = std::fs::read_to_string(path).context("unreadable")?;
    let headline: Headline = serde_json::from_str(&text).context("not a history entry")?;
    let named = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if named != headline.name() {
        anyhow::bail!(
            "it holds the {} ending {}, not the period it is named for",
            headline.period.name(),
            headline.end
        );
    }
    Ok(headline)
}

/// The `length` latest entries of `entries` up to `current`'s period,
/// with `current` in place of an entry of its period, oldest first.
pub fn with_current(mut entries: Vec<Headline>, current: Headline, length: usize) -> Vec<Headline> {
    entries.retain(|h| h.end < current.end);
    entries.push(current);
    entries.sort_by_key(|h| h.end);
    let drop = entries.len().saturating_sub(length.max(1));
    entries.split_off(drop)
}

/// A sparkline of `values`, one block character each from ▁ (the
/// lowest) to █ (the highest); a space for a missing value, ▄ throughout
/// when they are all equal.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let known = values.iter().flatten().filter(|v| v.is_finite());
    let (lo, hi) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() && hi > lo => {
                let level = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                BLOCKS[level.min(7)]
            }
            Some(v) if v.is_finite() => BLOCKS[3],
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_the_lowest_to_the_highest() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), None, Some(3.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }
}
