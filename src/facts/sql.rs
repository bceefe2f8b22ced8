//! The facts table as one SQL query, for the engines where the data lives
//! (DuckDB, Spark, BigQuery, Snowflake, Trino): the same rules as
//! [`super::gather`] — exact duplicate rows removed when the rows have an
//! order id, a negative revenue a refund (0 is a purchase), a row without
//! an order id an order of its own, distinct purchase days, first-day
//! revenue without that day's refunds, the as-of day inclusive and by
//! default the day after the latest row, timestamps as UTC dates, empty
//! and NaN values left out. Only sums and counts are computed there: every
//! day difference, unit and rounding of the customer table stays in
//! [`crate::summary::derive`].

use chrono::NaiveDate;

use anyhow::{Result, bail};

use super::{AS_OF, FACTS_VERSION, VERSION};
use crate::schema::dates::DateFormat;
use crate::schema::{ColumnMap, RevenueSource};

/// An SQL dialect the facts query is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB.
    DuckDb,
    /// Spark SQL (and Databricks SQL).
    Spark,
    /// Google BigQuery.
    BigQuery,
    /// Snowflake.
    Snowflake,
    /// Trino (and Presto, Athena).
    Trino,
}

impl Dialect {
    /// Every dialect, by the name `--sql` takes.
    pub const ALL: [(&'static str, Dialect); 5] = [
        ("duckdb", Dialect::DuckDb),
        ("spark", Dialect::Spark),
        ("bigquery", Dialect::BigQuery),
        ("snowflake", Dialect::Snowflake),
        ("trino", Dialect::Trino),
    ];

    /// A quoted identifier.
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::Spark | Dialect::BigQuery => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    fn text(self) -> &'static str {
        match self {
            Dialect::Spark | Dialect::BigQuery => "STRING",
            _ => "VARCHAR",
        }
    }

    /// The type of a double.
    pub fn double(self) -> &'static str {
        match self {
            Dialect::BigQuery => "FLOAT64",
            _ => "DOUBLE",
        }
    }

    /// `value` as `to`, null where it is not one (a bad row is left out,
    /// as ingest rejects it, instead of failing the query).
    fn try_cast(self, value: &str, to: &str) -> String {
        match self {
            Dialect::DuckDb => format!("TRY_CAST({value} AS {to})"),
            Dialect::Spark | Dialect::Trino => format!("try_cast({value} AS {to})"),
            Dialect::BigQuery => format!("SAFE_CAST({value} AS {to})"),
            // Snowflake's TRY_CAST takes text only
            Dialect::Snowflake => format!("TRY_CAST(CAST({value} AS VARCHAR) AS {to})"),
        }
    }

    fn is_nan(self, value: &str) -> String {
        match self {
            Dialect::DuckDb | Dialect::Spark => format!("isnan({value})"),
            Dialect::BigQuery => format!("IS_NAN({value})"),
            Dialect::Trino => format!("is_nan({value})"),
            Dialect::Snowflake => format!("({value} = 'NaN'::FLOAT)"),
        }
    }

    /// A text unique to each row: a row without an order id is an order of
    /// its own.
    fn row_token(self) -> String {
        let text = self.text();
        match self {
            Dialect::DuckDb => format!("CAST(row_number() OVER () AS {text})"),
            Dialect::Spark => format!("CAST(monotonically_increasing_id() AS {text})"),
            Dialect::BigQuery => "GENERATE_UUID()".to_string(),
            Dialect::Snowflake => "UUID_STRING()".to_string(),
            Dialect::Trino => format!("CAST(uuid() AS {text})"),
        }
    }

    fn day_after(self, day: &str) -> String {
        match self {
            Dialect::DuckDb => format!("CAST({day} + INTERVAL 1 DAY AS DATE)"),
            Dialect::Spark => format!("date_add({day}, 1)"),
            Dialect::BigQuery => format!("DATE_ADD({day}, INTERVAL 1 DAY)"),
            Dialect::Snowflake => format!("DATEADD(day, 1, {day})"),
            Dialect::Trino => format!("date_add('day', 1, {day})"),
        }
    }

    /// Any one value of a group.
    fn any_value(self, value: &str) -> String {
        match self {
            Dialect::Trino => format!("arbitrary({value})"),
            _ => format!("any_value({value})"),
        }
    }

    fn version(self) -> String {
        match self {
            Dialect::DuckDb => format!("CAST({FACTS_VERSION} AS UINTEGER)"),
            Dialect::BigQuery => format!("CAST({FACTS_VERSION} AS INT64)"),
            _ => format!("CAST({FACTS_VERSION} AS INTEGER)"),
        }
    }

    /// Statements the query needs before it: dates of timestamps in UTC;
    /// for Spark, no Parquet filter pushdown (the query reads every row
    /// anyway, and row groups whose statistics hold a NaN, as polars
    /// writes them, were skipped whole: every row lost, no error).
    pub fn preamble(self) -> &'static str {
        match self {
            Dialect::DuckDb => "SET TimeZone = 'UTC';\n",
            Dialect::Spark => {
                "SET spark.sql.session.timeZone = UTC;\nSET spark.sql.parquet.filterPushdown = false;\n"
            }
            Dialect::Snowflake => "ALTER SESSION SET TIMEZONE = 'UTC';\n",
            Dialect::Trino => "SET TIME ZONE 'UTC';\n",
            Dialect::BigQuery => "",
        }
    }
}

