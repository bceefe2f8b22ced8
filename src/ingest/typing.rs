//! Typing raw columns: customer ids as strings, dates, amounts, and light
//! type inference for the columns that pass through.

use anyhow::{Result, bail};
use polars::prelude::*;

use crate::error::InputError;
use crate::schema::dates::{DateFormat, DetectError, detect};
use crate::schema::numbers::parse_amount;

/// How many values, spread evenly over the column, date detection looks at
/// first. Only when they leave day/month open is the whole column read.
const DETECT_SAMPLE: usize = 20_000;

/// An id column as strings: integers print without decimals; floats that
/// are whole numbers (pandas writes `17850.0`) print as integers; binary
/// values (a Parquet BLOB) must be UTF-8 text. Text is trimmed, and an
/// empty or blank id is missing, whatever the format (the CSV reader trims
/// fields; Parquet, Arrow and JSON ids come as they are). Lists, structs
/// and binary ids that are not text are errors naming `file`, the row and
/// the column.
pub fn id_strings(column: &Column, file: &str) -> Result<Series> {
    let series = column.as_materialized_series();
    let name = series.name().to_string();
    Ok(match series.dtype() {
        DataType::Binary => {
            let mut ids: Vec<Option<&str>> = Vec::with_capacity(series.len());
            for (row, value) in series.binary()?.iter().enumerate() {
                let Some(bytes) = value else {
                    ids.push(None);
                    continue;
                };
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    let shown: Vec<String> = bytes
                        .iter()
                        .skip(e.valid_up_to())
                        .take(4)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    InputError::at_row(
                        file,
                        row as u64 + 1,
                        format!(
                            "a binary id that is not UTF-8 text (bytes {} at byte {}): ids must \
                             be text or whole numbers",
                            shown.join(" "),
                            e.valid_up_to()
                        ),
                    )
                    .in_column(name.as_str())
                })?;
                ids.push(Some(text.trim()).filter(|t| !t.is_empty()));
            }
            StringChunked::from_iter_options(series.name().clone(), ids.into_iter()).into_series()
        }
        dtype @ (DataType::List(_) | DataType::Array(..) | DataType::Struct(_)) => {
            bail!(
                InputError::file(
                    file,
                    format!(
                        "holds nested values ({dtype}) where ids are text or whole numbers: map \
                         another column (--map customer_id=COLUMN)"
                    )
                )
                .in_column(name)
            )
        }
        DataType::String => {
            let text = series.str()?;
            let untidy = |v: &str| v.is_empty() || v.trim().len() != v.len();
            if !text.iter().flatten().any(untidy) {
                return Ok(series.clone());
            }
            let tidy: StringChunked = text
                .iter()
                .map(|v| v.map(str::trim).filter(|v| !v.is_empty()))
                .collect();
            tidy.with_name(series.name().clone()).into_series()
        }
        DataType::Float32 | DataType::Float64 => {
            let whole = series.f64()?.iter().flatten().all(|x| x.fract() == 0.0);
            if whole {
                series.cast(&DataType::Int64)?.cast(&DataType::String)?
            } else {
                series.cast(&DataType::String)?
            }
        }
        _ => series.cast(&DataType::String)?,
    })
}

/// Parses a date column into days since the epoch (`Date`); values that do
/// not parse become null. Returns the layout used.
pub fn parse_dates(
    column: &Column,
    format: Option<&DateFormat>,
    file: &str,
) -> Result<(Series, Option<DateFormat>)> {
    let name = column.name().clone();
    let series = column.as_materialized_series();
    match series.dtype() {
        DataType::Date => return Ok((series.clone(), None)),
        DataType::Datetime(unit, _) => return Ok((utc_days(series, *unit)?.with_name(name), None)),
        _ => {}
    }
    let text = series.cast(&DataType::String)?;
    let text = text.str()?;
    let format = match format {
        Some(f) => f.clone(),
        None if text.null_count() == text.len() => {
            let nulls = Series::full_null(name, text.len(), &DataType::Date);
            return Ok((nulls, None));
        }
        None => detect_layout(text).map_err(|e| date_detect_error(e, file, name.as_str()))?,
    };
    let days: Int32Chunked = par_map_strings(text, |v| format.parse(v))?;
    let dates = days.into_series().with_name(name).cast(&DataType::Date)?;
    Ok((dates, Some(format)))
}

