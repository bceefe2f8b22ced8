//! The trend section: the last periods' headline figures (`--history`).

use super::{section, table, text};
use crate::present::{Cell, Section};
use crate::report::Report;

/// The last periods' headline figures (`--history`): a sparkline each,
/// the oldest shown, the latest, the lowest and the highest.
pub(super) fn trend(report: &Report) -> Option<Section> {
    use crate::report::history::{Headline, sparkline};
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
        &format!(
            "Trend over the last {}",
            crate::io::human::counted(history.len() as u64, name, &format!("{name}s"))
        ),
    );
    s.lines.push(format!(
        "{} from the history folder, the {name} ending {} to the one ending {}",
        crate::io::human::counted(history.len() as u64, name, &format!("{name}s")),
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