/// What the facts query reads and how.
pub struct FactsQuery<'a> {
    /// The transactions: a table name, or what the engine reads as one
    /// (`'s3://bucket/tx/*.parquet'`, ``parquet.`/data/tx` ``), verbatim.
    pub source: &'a str,
    /// The source columns of the canonical ones.
    pub map: &'a ColumnMap,
    /// How the order dates are written when they are text (`None`: dates,
    /// timestamps or ISO text, cast).
    pub date_format: Option<&'a DateFormat>,
    /// The analysis day (`None`: the day after the latest row).
    pub as_of: Option<NaiveDate>,
    /// Whether exact duplicate rows are removed (ingest's rule: when the
    /// rows have an order id).
    pub remove_duplicates: bool,
    /// Columns beside the canonical ones that pass through when constant
    /// per customer: each comes with [`varies`]`(column)`, 1 for a customer
    /// whose rows hold more than one value (min ≠ max, or null beside a
    /// value: cheaper than counting the distinct ones), for the
    /// caller to drop the column when any customer has 1.
    pub extras: &'a [String],
}

/// The name of the column that says whether `extra` varies within a
/// customer ([`FactsQuery::extras`]).
pub fn varies(extra: &str) -> String {
    format!("__cpm_varies_{extra}")
}

/// The statements that compute the facts table of `query` in `dialect`:
/// the session settings, then one `SELECT` (the last statement, without
/// its semicolon, so that it can be wrapped in a `COPY` or a `CREATE`).
pub fn render(query: &FactsQuery, dialect: Dialect) -> Result<(String, String)> {
    let q = |name: &str| dialect.quote(name);
    let bounds = bounds(query, dialect);
    let margin = match query.map.cost {
        Some(_) => format!(",\n  {} AS {}", rounded_sum("revenue - cost"), q("margin")),
        None => String::new(),
    };
    let extras: String = (query.extras.iter())
        .map(|extra| {
            let held = q(&format!("__cpm_extra_{extra}"));
            format!(
                ",\n  {} AS {},\n  CASE WHEN min({held}) <> max({held}) OR (count({held}) > 0 AND \
                 count({held}) < count(*)) THEN 1 ELSE 0 END AS {}",
                dialect.any_value(&held),
                q(extra),
                q(&varies(extra))
            )
        })
        .collect();
    let select = format!(
        "{rows},
bounds AS (
  {bounds}
),
kept AS (
  SELECT rows.*, bounds.as_of,
    min(CASE WHEN revenue >= 0 THEN day END) OVER (PARTITION BY customer_id) AS first_day
  FROM rows CROSS JOIN bounds
  WHERE rows.day <= bounds.as_of
)
SELECT customer_id AS {customer_id},
  min(CASE WHEN revenue >= 0 THEN day END) AS {first},
  max(CASE WHEN revenue >= 0 THEN day END) AS {last},
  count(DISTINCT CASE WHEN revenue >= 0 THEN {order} END) AS {orders},
  count(DISTINCT CASE WHEN revenue >= 0 THEN day END) AS {days},
  {revenue} AS {revenue_out},
  {first_day_revenue} AS {first_day}{margin}{extras},
  min(as_of) AS {as_of_out},
  {version} AS {version_out}
FROM kept
GROUP BY customer_id
ORDER BY customer_id",
        rows = typed_rows(query, dialect)?,
        order = ORDER_KEY,
        revenue = rounded_sum("revenue"),
        first_day_revenue =
            rounded_sum("CASE WHEN revenue >= 0 AND day = first_day THEN revenue ELSE 0 END"),
        customer_id = q(crate::schema::CUSTOMER_ID),
        first = q(super::FIRST_PURCHASE),
        last = q(super::LAST_PURCHASE),
        orders = q(super::ORDERS),
        days = q(super::PURCHASE_DAYS),
        revenue_out = q(crate::schema::REVENUE),
        first_day = q(super::FIRST_DAY_REVENUE),
        as_of_out = q(AS_OF),
        version = dialect.version(),
        version_out = q(VERSION),
    );
    Ok((dialect.preamble().to_string(), select))
}

