//! Migration: how customers moved between segments from one point in time
//! to another, and how many moved up or down the segment ladder.

use std::collections::HashMap;

use anyhow::{Result, bail};
use polars::prelude::*;
use serde::Serialize;

use crate::schema::CUSTOMER_ID;

/// The row of customers who were not in the earlier table.
pub const NEW: &str = "(new)";
/// The column of customers who are not in the later table.
pub const GONE: &str = "(gone)";

/// Customers and their revenue, for one direction of movement.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Moved {
    /// Customers.
    pub customers: u64,
    /// Their revenue to date (the later table's `revenue`).
    pub revenue: f64,
}

/// The segment transition matrix between two customer tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Migration {
    /// What the earlier table is: a date, or a file.
    pub from: String,
    /// What the later table is.
    pub to: String,
    /// The rows: the earlier segments, best first, then [`NEW`] when any.
    pub from_segments: Vec<String>,
    /// The columns: the later segments, best first, then [`GONE`] when any.
    pub to_segments: Vec<String>,
    /// Customers moving from row i to column j.
    pub customers: Vec<Vec<u64>>,
    /// Customers now in a better segment.
    pub moved_up: Moved,
    /// Customers now in a worse segment.
    pub moved_down: Moved,
    /// Customers in the same segment.
    pub stayed: Moved,
    /// Customers moving between segments with no rank (custom rules).
    pub moved_unranked: Moved,
    /// Customers new since the earlier table.
    pub new: Moved,
    /// Customers of the earlier table missing from the later one.
    pub gone: u64,
}

/// The segments on the ladder, best first: the order summaries list
/// them in ([`crate::segment::rules::SEGMENT_ORDER`]), without "Others",
/// which is no rung.
fn ladder() -> Vec<String> {
    crate::segment::rules::SEGMENT_ORDER
        .iter()
        .filter(|name| **name != "Others")
        .map(|name| name.to_string())
        .collect()
}

/// A customer table's customers (by [`crate::hashing::text_keys`]) and
/// their segments, as indices into the distinct names.
struct Segmented {
    keys: Vec<u128>,
    segment_of: Vec<u32>,
    names: Vec<String>,
}

impl Segmented {
    fn read(table: &DataFrame, which: &str) -> Result<Segmented> {
        for name in [CUSTOMER_ID, "segment"] {
            if table.column(name).is_err() {
                bail!("the migration needs a '{name}' column in the {which} customer table");
            }
        }
        let keys = crate::hashing::par_text_keys(table.column(CUSTOMER_ID)?)?;
        let segments = table.column("segment")?.cast(&DataType::String)?;
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut names = Vec::new();
        let segment_of = segments
            .str()?
            .iter()
            .map(|name| {
                let name = name.unwrap_or_default();
                *index.entry(name).or_insert_with(|| {
                    names.push(name.to_string());
                    names.len() as u32 - 1
                })
            })
            .collect();
        Ok(Segmented {
            keys,
            segment_of,
            names,
        })
    }
}

/// The names in ladder order (unranked ones after, by name), and each
/// name's place in that order.
fn ordered(names: &[String]) -> (Vec<String>, Vec<usize>) {
    let ladder = ladder();
    let rank = |n: &str| ladder.iter().position(|l| l == n).unwrap_or(usize::MAX);
    let mut sorted: Vec<String> = names.to_vec();
    sorted.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let place = names
        .iter()
        .map(|n| sorted.iter().position(|s| s == n).unwrap_or_default())
        .collect();
    (sorted, place)
}

