//! The report for people: sections of titled tables and lines, the same
//! for every format. The terminal, Markdown, HTML and CSV renderers lay
//! out this one document, so a figure reads the same everywhere.

use super::Report;
use super::kpis::PeriodKpis;
use super::migration::Moved;
use crate::io::human::percent;
use crate::present::{Better, Cell, Document, Section, Table};

/// Later months shown in the cohort triangle (M1 … M11): the widest table
/// that fits 100 columns.
pub const COHORT_MONTHS: usize = 11;
/// Cohorts shown, the most recent.
pub const COHORTS_SHOWN: usize = 24;

fn table(name: &str, headers: &[&str], rows: Vec<Vec<Cell>>) -> Table {
    Table::new(name, headers, rows)
}

fn text(value: &str) -> Cell {
    Cell::Text(value.to_string())
}

fn section(id: &'static str, title: &str) -> Section {
    Section::new(id, title)
}

/// Lays out `report` for people.
pub fn document(report: &Report) -> Document {
    let mut subtitle = Vec::new();
    if let Some(as_of) = report.as_of {
        subtitle.push(format!("as of {as_of}"));
    }
    if let Some(k) = &report.kpis {
        subtitle.push(format!(
            "{} {} to {}",
            k.period.name(),
            k.current.start,
            k.current.end
        ));
    }
    if let Some(stamp) = &report.generated_at {
        subtitle.push(format!("generated {stamp}"));
    }
    let mut sections: Vec<Section> = Vec::new();
    if !report.summary.is_empty() {
        let mut summary = section("summary", "Summary");
        summary.lines = report.summary.clone();
        sections.push(summary);
    }
    sections.extend(targets(report));
    sections.push(portfolio(report));
    sections.extend(kpis(report));
    sections.extend(trend(report));
    sections.push(composition(report));
    sections.extend(cross_sell(report));
    sections.extend(satisfaction(report));
    sections.push(concentration(report));
    sections.extend(by_attribute(report));
    sections.extend(migration(report));
    sections.extend(cohorts(report));
    sections.extend(rfm_grid(report));
    sections.extend(profitability(report));
    sections.extend(economics(report));
    sections.extend(model(report));
    sections.extend(data_quality(report));
    sections.push(terms(report));
    if !report.notes.is_empty() {
        let mut notes = section("notes", "Not in this report");
        notes.lines = report.notes.clone();
        sections.push(notes);
    }
    Document {
        title: (report.title.clone()).unwrap_or_else(|| "Customer portfolio report".to_string()),
        subtitle,
        sections,
    }
}

fn portfolio(report: &Report) -> Section {
    let p = &report.portfolio;
    let mut rows = vec![vec![text("customers"), Cell::Count(p.customers)]];
    if let Some(n) = p.transactions {
        rows.push(vec![text("transaction lines"), Cell::Count(n)]);
    }
    let clv = match &p.clv_basis {
        Some(basis) => format!("CLV ({basis})"),
        None => "CLV".to_string(),
    };
    let amounts = [
        ("revenue", p.revenue),
        ("profit", p.profit),
        (clv.as_str(), p.clv),
    ];
    for (name, value) in amounts {
        if value.is_some() {
            rows.push(vec![text(name), Cell::of(value, Cell::Money)]);
        }
    }
    if let Some(e) = p.expected_purchases {
        rows.push(vec![
            text("expected purchases (horizon)"),
            Cell::Number(e, 0),
        ]);
    }
    if let Some(alive) = p.mean_p_alive {
        rows.push(vec![text("mean P(alive)"), Cell::Share(alive)]);
    }
    let mut s = section("portfolio", "Portfolio");
    s.tables
        .push(table("portfolio", &["measure", "value"], rows));
    s
}