/// One row: the as-of day asked for, or the day after the latest row.
fn bounds(query: &FactsQuery, dialect: Dialect) -> String {
    match query.as_of {
        Some(day) => format!("SELECT DATE '{day}' AS as_of"),
        None => format!(
            "SELECT {} AS as_of FROM rows",
            dialect.day_after("max(day)")
        ),
    }
}

/// The columns of [`counts`]' one row: the source's rows, those left
/// after exact duplicates are removed, those kept (with a customer, a day
/// and a revenue), and those kept after the as-of day (then `as_of`, the
/// day).
pub const COUNTS: [&str; 4] = [
    "rows_read",
    "rows_distinct",
    "rows_kept",
    "rows_after_as_of",
];

/// The query that counts `query`'s rows ([`COUNTS`]), for the caller to
/// tell what the engine left out, as ingest tells its rejects.
pub fn counts(query: &FactsQuery, dialect: Dialect) -> Result<String> {
    let [read, distinct, kept, after] = COUNTS;
    Ok(format!(
        "{rows},
bounds AS (
  {bounds}
)
SELECT (SELECT count(*) FROM {source} AS src) AS {read},
  count(*) AS {distinct},
  count(CASE WHEN {held} THEN 1 END) AS {kept},
  count(CASE WHEN {held} AND day > as_of THEN 1 END) AS {after},
  min(as_of) AS as_of
FROM typed CROSS JOIN bounds",
        rows = typed_rows(query, dialect)?,
        bounds = bounds(query, dialect),
        source = query.source,
        held = held(dialect),
    ))
}

/// The condition of a row kept: a customer, a day and a revenue (not NaN).
fn held(dialect: Dialect) -> String {
    format!(
        "customer_id IS NOT NULL AND day IS NOT NULL AND revenue IS NOT NULL AND NOT {}",
        dialect.is_nan("revenue")
    )
}

/// A row's order, as a text distinct from every other order's: its order
/// id, or, for a row without one, the row itself (an order of its own).
pub const ORDER_KEY: &str =
    "CASE WHEN order_id IS NULL THEN concat('~', row_token) ELSE concat('=', order_id) END";

/// The sum of `value` rounded to millionths (as cpm's sums are written),
/// never -0.
pub fn rounded_sum(value: &str) -> String {
    format!("round(sum({value}), 6) + 0.0")
}

/// The start of every query on `query`'s source: `WITH typed AS (…),
/// rows AS (…)`, the rows as cpm reads them — `customer_id` (trimmed
/// text), `day` (a date), `revenue` and `cost` (doubles, cost 0 when
/// there is none), `order_id` (trimmed text or null), `row_token` (unique
/// to the row) and the extras — exact duplicates removed as
/// `remove_duplicates` says, rows without a customer, a day or a revenue
/// (or a NaN one) left out.
pub fn typed_rows(query: &FactsQuery, dialect: Dialect) -> Result<String> {
    let q = |name: &str| dialect.quote(name);
    let (text, double) = (dialect.text(), dialect.double());
    let map = query.map;
    let trimmed = |name: &str| format!("NULLIF(TRIM(CAST({} AS {text})), '')", q(name));
    let number = |name: &str| dialect.try_cast(&q(name), double);
    let revenue = match &map.revenue {
        RevenueSource::Column(name) => number(name),
        RevenueSource::QuantityTimesPrice { quantity, price } => {
            format!("{} * {}", number(quantity), number(price))
        }
        RevenueSource::Absent => format!("CAST(0 AS {double})"),
    };
    let order_id = match &map.order_id {
        Some(name) => trimmed(name),
        None => format!("CAST(NULL AS {text})"),
    };
    let cost = match &map.cost {
        Some(name) => format!("COALESCE({}, 0)", number(name)),
        None => format!("CAST(0 AS {double})"),
    };
    // exact duplicates are judged on the trimmed values, as ingest
    // judges them
    let distinct = match query.remove_duplicates {
        true => "DISTINCT ",
        false => "",
    };
    // the extras: carried through under names of their own
    let carried: String = (query.extras.iter())
        .map(|extra| format!(", {} AS {}", q(extra), q(&format!("__cpm_extra_{extra}"))))
        .collect();
    let day = match query.date_format {
        None | Some(DateFormat::Iso) => dialect.try_cast(&q(&map.order_date), "DATE"),
        Some(layout) => parsed_day(
            dialect,
            &format!("TRIM(CAST({} AS {text}))", q(&map.order_date)),
            layout,
        )?,
    };
    Ok(format!(
        "WITH typed AS (
  SELECT {distinct}{customer} AS customer_id, {day} AS day, {revenue} AS revenue,
    {order_id} AS order_id, {cost} AS cost{carried}
  FROM {source} AS src
),
rows AS (
  SELECT typed.*, {row} AS row_token FROM typed
  WHERE {held}
)",
        customer = trimmed(&map.customer_id),
        source = query.source,
        row = dialect.row_token(),
        held = held(dialect),
    ))
}

