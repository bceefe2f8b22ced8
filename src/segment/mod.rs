//! `segment`: who are our customers? RFM scores and named segments with
//! their playbook ([`rfm`], [`rules`]), value tiers ([`tiers`]) and the
//! value/risk matrix ([`matrix`]), added to the customer table that
//! [`crate::summary`] computes.

pub mod matrix;
pub mod rfm;
pub mod rules;
pub mod tiers;

use anyhow::{Result, anyhow, bail};
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schema::CUSTOMER_ID;
pub use rfm::{Monetary, RfmConfig, Scoring, ScoringMethod};
pub use rules::Rule;

/// Everything that shapes a segmentation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentConfig {
    /// RFM scoring.
    pub rfm: RfmConfig,
    /// The rule table naming segments; the default table when absent.
    pub rules: Option<Vec<Rule>>,
    /// Value tiers and the value/risk matrix.
    pub tiers: TierConfig,
}

/// How value tiers and the value/risk matrix are placed. Their basis is
/// the best the table has: clv and p_alive once `value` has added them,
/// revenue (or margin) and the purchase gaps before.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TierConfig {
    /// Column ranking customers into tiers and splitting the matrix; default:
    /// `clv`, else `margin`, else `revenue`.
    pub tier_by: Option<String>,
    /// Cumulative tier cuts in percent: platinum, gold, silver.
    pub tier_cuts: Vec<f64>,
    /// Value above which a customer is "high value" in the matrix; default:
    /// the median.
    pub value_split: Option<f64>,
    /// Overdue ratio (days since last / expected gap) above which churn risk
    /// is high.
    pub risk_ratio: f64,
}

impl TierConfig {
    /// Usage errors in the numbers: the cuts, a split or a ratio that is
    /// not a finite number (a ratio of 0 or less).
    pub fn check(&self) -> Result<()> {
        tiers::check_cuts(&self.tier_cuts)?;
        if let Some(split) = self.value_split
            && !split.is_finite()
        {
            bail!(crate::error::usage(format!(
                "--value-split {split}: a finite amount"
            )));
        }
        if !(self.risk_ratio.is_finite() && self.risk_ratio > 0.0) {
            bail!(crate::error::usage(format!(
                "--risk-ratio {}: a finite number above 0 (2 = twice the usual gap)",
                self.risk_ratio
            )));
        }
        Ok(())
    }
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            tier_by: None,
            tier_cuts: vec![1.0, 5.0, 20.0],
            value_split: None,
            risk_ratio: 2.0,
        }
    }
}

/// The result of a segmentation.
pub struct Segmented {
    /// The customer table with scores, segment, playbook, tier and cell.
    pub customers: DataFrame,
    /// How each RFM dimension was scored.
    pub scorings: Vec<Scoring>,
    /// The column tiers and the matrix used as value.
    pub value_column: String,
}

/// The customer table with segments, tiers and matrix cells (segment's
/// defaults) when it has none: the segment step a command that needs them
/// (report, allocate) runs for itself.
pub fn fill_in(table: DataFrame) -> Result<DataFrame> {
    if table.column("segment").is_ok() {
        return Ok(table);
    }
    Ok(segment(&table, &SegmentConfig::default())?.customers)
}

/// The columns `segment` adds, in their order; they stand last in a
/// customer table, after the facts and the value columns, whichever step
/// ran first.
pub const SEGMENT_COLUMNS: [&str; 9] = [
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
    "segment",
    "strategy",
    "action",
    TIER,
    MATRIX_CELL,
];

/// The tier column.
pub const TIER: &str = "tier";
/// The value/risk matrix column.
pub const MATRIX_CELL: &str = "matrix_cell";

