//! Choosing rows and columns, on every command: `--where` filters the
//! input rows before anything else, `--keep`, `--sort`, `--limit` and
//! `--columns` shape the output. Expressions are SQL, parsed by polars'
//! SQL expression parser (`Country = 'United Kingdom' AND revenue > 0`,
//! `segment IN ('Champions', 'At Risk')`); a mistake is a usage error that
//! points at where in the expression it is.

use anyhow::{Result, bail};
use polars::prelude::*;
use std::ops::ControlFlow;

use sqlparser::ast::{self, visit_expressions};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::error::{column_list, usage};

/// A row filter: a SQL boolean expression, and the option it came from.
#[derive(Clone)]
pub struct RowFilter {
    option: &'static str,
    text: String,
    expr: Expr,
}

impl RowFilter {
    /// Parses `text` given to `option` (for messages): a usage error that
    /// shows the expression and marks the place of a syntax error.
    pub fn parse(option: &'static str, text: &str) -> Result<RowFilter> {
        match polars::sql::sql_expr(text) {
            Ok(expr) => Ok(RowFilter {
                option,
                text: text.to_string(),
                expr,
            }),
            Err(e) => {
                let (message, column) = syntax_error(text).unwrap_or_else(|| (e.to_string(), 0));
                bail!(usage(format!(
                    "{option}: {message}\n{}",
                    pointer(text, column)
                )))
            }
        }
    }

