//! Satisfaction: an `nps` (0–10) or `csat` (1–5) attribute of the
//! customers, by segment and tier; the value held by the dissatisfied
//! (detractors: NPS 0–6, CSAT 1–2) at risk; and satisfaction against
//! P(alive).

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

/// The satisfaction columns the report reads, in order of preference.
pub const COLUMNS: [&str; 2] = ["nps", "csat"];

/// How satisfied the customers who answered are.
#[derive(Debug, Clone, Serialize)]
pub struct Satisfaction {
    /// `nps` or `csat`.
    pub measure: &'static str,
    /// Scores outside the measure's range, counted as no answer.
    pub out_of_range: u64,
    /// The answers' figures, all customers.
    pub overall: Score,
    /// By segment, most answers first.
    pub by_segment: Option<Vec<Score>>,
    /// By value tier.
    pub by_tier: Option<Vec<Score>>,
    /// What the dissatisfied hold.
    pub value_at_risk: ValueAtRisk,
    /// Detractors, passives and promoters (dissatisfied, neutral,
    /// satisfied for CSAT): their customers, mean P(alive) and value.
    pub by_class: Vec<Class>,
}

/// One group's satisfaction.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// The group ("all" overall).
    pub name: String,
    /// Its customers.
    pub customers: u64,
    /// Those who answered.
    pub responses: u64,
    /// NPS: % promoters − % detractors (−100 to 100); CSAT: the mean
    /// score. None without answers.
    pub score: Option<f64>,
    /// Share of the answers that are satisfied (NPS 9–10, CSAT 4–5).
    pub satisfied_share: Option<f64>,
    /// Share that are dissatisfied (NPS 0–6, CSAT 1–2).
    pub dissatisfied_share: Option<f64>,
}

/// The value the dissatisfied hold.
#[derive(Debug, Clone, Serialize)]
pub struct ValueAtRisk {
    /// The value measured: `clv`, else `revenue`.
    pub value: &'static str,
    /// Dissatisfied customers.
    pub customers: u64,
    /// Their value.
    pub amount: f64,
    /// Its share of all customers' value.
    pub share: Option<f64>,
}

/// A satisfaction class's customers.
#[derive(Debug, Clone, Serialize)]
pub struct Class {
    /// `detractors`, `passives` or `promoters`.
    pub name: &'static str,
    /// Its customers.
    pub customers: u64,
    /// Their mean P(alive), when valued.
    pub mean_p_alive: Option<f64>,
    /// Their value (CLV, else revenue).
    pub value: f64,
}

/// A score's class: 0 dissatisfied, 1 neutral, 2 satisfied.
fn class(measure: &str, score: f64) -> usize {
    match measure {
        "nps" if score >= 9.0 => 2,
        "nps" if score >= 7.0 => 1,
        "nps" => 0,
        _ if score >= 4.0 => 2,
        _ if score >= 3.0 => 1,
        _ => 0,
    }
}

