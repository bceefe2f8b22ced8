//! Migration: how customers moved between segments from one point in time
//! to another, and how many moved up or down the segment ladder.

use std::collections::HashMap;

use anyhow::{Result, bail};
use polars::prelude::DataFrame;
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

/// The rank of a segment on the ladder, best first: the order of the
/// default rule table (Champions … Lost); `None` for other names.
pub fn ladder_rank(segment: &str) -> Option<usize> {
    let rules = crate::segment::rules::default_rules();
    let mut names: Vec<&str> = Vec::new();
    for rule in &rules {
        if !names.contains(&rule.name.as_str()) {
            names.push(&rule.name);
        }
    }
    names.iter().position(|n| *n == segment)
}

/// The migration from `before` to `after`, two customer tables with
/// `customer_id` and `segment` (and `revenue` in `after` for the revenue
/// moved).
pub fn migration(before: &DataFrame, after: &DataFrame, from: &str, to: &str) -> Result<Migration> {
    let segments_of = |table: &DataFrame, which: &str| -> Result<HashMap<String, String>> {
        for name in [CUSTOMER_ID, "segment"] {
            if table.column(name).is_err() {
                bail!("the migration needs a '{name}' column in the {which} customer table");
            }
        }
        let ids = crate::segment::texts(table, CUSTOMER_ID)?;
        let segments = crate::segment::texts(table, "segment")?;
        Ok(ids.into_iter().zip(segments).collect())
    };
    let earlier = segments_of(before, &format!("earlier ({from})"))?;
    let later_ids = crate::segment::texts(after, CUSTOMER_ID)?;
    let later_segments = segments_of(after, "later")?;
    let revenue = match after.column("revenue") {
        Ok(_) => crate::segment::numbers(after, "revenue")?,
        Err(_) => vec![0.0; after.height()],
    };

    let order = |names: &mut Vec<String>| {
        names.sort_by(|a, b| {
            let rank = |n: &str| ladder_rank(n).unwrap_or(usize::MAX);
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        });
        names.dedup();
    };
    let mut from_segments: Vec<String> = earlier.values().cloned().collect();
    order(&mut from_segments);
    let mut to_segments: Vec<String> = later_segments.values().cloned().collect();
    order(&mut to_segments);
    let gone = earlier
        .keys()
        .filter(|id| !later_segments.contains_key(*id))
        .count() as u64;
    let has_new = later_ids.iter().any(|id| !earlier.contains_key(id));
    if has_new {
        from_segments.push(NEW.to_string());
    }
    if gone > 0 {
        to_segments.push(GONE.to_string());
    }
    let index = |names: &[String]| -> HashMap<String, usize> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect()
    };
    let (rows, columns) = (index(&from_segments), index(&to_segments));
    let mut customers = vec![vec![0u64; to_segments.len()]; from_segments.len()];
    let mut moved = Migration {
        from: from.to_string(),
        to: to.to_string(),
        from_segments: Vec::new(),
        to_segments: Vec::new(),
        customers: Vec::new(),
        moved_up: Moved::default(),
        moved_down: Moved::default(),
        stayed: Moved::default(),
        moved_unranked: Moved::default(),
        new: Moved::default(),
        gone,
    };
    for (id, value) in later_ids.iter().zip(revenue) {
        let now = &later_segments[id];
        let was = earlier.get(id).map_or(NEW, String::as_str);
        customers[rows[was]][columns[now]] += 1;
        let bucket = match earlier.get(id) {
            None => &mut moved.new,
            Some(was) if was == now => &mut moved.stayed,
            Some(was) => match (ladder_rank(was), ladder_rank(now)) {
                (Some(a), Some(b)) if b < a => &mut moved.moved_up,
                (Some(_), Some(_)) => &mut moved.moved_down,
                _ => &mut moved.moved_unranked,
            },
        };
        bucket.customers += 1;
        if value.is_finite() {
            bucket.revenue += value;
        }
    }
    for (id, was) in &earlier {
        if !later_segments.contains_key(id) {
            customers[rows[was]][columns[GONE]] += 1;
        }
    }
    Ok(Migration {
        from_segments,
        to_segments,
        customers,
        ..moved
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

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
    fn the_ladder_is_the_default_rule_order() {
        assert_eq!(ladder_rank("Champions"), Some(0));
        assert!(ladder_rank("Lost") > ladder_rank("At Risk"));
        assert_eq!(ladder_rank("Whales"), None);
    }
}
