//! The executive summary: three to five sentences, generated from the
//! report's figures, on what changed and what needs action. The first
//! thing on the page and in the mail.

use super::Report;
use crate::io::human::{count, counted, money, percent};

/// Segments whose customers are slipping away and worth winning back.
const AT_RISK: [&str; 2] = ["At Risk", "Can't Lose Them"];

/// The summary's sentences, most important first.
pub fn sentences(report: &Report) -> Vec<String> {
    let mut said = Vec::new();
    if let Some(k) = &report.kpis {
        let (now, before) = (&k.current, &k.previous);
        let period = k.period.name();
        let change = match before.revenue {
            b if b != 0.0 && b.is_finite() => format!(
                ", {} on the {period} before ({})",
                signed_percent((now.revenue - b) / b.abs()),
                money(b)
            ),
            _ => String::new(),
        };
        said.push(format!(
            "Revenue {} this {period}{change}.",
            money(now.revenue)
        ));
        let retention = match (now.retention_rate, before.retention_rate) {
            (Some(a), Some(b)) => format!("; retention {} ({} before)", percent(a), percent(b)),
            (Some(a), None) => format!("; retention {}", percent(a)),
            _ => String::new(),
        };
        said.push(format!(
            "{} bought, {} of them new (was {}); {} of the {period} before's did not come \
             back{retention}.",
            counted(now.active_customers, "customer", "customers"),
            count(now.new_customers),
            count(before.new_customers),
            count(now.churned_customers),
        ));
    }
    if let Some(segments) = &report.composition.segments
        && let Some(top) = segments.first()
        && let Some(revenue_share) = top.revenue_share
    {
        said.push(format!(
            "{} are {} of customers and make {} of revenue.",
            top.name,
            percent(top.share),
            percent(revenue_share)
        ));
    }
    if let Some(segments) = &report.composition.segments {
        let at_risk: Vec<_> = (segments.iter())
            .filter(|p| AT_RISK.contains(&p.name.as_str()))
            .collect();
        let customers: u64 = at_risk.iter().map(|p| p.customers).sum();
        if customers > 0 {
            let revenue: f64 = at_risk.iter().filter_map(|p| p.revenue_share).sum();
            said.push(format!(
                "{} customers are at risk (At Risk, Can't Lose Them): they made {} of revenue; \
                 win them back before they are lost.",
                count(customers),
                percent(revenue)
            ));
        }
    }
    if let Some(sat) = &report.satisfaction
        && let Some(share) = sat.value_at_risk.share.filter(|s| *s > 0.0)
    {
        let who = if sat.measure == "nps" {
            "Detractors"
        } else {
            "Dissatisfied customers"
        };
        let value = if sat.value_at_risk.value == "clv" {
            "CLV"
        } else {
            "revenue"
        };
        said.push(format!(
            "{who} hold {} of {value}: value at risk.",
            percent(share)
        ));
    }
    let missed: Vec<&super::targets::Checked> = report.targets.iter().filter(|t| !t.met).collect();
    if !missed.is_empty() {
        let names: Vec<String> = missed.iter().map(|t| t.target.to_string()).collect();
        said.push(format!(
            "{} of {} targets missed: {}.",
            missed.len(),
            report.targets.len(),
            names.join("; ")
        ));
    } else if !report.targets.is_empty() {
        said.push(match report.targets.len() {
            1 => "The target is met.".to_string(),
            n => format!("All {n} targets met."),
        });
    }
    if report.concentration_alert.triggered
        && let Some(share) = report.concentration.largest_customer_share
    {
        said.push(format!(
            "The largest customer makes {} of revenue: a concentration risk.",
            percent(share)
        ));
    }
    said.truncate(5);
    said
}

/// A relative change with its sign: +23.6%, -7.2%.
fn signed_percent(change: f64) -> String {
    let text = percent(change.abs());
    if change < 0.0 {
        format!("-{text}")
    } else {
        format!("+{text}")
    }
}