    /// The columns the expression reads: its identifiers, as the SQL
    /// parser finds them.
    pub fn columns(&self) -> Vec<String> {
        let dialect = GenericDialect {};
        let Ok(ast) = Parser::new(&dialect)
            .try_with_sql(&self.text)
            .and_then(|mut p| p.parse_expr())
        else {
            return Vec::new();
        };
        let mut names = Vec::new();
        let _ = visit_expressions(&ast, |e| {
            match e {
                ast::Expr::Identifier(ident) => names.push(ident.value.clone()),
                ast::Expr::CompoundIdentifier(parts) => {
                    names.extend(parts.last().map(|p| p.value.clone()));
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        names.sort();
        names.dedup();
        names
    }

    /// The rows of `frame` for which the expression is true (null counts
    /// as false, as in SQL). A column it names that `frame` lacks, or an
    /// expression that is not true or false for a row, is a usage error.
    pub fn apply(&self, frame: DataFrame) -> Result<DataFrame> {
        for name in self.columns() {
            if frame.column(&name).is_err() {
                let at = self.text.find(&name).map_or(0, |i| i + 1);
                bail!(usage(format!(
                    "{}: no column '{name}' (found: {})\n{}",
                    self.option,
                    column_list(&frame),
                    pointer(&self.text, at)
                )));
            }
        }
        frame
            .lazy()
            .filter(self.expr.clone())
            .collect()
            .map_err(|e| {
                usage(format!(
                    "{} \"{}\": {}",
                    self.option,
                    self.text,
                    first_line(&e.to_string())
                ))
            })
    }
}

/// One `--sort` key: `clv:desc`, `revenue` (ascending), `days_since_last:asc`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// The column.
    pub column: String,
    /// Highest first.
    pub descending: bool,
}

impl SortKey {
    /// Parses `COLUMN[:asc|:desc]`.
    pub fn parse(text: &str) -> Result<SortKey> {
        let (column, direction) = match text.rsplit_once(':') {
            Some((column, direction)) => (column, direction),
            None => (text, "asc"),
        };
        let descending = match direction.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            _ => bail!(usage(format!(
                "--sort {text}: expected COLUMN, COLUMN:asc or COLUMN:desc"
            ))),
        };
        Ok(SortKey {
            column: column.trim().to_string(),
            descending,
        })
    }
}

/// How the output is shaped: rows kept, their order, how many, which
/// columns. Applied in that order, so a sort may use a column not shown.
#[derive(Clone, Default)]
pub struct OutputShape {
    /// `--keep`: the output rows for which this is true.
    pub keep: Option<RowFilter>,
    /// `--sort`: keys, first the most significant; nulls last.
    pub sort: Vec<SortKey>,
    /// `--limit`: at most this many rows.
    pub limit: Option<usize>,
    /// `--columns`: these columns, in this order.
    pub columns: Vec<String>,
}

impl OutputShape {
    /// Whether anything is asked of the output.
    pub fn is_set(&self) -> bool {
        self.keep.is_some()
            || !self.sort.is_empty()
            || self.limit.is_some()
            || !self.columns.is_empty()
    }

    /// `frame` shaped; a column that `frame` lacks is a usage error naming
    /// the columns there are.
    pub fn apply(&self, frame: DataFrame) -> Result<DataFrame> {
        if !self.is_set() {
            return Ok(frame);
        }
        let mut frame = match &self.keep {
            Some(keep) => keep.apply(frame)?,
            None => frame,
        };
        let named = self
            .sort
            .iter()
            .map(|k| ("--sort", &k.column))
            .chain(self.columns.iter().map(|c| ("--columns", c)));
        for (option, name) in named {
            if frame.column(name).is_err() {
                bail!(usage(format!(
                    "{option}: no column '{name}' (found: {})",
                    column_list(&frame)
                )));
            }
        }
        if !self.sort.is_empty() {
            let columns: Vec<PlSmallStr> =
                self.sort.iter().map(|k| k.column.as_str().into()).collect();
            let descending: Vec<bool> = self.sort.iter().map(|k| k.descending).collect();
            frame = frame.sort(
                columns,
                SortMultipleOptions::default()
                    .with_order_descending_multi(descending)
                    .with_nulls_last(true)
                    .with_maintain_order(true),
            )?;
        }
        if let Some(limit) = self.limit {
            frame = frame.head(Some(limit));
        }
        if !self.columns.is_empty() {
            frame = frame.select(self.columns.iter().map(String::as_str))?;
        }
        Ok(frame)
    }
}

/// The message and 1-based column of a syntax error in `text`, as
/// sqlparser (the parser under polars' SQL) reports it.
fn syntax_error(text: &str) -> Option<(String, usize)> {
    let dialect = GenericDialect {};
    let mut parser = match Parser::new(&dialect).try_with_sql(text) {
        Ok(parser) => parser,
        Err(e) => return Some(split_location(&e.to_string())),
    };
    match parser.parse_expr() {
        Err(e) => {
            let (message, column) = split_location(&e.to_string());
            // an expression cut short has no place: its end is the place
            let end = text.lines().next().unwrap_or_default().chars().count() + 1;
            let column = if column == 0 && message.ends_with("EOF") {
                end
            } else {
                column
            };
            Some((message, column))
        }
        Ok(_) => {
            let next = parser.peek_token();
            if next.token == Token::EOF {
                return None;
            }
            let column = next.span.start.column as usize;
            Some((
                format!("unexpected '{}' after the expression", next.token),
                column,
            ))
        }
    }
}

/// "Expected: an expression, found: EOF at Line: 1, Column: 31" → the
/// message and column 31 (0 when the message has none).
fn split_location(message: &str) -> (String, usize) {
    let message = message.trim_start_matches("sql parser error: ");
    match message.rsplit_once(" at Line: ") {
        Some((text, place)) => {
            let column = place
                .split_once("Column: ")
                .and_then(|(_, c)| c.trim().parse().ok())
                .unwrap_or(0);
            (text.to_string(), column)
        }
        None => (message.to_string(), 0),
    }
}

/// The expression, and a caret under its `column` (1-based; none for 0).
fn pointer(text: &str, column: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if column == 0 {
        return format!("  {line}");
    }
    let pad: String = line
        .chars()
        .take(column - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("  {line}\n  {pad}^")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!(
            "customer_id" => ["a", "b", "c", "d"],
            "Country" => ["United Kingdom", "France", "United Kingdom", "Spain"],
            "revenue" => [10.0, 20.0, -5.0, 40.0],
            "segment" => ["Champions", "At Risk", "Lost", "Champions"],
        )
        .unwrap()
    }

    fn ids(frame: &DataFrame) -> Vec<String> {
        frame
            .column("customer_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn sql_filters_rows() {
        let uk = RowFilter::parse("--where", "Country = 'United Kingdom' AND revenue > 0").unwrap();
        assert_eq!(ids(&uk.apply(frame()).unwrap()), ["a"]);
        assert_eq!(uk.columns().len(), 2);
        let some = RowFilter::parse("--keep", "segment IN ('Champions', 'At Risk')").unwrap();
        assert_eq!(ids(&some.apply(frame()).unwrap()), ["a", "b", "d"]);
    }

    #[test]
    fn mistakes_point_at_their_place() {
        let err = RowFilter::parse("--where", "Country = 'United Kingdom' AND")
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("--where: Expected: an expression"), "{err}");
        // the caret stands after the end, column 31
        let caret = err.lines().last().unwrap();
        assert_eq!(caret.find('^'), Some(2 + 30), "{err}");
        let err = RowFilter::parse("--where", "revenue >> 'x")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("^"), "{err}");
        let err = RowFilter::parse("--keep", "revenue > 0)")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unexpected ')' after the expression"), "{err}");
        assert!(err.ends_with("\n             ^"), "{err}");
        let unknown = RowFilter::parse("--where", "Contry = 'France'").unwrap();
        let err = unknown.apply(frame()).unwrap_err().to_string();
        assert!(
            err.contains("no column 'Contry' (found: customer_id, Country"),
            "{err}"
        );
    }

    #[test]
    fn output_is_kept_sorted_cut_and_projected() {
        let shape = OutputShape {
            keep: Some(RowFilter::parse("--keep", "revenue > 0").unwrap()),
            sort: vec![SortKey::parse("revenue:desc").unwrap()],
            limit: Some(2),
            columns: vec!["customer_id".into()],
        };
        let out = shape.apply(frame()).unwrap();
        assert_eq!(ids(&out), ["d", "b"]);
        assert_eq!(out.width(), 1);
        assert!(SortKey::parse("clv:down").is_err());
        let missing = OutputShape {
            columns: vec!["clv".into()],
            ..OutputShape::default()
        };
        let err = missing.apply(frame()).unwrap_err().to_string();
        assert!(err.contains("--columns: no column 'clv'"), "{err}");
    }
}