fn kpis(report: &Report) -> Option<Section> {
    let k = report.kpis.as_ref()?;
    let (now, before) = (&k.current, &k.previous);
    let count = |f: fn(&PeriodKpis) -> u64| {
        let (a, b) = (f(now), f(before));
        vec![
            Cell::Count(b),
            Cell::Count(a),
            Cell::Change(a as f64 - b as f64),
            relative(a as f64, b as f64),
        ]
    };
    let amount = |f: fn(&PeriodKpis) -> Option<f64>| match (f(now), f(before)) {
        (Some(a), Some(b)) => vec![
            Cell::Money(b),
            Cell::Money(a),
            Cell::Change(a - b),
            relative(a, b),
        ],
        (a, b) => vec![
            Cell::of(b, Cell::Money),
            Cell::of(a, Cell::Money),
            Cell::Empty,
            Cell::Empty,
        ],
    };
    let rate = |f: fn(&PeriodKpis) -> Option<f64>| {
        let (a, b) = (f(now), f(before));
        vec![
            Cell::of(b, Cell::Share),
            Cell::of(a, Cell::Share),
            match (a, b) {
                (Some(a), Some(b)) => Cell::Points(a - b),
                _ => Cell::Empty,
            },
            Cell::Empty,
        ]
    };
    let mut rows: Vec<(&str, Vec<Cell>)> = vec![
        ("active customers", count(|k| k.active_customers)),
        ("new", count(|k| k.new_customers)),
        ("returning", count(|k| k.returning_customers)),
        ("churned", count(|k| k.churned_customers)),
        ("revenue", amount(|k| Some(k.revenue))),
    ];
    if now.margin.is_some() {
        rows.push(("margin", amount(|k| k.margin)));
    }
    rows.extend([
        ("orders", count(|k| k.orders)),
        ("average order value", amount(|k| k.average_order_value)),
        ("repeat rate", rate(|k| k.repeat_rate)),
        ("retention rate", rate(|k| k.retention_rate)),
    ]);
    // fewer churned customers is better; more of everything else
    let better = (rows.iter())
        .map(|(name, _)| {
            Some(if *name == "churned" {
                Better::Lower
            } else {
                Better::Higher
            })
        })
        .collect();
    let rows = rows
        .into_iter()
        .map(|(name, mut cells)| {
            cells.insert(0, text(name));
            cells
        })
        .collect();
    let mut s = section("kpis", "This period against the one before");
    s.lines.push(format!(
        "{} {} to {}, against {} to {}",
        k.period.name(),
        now.start,
        now.end,
        before.start,
        before.end
    ));
    let mut t = table(
        "kpis",
        &["measure", "previous", "current", "change", "change %"],
        rows,
    );
    t.better = better;
    s.tables.push(t);
    Some(s)
}

