//! The sections on where the portfolio is and what its customers cost,
//! buy and think: by attribute, what to sell next, satisfaction, what
//! customers cost.

use super::{relative, section, table, text};
use crate::io::human::percent;
use crate::present::{Better, Cell, Section};
use crate::report::Report;

/// Values of an attribute shown in its table; the JSON has them all.
const VALUES_SHOWN: usize = 20;

/// The portfolio by each `--by` attribute: one table a value a row, the
/// diversification in a line, the alerts first.
pub(super) fn by_attribute(report: &Report) -> Option<Section> {
    if report.by.is_empty() {
        return None;
    }
    let names: Vec<&str> = report.by.iter().map(|(name, _)| name.as_str()).collect();
    let mut s = section("by", &format!("By {}", names.join(", ")));
    let threshold = percent(report.concentration_alert.threshold);
    for (name, by) in &report.by {
        let d = &by.diversification;
        if let (true, Some(largest), Some(share)) = (d.alert, &d.largest, d.largest_share) {
            s.alerts.push(format!(
                "{name}: {largest} makes {} of revenue (alert above {threshold})",
                percent(share)
            ));
        }
        if let (Some(hhi), Some(equivalent)) = (d.hhi, d.equivalent_values) {
            s.lines.push(format!(
                "{name}: HHI {hhi:.3} over {} values, as concentrated as {equivalent:.1} equal ones",
                by.values.len()
            ));
        }
        let with_kpis = by.values.iter().any(|(_, f)| f.kpis.is_some());
        let period = report.kpis.as_ref().map_or("period", |k| k.period.name());
        let revenue_header = format!("revenue this {period}");
        let mut headers = vec![name.as_str(), "customers", "revenue share"];
        if with_kpis {
            headers.extend([
                revenue_header.as_str(),
                "change",
                "new",
                "churned",
                "retention",
            ]);
        }
        headers.extend(["largest customer", "top segment"]);
        let rows = (by.values.iter().take(VALUES_SHOWN))
            .map(|(value, f)| {
                let mut row = vec![
                    text(value),
                    Cell::Count(f.customers),
                    Cell::of(f.revenue_share, Cell::Rate),
                ];
                if with_kpis {
                    match &f.kpis {
                        Some(k) => row.extend([
                            Cell::Money(k.current.revenue),
                            relative(k.current.revenue, k.previous.revenue),
                            Cell::Count(k.current.new_customers),
                            Cell::Count(k.current.churned_customers),
                            Cell::of(k.current.retention_rate, Cell::Rate),
                        ]),
                        None => row.extend(std::iter::repeat_n(Cell::Empty, 5)),
                    }
                }
                row.push(Cell::of(f.concentration.largest_customer_share, Cell::Rate));
                // the segment that makes most of the value's revenue
                let top = (f.composition.segments.iter().flatten().next()).map(|p| {
                    let share = p.revenue_share.map_or_else(String::new, |r| {
                        format!(" ({} of revenue)", crate::io::human::percent(r))
                    });
                    format!("{}{share}", p.name)
                });
                row.push(text(top.as_deref().unwrap_or("")));
                row
            })
            .collect();
        let file: String = (name.chars())
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let mut t = table(&format!("by_{file}"), &headers, rows);
        t.better = vec![Some(Better::Higher); t.rows.len()];
        t.caption = Some(format!("by {name}"));
        if by.values.len() > VALUES_SHOWN {
            t.note = Some(format!(
                "{} more values of {name} in the JSON report",
                by.values.len() - VALUES_SHOWN
            ));
        }
        s.tables.push(t);
    }
    Some(s)
}