/// The date layout of text dates: from a sample, or from every value
/// when the sample leaves day and month open.
fn detect_layout(text: &StringChunked) -> Result<DateFormat, DetectError> {
    let step = (text.len() / DETECT_SAMPLE).max(1);
    let sample = text.iter().step_by(step).flatten();
    match detect(sample) {
        Err(DetectError::Ambiguous(_)) => detect(text.iter().flatten()),
        other => other,
    }
}

/// What the dates of `column` (some rows of an input) settle of the
/// input's layout: `Some(None)` when they are typed (no layout needed),
/// `Some(Some(layout))` when their text reads one way only, `None` when
/// they leave it open (no values; day and month both fit; no layout fits).
pub fn settled_layout(column: &Column) -> Result<Option<Option<DateFormat>>> {
    let series = column.as_materialized_series();
    if matches!(series.dtype(), DataType::Date | DataType::Datetime(..)) {
        return Ok(Some(None));
    }
    let text = series.cast(&DataType::String)?;
    let text = text.str()?;
    if text.null_count() == text.len() {
        return Ok(None);
    }
    Ok(detect_layout(text).ok().map(Some))
}

fn date_detect_error(error: DetectError, file: &str, column: &str) -> anyhow::Error {
    let message = match error {
        DetectError::Ambiguous(example) => format!(
            "dates like '{example}' read as both month/day and day/month, and no value has a \
             part above 12 to settle it; pass --date-format mdy (M/D/YYYY) or dmy (D/M/YYYY), \
             or a chrono format such as %d/%m/%Y"
        ),
        DetectError::NoFormat(example) => format!(
            "no value reads as a date (e.g. '{example}'); accepted: YYYY-MM-DD[THH:MM:SS±HH:MM], \
             YYYYMMDD, M/D/YYYY, D/M/YYYY, D.M.YYYY; or pass --date-format"
        ),
    };
    InputError::file(file, message).in_column(column).into()
}

/// Values that mean "missing" in the id, date and amount columns of
/// exports (R, pandas, SQL and spreadsheet habits). Only those columns: a
/// region "NA" (Namibia, North America) stays as it is. `--null-values`
/// adds tokens for every column.
pub const MISSING_TOKENS: [&str; 12] = [
    "NA", "N/A", "n/a", "NULL", "null", "Null", "None", "none", "nil", "-", "--", "#N/A",
];

/// `column` with [`MISSING_TOKENS`] as nulls (text columns; others as
/// they are).
pub fn tokens_as_missing(column: &Column) -> Result<Column> {
    let Ok(text) = column.str() else {
        return Ok(column.clone());
    };
    if !text.iter().flatten().any(is_missing_token) {
        return Ok(column.clone());
    }
    let cleaned: StringChunked = text
        .iter()
        .map(|v| v.filter(|v| !is_missing_token(v)))
        .collect();
    Ok(cleaned.with_name(column.name().clone()).into_column())
}

/// Whether `value` is one of [`MISSING_TOKENS`], surrounding whitespace
/// aside. Every token starts with `N`, `n`, `-` or `#`: other values (ids,
/// dates, amounts) are told apart by their first byte, without trimming.
fn is_missing_token(value: &str) -> bool {
    match value.as_bytes().first() {
        Some(b'N' | b'n' | b'-' | b'#') => MISSING_TOKENS.contains(&value.trim_end()),
        Some(b) if b.is_ascii_alphanumeric() || b.is_ascii_punctuation() => false,
        _ => MISSING_TOKENS.contains(&value.trim()),
    }
}