/// The last periods' headline figures (`--history`): a sparkline each,
/// the oldest shown, the latest, the lowest and the highest.
fn trend(report: &Report) -> Option<Section> {
    use super::history::{Headline, sparkline};
    let history = &report.history;
    let (first, last) = (history.first()?, history.last()?);
    /// A figure's name, how to read it from an entry and how to show it.
    type Figure = (&'static str, fn(&Headline) -> Option<f64>, fn(f64) -> Cell);
    let figures: [Figure; 9] = [
        (
            "active customers",
            |h| Some(h.active_customers as f64),
            count_cell,
        ),
        ("new", |h| Some(h.new_customers as f64), count_cell),
        ("churned", |h| Some(h.churned_customers as f64), count_cell),
        ("revenue", |h| Some(h.revenue), Cell::Money),
        ("orders", |h| Some(h.orders as f64), count_cell),
        (
            "average order value",
            |h| h.average_order_value,
            Cell::Money,
        ),
        ("retention rate", |h| h.retention_rate, Cell::Rate),
        (
            "top 20% share of revenue",
            |h| h.top_20pct_share,
            Cell::Rate,
        ),
        ("CLV (horizon)", |h| h.clv, Cell::Money),
    ];
    let rows = (figures.iter())
        .filter_map(|&(name, figure, cell)| {
            let values: Vec<Option<f64>> = history.iter().map(figure).collect();
            let known: Vec<f64> = values.iter().flatten().copied().collect();
            if known.is_empty() {
                return None;
            }
            let lowest = known.iter().copied().fold(f64::INFINITY, f64::min);
            let highest = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some(vec![
                text(name),
                text(&sparkline(&values)),
                Cell::of(figure(first), cell),
                Cell::of(figure(last), cell),
                cell(lowest),
                cell(highest),
            ])
        })
        .collect();
    let name = first.period.name();
    let mut s = section(
        "trend",
        &format!("Trend over the last {} {name}s", history.len()),
    );
    s.lines.push(format!(
        "{} {name}s from the history folder, the {name} ending {} to the one ending {}",
        history.len(),
        first.end,
        last.end
    ));
    s.tables.push(table(
        "trend",
        &["measure", "trend", "first", "latest", "lowest", "highest"],
        rows,
    ));
    Some(s)
}

/// A count as a cell (a history's figures are numbers).
fn count_cell(value: f64) -> Cell {
    Cell::Count(value as u64)
}

/// The terms the page uses, explained: those of the sections it has.
fn terms(report: &Report) -> Section {
    let mut terms: Vec<(&str, String)> = Vec::new();
    if report.kpis.is_some() {
        terms.extend([
            (
                "active",
                "customers with a purchase in the period".to_string(),
            ),
            (
                "new",
                "active customers whose first purchase ever is in the period".to_string(),
            ),
            (
                "churned",
                "customers active in the period before, not in this one".to_string(),
            ),
            (
                "retention rate",
                "share of the period before's active customers active again".to_string(),
            ),
            (
                "repeat rate",
                "share of the active customers who have bought on two days or more".to_string(),
            ),
        ]);
    }
    if report.portfolio.clv.is_some() {
        let basis = report
            .portfolio
            .clv_basis
            .as_deref()
            .unwrap_or("as the input gave it");
        terms.push((
            "CLV",
            format!("customer lifetime value: the value of the purchases expected ({basis})"),
        ));
    }
    if report.portfolio.mean_p_alive.is_some() {
        terms.push((
            "P(alive)",
            "the model's probability that a customer still buys".to_string(),
        ));
    }
    if report.composition.matrix_cells.is_some() {
        terms.push((
            "value/risk cell",
            "high or low value (above or below the split) × high or low risk of leaving"
                .to_string(),
        ));
    }
    terms.extend([
        ("top 20% share", "the share of revenue the largest fifth of the customers makes".to_string()),
        ("Gini", "inequality of revenue over customers: 0 when all are worth the same, near 1 when one is worth everything".to_string()),
        ("HHI", "sum of the squared revenue shares: 1 / n for n equal parts, 1 for one".to_string()),
    ]);
    if report.cohorts.is_some() {
        terms.push((
            "M0, M1, …",
            "in the cohorts: the month of the first purchase, the month after, …".to_string(),
        ));
    }
    if report.economics.is_some() {
        terms.extend([
            ("CAC", "customer acquisition cost".to_string()),
            ("LTV:CAC", "lifetime value (margin to date less cost to serve, plus net CLV) over CAC; above 3 is healthy".to_string()),
            ("payback", "months of a customer's contribution so far to earn the CAC back".to_string()),
        ]);
    }
    if let Some(sat) = &report.satisfaction {
        terms.push(match sat.measure {
            "nps" => (
                "NPS",
                "% promoters (9–10) − % detractors (0–6) of those who answered".to_string(),
            ),
            _ => (
                "CSAT",
                "mean satisfaction 1–5; satisfied 4–5, dissatisfied 1–2".to_string(),
            ),
        });
    }
    let mut s = section("terms", "Terms");
    s.lines = (terms.into_iter())
        .map(|(term, meaning)| format!("{term}: {meaning}"))
        .collect();
    s
}

/// The relative change from `before` to `now`, when `before` is not 0.
fn relative(now: f64, before: f64) -> Cell {
    if before != 0.0 && before.is_finite() && now.is_finite() {
        Cell::Relative((now - before) / before.abs())
    } else {
        Cell::Empty
    }
}

fn composition(report: &Report) -> Section {
    let mut s = section("composition", "Composition");
    let c = &report.composition;
    for (name, caption, parts) in [
        ("segments", "by segment", &c.segments),
        ("tiers", "by value tier", &c.tiers),
        ("matrix_cells", "by value/risk cell", &c.matrix_cells),
    ] {
        let Some(parts) = parts else { continue };
        let with_clv = parts.iter().any(|p| p.clv_share.is_some());
        let with_strategy = parts.iter().any(|p| p.strategy.is_some());
        let mut headers = vec!["group", "customers", "share", "revenue share"];
        if with_clv {
            headers.push("CLV share");
        }
        if with_strategy {
            headers.push("strategy");
        }
        let rows = parts
            .iter()
            .map(|p| {
                let mut row = vec![
                    text(&p.name),
                    Cell::Count(p.customers),
                    Cell::Share(p.share),
                    Cell::of(p.revenue_share, Cell::Share),
                ];
                if with_clv {
                    row.push(Cell::of(p.clv_share, Cell::Share));
                }
                if with_strategy {
                    row.push(text(p.strategy.as_deref().unwrap_or("")));
                }
                row
            })
            .collect();
        let mut t = table(name, &headers, rows);
        t.caption = Some(caption.to_string());
        s.tables.push(t);
    }
    if s.tables.is_empty() {
        s.lines
            .push("no segment, tier or matrix_cell column".to_string());
    }
    s
}

/// Values of an attribute shown in its table; the JSON has them all.
const VALUES_SHOWN: usize = 20;

/// The portfolio by each `--by` attribute: one table a value a row, the
/// diversification in a line, the alerts first.
fn by_attribute(report: &Report) -> Option<Section> {
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
        headers.push("largest customer");
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
                row.push(Cell::of(
                    f.concentration.largest_customer_share,
                    Cell::Share,
                ));
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
fn cross_sell(report: &Report) -> Option<Section> {
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
    t.caption = Some(format!("the most-bought {}s", c.column));
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
fn satisfaction(report: &Report) -> Option<Section> {
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
            "{} {} scores outside {} counted as no answer",
            crate::io::human::count(sat.out_of_range),
            sat.measure,
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
    let rows = |scores: &[&super::satisfaction::Score]| -> Vec<Vec<Cell>> {
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
        let groups: Vec<&super::satisfaction::Score> = groups.iter().collect();
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
fn economics(report: &Report) -> Option<Section> {
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
    let group_rows = |groups: &[super::economics::GroupEconomics]| -> Vec<Vec<Cell>> {
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
                "cost to serve",
                "customers",
                "revenue share",
                "cost to serve to date",
                "action",
            ],
            rows,
        );
        t.caption =
            Some("cost to serve × value (CLV, else revenue), split at the medians".to_string());
        s.tables.push(t);
    }
    Some(s)
}

/// The targets, met or missed, first: what a cron mail is read for.
fn targets(report: &Report) -> Option<Section> {
    if report.targets.is_empty() {
        return None;
    }
    let mut s = section("targets", "Targets");
    let missed = report.targets.iter().filter(|t| !t.met).count();
    if missed > 0 {
        s.alerts.push(format!(
            "{missed} of {} targets missed",
            report.targets.len()
        ));
    }
    let rows = (report.targets.iter())
        .map(|t| {
            vec![
                text(if t.met { "met" } else { "missed" }),
                Cell::Text(t.target.metric.clone()),
                Cell::Text(format!(
                    "{} {}",
                    t.target.comparator.symbol(),
                    t.target.goal
                )),
                t.value
                    .map_or(text("not in this report"), |v| Cell::Number(v, 4)),
            ]
        })
        .collect();
    s.tables.push(table(
        "targets",
        &["status", "figure", "target", "value"],
        rows,
    ));
    Some(s)
}

fn concentration(report: &Report) -> Section {
    let c = &report.concentration;
    let mut s = section("concentration", "Concentration of revenue");
    if report.concentration_alert.triggered {
        s.alerts.push(format!(
            "over-concentration: the largest customer makes {} of revenue (alert above {})",
            c.largest_customer_share.map_or_else(String::new, percent),
            percent(report.concentration_alert.threshold)
        ));
    }
    let rows = vec![
        vec![
            text("top 1% of customers"),
            Cell::of(c.top_1pct_share, Cell::Share),
        ],
        vec![
            text("top 10% of customers"),
            Cell::of(c.top_10pct_share, Cell::Share),
        ],
        vec![
            text("top 20% of customers"),
            Cell::of(c.top_20pct_share, Cell::Share),
        ],
        vec![
            text("largest customer"),
            Cell::of(c.largest_customer_share, Cell::Share),
        ],
        vec![
            text("customers making 80% of revenue"),
            c.customers_for_80pct.map_or(Cell::Empty, Cell::Count),
        ],
        vec![
            text("Gini (0 equal, 1 one customer)"),
            Cell::of(c.gini, |g| Cell::Number(g, 3)),
        ],
        vec![
            text("HHI (sum of squared shares)"),
            Cell::of(c.hhi, |h| Cell::Number(h, 4)),
        ],
    ];
    s.tables
        .push(table("concentration", &["measure", "value"], rows));
    if !report.top_customers.is_empty() {
        let with_segment = report.top_customers.iter().any(|t| t.segment.is_some());
        let mut headers = vec!["customer", "revenue", "share"];
        if with_segment {
            headers.push("segment");
        }
        let rows = report
            .top_customers
            .iter()
            .map(|t| {
                let mut row = vec![
                    text(&t.customer_id),
                    Cell::Money(t.revenue),
                    Cell::of(t.share, Cell::Share),
                ];
                if let Some(segment) = &t.segment {
                    row.push(text(segment));
                }
                row
            })
            .collect();
        let mut t = table("top_customers", &headers, rows);
        t.caption = Some("largest customers".to_string());
        s.tables.push(t);
    }
    s
}

fn migration(report: &Report) -> Option<Section> {
    let m = report.migration.as_ref()?;
    let mut s = section("migration", "Segment migration");
    s.lines.push(format!("from {} to {}", m.from, m.to));
    let moved =
        |name: &str, m: &Moved| vec![text(name), Cell::Count(m.customers), Cell::Money(m.revenue)];
    let mut rows = vec![
        moved("moved up", &m.moved_up),
        moved("moved down", &m.moved_down),
        moved("stayed", &m.stayed),
        moved("new", &m.new),
    ];
    if m.moved_unranked.customers > 0 {
        rows.push(moved("moved (unranked segments)", &m.moved_unranked));
    }
    if m.gone > 0 {
        rows.push(vec![text("gone"), Cell::Count(m.gone), Cell::Empty]);
    }
    let mut summary = table(
        "migration",
        &["customers", "count", "revenue to date"],
        rows,
    );
    summary.caption = Some("moves on the segment ladder".to_string());
    s.tables.push(summary);
    let mut headers = vec!["from \\ to".to_string()];
    headers.extend(m.to_segments.iter().cloned());
    let rows = m
        .from_segments
        .iter()
        .zip(&m.customers)
        .map(|(from, counts)| {
            let mut row = vec![text(from)];
            row.extend(counts.iter().map(|&n| Cell::Count(n)));
            row
        })
        .collect();
    s.tables.push(Table {
        name: "migration_matrix".to_string(),
        caption: Some("customers from each segment (rows) to each segment (columns)".to_string()),
        headers,
        rows,
        note: None,
        better: Vec::new(),
    });
    Some(s)
}

fn cohorts(report: &Report) -> Option<Section> {
    let cohorts = report.cohorts.as_ref()?;
    let mut s = section("cohorts", "Cohorts by month of first purchase");
    let shown = &cohorts[cohorts.len().saturating_sub(COHORTS_SHOWN)..];
    if shown.len() < cohorts.len() {
        s.lines.push(format!(
            "the {} most recent of {} cohorts (all in the JSON report)",
            shown.len(),
            cohorts.len()
        ));
    }
    let mut headers = vec!["cohort".to_string(), "size".to_string()];
    headers.extend((1..=COHORT_MONTHS).map(|m| format!("M{m}")));
    let rows = shown
        .iter()
        .map(|c| {
            let mut row = vec![text(&c.month), Cell::Count(c.customers)];
            row.extend((1..=COHORT_MONTHS).map(|m| match c.retention.get(m) {
                Some(&r) => Cell::Rate(r),
                None => Cell::Empty,
            }));
            row
        })
        .collect();
    s.tables.push(Table {
        name: "cohort_retention".to_string(),
        caption: Some("share of each cohort buying again M months later".to_string()),
        headers,
        rows,
        note: None,
        better: Vec::new(),
    });
    let rows = shown
        .iter()
        .map(|c| {
            let total: f64 = c.revenue.iter().sum();
            vec![
                text(&c.month),
                Cell::Count(c.customers),
                Cell::Money(c.revenue.first().copied().unwrap_or(0.0)),
                Cell::Money(total),
                Cell::Money(total / c.customers.max(1) as f64),
            ]
        })
        .collect();
    let mut revenue = table(
        "cohort_revenue",
        &["cohort", "size", "first month", "to date", "per customer"],
        rows,
    );
    revenue.caption = Some("revenue per cohort".to_string());
    s.tables.push(revenue);
    Some(s)
}

fn rfm_grid(report: &Report) -> Option<Section> {
    let grid = report.rfm_grid.as_ref()?;
    let mut s = section("rfm_grid", "Customers by recency and frequency score");
    let mut headers = vec!["R \\ F".to_string()];
    headers.extend((1..=5).map(|f| format!("F{f}")));
    let rows = grid
        .customers
        .iter()
        .enumerate()
        .map(|(i, counts)| {
            let mut row = vec![Cell::Text(format!("R{}", 5 - i))];
            row.extend(counts.iter().map(|&n| Cell::Count(n)));
            row
        })
        .collect();
    s.tables.push(Table {
        name: "rfm_grid".to_string(),
        caption: None,
        headers,
        rows,
        note: None,
        better: Vec::new(),
    });
    Some(s)
}

fn profitability(report: &Report) -> Option<Section> {
    let w = report.profitability.as_ref()?;
    let mut s = section("profitability", "Profitability (whale curve)");
    let rows = vec![
        vec![text("total profit"), Cell::Money(w.total_profit)],
        vec![
            text("profit of the profitable customers"),
            Cell::Money(w.peak_profit),
        ],
        vec![
            text("… as a share of total profit"),
            Cell::of(Some(w.peak_share_of_total), Cell::Share),
        ],
        vec![
            text("profitable customers"),
            Cell::Count(w.peak_at_customers),
        ],
        vec![
            text("unprofitable customers"),
            Cell::Count(w.unprofitable_customers),
        ],
        vec![
            text("… as a share of all"),
            Cell::Share(w.unprofitable_share),
        ],
        vec![text("profit they destroy"), Cell::Money(w.profit_destroyed)],
    ];
    s.tables
        .push(table("profitability", &["measure", "value"], rows));
    Some(s)
}

/// The models' health in a sentence or two, before their parameters:
/// what was fitted on how many, and how close the holdout came.
fn model_in_words(m: &super::ModelHealth) -> String {
    let name = match m.purchase_model {
        crate::value::purchase::PurchaseModelKind::Bgnbd => "BG/NBD",
        crate::value::purchase::PurchaseModelKind::Pnbd => "Pareto/NBD",
        crate::value::purchase::PurchaseModelKind::Mbgnbd => "MBG/NBD",
        crate::value::purchase::PurchaseModelKind::Bgbb => "BG/BB",
    };
    let (spend, were, they) = match m.gamma_gamma {
        Some(_) => (" and the Gamma-Gamma spend model", "were", "they"),
        None => ("", "was", "it"),
    };
    let mut said = format!(
        "The {name} purchase model{spend} {were} fitted on {} customers.",
        Cell::Count(m.customers).display()
    );
    if let Some(h) = &m.holdout
        && h.total_actual > 0.0
    {
        let off = (h.total_predicted - h.total_actual) / h.total_actual;
        said.push_str(&format!(
            " On the holdout {they} expected {} repeat purchases against {} made ({:+.1}%): {}.",
            Cell::Number(h.total_predicted, 0).display(),
            Cell::Number(h.total_actual, 0).display(),
            100.0 * off,
            match off.abs() {
                o if o <= 0.05 => "close enough to plan with",
                o if o <= 0.15 => "usable, with care",
                _ => "too far off to plan with: check the data or try another --model",
            }
        ));
    }
    said
}

fn model(report: &Report) -> Option<Section> {
    let m = report.model.as_ref()?;
    let mut s = section("model", "Model health");
    s.lines.push(model_in_words(m));
    let rows = (m.fitted.iter())
        .map(|fit| {
            vec![
                text(fit.model),
                Cell::Text(fit.line()),
                Cell::Number(fit.log_likelihood, 2),
            ]
        })
        .collect();
    s.tables.push(table(
        "model",
        &["model", "parameters", "log-likelihood"],
        rows,
    ));
    if let Some(i) = &m.intervals {
        let line = |name: &str, t: &crate::value::intervals::Total| {
            format!(
                "{name}: {} ({:.0}% interval {} to {})",
                Cell::Number(t.estimate, 0).display(),
                100.0 * i.level,
                Cell::Number(t.lower, 0).display(),
                Cell::Number(t.upper, 0).display()
            )
        };
        s.lines.push(line(
            "expected purchases over the horizon",
            &i.expected_purchases,
        ));
        if let Some(clv) = &i.clv {
            s.lines.push(line("CLV, all customers", clv));
        }
        s.lines.push(format!(
            "intervals from {} draws of the parameters' sampling distribution (seed {})",
            i.draws, i.seed
        ));
    }
    if let Some(h) = &m.holdout {
        let rows = vec![
            vec![
                text("repeat purchases, actual"),
                Cell::Number(h.total_actual, 0),
            ],
            vec![
                text("repeat purchases, predicted"),
                Cell::Number(h.total_predicted, 1),
            ],
            vec![
                text("mean absolute error per customer"),
                Cell::Number(h.mae, 3),
            ],
            vec![text("root mean squared error"), Cell::Number(h.rmse, 3)],
        ];
        let mut t = table("holdout", &["holdout", "value"], rows);
        t.caption = Some("predicted against actual after the calibration".to_string());
        s.tables.push(t);
        let rows = h
            .by_frequency
            .iter()
            .map(|f| {
                vec![
                    Cell::Count(u64::from(f.x)),
                    Cell::Count(f.customers),
                    Cell::Number(f.actual, 3),
                    Cell::Number(f.predicted, 3),
                ]
            })
            .collect();
        let mut t = table(
            "holdout_by_frequency",
            &[
                "calibration repeats",
                "customers",
                "actual mean",
                "predicted mean",
            ],
            rows,
        );
        t.caption = Some("by calibration frequency".to_string());
        s.tables.push(t);
        if let Some(comparison) = &h.comparison {
            s.lines.push(format!("model chosen: {}", comparison.why));
            let number = |v: Option<f64>, digits: u8| {
                v.map_or(text("not fitted"), |v| Cell::Number(v, digits))
            };
            let rows = (comparison.candidates.iter())
                .map(|c| {
                    let mark = if c.model == comparison.chosen {
                        " (chosen)"
                    } else {
                        ""
                    };
                    vec![
                        Cell::Text(format!("{}{mark}", c.model.name())),
                        number(c.log_likelihood, 2),
                        number(c.bic, 2),
                        number(c.total_predicted, 1),
                        number(c.mae, 4),
                        number(c.rmse, 4),
                    ]
                })
                .collect();
            let mut t = table(
                "model_comparison",
                &[
                    "model",
                    "log-likelihood",
                    "BIC",
                    "holdout predicted",
                    "MAE",
                    "RMSE",
                ],
                rows,
            );
            t.caption = Some("the purchase models compared on the holdout".to_string());
            s.tables.push(t);
            for c in &comparison.candidates {
                if let Some(why) = &c.not_fitted {
                    s.lines
                        .push(format!("{} not compared: {why}", c.model.name()));
                }
            }
        }
    }
    Some(s)
}

fn data_quality(report: &Report) -> Option<Section> {
    let q = report.data_quality.as_ref()?;
    let mut s = section("data_quality", "Data quality");
    let mut rows = vec![
        vec![text("rows read"), Cell::Count(q.rows_read)],
        vec![text("rows kept"), Cell::Count(q.rows_kept)],
        vec![text("rows rejected"), Cell::Count(q.rows_rejected)],
        vec![
            text("duplicates removed"),
            Cell::Count(q.duplicates_removed),
        ],
    ];
    for (why, n) in &q.rejects_by_reason {
        rows.push(vec![
            Cell::Text(format!("rejected: {why}")),
            Cell::Count(*n),
        ]);
    }
    s.tables
        .push(table("data_quality", &["rows", "count"], rows));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_for_people_and_for_spreadsheets() {
        assert_eq!(Cell::Money(1234567.891).display(), "1,234,567.89");
        assert_eq!(Cell::Money(-1234.5).display(), "-1,234.50");
        assert_eq!(Cell::Count(1000).display(), "1,000");
        assert_eq!(Cell::Share(0.4213).display(), "42.1%");
        assert_eq!(Cell::Change(12.0).display(), "+12");
        assert_eq!(Cell::Change(-0.5).display(), "-0.50");
        assert_eq!(Cell::Points(-0.021).display(), "-2.1 pp");
        assert_eq!(Cell::Share(0.4213).raw(), "0.4213");
        assert_eq!(Cell::Empty.raw(), "");
        assert_eq!(relative(110.0, 100.0).display(), "+10.0%");
        let printable = crate::io::human::printable;
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(printable("Müller"), "Müller");
        assert_eq!(Cell::Rate(0.456).display(), "46%");
        assert_eq!(Cell::Number(12345.678, 1).display(), "12,345.7");
        assert_eq!(relative(5.0, 0.0), Cell::Empty);
    }
}
