//! Targets (`report --target 'retention_rate>=0.35'`): a goal for one of
//! the report's figures, met or missed, so that a cron job can alert.

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::Report;

/// How a figure is compared with its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `<`
    #[serde(rename = "<")]
    Below,
}

impl Comparator {
    /// The comparator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::AtLeast => ">=",
            Comparator::AtMost => "<=",
            Comparator::Above => ">",
            Comparator::Below => "<",
        }
    }

    /// Whether `value` meets `goal`.
    fn holds(self, value: f64, goal: f64) -> bool {
        match self {
            Comparator::AtLeast => value >= goal,
            Comparator::AtMost => value <= goal,
            Comparator::Above => value > goal,
            Comparator::Below => value < goal,
        }
    }
}

/// A goal for one figure: `metric comparator goal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The figure's name (see [`METRICS`]).
    pub metric: String,
    /// How it is compared.
    pub comparator: Comparator,
    /// The goal.
    pub goal: f64,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric,
            self.comparator.symbol(),
            self.goal
        )
    }
}

/// The figures a target can name, with what each is. The KPIs are the
/// current period's; `_change_pct` is its change on the previous period,
/// in percent.
pub const METRICS: [(&str, &str); 24] = [
    ("active_customers", "customers who bought in the period"),
    ("new_customers", "first purchase in the period"),
    ("returning_customers", "bought before and in the period"),
    (
        "churned_customers",
        "bought in the previous period, not in this one",
    ),
    ("revenue", "the period's revenue"),
    ("orders", "the period's orders"),
    ("average_order_value", "the period's revenue per order"),
    (
        "repeat_rate",
        "share of the period's customers who bought before",
    ),
    (
        "retention_rate",
        "share of the previous period's customers who bought again",
    ),
    (
        "active_customers_change_pct",
        "change on the previous period, %",
    ),
    (
        "new_customers_change_pct",
        "change on the previous period, %",
    ),
    (
        "churned_customers_change_pct",
        "change on the previous period, %",
    ),
    ("revenue_change_pct", "change on the previous period, %"),
    ("orders_change_pct", "change on the previous period, %"),
    ("top_1pct_share", "revenue share of the top 1% of customers"),
    ("top_10pct_share", "revenue share of the top 10%"),
    ("top_20pct_share", "revenue share of the top 20%"),
    ("gini", "Gini coefficient of revenue per customer"),
    (
        "largest_customer_share",
        "revenue share of the largest customer",
    ),
    ("customers", "customers in the portfolio"),
    ("portfolio_revenue", "revenue of the whole history"),
    ("clv", "CLV of all customers over the horizon"),
    ("expected_purchases", "purchases expected over the horizon"),
    ("mean_p_alive", "mean P(alive)"),
];

impl FromStr for Target {
    type Err = anyhow::Error;

    /// Reads `metric>=goal` (or `<=`, `>`, `<`; spaces allowed); an
    /// unknown metric is an error listing the known ones.
    fn from_str(text: &str) -> Result<Target> {
        let comparators = [
            (">=", Comparator::AtLeast),
            ("<=", Comparator::AtMost),
            (">", Comparator::Above),
            ("<", Comparator::Below),
        ];
        let Some((at, symbol, comparator)) = comparators
            .iter()
            .find_map(|(symbol, c)| text.find(symbol).map(|at| (at, *symbol, *c)))
        else {
            bail!(
                "target '{text}': a figure, a comparator (>=, <=, >, <) and a number, e.g. retention_rate>=0.35"
            );
        };
        // the short names people write for the KPIs
        let metric = match text[..at].trim() {
            "churned" => "churned_customers",
            "retention" => "retention_rate",
            other => other,
        }
        .to_string();
        // a goal in percent: a share's (35% = 0.35), or a change's own
        // unit already (revenue_change_pct>=5%)
        let written = text[at + symbol.len()..].trim();
        let (number, percent) = match written.strip_suffix('%') {
            Some(number) => (number.trim(), true),
            None => (written, false),
        };
        let goal: f64 = match number.parse::<f64>() {
            Ok(goal) if goal.is_finite() && percent && !metric.ends_with("_change_pct") => {
                goal / 100.0
            }
            Ok(goal) if goal.is_finite() => goal,
            _ => bail!("target '{text}': the goal after {symbol} is not a number"),
        };
        if !METRICS.iter().any(|(name, _)| *name == metric) {
            let known: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
            bail!(
                "target '{text}': no figure '{metric}' (known: {})",
                known.join(", ")
            );
        }
        Ok(Target {
            metric,
            comparator,
            goal,
        })
    }
}