/// The day of `text` written as `layout` says, in `dialect` (null where
/// it is not such a date: the row is left out, as ingest rejects it).
/// The named layouts read the date before the first space (a time may
/// follow); a chrono layout is translated field by field.
fn parsed_day(dialect: Dialect, text: &str, layout: &DateFormat) -> Result<String> {
    let (text, chrono) = match layout {
        DateFormat::Iso => return Ok(dialect.try_cast(text, "DATE")),
        DateFormat::Compact => (text.to_string(), "%Y%m%d"),
        DateFormat::MonthFirst => (date_part(dialect, text), "%m/%d/%Y"),
        DateFormat::DayFirst => (date_part(dialect, text), "%d/%m/%Y"),
        DateFormat::Dotted => (date_part(dialect, text), "%d.%m.%Y"),
        DateFormat::Custom(layout) => (text.to_string(), layout.as_str()),
    };
    let layout = translated(dialect, chrono)?;
    Ok(match dialect {
        Dialect::DuckDb => format!("CAST(try_strptime({text}, '{layout}') AS DATE)"),
        Dialect::Spark => format!("CAST(try_to_timestamp({text}, '{layout}') AS DATE)"),
        Dialect::BigQuery => format!("DATE(SAFE.PARSE_DATETIME('{layout}', {text}))"),
        Dialect::Snowflake => format!("CAST(TRY_TO_TIMESTAMP_NTZ({text}, '{layout}') AS DATE)"),
        Dialect::Trino => format!("CAST(try(date_parse({text}, '{layout}')) AS DATE)"),
    })
}

/// The text of `text` before its first space.
fn date_part(dialect: Dialect, text: &str) -> String {
    match dialect {
        Dialect::BigQuery => format!("SPLIT({text}, ' ')[SAFE_OFFSET(0)]"),
        _ => format!("split_part({text}, ' ', 1)"),
    }
}

/// A field of a chrono layout: its letter (`m` of `%m`, `%-m`), or a
/// literal character.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Spec(char),
    Literal(char),
}

/// The fields of a chrono layout, the composite ones (`%F`, `%T`, `%D`,
/// `%R`) spelt out and chrono's padding flags (`%-m`) dropped.
fn fields(layout: &str) -> Result<Vec<Field>> {
    let mut fields = Vec::new();
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            fields.push(Field::Literal(c));
            continue;
        }
        let mut spec = chars.next();
        if matches!(spec, Some('-' | '_' | '0')) {
            spec = chars.next();
        }
        let expanded = match spec {
            Some('F') => "%Y-%m-%d",
            Some('T') => "%H:%M:%S",
            Some('D') => "%m/%d/%y",
            Some('R') => "%H:%M",
            Some('%') => {
                fields.push(Field::Literal('%'));
                continue;
            }
            Some(letter) => {
                fields.push(Field::Spec(letter));
                continue;
            }
            None => bail!(crate::error::usage(format!(
                "--date-format '{layout}': it ends in a lone %"
            ))),
        };
        fields.extend(fields_of_simple(expanded));
    }
    Ok(fields)
}

/// The fields of a layout of plain `%x` fields and literals.
fn fields_of_simple(layout: &str) -> Vec<Field> {
    let mut out = Vec::new();
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('%', Some(letter)) => {
                out.push(Field::Spec(letter));
                chars.next();
            }
            _ => out.push(Field::Literal(c)),
        }
    }
    out
}