/// The migration from `before` to `after`, two customer tables with
/// `customer_id` and `segment` (and `revenue` in `after` for the revenue
/// moved). Customers are matched by their id.
pub fn migration(before: &DataFrame, after: &DataFrame, from: &str, to: &str) -> Result<Migration> {
    let earlier = Segmented::read(before, &format!("earlier ({from})"))?;
    let later = Segmented::read(after, "later")?;
    let revenue = match after.column("revenue") {
        Ok(_) => crate::segment::numbers(after, "revenue")?,
        Err(_) => vec![0.0; after.height()],
    };
    let (mut from_segments, from_place) = ordered(&earlier.names);
    let (mut to_segments, to_place) = ordered(&later.names);
    let ladder = ladder();
    let rank = |n: &str| ladder.iter().position(|l| l == n);
    let from_rank: Vec<Option<usize>> = earlier.names.iter().map(|n| rank(n)).collect();
    let to_rank: Vec<Option<usize>> = later.names.iter().map(|n| rank(n)).collect();

    // both tables' customers numbered together: the earlier segment and
    // whether the customer is still there, per number
    let all: Vec<u128> = earlier.keys.iter().chain(&later.keys).copied().collect();
    let (codes, distinct) = crate::hashing::dense_codes(&all);
    let (earlier_codes, later_codes) = codes.split_at(earlier.keys.len());
    let mut was = vec![None; distinct];
    for (&code, &segment) in earlier_codes.iter().zip(&earlier.segment_of) {
        was[code as usize] = Some(segment);
    }
    let mut still_there = vec![false; distinct];
    for &code in later_codes {
        still_there[code as usize] = true;
    }
    let gone_rows: Vec<usize> = (0..earlier.keys.len())
        .filter(|&i| !still_there[earlier_codes[i] as usize])
        .collect();
    let new_row = from_segments.len();
    if later_codes.iter().any(|&c| was[c as usize].is_none()) {
        from_segments.push(NEW.to_string());
    }
    let gone_column = to_segments.len();
    if !gone_rows.is_empty() {
        to_segments.push(GONE.to_string());
    }
    let mut customers = vec![vec![0u64; to_segments.len()]; from_segments.len()];
    // the moves in the order of [moved_up, moved_down, stayed,
    // moved_unranked, new]
    let mut moves: [Moved; 5] = Default::default();
    let [up, down, same, unranked, new] = [0, 1, 2, 3, 4];
    for (i, &code) in later_codes.iter().enumerate() {
        let now = later.segment_of[i] as usize;
        let (row, bucket) = match was[code as usize] {
            None => (new_row, new),
            Some(before) => {
                let before = before as usize;
                let bucket = if earlier.names[before] == later.names[now] {
                    same
                } else {
                    match (from_rank[before], to_rank[now]) {
                        (Some(a), Some(b)) if b < a => up,
                        (Some(_), Some(_)) => down,
                        _ => unranked,
                    }
                };
                (from_place[before], bucket)
            }
        };
        customers[row][to_place[now]] += 1;
        moves[bucket].customers += 1;
        if revenue[i].is_finite() {
            moves[bucket].revenue += revenue[i];
        }
    }
    for &i in &gone_rows {
        customers[from_place[earlier.segment_of[i] as usize]][gone_column] += 1;
    }
    let [moved_up, moved_down, stayed, moved_unranked, new] = moves;
    Ok(Migration {
        from: from.to_string(),
        to: to.to_string(),
        from_segments,
        to_segments,
        customers,
        moved_up,
        moved_down,
        stayed,
        moved_unranked,
        new,
        gone: gone_rows.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_by_hand() {
        let before = df!(
            CUSTOMER_ID => ["a", "b", "c", "d", "e"],
            "segment" => ["Lost", "Champions", "At Risk", "Champions", "Lost"],
        )
        .unwrap();
        let after = df!(
            CUSTOMER_ID => ["a", "b", "c", "d", "f"],
            "segment" => ["Champions", "At Risk", "At Risk", "Champions", "New Customers"],
            "revenue" => [10.0, 20.0, 30.0, 40.0, 50.0],
        )
        .unwrap();
        let m = migration(&before, &after, "2024-02-29", "2024-03-31").unwrap();
        assert_eq!(m.from_segments, ["Champions", "At Risk", "Lost", NEW]);
        assert_eq!(
            m.to_segments,
            ["Champions", "New Customers", "At Risk", GONE]
        );
        // a: Lost -> Champions (up); b: Champions -> At Risk (down);
        // c, d stay; e gone; f new
        assert_eq!(
            m.customers,
            [
                vec![1, 0, 1, 0],
                vec![0, 0, 1, 0],
                vec![1, 0, 0, 1],
                vec![0, 1, 0, 0]
            ]
        );
        assert_eq!(
            m.moved_up,
            Moved {
                customers: 1,
                revenue: 10.0
            }
        );
        assert_eq!(
            m.moved_down,
            Moved {
                customers: 1,
                revenue: 20.0
            }
        );
        assert_eq!(
            m.stayed,
            Moved {
                customers: 2,
                revenue: 70.0
            }
        );
        assert_eq!(
            m.new,
            Moved {
                customers: 1,
                revenue: 50.0
            }
        );
        assert_eq!((m.gone, m.moved_unranked.customers), (1, 0));
    }

    #[test]
    fn the_ladder_is_the_summary_order() {
        let ladder = ladder();
        let rank = |name: &str| ladder.iter().position(|n| n == name);
        assert_eq!(rank("Champions"), Some(0));
        assert!(rank("Can't Lose Them") > rank("At Risk"));
        assert!(rank("Lost") > rank("Hibernating"));
        assert_eq!(rank("Others"), None);
        assert_eq!(rank("Whales"), None);
    }
}