/// The satisfaction of `customers`, from its first column of [`COLUMNS`];
/// none without one. A score outside the measure's range (NPS 0–10, CSAT
/// 1–5) counts as no answer.
pub fn satisfaction(customers: &DataFrame) -> Result<Option<Satisfaction>> {
    let Some(measure) = COLUMNS.into_iter().find(|c| customers.column(c).is_ok()) else {
        return Ok(None);
    };
    let range = if measure == "nps" {
        0.0..=10.0
    } else {
        1.0..=5.0
    };
    let given = customers.column(measure)?.cast(&DataType::Float64)?;
    let given: Vec<Option<f64>> = given.f64()?.iter().collect();
    let scores: Vec<Option<f64>> = (given.iter())
        .map(|s| s.filter(|s| range.contains(s)))
        .collect();
    let out_of_range = (given.iter().zip(&scores))
        .filter(|(g, s)| g.is_some() && s.is_none())
        .count();
    let numbers = |name: &str| -> Result<Option<Vec<f64>>> {
        match customers.column(name) {
            Ok(_) => crate::segment::numbers(customers, name).map(Some),
            Err(_) => Ok(None),
        }
    };
    let value_name = if customers.column("clv").is_ok() {
        "clv"
    } else {
        "revenue"
    };
    let value = numbers(value_name)?.unwrap_or_else(|| vec![0.0; scores.len()]);
    let value = |i: usize| if value[i].is_finite() { value[i] } else { 0.0 };
    let p_alive = numbers("p_alive")?;
    let everyone: Vec<usize> = (0..scores.len()).collect();
    let score = |name: &str, rows: &[usize]| -> Score {
        let answers: Vec<f64> = rows.iter().filter_map(|&i| scores[i]).collect();
        let n = answers.len() as f64;
        let share = |k: usize| {
            (n > 0.0)
                .then(|| answers.iter().filter(|s| class(measure, **s) == k).count() as f64 / n)
        };
        let (satisfied, dissatisfied) = (share(2), share(0));
        Score {
            name: name.to_string(),
            customers: rows.len() as u64,
            responses: answers.len() as u64,
            score: match measure {
                "nps" => satisfied.zip(dissatisfied).map(|(p, d)| 100.0 * (p - d)),
                _ => (n > 0.0).then(|| answers.iter().sum::<f64>() / n),
            },
            satisfied_share: satisfied,
            dissatisfied_share: dissatisfied,
        }
    };
    let by = |column: &str| -> Result<Option<Vec<Score>>> {
        if customers.column(column).is_err() {
            return Ok(None);
        }
        let names = customers.column(column)?.cast(&DataType::String)?;
        let names: Vec<&str> = names.str()?.iter().map(|n| n.unwrap_or("(none)")).collect();
        let mut distinct: Vec<&str> = names.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let mut scores: Vec<Score> = (distinct.iter())
            .map(|name| {
                let rows: Vec<usize> = (0..names.len()).filter(|&i| names[i] == *name).collect();
                score(name, &rows)
            })
            .collect();
        scores.sort_by(|a, b| {
            b.responses
                .cmp(&a.responses)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Some(scores))
    };
    let mut by_tier = by("tier")?;
    if let Some(tiers) = &mut by_tier {
        let rank = |name: &str| crate::segment::tiers::TIERS.iter().position(|t| *t == name);
        tiers.sort_by_key(|s| rank(&s.name).unwrap_or(usize::MAX));
    }
    let in_class = |k: usize| -> Vec<usize> {
        (0..scores.len())
            .filter(|&i| scores[i].is_some_and(|s| class(measure, s) == k))
            .collect()
    };
    let total = (0..scores.len()).map(value).fold(0.0, |s, v| s + v);
    let dissatisfied = in_class(0);
    let at_risk = dissatisfied
        .iter()
        .map(|&i| value(i))
        .fold(0.0, |s, v| s + v);
    let names = match measure {
        "nps" => ["detractors", "passives", "promoters"],
        _ => ["dissatisfied", "neutral", "satisfied"],
    };
    Ok(Some(Satisfaction {
        measure,
        out_of_range: out_of_range as u64,
        overall: score("all", &everyone),
        by_segment: by("segment")?,
        by_tier,
        value_at_risk: ValueAtRisk {
            value: value_name,
            customers: dissatisfied.len() as u64,
            amount: at_risk,
            share: (total > 0.0).then(|| at_risk / total),
        },
        by_class: (0..3)
            .map(|k| {
                let rows = in_class(k);
                Class {
                    name: names[k],
                    customers: rows.len() as u64,
                    mean_p_alive: p_alive
                        .as_ref()
                        .filter(|_| !rows.is_empty())
                        .map(|p| rows.iter().map(|&i| p[i]).sum::<f64>() / rows.len() as f64),
                    value: rows.iter().map(|&i| value(i)).fold(0.0, |s, v| s + v),
                }
            })
            .collect(),
    }))
}