/// Parses an amount column into f64; text that is not a number becomes null,
/// NaN and infinities stay (the caller rejects them with their own reason).
pub fn parse_amounts(column: &Column, decimal_comma: bool) -> Result<Series> {
    let name = column.name().clone();
    let series = column.as_materialized_series();
    if series.dtype().is_primitive_numeric() {
        return Ok(series.cast(&DataType::Float64)?);
    }
    let text = series.cast(&DataType::String)?;
    let values: Float64Chunked = par_map_strings(text.str()?, |v| parse_amount(v, decimal_comma))?;
    Ok(values.into_series().with_name(name))
}

/// The UTC day of each datetime: its physical value is UTC whatever the
/// time zone, so flooring to whole days gives the day in UTC.
fn utc_days(series: &Series, unit: TimeUnit) -> Result<Series> {
    let per_day: i64 = match unit {
        TimeUnit::Nanoseconds => 86_400_000_000_000,
        TimeUnit::Microseconds => 86_400_000_000,
        TimeUnit::Milliseconds => 86_400_000,
    };
    let physical = series.to_physical_repr();
    let days: Int32Chunked = physical
        .i64()?
        .iter()
        .map(|v| v.map(|t| t.div_euclid(per_day) as i32))
        .collect();
    Ok(days.into_series().cast(&DataType::Date)?)
}

/// Rows per parallel parsing task.
const PARSE_BATCH: usize = 1 << 16;

/// Maps every non-null string through `parse` on all cores, keeping order;
/// `None` from `parse` becomes null.
fn par_map_strings<T, F>(text: &StringChunked, parse: F) -> Result<ChunkedArray<T>>
where
    T: PolarsNumericType,
    F: Fn(&str) -> Option<T::Native> + Sync,
{
    use rayon::prelude::*;
    let batches: Vec<ChunkedArray<T>> = (0..text.len().div_ceil(PARSE_BATCH))
        .into_par_iter()
        .map(|i| {
            let slice = text.slice((i * PARSE_BATCH) as i64, PARSE_BATCH);
            slice.iter().map(|v| v.and_then(&parse)).collect()
        })
        .collect();
    let mut batches = batches.into_iter();
    let mut out = batches
        .next()
        .unwrap_or_else(|| ChunkedArray::full_null(text.name().clone(), 0));
    for batch in batches {
        out.append_owned(batch)?;
    }
    out.rename(text.name().clone());
    Ok(out)
}

/// The type that holds the values of both `a` and `b`, as [`infer_type`]
/// would have typed them together: a column of nulls only takes the
/// other's type; integers and decimals are decimals; anything else
/// mixed is text.
pub fn common_type(a: &Column, b: &Column) -> DataType {
    let all_null = |c: &Column| c.null_count() == c.len();
    match (a.dtype(), b.dtype()) {
        (x, y) if x == y => x.clone(),
        (_, y) if all_null(a) => y.clone(),
        (x, _) if all_null(b) => x.clone(),
        (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
            DataType::Float64
        }
        _ => DataType::String,
    }
}