/// What to sell next: the most-bought items, each segment's penetration
/// and white space, the pairs by lift, the next best items.
pub(super) fn cross_sell(report: &Report) -> Option<Section> {
    let c = report.cross_sell.as_ref()?;
    let mut s = section("cross_sell", "What to sell next");
    s.lines.push(format!(
        "from the {} of {} customers' purchases ({} distinct); a pair counts from {} customers",
        c.column,
        crate::io::human::count(c.customers),
        crate::io::human::count(c.distinct_items),
        crate::io::human::count(c.min_pair_customers)
    ));
    let rows = (c.items.iter())
        .map(|i| {
            vec![
                text(&i.item),
                Cell::Count(i.customers),
                Cell::Share(i.share),
            ]
        })
        .collect();
    let mut t = table("cross_sell_items", &[c.column, "customers", "share"], rows);
    let items = if c.column == "category" {
        "categories"
    } else {
        "products"
    };
    t.caption = Some(format!("the most-bought {items}"));
    s.tables.push(t);
    if !c.penetration.is_empty() {
        let mut headers = vec!["segment", "customers"];
        headers.extend(c.items.iter().map(|i| i.item.as_str()));
        for (name, caption, white) in [
            (
                "penetration",
                "penetration: the share of each segment that bought each",
                false,
            ),
            (
                "white_space",
                "white space: the share of each segment that never bought each",
                true,
            ),
        ] {
            let rows = (c.penetration.iter())
                .map(|p| {
                    let mut row = vec![text(&p.segment), Cell::Count(p.customers)];
                    row.extend(
                        p.shares
                            .iter()
                            .map(|&share| Cell::Rate(if white { 1.0 - share } else { share })),
                    );
                    row
                })
                .collect();
            let mut t = table(name, &headers, rows);
            t.caption = Some(caption.to_string());
            s.tables.push(t);
        }
    }
    if !c.pairs.is_empty() {
        let rows = (c.pairs.iter())
            .map(|p| {
                vec![
                    text(&p.antecedent),
                    text(&p.consequent),
                    Cell::Count(p.customers),
                    Cell::Rate(p.support),
                    Cell::Rate(p.confidence),
                    Cell::Number(p.lift, 2),
                ]
            })
            .collect();
        let mut t = table(
            "pairs",
            &[
                "bought",
                "also bought",
                "customers",
                "support",
                "confidence",
                "lift",
            ],
            rows,
        );
        t.caption =
            Some("pairs by lift: how many times likelier the second after the first".to_string());
        s.tables.push(t);
    }
    if !c.next_best.is_empty() {
        let rows = (c.next_best.iter())
            .map(|i| vec![text(&i.item), Cell::Count(i.customers), Cell::Rate(i.share)])
            .collect();
        let mut t = table("next_best", &["next best", "customers", "share"], rows);
        t.caption = Some("the offers the next best item makes (segment --next-best)".to_string());
        s.tables.push(t);
    }
    Some(s)
}

/// Satisfaction by segment and tier, the value the dissatisfied hold,
/// and satisfaction against P(alive).
pub(super) fn satisfaction(report: &Report) -> Option<Section> {
    let sat = report.satisfaction.as_ref()?;
    let nps = sat.measure == "nps";
    let mut s = section("satisfaction", "Satisfaction");
    s.lines.push(if nps {
        "NPS: % promoters (9–10) − % detractors (0–6) of the customers who answered, −100 to 100"
            .to_string()
    } else {
        "CSAT: the mean score 1–5; satisfied 4–5, dissatisfied 1–2".to_string()
    });
    let risk = &sat.value_at_risk;
    if sat.out_of_range > 0 {
        s.alerts.push(format!(
            "{} {} outside {} counted as no answer",
            sat.measure,
            crate::io::human::counted(sat.out_of_range, "score", "scores"),
            if nps { "0–10" } else { "1–5" }
        ));
    }
    s.lines.push(format!(
        "value at risk: the {} ({}) hold {} of {} ({})",
        if nps { "detractors" } else { "dissatisfied" },
        crate::io::human::count(risk.customers),
        crate::io::human::money(risk.amount),
        if risk.value == "clv" {
            "CLV"
        } else {
            "revenue"
        },
        risk.share.map_or_else(|| "–".to_string(), percent)
    ));
    let decimals = if nps { 0 } else { 2 };
    let rows = |scores: &[&crate::report::satisfaction::Score]| -> Vec<Vec<Cell>> {
        (scores.iter())
            .map(|g| {
                vec![
                    text(&g.name),
                    Cell::Count(g.customers),
                    Cell::Count(g.responses),
                    g.score.map_or(Cell::Empty, |v| Cell::Number(v, decimals)),
                    Cell::of(g.satisfied_share, Cell::Rate),
                    Cell::of(g.dissatisfied_share, Cell::Rate),
                ]
            })
            .collect()
    };
    let headers = |first: &'static str| {
        let measure = if nps { "NPS" } else { "CSAT" };
        [
            first,
            "customers",
            "answers",
            measure,
            "satisfied",
            "dissatisfied",
        ]
    };
    let overall = [&sat.overall];
    s.tables
        .push(table("satisfaction", &headers("group"), rows(&overall)));
    for (name, caption, groups) in [
        ("satisfaction_by_segment", "by segment", &sat.by_segment),
        ("satisfaction_by_tier", "by value tier", &sat.by_tier),
    ] {
        let Some(groups) = groups else { continue };
        let groups: Vec<&crate::report::satisfaction::Score> = groups.iter().collect();
        let mut t = table(name, &headers("group"), rows(&groups));
        t.caption = Some(caption.to_string());
        s.tables.push(t);
    }
    let classes = (sat.by_class.iter())
        .map(|c| {
            vec![
                text(c.name),
                Cell::Count(c.customers),
                Cell::of(c.mean_p_alive, Cell::Rate),
                Cell::Money(c.value),
            ]
        })
        .collect();
    let value = if risk.value == "clv" {
        "CLV"
    } else {
        "revenue"
    };
    let mut t = table(
        "satisfaction_p_alive",
        &["class", "customers", "mean P(alive)", value],
        classes,
    );
    t.caption = Some("against P(alive), whether the dissatisfied leave".to_string());
    s.tables.push(t);
    Some(s)
}