/// Scores, names and places every customer of a customer table.
pub fn segment(customers: &DataFrame, config: &SegmentConfig) -> Result<Segmented> {
    config.tiers.check()?;
    if !(2..=9).contains(&config.rfm.bins) {
        bail!(crate::error::usage(format!(
            "--bins must be between 2 and 9 (got {})",
            config.rfm.bins
        )));
    }
    let recency = numbers(customers, "days_since_last")?;
    let frequency = numbers(customers, "orders")?;
    let spend = numbers(
        customers,
        match config.rfm.monetary {
            Monetary::Total => "revenue",
            Monetary::Mean => "avg_order_value",
        },
    )?;
    let (bins, method) = (config.rfm.bins, config.rfm.scoring);
    let score = |name, values: &[f64], edges: &Option<Vec<f64>>, higher_is_better| {
        rfm::score_dimension(
            name,
            values,
            edges.as_deref(),
            bins,
            higher_is_better,
            method,
        )
    };
    let (r, r_scoring) = score("recency", &recency, &config.rfm.r_edges, false)?;
    let (f, f_scoring) = score("frequency", &frequency, &config.rfm.f_edges, true)?;
    let (m, m_scoring) = score("monetary", &spend, &config.rfm.m_edges, true)?;

    let default_rules = rules::default_rules();
    let rules = config.rules.as_deref().unwrap_or(&default_rules);
    let to5 = |score: u8, bins: usize| -> u8 {
        // rule tables are written for 1..=5; other bin counts are rescaled
        if bins == 5 {
            score
        } else {
            (1.0 + (f64::from(score) - 1.0) * 4.0 / (bins as f64 - 1.0)).round() as u8
        }
    };
    // plays are looked up once per rule, not once per customer
    let rule_plays: Vec<rules::Play> = rules.iter().map(Rule::play).collect();
    let others = rules::playbook("Others");
    // each customer's rule, rules.len() for "Others": the pick of the
    // segment, strategy and action columns
    let matched: Vec<IdxSize> = (0..r.len())
        .into_par_iter()
        .map(|i| {
            rules::rule_index(
                rules,
                to5(r[i], r_scoring.bins),
                to5(f[i], f_scoring.bins),
                to5(m[i], m_scoring.bins),
            )
            .unwrap_or(rules.len()) as IdxSize
        })
        .collect();
    let matched = IdxCa::from_vec("rule".into(), matched);
    let names: Vec<&str> = rules
        .iter()
        .map(|rule| rule.name.as_str())
        .chain(["Others"])
        .collect();
    let plays: Vec<&rules::Play> = rule_plays.iter().chain([&others]).collect();

    drop((recency, frequency, spend));
    let placed = place(customers, &config.tiers)?;
    let rfm_score: Vec<i32> = (0..r.len())
        .map(|i| 100 * i32::from(r[i]) + 10 * i32::from(f[i]) + i32::from(m[i]))
        .collect();
    let as_i32 = |scores: Vec<u8>| scores.into_iter().map(i32::from).collect::<Vec<_>>();
    let mut out = customers.clone();
    let added = [
        Column::new("r_score".into(), as_i32(r)),
        Column::new("f_score".into(), as_i32(f)),
        Column::new("m_score".into(), as_i32(m)),
        Column::new("rfm_score".into(), rfm_score),
        label_column("segment", &names, &matched)?,
        label_column(
            "strategy",
            &plays
                .iter()
                .map(|p| p.strategy.as_str())
                .collect::<Vec<_>>(),
            &matched,
        )?,
        label_column(
            "action",
            &plays.iter().map(|p| p.action.as_str()).collect::<Vec<_>>(),
            &matched,
        )?,
        placed.tier,
        placed.matrix_cell,
    ];
    for column in added {
        out.with_column(column)?;
    }
    Ok(Segmented {
        customers: out,
        scorings: vec![r_scoring, f_scoring, m_scoring],
        value_column: placed.value_column,
    })
}

/// Each customer's tier and value/risk cell, and the value column they
/// were ranked by.
pub struct Placed {
    /// The `tier` column.
    pub tier: Column,
    /// The `matrix_cell` column.
    pub matrix_cell: Column,
    /// The column tiers and the matrix used as value.
    pub value_column: String,
}