/// Gives a string column a better type when every value allows it: Int64,
/// then Float64, then ISO Date. Codes with leading zeros (`00123`) stay text.
pub fn infer_type(column: &Column) -> Result<Column> {
    let series = column.as_materialized_series();
    let Ok(text) = series.str() else {
        return Ok(column.clone());
    };
    if text.null_count() == text.len() {
        return Ok(column.clone());
    }
    let leading_zero = |v: &str| {
        let digits = v.strip_prefix('-').unwrap_or(v);
        digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.")
    };
    let integer = |v: &str| (!leading_zero(v)).then(|| v.parse::<i64>().ok()).flatten();
    let float = |v: &str| {
        (!leading_zero(v))
            .then(|| v.parse::<f64>().ok().filter(|x| x.is_finite()))
            .flatten()
    };
    let date = |v: &str| (v.len() == 10).then(|| DateFormat::Iso.parse(v)).flatten();
    // the first values rule most types out at once; the rest is parsed in
    // parallel, and kept when every value parsed
    let head = || text.iter().flatten().take(1_000);
    let all_parsed = |nulls: usize| nulls == text.null_count();
    if head().all(|v| integer(v).is_some()) {
        let values: Int64Chunked = par_map_strings(text, integer)?;
        if all_parsed(values.null_count()) {
            return Ok(values.into_column());
        }
    }
    if head().all(|v| float(v).is_some()) {
        let values: Float64Chunked = par_map_strings(text, float)?;
        if all_parsed(values.null_count()) {
            return Ok(values.into_column());
        }
    }
    if head().all(|v| date(v).is_some()) {
        let days: Int32Chunked = par_map_strings(text, date)?;
        if all_parsed(days.null_count()) {
            return Ok(days.into_column().cast(&DataType::Date)?);
        }
    }
    Ok(column.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_inference_keeps_codes_with_leading_zeros() {
        let ints = Column::new("q".into(), ["1", "-2", "30"]);
        assert_eq!(infer_type(&ints).unwrap().dtype(), &DataType::Int64);
        let codes = Column::new("c".into(), ["001", "002"]);
        assert_eq!(infer_type(&codes).unwrap().dtype(), &DataType::String);
        let floats = Column::new("p".into(), ["1.5", "0.25"]);
        assert_eq!(infer_type(&floats).unwrap().dtype(), &DataType::Float64);
        let dates = Column::new("d".into(), ["2024-01-31", "2024-02-01"]);
        assert_eq!(infer_type(&dates).unwrap().dtype(), &DataType::Date);
        // a value past the first thousand decides too
        let mut late: Vec<Option<String>> = (0..5_000).map(|i| Some(i.to_string())).collect();
        late[4_000] = None;
        let column = Column::new("late".into(), late.clone());
        let typed = infer_type(&column).unwrap();
        assert_eq!(typed.dtype(), &DataType::Int64);
        assert_eq!(typed.i64().unwrap().get(4_999), Some(4_999));
        assert_eq!(typed.null_count(), 1);
        late[4_500] = Some("4500A".into());
        let column = Column::new("late".into(), late);
        assert_eq!(infer_type(&column).unwrap().dtype(), &DataType::String);
    }

    #[test]
    fn missing_tokens_are_told_by_their_first_byte_as_by_trimming() {
        let values = [
            "NA",
            " NA",
            "NA ",
            "\u{a0}null\u{a0}",
            "N/A",
            "#N/A",
            "-",
            "--",
            " -- ",
            "nil",
            "n/a",
            "NAN",
            "Namibia",
            "-5",
            "#1",
            "none2",
            "12",
            "",
            " ",
            "\u{3000}",
            "Nil",
            "N",
            "null!",
        ];
        for value in values {
            assert_eq!(
                is_missing_token(value),
                MISSING_TOKENS.contains(&value.trim()),
                "{value:?}"
            );
        }
    }

    #[test]
    fn datetimes_become_their_utc_day_even_before_1970() {
        // 2024-03-06T01:30Z and 1969-12-31T23:00Z, in milliseconds
        let ms = Series::new("t".into(), [1_709_688_600_000i64, -3_600_000]);
        let datetimes = ms
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .unwrap();
        let (days, _) = parse_dates(&datetimes.into_column(), None, "x").unwrap();
        let text = days.cast(&DataType::String).unwrap();
        let text: Vec<Option<&str>> = text.str().unwrap().iter().collect();
        assert_eq!(text, [Some("2024-03-06"), Some("1969-12-31")]);
    }

    #[test]
    fn whole_float_ids_print_as_integers() {
        let ids = Column::new("id".into(), [17850.0, 13047.0]);
        let s = id_strings(&ids, "t").unwrap();
        assert_eq!(s.str().unwrap().get(0), Some("17850"));
    }
}
