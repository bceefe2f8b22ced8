//! What to sell next: the items (the `category` of the lines, else their
//! `product`) each customer has bought, kept as (customer, item) pairs —
//! never a customer × item matrix — and from them each segment's
//! penetration and white space, the item pairs by lift, and each
//! customer's next best item.

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use crate::hashing::{KeyMap, KeySet};
use crate::io::batches::Batches;
use crate::schema::{CATEGORY, CUSTOMER_ID, ORDER_DATE, PRODUCT, REVENUE};

/// Rows read at a time.
const BATCH: usize = 1 << 20;

/// The most-bought items whose pairs are counted: a large catalogue's
/// long tail makes no dependable pair.
pub const PAIRED_ITEMS: usize = 200;

/// The customers' items, as (customer, item) pairs.
pub struct Baskets {
    /// `category` or `product`.
    pub column: &'static str,
    /// The items, most-bought first (ties by name).
    pub items: Vec<String>,
    /// Customers who bought each item.
    pub buyers: Vec<u64>,
    /// Each customer's items (indices into `items`, ascending), by the
    /// customer's key ([`crate::hashing::text_keys`] of the id).
    pub of_customer: KeyMap<u128, Vec<u32>>,
}

impl Baskets {
    /// The items of the purchases (lines with positive revenue) of
    /// `source` up to the day `until` (all without one); none without a
    /// category or product column.
    pub fn read(source: &Batches, until: Option<chrono::NaiveDate>) -> Result<Option<Baskets>> {
        let Some(column) = [CATEGORY, PRODUCT].into_iter().find(|c| source.has(c)) else {
            return Ok(None);
        };
        let last = until.map_or(i32::MAX, crate::schema::dates::days_since_epoch);
        let mut index: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut pairs: KeySet<(u128, u32)> = KeySet::default();
        let columns = [CUSTOMER_ID, ORDER_DATE, REVENUE, column];
        source.each(BATCH, &columns, &mut |_, rows| {
            let keys = crate::hashing::par_text_keys(rows.column(CUSTOMER_ID)?)?;
            let revenue = rows.column(REVENUE)?.cast(&DataType::Float64)?;
            let days = rows.column(ORDER_DATE)?.cast(&DataType::Int32)?;
            let items = rows.column(column)?.cast(&DataType::String)?;
            let lines = (keys.iter())
                .zip(revenue.f64()?.iter())
                .zip(days.i32()?.iter())
                .zip(items.str()?.iter());
            for (((key, revenue), day), item) in lines {
                let bought = revenue.is_some_and(|r| r > 0.0) && day.is_some_and(|d| d <= last);
                let (Some(item), true) = (item.map(str::trim), bought) else {
                    continue;
                };
                if item.is_empty() {
                    continue;
                }
                let code = match index.get(item) {
                    Some(&code) => code,
                    None => {
                        names.push(item.to_string());
                        index.insert(item.to_string(), names.len() as u32 - 1);
                        names.len() as u32 - 1
                    }
                };
                pairs.insert((*key, code));
            }
            Ok(())
        })?;
        let mut buyers = vec![0u64; names.len()];
        for &(_, item) in &pairs {
            buyers[item as usize] += 1;
        }
        // most-bought first
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            buyers[b]
                .cmp(&buyers[a])
                .then_with(|| names[a].cmp(&names[b]))
        });
        let mut rank = vec![0u32; names.len()];
        for (r, &item) in order.iter().enumerate() {
            rank[item] = r as u32;
        }
        let mut of_customer: KeyMap<u128, Vec<u32>> = KeyMap::default();
        for (key, item) in pairs {
            of_customer
                .entry(key)
                .or_default()
                .push(rank[item as usize]);
        }
        for items in of_customer.values_mut() {
            items.sort_unstable();
        }
        Ok(Some(Baskets {
            column,
            items: order.iter().map(|&i| names[i].clone()).collect(),
            buyers: order.iter().map(|&i| buyers[i]).collect(),
            of_customer,
        }))
    }
}

/// One rule: customers who bought `antecedent` also bought `consequent`.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// The item bought.
    pub antecedent: String,
    /// The item bought with it.
    pub consequent: String,
    /// Customers who bought both.
    pub customers: u64,
    /// Their share of all customers with a purchase.
    pub support: f64,
    /// The share of the antecedent's buyers who bought the consequent.
    pub confidence: f64,
    /// Confidence over the consequent's share of all customers: how many
    /// times likelier buying it is after the antecedent (1: no link).
    pub lift: f64,
}

