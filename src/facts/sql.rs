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

use super::{AS_OF, FACTS_VERSION, VERSION};
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
    /// Whether to count the rows after the as-of day, in [`ROWS_AFTER`],
    /// for the caller to tell and drop (a printed query has exactly the
    /// facts schema).
    pub count_after: bool,
}

/// The column of [`FactsQuery::count_after`]: the rows after the as-of
/// day, the same in every row.
pub const ROWS_AFTER: &str = "__cpm_rows_after_as_of";

/// The name of the column that says whether `extra` varies within a
/// customer ([`FactsQuery::extras`]).
pub fn varies(extra: &str) -> String {
    format!("__cpm_varies_{extra}")
}

/// The statements that compute the facts table of `query` in `dialect`:
/// the session settings, then one `SELECT` (the last statement, without
/// its semicolon, so that it can be wrapped in a `COPY` or a `CREATE`).
pub fn render(query: &FactsQuery, dialect: Dialect) -> (String, String) {
    let q = |name: &str| dialect.quote(name);
    // one row: the day asked for, or the day after the latest row
    let bounds = match query.as_of {
        Some(day) => format!("SELECT DATE '{day}' AS as_of"),
        None => format!(
            "SELECT {} AS as_of FROM rows",
            dialect.day_after("max(day)")
        ),
    };
    let after = match query.count_after {
        true => format!(
            ",\n  (SELECT count(*) FROM rows CROSS JOIN bounds WHERE rows.day > bounds.as_of) AS {}",
            q(ROWS_AFTER)
        ),
        false => String::new(),
    };
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
  {version} AS {version_out}{after}
FROM kept
GROUP BY customer_id
ORDER BY customer_id",
        rows = typed_rows(query, dialect),
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
    (dialect.preamble().to_string(), select)
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
pub fn typed_rows(query: &FactsQuery, dialect: Dialect) -> String {
    let q = |name: &str| dialect.quote(name);
    let (text, double) = (dialect.text(), dialect.double());
    let map = query.map;
    let trimmed = |name: &str| format!("NULLIF(TRIM(CAST({} AS {text})), '')", q(name));
    let revenue = match &map.revenue {
        RevenueSource::Column(name) => format!("CAST({} AS {double})", q(name)),
        RevenueSource::QuantityTimesPrice { quantity, price } => format!(
            "CAST({} AS {double}) * CAST({} AS {double})",
            q(quantity),
            q(price)
        ),
    };
    let order_id = match &map.order_id {
        Some(name) => trimmed(name),
        None => format!("CAST(NULL AS {text})"),
    };
    let cost = match &map.cost {
        Some(name) => format!("COALESCE(CAST({} AS {double}), 0)", q(name)),
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
    format!(
        "WITH typed AS (
  SELECT {distinct}{customer} AS customer_id, CAST({date} AS DATE) AS day, {revenue} AS revenue,
    {order_id} AS order_id, {cost} AS cost{carried}
  FROM {source} AS src
),
rows AS (
  SELECT typed.*, {row} AS row_token FROM typed
  WHERE customer_id IS NOT NULL AND day IS NOT NULL AND revenue IS NOT NULL AND NOT {nan}
)",
        customer = trimmed(&map.customer_id),
        source = query.source,
        date = q(&map.order_date),
        row = dialect.row_token(),
        nan = dialect.is_nan("revenue"),
    )
}
