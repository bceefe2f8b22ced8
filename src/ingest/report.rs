//! The data-quality report of an ingest, and the reject threshold.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::error::usage;

/// What an ingest read, kept, rejected and found. Serialised as the
/// `--quality-report` JSON; the field names are a stable interface.
/// Always `rows_read = rows_kept + rows_rejected + duplicates_removed +
/// rows_filtered`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QualityReport {
    /// Data rows read from every input (header lines excluded).
    pub rows_read: u64,
    /// Rows written to the output.
    pub rows_kept: u64,
    /// Rows rejected, each with a reason.
    pub rows_rejected: u64,
    /// Exact duplicate rows removed.
    pub duplicates_removed: u64,
    /// Valid rows left out by `--where`.
    pub rows_filtered: u64,
    /// Identical rows kept because they have no order id (not serialised;
    /// a warning says so).
    #[serde(skip)]
    pub identical_rows_kept: u64,
    /// Reason → number of rows.
    pub rejects_by_reason: BTreeMap<String, u64>,
    /// Rows read with a line break inside a quoted field (CSV): free text
    /// such as addresses, or, when many, quoting gone wrong.
    pub rows_with_line_breaks: u64,
    /// The most physical lines one field spans (0: no field spans lines).
    pub longest_field_lines: u64,
    /// What the kept rows hold; absent when the caller did not ask
    /// ([`crate::ingest::IngestConfig::kept_facts`]).
    #[serde(flatten)]
    pub kept: Option<KeptFacts>,
    /// Canonical column → source column (of the first input).
    pub column_map: BTreeMap<String, String>,
    /// CSV delimiter of the first text input, null for binary inputs.
    pub delimiter: Option<String>,
    /// Text encoding of the first text input, null for binary inputs.
    pub encoding: Option<String>,
    /// Customer-table join figures; present only with `--customers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_join: Option<JoinReport>,
    /// Per-input details (shown with `-v`, not serialised).
    #[serde(skip)]
    pub inputs: Vec<InputReport>,
}

/// What the kept rows hold: refunds, customers, orders, dates, revenue.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeptFacts {
    /// Kept rows that are refunds: negative revenue or a `C` order id.
    pub refunds: u64,
    /// Sum of the refunds' revenue (negative or zero).
    pub refund_value: f64,
    /// Distinct customers among kept rows.
    pub customers: u64,
    /// Distinct orders among kept rows (rows, when there is no order id).
    pub orders: u64,
    /// Earliest kept order date (ISO), null when nothing was kept.
    pub first_date: Option<String>,
    /// Latest kept order date (ISO).
    pub last_date: Option<String>,
    /// Sum of kept revenue, refunds included.
    pub revenue_total: f64,
}

/// How the customer attribute table matched the transactions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JoinReport {
    /// Rows in the customer table.
    pub customers_in_table: u64,
    /// Kept transactions whose customer is not in the table.
    pub orphan_transactions: u64,
    /// Customers in the table without any kept transaction.
    pub customers_without_orders: u64,
}

/// What was learnt about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputReport {
    /// Display name.
    pub name: String,
    /// Format name.
    pub format: String,
    /// Rows read.
    pub rows: u64,
    /// Delimiter, for CSV.
    pub delimiter: Option<String>,
    /// Encoding, for text.
    pub encoding: Option<String>,
    /// Date layout detected or given.
    pub date_format: Option<String>,
    /// What the caller should warn of: columns the mapping passed over.
    pub warnings: Vec<String>,
}

/// Shows a delimiter readably (`\t` for tab).
pub fn delimiter_name(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "\\t".to_string(),
        d => char::from(d).to_string(),
    }
}

/// The most rows an ingest may reject before it fails (`--max-rejects`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MaxRejects {
    /// An absolute number of rows.
    Rows(u64),
    /// A percentage of the rows read.
    Percent(f64),
}

