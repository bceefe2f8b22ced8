//! The report for people: sections of titled tables and lines, the same
//! for every format. The terminal, Markdown, HTML and CSV renderers lay
//! out this one document, so a figure reads the same everywhere.

use super::Report;
use super::kpis::PeriodKpis;
use super::migration::Moved;
use crate::io::human::percent;
use crate::present::{Better, Cell, Document, Section, Table};

mod customers;
mod terms;
mod trend;

use customers::{by_attribute, cross_sell, economics, satisfaction};
use terms::terms;
use trend::trend;

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
            // each figure as the page shows it elsewhere: 37.2%, 225, 16,767.00
            let shown = |v: f64| figure_cell(&t.target.metric, v);
            vec![
                text(if t.met { "met" } else { "missed" }),
                Cell::Text(t.target.metric.clone()),
                Cell::Text(format!(
                    "{} {}",
                    t.target.comparator.symbol(),
                    shown(t.target.goal).display()
                )),
                t.value.map_or(Cell::Empty, shown),
            ]
        })
        .collect();
    let mut t = table("targets", &["status", "figure", "target", "value"], rows);
    if report.targets.iter().any(|t| t.value.is_none()) {
        t.note = Some("–: the figure is not in this report, so its target counts as missed".into());
    }
    s.tables.push(t);
    Some(s)
}

/// A target's figure `metric` of value `v` as a cell: shares and rates as
/// percentages, changes in percent with a sign, counts, amounts of money.
fn figure_cell(metric: &str, v: f64) -> Cell {
    let counts = [
        "customers",
        "active_customers",
        "new_customers",
        "returning_customers",
        "churned_customers",
        "orders",
        "customers_for_80pct",
    ];
    match metric {
        m if m.ends_with("_change_pct") => Cell::Relative(v / 100.0),
        m if m.ends_with("_rate") || m.ends_with("_share") || m == "mean_p_alive" => Cell::Share(v),
        "gini" => Cell::Number(v, 3),
        "expected_purchases" => Cell::Number(v, 0),
        m if counts.contains(&m) && v.fract() == 0.0 && v >= 0.0 => Cell::Count(v as u64),
        m if counts.contains(&m) => Cell::Number(v, 1),
        _ => Cell::Money(v),
    }
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
