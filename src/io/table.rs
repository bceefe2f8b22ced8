//! Frames rendered for people: a terminal table (comfy-table) and Markdown.
//! Both show at most `max_rows` rows and say how many were left out.
//! Numbers read as people read them ([`crate::io::human`]): counts with
//! grouped thousands, shares and rates as percentages, amounts with a fixed
//! number of decimals per column. A terminal table never breaks a number or
//! a word inside a cell: long text columns are cut short, or dropped, to
//! fit the width, and a line under the table says what was hidden.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::io::human;

/// The width of a table when neither the caller nor the terminal gives one
/// (a terminal that reports 0 columns gives none).
pub const DEFAULT_WIDTH: u16 = 100;

/// Text columns are cut no shorter than this (or their header).
const MIN_TEXT_WIDTH: usize = 12;

/// How tables for people are laid out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TableStyle {
    /// Total width in characters; the terminal's width when absent.
    pub width: Option<u16>,
    /// Rows shown before the rest is summarised in a footer line.
    pub max_rows: usize,
    /// Headers as words (`revenue share` for `revenue_share`), so that they
    /// break between words to fit: for summaries, whose column names are
    /// read, not typed into the next command.
    pub headers_as_words: bool,
}

impl Default for TableStyle {
    fn default() -> Self {
        TableStyle {
            width: None,
            max_rows: 100,
            headers_as_words: false,
        }
    }
}

impl TableStyle {
    /// The style of summaries for people: headers as words.
    pub fn for_summaries(&self) -> TableStyle {
        TableStyle {
            headers_as_words: true,
            ..self.clone()
        }
    }
}

impl TableStyle {
    /// The width tables are fitted to: the style's, else the terminal's,
    /// else [`DEFAULT_WIDTH`]; 0 counts as unknown.
    pub fn resolved_width(&self) -> u16 {
        self.width
            .filter(|w| *w > 0)
            .or_else(terminal_width)
            .unwrap_or(DEFAULT_WIDTH)
    }
}

/// The terminal's width in columns, when stdout is one that tells (0 is
/// no answer).
pub fn terminal_width() -> Option<u16> {
    Table::new().width().filter(|w| *w > 0)
}

/// Renders a frame as a terminal table fitted to the style's width.
pub fn render_table(frame: &DataFrame, style: &TableStyle) -> String {
    let shown = frame.height().min(style.max_rows);
    let mut columns = text_columns(frame, shown);
    if style.headers_as_words {
        for column in &mut columns {
            column.name = column.name.replace('_', " ");
        }
    }
    render_columns(
        columns,
        style.resolved_width(),
        &footer(frame.height(), shown),
    )
}