impl MaxRejects {
    /// Parses `N` or `P%`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = || {
            usage(format!(
                "--max-rejects '{text}': expected a row count (5) or a percentage (0.5%)"
            ))
        };
        if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(bad());
            }
            Ok(MaxRejects::Percent(p))
        } else {
            Ok(MaxRejects::Rows(text.parse().map_err(|_| bad())?))
        }
    }

    /// Whether `rejected` of `read` rows is over the limit.
    pub fn exceeded(self, rejected: u64, read: u64) -> bool {
        match self {
            MaxRejects::Rows(n) => rejected > n,
            MaxRejects::Percent(p) => rejected as f64 > read as f64 * p / 100.0,
        }
    }
}

impl std::fmt::Display for MaxRejects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxRejects::Rows(n) => write!(f, "{n} rows"),
            MaxRejects::Percent(p) => write!(f, "{p}% of the rows read"),
        }
    }
}

impl QualityReport {
    /// The report as a two-column table for stderr.
    pub fn render(&self, width: Option<u16>) -> String {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_header(["data quality", ""]);
        let style = crate::io::TableStyle {
            width,
            ..crate::io::TableStyle::default()
        };
        table.set_width(style.resolved_width());
        let money = crate::io::human::money;
        let count = crate::io::human::count;
        let mut rows: Vec<(String, String)> = vec![
            ("rows read".into(), count(self.rows_read)),
            ("rows kept".into(), count(self.rows_kept)),
            ("rows rejected".into(), count(self.rows_rejected)),
        ];
        for (reason, n) in &self.rejects_by_reason {
            rows.push((format!("  {reason}"), count(*n)));
        }
        rows.push(("duplicates removed".into(), count(self.duplicates_removed)));
        if self.rows_filtered > 0 {
            rows.push(("left out by --where".into(), count(self.rows_filtered)));
        }
        if self.rows_with_line_breaks > 0 {
            rows.push((
                "rows with line breaks in a field".into(),
                format!(
                    "{} (the longest field spans {} lines)",
                    count(self.rows_with_line_breaks),
                    count(self.longest_field_lines)
                ),
            ));
        }
        if let Some(kept) = &self.kept {
            rows.extend([
                (
                    "refunds".into(),
                    format!("{} ({})", count(kept.refunds), money(kept.refund_value)),
                ),
                ("customers".into(), count(kept.customers)),
                ("orders".into(), count(kept.orders)),
                (
                    "dates".into(),
                    match (&kept.first_date, &kept.last_date) {
                        (Some(a), Some(b)) => format!("{a} .. {b}"),
                        _ => "none".into(),
                    },
                ),
                ("revenue".into(), money(kept.revenue_total)),
            ]);
        }
        if let Some(join) = &self.customer_join {
            rows.extend([
                ("customer table rows".into(), count(join.customers_in_table)),
                (
                    "orphan transactions".into(),
                    count(join.orphan_transactions),
                ),
                (
                    "customers without orders".into(),
                    count(join.customers_without_orders),
                ),
            ]);
        }
        let map: Vec<String> = self
            .column_map
            .iter()
            .filter(|(canonical, source)| canonical != source)
            .map(|(canonical, source)| format!("{canonical} <- {source}"))
            .collect();
        if !map.is_empty() {
            rows.push(("columns mapped".into(), map.join("\n")));
        }
        for (name, value) in rows {
            table.add_row([name, value]);
        }
        if let Some(c) = table.column_mut(1) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
        format!("{table}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_rejects_counts_and_percentages() {
        assert_eq!(MaxRejects::parse("5").unwrap(), MaxRejects::Rows(5));
        assert_eq!(MaxRejects::parse("0.5%").unwrap(), MaxRejects::Percent(0.5));
        assert!(MaxRejects::parse("-1").is_err());
        assert!(MaxRejects::parse("200%").is_err());
        assert!(!MaxRejects::Rows(0).exceeded(0, 10));
        assert!(MaxRejects::Rows(0).exceeded(1, 10));
        assert!(!MaxRejects::Percent(10.0).exceeded(1, 10));
        assert!(MaxRejects::Percent(10.0).exceeded(2, 10));
    }
}
