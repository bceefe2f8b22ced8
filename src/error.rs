//! The library's error types.
//!
//! Everything fallible in cpm returns `anyhow::Result`; these types are the
//! ones the binary looks for in the chain to pick an exit code and to print a
//! message that names the file, the line or row, and the column.

use std::fmt;

/// A mistake in how cpm was invoked (exit code 2), as opposed to a problem
/// with the data or the machine (exit code 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Builds an `anyhow::Error` carrying a [`UsageError`].
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// Targets a report missed with `--fail-on-miss` (exit code 3), told
/// after every output was written.
#[derive(Debug)]
pub struct TargetsMissed(pub String);

impl fmt::Display for TargetsMissed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetsMissed {}

/// How a position inside an input is counted: text formats have lines,
/// columnar formats have rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionKind {
    /// 1-based physical line of a text file (a quoted field may span several).
    Line,
    /// 1-based row of a Parquet, Arrow or JSON input.
    Row,
}

impl fmt::Display for PositionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PositionKind::Line => "line",
            PositionKind::Row => "row",
        })
    }
}

/// A problem found at a place in an input: the file, the line or row, and
/// the column when there is one.
#[derive(Debug)]
pub struct InputError {
    /// The input's display name (a path, or `<stdin>`).
    pub file: String,
    /// Line or row number, 1-based.
    pub position: Option<(PositionKind, u64)>,
    /// Column name (or `#n` when the file has no header).
    pub column: Option<String>,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl InputError {
    /// An error about a whole input.
    pub fn file(file: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            file: file.into(),
            position: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error at a line of a text input.
    pub fn at_line(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        InputError {
            position: Some((PositionKind::Line, line)),
            ..InputError::file(file, message)
        }
    }

    /// An error at a row of a columnar input (Parquet, Arrow, JSON, Excel).
    pub fn at_row(file: impl Into<String>, row: u64, message: impl Into<String>) -> Self {
        InputError {
            position: Some((PositionKind::Row, row)),
            ..InputError::file(file, message)
        }
    }

    /// Names the column the error is in.
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some((kind, n)) = self.position {
            write!(f, ", {kind} {n}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

/// The column names of a frame, comma-separated, for messages that say
/// what was found instead of what was asked for.
pub fn column_list(frame: &polars::prelude::DataFrame) -> String {
    let names: Vec<&str> = frame
        .get_column_names()
        .iter()
        .map(|n| n.as_str())
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_names_file_line_and_column() {
        let err = InputError::at_line("orders.csv", 7, "not a number").in_column("revenue");
        assert_eq!(
            err.to_string(),
            "orders.csv, line 7, column 'revenue': not a number"
        );
        assert_eq!(
            InputError::file("x.parquet", "truncated").to_string(),
            "x.parquet: truncated"
        );
    }
}