/// Lays out columns of text as a terminal table of at most `width`
/// characters ([`fit`]), then the `footer`, then a line naming what was
/// cut or dropped.
pub fn render_columns(mut columns: Vec<TextColumn>, width: u16, footer: &str) -> String {
    let hidden = fit(&mut columns, usize::from(width));
    let rows = columns.first().map_or(0, |c| c.cells.len());
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(columns.iter().map(|c| c.name.as_str()));
    for row in 0..rows {
        table.add_row(columns.iter().map(|c| {
            let cell = Cell::new(&c.cells[row]);
            if c.numeric {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let mut out = table.to_string();
    out.push('\n');
    for line in footer.lines() {
        out.push_str(&crate::io::human::wrap(line, width, ""));
    }
    if !hidden.is_empty() {
        let line = format!(
            "to fit {width} columns: {}; --width N shows more",
            hidden.join(", ")
        );
        out.push_str(&crate::io::human::wrap(&line, width, ""));
    }
    out
}

/// Renders a frame as a GitHub-flavoured Markdown table.
pub fn render_markdown(frame: &DataFrame, style: &TableStyle) -> String {
    let shown = frame.height().min(style.max_rows);
    let columns = text_columns(frame, shown);
    let names: Vec<String> = columns.iter().map(|c| escape_markdown(&c.name)).collect();
    let mut out = format!("| {} |\n", names.join(" | "));
    let rule: Vec<&str> = columns
        .iter()
        .map(|c| if c.numeric { "---:" } else { "---" })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in 0..shown {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| escape_markdown(&c.cells[row]))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if shown < frame.height() {
        out.push('\n');
        out.push_str(&footer(frame.height(), shown));
    }
    out
}

/// The first `rows` rows of every column of `frame`, formatted for people
/// ([`TextColumn::of`]).
pub fn text_columns(frame: &DataFrame, rows: usize) -> Vec<TextColumn> {
    (frame.columns().iter())
        .map(|c| TextColumn::of(c, rows))
        .collect()
}

/// A column as shown: its name, its cells as text, how it aligns.
pub struct TextColumn {
    /// The header.
    pub name: String,
    /// The cells, one per row.
    pub cells: Vec<String>,
    /// Right-aligned, and never cut or dropped before text.
    pub numeric: bool,
}

impl TextColumn {
    /// The first `rows` values of `column`, formatted for people.
    fn of(column: &Column, rows: usize) -> TextColumn {
        let numeric = column.dtype().is_primitive_numeric();
        let format = NumberFormat::of(column, rows);
        // control characters in the data (a terminal's escape sequences)
        // are written out, never sent to the terminal
        let cells = (0..rows)
            .map(|row| match column.get(row) {
                Ok(value) => human::printable(&format.display(&value)),
                Err(_) => String::new(),
            })
            .collect();
        TextColumn {
            name: human::printable(column.name()),
            cells,
            numeric,
        }
    }

    /// The widest cell or header line, in characters.
    fn width(&self) -> usize {
        self.cells_width().max(self.header_width())
    }

    fn cells_width(&self) -> usize {
        self.cells
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0)
    }

    fn header_width(&self) -> usize {
        self.name
            .lines()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
    }

    /// Breaks the header between words (never inside one) so that it is
    /// no wider than the cells, or than its longest word.
    fn wrap_header(&mut self) {
        let longest = self
            .name
            .split(' ')
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        let room = self.cells_width().max(longest);
        let mut lines: Vec<String> = Vec::new();
        for word in self.name.split(' ') {
            match lines.last_mut() {
                Some(line) if line.chars().count() + 1 + word.chars().count() <= room => {
                    line.push(' ');
                    line.push_str(word);
                }
                _ => lines.push(word.to_string()),
            }
        }
        self.name = lines.join("\n");
    }

    /// Cuts every cell to `width` characters, an ellipsis marking the cut.
    fn cut(&mut self, width: usize) {
        for cell in &mut self.cells {
            if cell.chars().count() > width {
                *cell = cell
                    .chars()
                    .take(width.saturating_sub(1))
                    .collect::<String>()
                    + "…";
            }
        }
    }
}

/// Fits the columns to `width` characters: the widest text columns but the
/// first (the row labels) are cut short first (never below their header or
/// [`MIN_TEXT_WIDTH`]), then text columns are dropped from the right, then
/// any column from the right; the first column always stays, cut only when
/// it alone is too wide. Returns what was cut or dropped.
fn fit(columns: &mut Vec<TextColumn>, width: usize) -> Vec<String> {
    // each column takes its content, a space either side and a border
    let total = |columns: &[TextColumn]| 1 + columns.iter().map(|c| c.width() + 3).sum::<usize>();
    let mut hidden = Vec::new();
    if total(columns) > width {
        for column in columns.iter_mut() {
            column.wrap_header();
        }
    }
    while total(columns) > width {
        let cuttable = columns
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, c)| !c.numeric && c.width() > c.header_width().max(MIN_TEXT_WIDTH))
            .max_by_key(|(_, c)| c.width())
            .map(|(i, _)| i);
        let Some(i) = cuttable else {
            break;
        };
        let over = total(columns) - width;
        let column = &mut columns[i];
        let floor = column.header_width().max(MIN_TEXT_WIDTH);
        let target = column.width().saturating_sub(over).max(floor);
        column.cut(target);
        let note = format!("{} (cut)", column.name.replace('\n', " "));
        if !hidden.contains(&note) {
            hidden.push(note);
        }
    }
    while total(columns) > width && columns.len() > 1 {
        let drop = columns
            .iter()
            .rposition(|c| !c.numeric)
            .filter(|&i| i > 0)
            .unwrap_or(columns.len() - 1);
        let gone = columns.remove(drop).name.replace('\n', " ");
        hidden.retain(|h| *h != format!("{gone} (cut)"));
        hidden.push(gone);
    }
    // the row labels are cut last, and only when they alone are too wide
    if let Some(first) = columns.first_mut().filter(|c| !c.numeric)
        && 4 + first.width() > width
    {
        first.cut(width.saturating_sub(4).max(MIN_TEXT_WIDTH));
        hidden.push(format!("{} (cut)", first.name.replace('\n', " ")));
    }
    hidden
}

/// How a column's numbers read.
enum NumberFormat {
    /// Whole numbers with grouped thousands.
    Count,
    /// Identifiers and codes: as they are.
    Plain,
    /// Shares and rates, 0–1, as percentages.
    Percent,
    /// Amounts with this many decimals (the same for the whole column).
    Fixed(usize),
}

impl NumberFormat {
    /// The format of `column`, from its type, its name and its first `rows`
    /// values: a share or a rate (`share`, `*_share`, `roi`, `*_roi`,
    /// `p_*`, `*_rate`) as a percentage; floats with 2 decimals, or 4
    /// when every value is below 1 in size.
    fn of(column: &Column, rows: usize) -> NumberFormat {
        let name = column.name().as_str();
        let dtype = column.dtype();
        if dtype.is_integer() {
            let id = name == "id" || name.ends_with("_id") || name.ends_with("score");
            return if id {
                NumberFormat::Plain
            } else {
                NumberFormat::Count
            };
        }
        if !dtype.is_float() {
            return NumberFormat::Plain;
        }
        let share = name == "share"
            || name == "roi"
            || name.ends_with("_share")
            || name.ends_with("_roi")
            || name.ends_with("_rate")
            || name.starts_with("p_");
        if share {
            return NumberFormat::Percent;
        }
        let small = column
            .cast(&DataType::Float64)
            .ok()
            .and_then(|c| {
                let values = c.f64().ok()?.slice(0, rows);
                Some(
                    values
                        .iter()
                        .flatten()
                        .all(|v| v.abs() < 1.0 || !v.is_finite()),
                )
            })
            .unwrap_or(false);
        NumberFormat::Fixed(if small { 4 } else { 2 })
    }

    /// One value as people read it; null as empty.
    fn display(&self, value: &AnyValue) -> String {
        let number = match value {
            AnyValue::Null => return String::new(),
            AnyValue::Float64(x) => Some(*x),
            AnyValue::Float32(x) => Some(f64::from(*x)),
            _ => None,
        };
        match (self, number) {
            (NumberFormat::Percent, Some(x)) => human::percent(x),
            (NumberFormat::Fixed(decimals), Some(x)) => human::fixed(x, *decimals),
            (NumberFormat::Count, _) => match value.extract::<i128>() {
                Some(n) if n >= 0 => human::count(n as u64),
                Some(n) => format!("-{}", human::count(n.unsigned_abs() as u64)),
                None => format_value(value),
            },
            _ => format_value(value),
        }
    }
}

fn footer(total: usize, shown: usize) -> String {
    if shown < total {
        format!(
            "{} of {} rows shown; write them all with -o FILE or --format csv\n",
            human::count(shown as u64),
            human::count(total as u64)
        )
    } else {
        format!("{} rows\n", human::count(total as u64))
    }
}

fn escape_markdown(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Formats one value as it is: floats in full, dates as ISO, nulls as
/// empty, text without quotes.
pub fn format_value(value: &AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string().trim_matches('"').to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!("id" => ["a|b", "c"], "revenue" => [1.5, 0.25]).unwrap()
    }

    #[test]
    fn markdown_escapes_pipes_and_aligns_numbers() {
        let md = render_markdown(&frame(), &TableStyle::default());
        assert!(md.starts_with("| id | revenue |\n| --- | ---: |\n| a\\|b | 1.50 |\n"));
    }

    #[test]
    fn numbers_read_as_people_read_them() {
        let frame = df!(
            "customer_id" => [12345i64, 7],
            "customers" => [1234567i64, -1000],
            "share" => [0.4213, 1.0],
            "revenue" => [1234.5, 0.25],
            "p_alive" => [0.5, 0.25],
            "gap" => [0.5, 0.25],
        )
        .unwrap();
        let md = render_markdown(&frame, &TableStyle::default());
        let rows: Vec<&str> = md.lines().skip(2).collect();
        assert_eq!(
            rows[0],
            "| 12345 | 1,234,567 | 42.1% | 1,234.50 | 50.0% | 0.5000 |"
        );
        assert_eq!(rows[1], "| 7 | -1,000 | 100.0% | 0.25 | 25.0% | 0.2500 |");
    }

    #[test]
    fn long_text_is_cut_or_dropped_never_broken() {
        let action = "Reward them: early access, loyalty perks; ask for reviews and referrals";
        let frame = df!(
            "segment" => ["Champions", "Lost"],
            "customers" => [1234567u64, 5],
            "revenue" => [98765.4321, 1.0],
            "strategy" => ["retain", "deprioritise"],
            "action" => [action, "One revival campaign at most"],
        )
        .unwrap();
        let fitted = |width| {
            render_table(
                &frame,
                &TableStyle {
                    width: Some(width),
                    ..TableStyle::default()
                },
            )
        };
        // 80 columns: the action is cut, every number whole on its line
        let within = |text: &str, width: usize| {
            text.lines()
                .filter(|l| !l.is_ascii())
                .all(|l| l.chars().count() <= width)
        };
        let text = fitted(80);
        assert!(within(&text, 80), "{text}");
        let champions = text.lines().find(|l| l.contains("Champions")).unwrap();
        for whole in ["1,234,567", "98,765.43", "retain", "Reward them"] {
            assert!(champions.contains(whole), "{whole} in {text}");
        }
        assert!(
            text.contains("to fit 80 columns: action (cut); --width N shows more"),
            "{text}"
        );
        // 50 columns: the text columns go, from the right, and are named
        let text = fitted(50);
        assert!(within(&text, 50), "{text}");
        assert!(
            text.contains("1,234,567") && !text.contains("Reward"),
            "{text}"
        );
        assert!(
            text.contains("to fit 50 columns: action, strategy"),
            "{text}"
        );
        // a width of 0 is unknown: 100
        assert!(fitted(0).contains("to fit 100 columns: action (cut)"));
    }

    #[test]
    fn table_respects_width_and_row_limit() {
        let style = TableStyle {
            width: Some(30),
            max_rows: 1,
            ..TableStyle::default()
        };
        let text = render_table(&frame(), &style);
        let (table, footer) = text.rsplit_once('┘').unwrap();
        assert!(table.lines().all(|l| l.chars().count() <= 30), "{text}");
        assert!(footer.contains("1 of 2 rows shown"));
    }
}
