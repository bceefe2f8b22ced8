//! The report's tables as CSV files (`--tables-dir`), one per table, safe
//! to open in a spreadsheet: a text cell that a spreadsheet would run as a
//! formula gets a leading apostrophe; numbers are written as they are.

use anyhow::Result;

use crate::io::spreadsheet::guard_formula;
use crate::present::{Cell, Document, Table};

/// Every table of `document` as a CSV file: its name (`NAME.csv`) and
/// its text.
pub fn table_files(document: &Document, excel_safe: bool) -> Result<Vec<(String, String)>> {
    document
        .sections
        .iter()
        .flat_map(|s| &s.tables)
        .map(|table| Ok((format!("{}.csv", table.name), table_csv(table, excel_safe)?)))
        .collect()
}

/// One table as CSV: raw numbers, headers and text guarded when
/// `excel_safe`.
pub fn table_csv(table: &Table, excel_safe: bool) -> Result<String> {
    let guard = |text: &str| {
        if excel_safe {
            guard_formula(text)
        } else {
            text.to_string()
        }
    };
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(table.headers.iter().map(|h| guard(h)))?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|cell| match cell {
            Cell::Text(text) => guard(text),
            number => number.raw(),
        }))?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_left_alone() {
        let table = Table {
            name: "t".to_string(),
            caption: None,
            headers: vec!["customer".to_string(), "revenue".to_string()],
            rows: vec![
                vec![
                    Cell::Text("=HYPERLINK(\"x\")".to_string()),
                    Cell::Money(-100.0),
                ],
                vec![Cell::Text("-100".to_string()), Cell::Share(0.5)],
            ],
            note: None,
            better: Vec::new(),
        };
        let csv = table_csv(&table, true).unwrap();
        assert_eq!(
            csv,
            "customer,revenue\n\"'=HYPERLINK(\"\"x\"\")\",-100\n'-100,0.5\n"
        );
        assert!(table_csv(&table, false).unwrap().contains("\n-100,0.5"));
    }
}