/// Cohorts shown in the economics by cohort, the most recent.
const ECONOMICS_COHORTS: usize = 12;

/// What customers cost and return: the totals, per channel and cohort,
/// the cost-to-serve × value quadrant.
pub(super) fn economics(report: &Report) -> Option<Section> {
    let e = report.economics.as_ref()?;
    let mut s = section("economics", "What customers cost");
    s.lines.push(
        "LTV: margin to date less cost to serve, plus CLV net of the cost to serve the \
         purchases expected; payback: months of the contribution so far to earn the \
         acquisition cost (CAC) back"
            .to_string(),
    );
    let months = |m: f64| Cell::Number(m, 1);
    let rows = vec![
        vec![
            text("acquisition cost (CAC)"),
            Cell::of(e.acquisition_cost, Cell::Money),
        ],
        vec![
            text("cost to serve to date"),
            Cell::of(e.service_cost, Cell::Money),
        ],
        vec![
            text("CLV net of cost to serve"),
            Cell::of(e.clv_net, Cell::Money),
        ],
        vec![
            text("LTV:CAC"),
            Cell::of(e.ltv_to_cac, |r| Cell::Number(r, 2)),
        ],
        vec![
            text("CAC payback, months"),
            Cell::of(e.payback_months, months),
        ],
    ];
    s.tables
        .push(table("economics", &["measure", "value"], rows));
    let group_rows = |groups: &[crate::report::economics::GroupEconomics]| -> Vec<Vec<Cell>> {
        (groups.iter())
            .map(|g| {
                vec![
                    text(&g.name),
                    Cell::Count(g.customers),
                    Cell::of(g.acquisition_cost, Cell::Money),
                    Cell::Money(g.ltv),
                    Cell::of(g.ltv_to_cac, |r| Cell::Number(r, 2)),
                    Cell::of(g.payback_months, months),
                ]
            })
            .collect()
    };
    let headers = |first: &'static str| {
        [
            first,
            "customers",
            "CAC",
            "LTV",
            "LTV:CAC",
            "payback, months",
        ]
    };
    if let Some(channels) = &e.by_channel {
        let mut t = table(
            "economics_by_channel",
            &headers("channel"),
            group_rows(channels),
        );
        t.caption = Some("by channel".to_string());
        s.tables.push(t);
    }
    let recent = &e.by_cohort[e.by_cohort.len().saturating_sub(ECONOMICS_COHORTS)..];
    let mut t = table(
        "economics_by_cohort",
        &headers("cohort"),
        group_rows(recent),
    );
    t.caption = Some("by acquisition cohort (month of the first purchase)".to_string());
    if e.by_cohort.len() > recent.len() {
        t.note = Some(format!(
            "{} earlier cohorts in the JSON report",
            e.by_cohort.len() - recent.len()
        ));
    }
    s.tables.push(t);
    if let Some(cells) = &e.quadrant {
        let rows = (cells.iter())
            .map(|c| {
                vec![
                    text(c.value),
                    text(c.cost_to_serve),
                    Cell::Count(c.customers),
                    Cell::of(c.revenue_share, Cell::Rate),
                    Cell::Money(c.service_cost),
                    text(c.action),
                ]
            })
            .collect();
        let mut t = table(
            "cost_to_serve_quadrant",
            &[
                "value",
                "serve cost",
                "customers",
                "revenue",
                "to date",
                "action",
            ],
            rows,
        );
        t.caption = Some(
            "cost to serve × value (CLV, else revenue), split at the medians; revenue: the \
             cell's share, to date: its cost to serve so far"
                .to_string(),
        );
        s.tables.push(t);
    }
    Some(s)
}