/// The links between the most-bought items.
pub struct Affinity {
    /// Customers with a purchase.
    pub customers: u64,
    /// The fewest customers a pair needs to count.
    pub min_customers: u64,
    /// (antecedent, consequent) → (customers with both, lift,
    /// confidence), for the pairs with enough customers.
    links: KeyMap<(u32, u32), (u64, f64, f64)>,
}

impl Affinity {
    /// Counts the pairs among the [`PAIRED_ITEMS`] most-bought items of
    /// `baskets`; a pair needs 2 customers, and 1% of the customers with a
    /// purchase when that is more.
    pub fn of(baskets: &Baskets) -> Affinity {
        let customers = baskets.of_customer.len() as u64;
        let min_customers = (customers.div_ceil(100)).max(2);
        let mut both: KeyMap<(u32, u32), u64> = KeyMap::default();
        for items in baskets.of_customer.values() {
            let top: Vec<u32> = (items.iter().copied())
                .take_while(|&i| (i as usize) < PAIRED_ITEMS)
                .collect();
            for (k, &a) in top.iter().enumerate() {
                for &b in &top[k + 1..] {
                    *both.entry((a, b)).or_default() += 1;
                }
            }
        }
        let n = customers.max(1) as f64;
        let mut links = KeyMap::default();
        for ((a, b), count) in both {
            if count < min_customers {
                continue;
            }
            for (from, to) in [(a, b), (b, a)] {
                let confidence = count as f64 / baskets.buyers[from as usize] as f64;
                let lift = confidence / (baskets.buyers[to as usize] as f64 / n);
                links.insert((from, to), (count, lift, confidence));
            }
        }
        Affinity {
            customers,
            min_customers,
            links,
        }
    }

    /// The `count` rules with the highest lift (then confidence, then
    /// the items' names).
    pub fn top_pairs(&self, baskets: &Baskets, count: usize) -> Vec<Pair> {
        let mut pairs: Vec<Pair> = (self.links.iter())
            .map(|(&(a, b), &(both, lift, confidence))| Pair {
                antecedent: baskets.items[a as usize].clone(),
                consequent: baskets.items[b as usize].clone(),
                customers: both,
                support: both as f64 / self.customers.max(1) as f64,
                confidence,
                lift,
            })
            .collect();
        pairs.sort_by(|x, y| {
            (y.lift.total_cmp(&x.lift))
                .then(y.confidence.total_cmp(&x.confidence))
                .then_with(|| (&x.antecedent, &x.consequent).cmp(&(&y.antecedent, &y.consequent)))
        });
        pairs.truncate(count);
        pairs
    }

    /// The next best item for a customer who bought `items`: of the items
    /// not bought, the one with the highest lift (above 1) from one of
    /// theirs, then the highest confidence, then the most-bought; none
    /// when no link leads anywhere.
    pub fn next_best(&self, items: &[u32]) -> Option<u32> {
        let mut best: Option<(f64, f64, u32)> = None;
        for (&(from, to), &(_, lift, confidence)) in &self.links {
            if lift <= 1.0
                || items.binary_search(&from).is_err()
                || items.binary_search(&to).is_ok()
            {
                continue;
            }
            let better = match best {
                None => true,
                Some((l, c, t)) => {
                    (lift, confidence, std::cmp::Reverse(to)) > (l, c, std::cmp::Reverse(t))
                }
            };
            if better {
                best = Some((lift, confidence, to));
            }
        }
        best.map(|(_, _, to)| to)
    }
}

/// Each customer's next best item, as a column `next_best` of
/// `customers` (null where there is none).
pub fn next_best_column(
    customers: &DataFrame,
    baskets: &Baskets,
    affinity: &Affinity,
) -> Result<Column> {
    let keys = crate::hashing::par_text_keys(customers.column(CUSTOMER_ID)?)?;
    let best: Vec<Option<&str>> = (keys.iter())
        .map(|key| {
            let items = baskets.of_customer.get(key)?;
            let next = affinity.next_best(items)?;
            Some(baskets.items[next as usize].as_str())
        })
        .collect();
    Ok(Column::new("next_best".into(), best))
}