/// Places every customer in a value tier and a cell of the value/risk
/// matrix: value is `tier_by`, else clv, margin or revenue, the first the
/// table has; risk is 1 − p_alive > 0.5 when the table has p_alive, else
/// days since the last purchase over the expected gap above `risk_ratio`.
pub fn place(customers: &DataFrame, config: &TierConfig) -> Result<Placed> {
    config.check()?;
    let value_column = match &config.tier_by {
        Some(c) => c.clone(),
        None => ["clv", "margin", "revenue"]
            .into_iter()
            .find(|c| customers.column(c).is_ok())
            .unwrap_or("revenue")
            .to_string(),
    };
    let value = value_numbers(customers, &value_column, "--tier-by")?;
    let tier = tiers::assign(&value, &config.tier_cuts);
    let split = config.value_split.unwrap_or_else(|| matrix::median(&value));
    let risk_high: Vec<bool> = match customers.column("p_alive") {
        Ok(_) => numbers(customers, "p_alive")?
            .iter()
            .map(|p| 1.0 - p > 0.5)
            .collect(),
        Err(_) => {
            let recency = numbers(customers, "days_since_last")?;
            let span = span_days(customers)?;
            let repeats = numbers(customers, "repeat_purchases")?;
            matrix::overdue_ratios(&recency, &span, &repeats)
                .iter()
                .map(|ratio| *ratio > config.risk_ratio)
                .collect()
        }
    };
    // cells by (value high, risk high) as 2·value + risk
    let cell_names = [false, true].map(|high| [false, true].map(|risky| matrix::cell(high, risky)));
    let cells: Vec<IdxSize> = value
        .par_iter()
        .zip(&risk_high)
        .map(|(v, risky)| 2 * IdxSize::from(*v > split) + IdxSize::from(*risky))
        .collect();
    Ok(Placed {
        tier: label_column(TIER, &tiers::TIERS, &IdxCa::from_vec(TIER.into(), tier))?,
        matrix_cell: label_column(
            MATRIX_CELL,
            cell_names.as_flattened(),
            &IdxCa::from_vec("cell".into(), cells),
        )?,
        value_column,
    })
}

/// Places the customers of a segmented table afresh ([`place`]) and moves
/// the segment columns last, for a step that has just added the basis of
/// tiers and the matrix (clv, p_alive): so `segment` then `value` gives
/// the table `value` then `segment` gives. A table without tiers or cells
/// is left as it is.
pub fn refresh_placement(table: &mut DataFrame, config: &TierConfig) -> Result<()> {
    if table.column(TIER).is_err() && table.column(MATRIX_CELL).is_err() {
        return Ok(());
    }
    let placed = place(table, config)?;
    table.with_column(placed.tier)?;
    table.with_column(placed.matrix_cell)?;
    let (mut names, mut segment_names): (Vec<PlSmallStr>, Vec<PlSmallStr>) = table
        .get_column_names_owned()
        .into_iter()
        .partition(|name| !SEGMENT_COLUMNS.contains(&name.as_str()));
    let rank = |name: &PlSmallStr| SEGMENT_COLUMNS.iter().position(|c| *c == name.as_str());
    segment_names.sort_by_key(rank);
    names.extend(segment_names);
    *table = table.select(names)?;
    Ok(())
}

/// The text column whose row i is `labels[picks[i]]` (segment names,
/// plays, tiers): a polars gather from the labels, so each label's text is
/// stored once and the rows point at it. A row takes 16 bytes instead of a
/// copy of its text: actions run to 80 bytes, and copies for millions of
/// customers would fill fresh memory for nothing.
fn label_column(name: &str, labels: &[&str], picks: &IdxCa) -> Result<Column> {
    Ok(Column::new(name.into(), labels).take(picks)?)
}

