//! Text a spreadsheet would run as a formula, defused.
//!
//! Excel, LibreOffice and Google Sheets run a cell that starts with `=`,
//! `+`, `-` or `@` (and, in some versions, a tab or a carriage return) as a
//! formula: an id or a note such as `=HYPERLINK(...)` in an export opened
//! by a marketer is an injection. Such text gets a leading apostrophe, which
//! the spreadsheet shows as text and hides. Text that already starts with
//! an apostrophe gets one more, so that it stays distinguishable: taking
//! one leading apostrophe off every guarded value gives the data back.

use anyhow::Result;
use polars::prelude::*;

/// `text`, guarded: an apostrophe before a leading `=` `+` `-` `@` tab,
/// carriage return or apostrophe.
pub fn guard_formula(text: &str) -> String {
    if needs_guard(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn needs_guard(text: &str) -> bool {
    matches!(
        text.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r' | b'\'')
    )
}

/// `frame` with every text value guarded ([`guard_formula`]); numbers,
/// dates and the column names of a data file stay as they are.
pub fn guard_formulas(frame: &DataFrame) -> Result<DataFrame> {
    let columns = frame
        .columns()
        .iter()
        .map(|column| {
            let Ok(text) = column.str() else {
                return Ok(column.clone());
            };
            if !text.iter().flatten().any(needs_guard) {
                return Ok(column.clone());
            }
            let guarded: StringChunked = text
                .iter()
                .map(|v| v.map(guard_formula))
                .collect::<StringChunked>()
                .with_name(column.name().clone());
            Ok(guarded.into_column())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DataFrame::new(frame.height(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_get_an_apostrophe_and_apostrophes_one_more() {
        for risky in ["=1+1", "+1", "-cmd", "@SUM(A1)", "\tx", "\rx", "'quoted"] {
            assert_eq!(guard_formula(risky), format!("'{risky}"));
        }
        assert_eq!(guard_formula("Champions"), "Champions");
        let frame = df! {
            "id" => ["=HYPERLINK(\"x\")", "'=1", "A"],
            "revenue" => [-1.0, 2.0, 3.0],
        }
        .unwrap();
        let guarded = guard_formulas(&frame).unwrap();
        let ids: Vec<_> = guarded
            .column("id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ids, [Some("'=HYPERLINK(\"x\")"), Some("''=1"), Some("A")]);
        assert_eq!(
            guarded.column("revenue").unwrap(),
            frame.column("revenue").unwrap()
        );
    }
}