/// A chrono layout in `dialect`'s own date-parsing layout; a field it has
/// no equivalent for is a usage error naming both.
fn translated(dialect: Dialect, layout: &str) -> Result<String> {
    let fields = fields(layout)?;
    let numeric = |f: Option<&Field>| {
        matches!(
            f,
            Some(Field::Spec(
                'Y' | 'y' | 'm' | 'd' | 'e' | 'H' | 'I' | 'M' | 'S'
            ))
        )
    };
    let mut out = String::new();
    for (i, field) in fields.iter().enumerate() {
        // Spark reads a one-letter field as one or two digits, but two
        // fields side by side (YYYYMMDD) need their widths
        let packed =
            numeric(i.checked_sub(1).and_then(|p| fields.get(p))) || numeric(fields.get(i + 1));
        let spec = match *field {
            Field::Literal(c) => {
                out.push_str(&literal(dialect, c));
                continue;
            }
            Field::Spec(letter) => letter,
        };
        let text = match (dialect, spec) {
            (
                Dialect::DuckDb | Dialect::BigQuery,
                'Y' | 'y' | 'm' | 'd' | 'e' | 'H' | 'I' | 'M',
            )
            | (Dialect::DuckDb | Dialect::BigQuery, 'S' | 'p' | 'b' | 'B' | 'h' | 'j') => {
                format!("%{spec}")
            }
            (Dialect::Trino, 'Y' | 'y' | 'm' | 'd' | 'e' | 'H' | 'I' | 'p' | 'b' | 'j') => {
                format!("%{spec}")
            }
            (Dialect::Trino, 'h') => "%b".into(),
            (Dialect::Trino, 'M') => "%i".into(),
            (Dialect::Trino, 'S') => "%s".into(),
            (Dialect::Trino, 'B') => "%M".into(),
            (Dialect::Spark, _) => match (spec, packed) {
                ('Y', _) => "yyyy".into(),
                ('y', _) => "yy".into(),
                ('m', true) => "MM".into(),
                ('m', false) => "M".into(),
                ('d' | 'e', true) => "dd".into(),
                ('d' | 'e', false) => "d".into(),
                ('H', true) => "HH".into(),
                ('H', false) => "H".into(),
                ('I', true) => "hh".into(),
                ('I', false) => "h".into(),
                ('M', _) => "mm".into(),
                ('S', _) => "ss".into(),
                ('p', _) => "a".into(),
                ('b' | 'h', _) => "MMM".into(),
                ('B', _) => "MMMM".into(),
                ('j', _) => "D".into(),
                _ => unsupported(dialect, spec, layout)?,
            },
            (Dialect::Snowflake, _) => match spec {
                'Y' => "YYYY".into(),
                'y' => "YY".into(),
                'm' => "MM".into(),
                'd' | 'e' => "DD".into(),
                'H' => "HH24".into(),
                'I' => "HH12".into(),
                'M' => "MI".into(),
                'S' => "SS".into(),
                'p' => "AM".into(),
                'b' | 'h' => "MON".into(),
                'B' => "MMMM".into(),
                _ => unsupported(dialect, spec, layout)?,
            },
            _ => unsupported(dialect, spec, layout)?,
        };
        out.push_str(&text);
    }
    Ok(out.replace('\'', "''"))
}

/// A literal character of a layout, as `dialect` writes one.
fn literal(dialect: Dialect, c: char) -> String {
    match dialect {
        // letters are fields there: quoted
        Dialect::Spark if c.is_ascii_alphabetic() => format!("'{c}'"),
        Dialect::Snowflake if c.is_ascii_alphabetic() => format!("\"{c}\""),
        Dialect::DuckDb | Dialect::BigQuery | Dialect::Trino if c == '%' => "%%".into(),
        _ => c.to_string(),
    }
}

/// The usage error of a layout field `dialect` cannot read.
fn unsupported(dialect: Dialect, spec: char, layout: &str) -> Result<String> {
    let name = (Dialect::ALL.iter())
        .find(|(_, d)| *d == dialect)
        .map_or("the engine", |(name, _)| name);
    bail!(crate::error::usage(format!(
        "--date-format '{layout}': %{spec} has no equivalent in {name}'s SQL; write the dates \
         with %Y %m %d %H %M %S %p %b %B"
    )))
}