/// Items shown in the report's tables.
pub const ITEMS_SHOWN: usize = 10;

/// An item and its customers.
#[derive(Debug, Clone, Serialize)]
pub struct ItemCustomers {
    /// The item.
    pub item: String,
    /// Its customers.
    pub customers: u64,
    /// Their share of the customers (with a purchase, or of the segment).
    pub share: f64,
}

/// A segment's penetration of the most-bought items.
#[derive(Debug, Clone, Serialize)]
pub struct Penetration {
    /// The segment.
    pub segment: String,
    /// Its customers.
    pub customers: u64,
    /// The share of them who bought each item of [`CrossSell::items`];
    /// 1 − share is the white space.
    pub shares: Vec<f64>,
}

/// The report's cross-sell figures.
#[derive(Debug, Clone, Serialize)]
pub struct CrossSell {
    /// `category` or `product`.
    pub column: &'static str,
    /// Customers with a purchase.
    pub customers: u64,
    /// Distinct items.
    pub distinct_items: u64,
    /// The fewest customers a pair needs to count.
    pub min_pair_customers: u64,
    /// The most-bought items.
    pub items: Vec<ItemCustomers>,
    /// Each segment's penetration of them, most customers first.
    pub penetration: Vec<Penetration>,
    /// The rules with the highest lift.
    pub pairs: Vec<Pair>,
    /// The items most often next best, with how many customers get each.
    pub next_best: Vec<ItemCustomers>,
}

/// The cross-sell figures of `customers` (segmented when they have a
/// `segment` column) and their `baskets`.
pub fn cross_sell(customers: &DataFrame, baskets: &Baskets) -> Result<CrossSell> {
    let affinity = Affinity::of(baskets);
    let n = affinity.customers.max(1) as f64;
    let shown = baskets.items.len().min(ITEMS_SHOWN);
    let items = (0..shown)
        .map(|i| ItemCustomers {
            item: baskets.items[i].clone(),
            customers: baskets.buyers[i],
            share: baskets.buyers[i] as f64 / n,
        })
        .collect();
    let keys = crate::hashing::par_text_keys(customers.column(CUSTOMER_ID)?)?;
    let mut penetration = Vec::new();
    if customers.column("segment").is_ok() {
        let groups = crate::groups::groups(customers, "segment", "revenue")?;
        let mut bought = vec![vec![0u64; shown]; groups.names.len()];
        for (key, &g) in keys.iter().zip(&groups.of) {
            for &item in baskets.of_customer.get(key).into_iter().flatten() {
                if (item as usize) < shown {
                    bought[g][item as usize] += 1;
                }
            }
        }
        for (g, name) in groups.names.iter().enumerate() {
            let size = groups.customers[g];
            penetration.push(Penetration {
                segment: name.clone(),
                customers: size,
                shares: bought[g]
                    .iter()
                    .map(|&b| b as f64 / size.max(1) as f64)
                    .collect(),
            });
        }
        penetration.sort_by(|a, b| {
            b.customers
                .cmp(&a.customers)
                .then_with(|| a.segment.cmp(&b.segment))
        });
    }
    let mut next_counts = vec![0u64; baskets.items.len()];
    for key in &keys {
        let next = (baskets.of_customer.get(key)).and_then(|items| affinity.next_best(items));
        if let Some(item) = next {
            next_counts[item as usize] += 1;
        }
    }
    let mut next_order: Vec<usize> = (0..next_counts.len())
        .filter(|&i| next_counts[i] > 0)
        .collect();
    next_order.sort_by(|&a, &b| next_counts[b].cmp(&next_counts[a]).then(a.cmp(&b)));
    let everyone = keys.len().max(1) as f64;
    Ok(CrossSell {
        column: baskets.column,
        customers: affinity.customers,
        distinct_items: baskets.items.len() as u64,
        min_pair_customers: affinity.min_customers,
        items,
        penetration,
        pairs: affinity.top_pairs(baskets, ITEMS_SHOWN),
        next_best: (next_order.into_iter().take(ITEMS_SHOWN))
            .map(|i| ItemCustomers {
                item: baskets.items[i].clone(),
                customers: next_counts[i],
                share: next_counts[i] as f64 / everyone,
            })
            .collect(),
    })
}