/// A numeric column as f64s (null as NaN), with an error naming what exists.
pub fn numbers(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = frame.column(name).map_err(|_| {
        anyhow!(
            "column '{name}' not found in the customer table (found: {})",
            crate::error::column_list(frame)
        )
    })?;
    let values = column
        .cast(&DataType::Float64)
        .map_err(|_| anyhow!("column '{name}' is not numeric"))?;
    Ok(values
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Fails, naming the customer and the two rows (lines, when the table has
/// its [`crate::io::LINE_COLUMN`]), when a customer table of `file` has a
/// customer twice: its facts would count twice in every total.
pub fn check_one_row_per_customer(table: &DataFrame, file: &str) -> Result<()> {
    let Ok(ids) = table.column(CUSTOMER_ID) else {
        return Ok(());
    };
    let keys = crate::hashing::par_text_keys(ids)?;
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by_key(|&i| (keys[i as usize], i));
    let Some(pair) = order
        .windows(2)
        .find(|pair| keys[pair[0] as usize] == keys[pair[1] as usize])
    else {
        return Ok(());
    };
    let (first, second) = (pair[0] as usize, pair[1] as usize);
    let (place, at) = match table.column(crate::io::LINE_COLUMN) {
        Ok(lines) => {
            let lines = lines.cast(&DataType::UInt64)?;
            let lines = lines.u64()?;
            (
                "lines",
                [lines.get(first), lines.get(second)].map(|l| l.unwrap_or_default()),
            )
        }
        Err(_) => ("rows", [first as u64 + 1, second as u64 + 1]),
    };
    bail!(crate::error::InputError::file(
        file,
        format!(
            "customer '{}' appears twice ({place} {} and {}): a customer table has one row per \
             customer, or its totals would count it twice",
            ids.get(first)?.str_value(),
            at[0],
            at[1]
        ),
    ))
}

/// The values of the column that `option` names as money or value (tiers,
/// the matrix, the allocation), as f64s: a usage error when it is missing
/// (naming the columns there are) or not numeric (naming its type), so an
/// id or a date is never ranked as value.
pub fn value_numbers(frame: &DataFrame, name: &str, option: &str) -> Result<Vec<f64>> {
    let column = frame.column(name).map_err(|_| {
        crate::error::usage(format!(
            "{option} {name}: no such column (found: {})",
            crate::error::column_list(frame)
        ))
    })?;
    if !column.dtype().is_primitive_numeric() {
        bail!(crate::error::usage(format!(
            "{option} {name}: the column holds {}, not amounts",
            column.dtype()
        )));
    }
    numbers(frame, name)
}

/// A column as text (null as empty), with an error naming what exists.
pub fn texts(frame: &DataFrame, name: &str) -> Result<Vec<String>> {
    let column = frame.column(name).map_err(|_| {
        anyhow!(
            "column '{name}' not found in the customer table (found: {})",
            crate::error::column_list(frame)
        )
    })?;
    let values = column.cast(&DataType::String)?;
    Ok(values
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Days between first and last purchase.
fn span_days(frame: &DataFrame) -> Result<Vec<f64>> {
    for name in ["first_order", "last_order"] {
        if frame.column(name).is_err() {
            bail!(
                "the value/risk matrix needs p_alive, or first_order, last_order and \
                 repeat_purchases to tell the risk: no column '{name}' in the customer table \
                 (found: {})",
                crate::error::column_list(frame)
            );
        }
    }
    let spans = frame
        .clone()
        .lazy()
        .select([(col("last_order").cast(DataType::Int32)
            - col("first_order").cast(DataType::Int32))
        .cast(DataType::Float64)
        .alias("span")])
        .collect()?;
    Ok(spans
        .column("span")?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Customers, revenue and habits per segment, in playbook order.
pub fn segment_summary(customers: &DataFrame, by: &[String]) -> Result<DataFrame> {
    let mut keys: Vec<Expr> = by.iter().map(|c| col(c.as_str())).collect();
    keys.push(col("segment"));
    let total_customers = customers.height() as f64;
    let total_revenue = numbers(customers, "revenue")?
        .iter()
        .filter(|v| v.is_finite())
        .sum::<f64>();
    let order: Vec<&str> = rules::SEGMENT_ORDER.to_vec();
    let rank = Series::new("segment".into(), order.clone());
    let ranks = DataFrame::new(
        order.len(),
        vec![
            rank.into_column(),
            Column::new("__rank".into(), (0..order.len() as u32).collect::<Vec<_>>()),
        ],
    )?;
    let mut sort_keys: Vec<PlSmallStr> = by.iter().map(|c| c.as_str().into()).collect();
    sort_keys.push("__rank".into());
    let summary = customers
        .clone()
        .lazy()
        .group_by(keys)
        .agg([
            len().cast(DataType::Int64).alias("customers"),
            col("revenue").sum().alias("revenue"),
            col("days_since_last").mean().alias("mean_days_since_last"),
            col("orders").mean().alias("mean_orders"),
            col("revenue").mean().alias("mean_revenue"),
            col("strategy").first().alias("strategy"),
            col("action").first().alias("action"),
        ])
        .with_columns([
            (col("customers").cast(DataType::Float64) / lit(total_customers)).alias("share"),
            (col("revenue") / lit(total_revenue)).alias("revenue_share"),
        ])
        .join(
            ranks.lazy(),
            [col("segment")],
            [col("segment")],
            JoinArgs::new(JoinType::Left),
        )
        .sort(
            sort_keys,
            SortMultipleOptions::default().with_nulls_last(true),
        )
        .collect()?;
    let mut columns: Vec<&str> = by.iter().map(String::as_str).collect();
    columns.extend(SUMMARY_COLUMNS);
    Ok(summary.select(columns)?)
}

/// The columns of [`segment_summary`], after the `by` columns.
pub const SUMMARY_COLUMNS: [&str; 10] = [
    "segment",
    "customers",
    "share",
    "revenue",
    "revenue_share",
    "mean_days_since_last",
    "mean_orders",
    "mean_revenue",
    "strategy",
    "action",
];

/// Customers and value per tier: the Pareto view.
pub fn tier_summary(customers: &DataFrame, value_column: &str) -> Result<DataFrame> {
    let n = customers.height() as f64;
    let total = numbers(customers, value_column)?
        .iter()
        .filter(|v| v.is_finite())
        .sum::<f64>();
    let tiers = Series::new("tier".into(), tiers::TIERS.to_vec());
    let frame = DataFrame::new(
        tiers::TIERS.len(),
        vec![
            tiers.into_column(),
            Column::new("__rank".into(), [0u32, 1, 2, 3]),
        ],
    )?;
    Ok(frame
        .lazy()
        .join(
            customers.clone().lazy().group_by([col("tier")]).agg([
                len().cast(DataType::Int64).alias("customers"),
                col(value_column)
                    .cast(DataType::Float64)
                    .sum()
                    .alias("value"),
            ]),
            [col("tier")],
            [col("tier")],
            JoinArgs::new(JoinType::Left),
        )
        .with_columns([
            col("customers").fill_null(lit(0i64)),
            col("value").fill_null(lit(0.0)),
        ])
        .with_columns([
            (col("customers").cast(DataType::Float64) / lit(n)).alias("share"),
            (col("value") / lit(total)).alias("value_share"),
        ])
        .sort(["__rank"], SortMultipleOptions::default())
        .select([
            col("tier"),
            col("customers"),
            col("share"),
            col("value"),
            col("value_share"),
        ])
        .collect()?)
}

/// Whether a frame is already a customer table (one row per customer with
/// facts) rather than transactions.
pub fn is_customer_table(frame: &DataFrame) -> bool {
    ["days_since_last", "orders", "revenue", CUSTOMER_ID]
        .iter()
        .all(|c| frame.column(c).is_ok())
        && frame.column(crate::schema::ORDER_DATE).is_err()
}