/// A target checked against the report.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// The target.
    #[serde(flatten)]
    pub target: Target,
    /// The figure's value (`None`: the report does not have it).
    pub value: Option<f64>,
    /// Whether the value meets the goal (a missing value does not).
    pub met: bool,
}

/// The value of `metric` in `report`, when the report has it.
pub fn value(report: &Report, metric: &str) -> Option<f64> {
    let kpis = report.kpis.as_ref();
    let current =
        |pick: fn(&super::kpis::PeriodKpis) -> Option<f64>| kpis.and_then(|k| pick(&k.current));
    let change = |pick: fn(&super::kpis::PeriodKpis) -> Option<f64>| {
        let k = kpis?;
        let (now, before) = (pick(&k.current)?, pick(&k.previous)?);
        (before != 0.0).then(|| 100.0 * (now - before) / before)
    };
    let c = &report.concentration;
    let p = &report.portfolio;
    match metric {
        "active_customers" => current(|k| Some(k.active_customers as f64)),
        "new_customers" => current(|k| Some(k.new_customers as f64)),
        "returning_customers" => current(|k| Some(k.returning_customers as f64)),
        "churned_customers" => current(|k| Some(k.churned_customers as f64)),
        "revenue" => current(|k| Some(k.revenue)),
        "orders" => current(|k| Some(k.orders as f64)),
        "average_order_value" => current(|k| k.average_order_value),
        "repeat_rate" => current(|k| k.repeat_rate),
        "retention_rate" => current(|k| k.retention_rate),
        "active_customers_change_pct" => change(|k| Some(k.active_customers as f64)),
        "new_customers_change_pct" => change(|k| Some(k.new_customers as f64)),
        "churned_customers_change_pct" => change(|k| Some(k.churned_customers as f64)),
        "revenue_change_pct" => change(|k| Some(k.revenue)),
        "orders_change_pct" => change(|k| Some(k.orders as f64)),
        "top_1pct_share" => c.top_1pct_share,
        "top_10pct_share" => c.top_10pct_share,
        "top_20pct_share" => c.top_20pct_share,
        "gini" => c.gini,
        "largest_customer_share" => c.largest_customer_share,
        "customers" => Some(p.customers as f64),
        "portfolio_revenue" => p.revenue,
        "clv" => p.clv,
        "expected_purchases" => p.expected_purchases,
        "mean_p_alive" => p.mean_p_alive,
        _ => None,
    }
}

/// Each target checked against `report`.
pub fn check(report: &Report, targets: &[Target]) -> Vec<Checked> {
    (targets.iter())
        .map(|target| {
            let value = value(report, &target.metric);
            Checked {
                target: target.clone(),
                value,
                met: value.is_some_and(|v| target.comparator.holds(v, target.goal)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_every_comparator_and_refuse_unknown_figures() {
        let t: Target = "retention_rate >= 0.35".parse().unwrap();
        assert_eq!(t.comparator, Comparator::AtLeast);
        assert_eq!(t.goal, 0.35);
        for (text, comparator) in [
            ("churned_customers<=300", Comparator::AtMost),
            ("gini>0.5", Comparator::Above),
            ("revenue_change_pct<-5", Comparator::Below),
        ] {
            assert_eq!(text.parse::<Target>().unwrap().comparator, comparator);
        }
        let e = "retained>=0.3".parse::<Target>().unwrap_err().to_string();
        assert!(
            e.contains("no figure 'retained'") && e.contains("retention_rate"),
            "{e}"
        );
        let short: Target = "churned<=300".parse().unwrap();
        assert_eq!(short.metric, "churned_customers");
        let percent: Target = "retention_rate >= 35%".parse().unwrap();
        assert_eq!(percent.goal, 0.35);
        let change: Target = "revenue_change_pct>=5%".parse().unwrap();
        assert_eq!(change.goal, 5.0);
        assert!("gini=0.3".parse::<Target>().is_err());
        assert!("gini>=high".parse::<Target>().is_err());
    }

    #[test]
    fn each_comparator_holds_as_written_at_the_edge() {
        assert!(Comparator::AtLeast.holds(0.35, 0.35));
        assert!(!Comparator::Above.holds(0.35, 0.35));
        assert!(Comparator::AtMost.holds(300.0, 300.0));
        assert!(!Comparator::Below.holds(300.0, 300.0));
        assert!(Comparator::Below.holds(-6.0, -5.0));
    }
}
