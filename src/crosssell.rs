//! What to sell next: the items (the `category` of the lines, else their
//! `product`) each customer has bought, kept as (customer, item) pairs —
//! never a customer × item matrix — and from them each segment's
//! penetration and white space, the item pairs by lift, and each
//! customer's next best item.

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use crate::hashing::{KeyMap, Numbering};
use crate::io::batches::Batches;
use crate::schema::{CATEGORY, CUSTOMER_ID, ORDER_DATE, PRODUCT, REVENUE};

/// Rows read at a time.
const BATCH: usize = 1 << 20;

/// The most-bought items whose pairs are counted: a large catalogue's
/// long tail makes no dependable pair.
pub const PAIRED_ITEMS: usize = 200;

/// The customers' items, as (customer, item) pairs sorted by customer: 8
/// bytes a pair, no list per customer.
pub struct Baskets {
    /// `category` or `product`.
    pub column: &'static str,
    /// The items, most-bought first (ties by name).
    pub items: Vec<String>,
    /// Customers who bought each item.
    pub buyers: Vec<u64>,
    /// The customers' codes ([`Numbering`] of their keys).
    numbering: Numbering,
    /// The pairs' customer codes, ascending.
    codes: Vec<u32>,
    /// The pairs' items (indices into `items`), ascending within a
    /// customer.
    bought: Vec<u32>,
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
        // an item's text by its 64-bit hash: no string is built per line
        let mut index: KeyMap<u64, u32> = KeyMap::default();
        let mut names: Vec<String> = Vec::new();
        let mut numbering = Numbering::default();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let columns = [CUSTOMER_ID, ORDER_DATE, REVENUE, column];
        source.each(BATCH, &columns, &mut |_, rows| {
            let keys = crate::hashing::par_text_keys(rows.column(CUSTOMER_ID)?)?;
            let codes = numbering.number(&keys);
            let revenue = rows.column(REVENUE)?.cast(&DataType::Float64)?;
            let days = rows.column(ORDER_DATE)?.cast(&DataType::Int32)?;
            let items = rows.column(column)?.cast(&DataType::String)?;
            let lines = (codes.iter())
                .zip(revenue.f64()?.iter())
                .zip(days.i32()?.iter())
                .zip(items.str()?.iter());
            for (((&code, revenue), day), item) in lines {
                let bought = revenue.is_some_and(|r| r > 0.0) && day.is_some_and(|d| d <= last);
                let Some(item) = item.map(str::trim).filter(|i| bought && !i.is_empty()) else {
                    continue;
                };
                let hash = xxhash_rust::xxh3::xxh3_64(item.as_bytes());
                let item = *index.entry(hash).or_insert_with(|| {
                    names.push(item.to_string());
                    names.len() as u32 - 1
                });
                pairs.push((code, item));
            }
            Ok(())
        })?;
        {
            use rayon::slice::ParallelSliceMut;
            pairs.par_sort_unstable();
        }
        pairs.dedup();
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
        let (codes, mut bought): (Vec<u32>, Vec<u32>) = pairs
            .into_iter()
            .map(|(c, i)| (c, rank[i as usize]))
            .unzip();
        let mut start = 0;
        while start < codes.len() {
            let end = start + codes[start..].partition_point(|&c| c == codes[start]);
            bought[start..end].sort_unstable();
            start = end;
        }
        Ok(Some(Baskets {
            column,
            items: order.iter().map(|&i| names[i].clone()).collect(),
            buyers: order.iter().map(|&i| buyers[i]).collect(),
            numbering,
            codes,
            bought,
        }))
    }

    /// Each customer's basket, one per customer, in runs of the sorted pairs.
    fn each(&self) -> impl Iterator<Item = &[u32]> {
        let mut start = 0;
        std::iter::from_fn(move || {
            let first = *self.codes.get(start)?;
            let end = start + self.codes[start..].partition_point(|&c| c == first);
            let basket = &self.bought[start..end];
            start = end;
            Some(basket)
        })
    }

    /// The customers with a purchase.
    pub fn customers(&self) -> u64 {
        self.each().count() as u64
    }

    /// The baskets of the customers of `table` (empty for a customer
    /// without a purchase), in its row order.
    pub fn of_customers(&self, table: &DataFrame) -> Result<Vec<&[u32]>> {
        let keys = crate::hashing::par_text_keys(table.column(CUSTOMER_ID)?)?;
        Ok((self.numbering.find(&keys).into_iter())
            .map(|code| {
                let Some(code) = code else { return &[][..] };
                let start = self.codes.partition_point(|&c| c < code);
                let end = start + self.codes[start..].partition_point(|&c| c == code);
                &self.bought[start..end]
            })
            .collect())
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

/// A link from one item to another.
#[derive(Debug, Clone, Copy)]
struct Link {
    to: u32,
    customers: u64,
    lift: f64,
    confidence: f64,
}

/// The links between the most-bought items.
pub struct Affinity {
    /// Customers with a purchase.
    pub customers: u64,
    /// The fewest customers a pair needs to count.
    pub min_customers: u64,
    /// Per item, its links, best first: highest lift, then confidence,
    /// then the most-bought item.
    from: Vec<Vec<Link>>,
}

impl Affinity {
    /// Counts the pairs among the [`PAIRED_ITEMS`] most-bought items of
    /// `baskets`; a pair needs 2 customers, and 1% of the customers with a
    /// purchase when that is more.
    pub fn of(baskets: &Baskets) -> Affinity {
        let customers = baskets.customers();
        let min_customers = (customers.div_ceil(100)).max(2);
        let paired = baskets.items.len().min(PAIRED_ITEMS);
        let mut both = vec![0u64; paired * paired];
        for items in baskets.each() {
            let top = &items[..items.partition_point(|&i| (i as usize) < paired)];
            for (k, &a) in top.iter().enumerate() {
                for &b in &top[k + 1..] {
                    both[a as usize * paired + b as usize] += 1;
                }
            }
        }
        let n = customers.max(1) as f64;
        let mut from: Vec<Vec<Link>> = vec![Vec::new(); paired];
        for a in 0..paired {
            for b in a + 1..paired {
                let count = both[a * paired + b];
                if count < min_customers {
                    continue;
                }
                for (x, y) in [(a, b), (b, a)] {
                    let confidence = count as f64 / baskets.buyers[x] as f64;
                    let lift = confidence / (baskets.buyers[y] as f64 / n);
                    from[x].push(Link {
                        to: y as u32,
                        customers: count,
                        lift,
                        confidence,
                    });
                }
            }
        }
        for links in &mut from {
            links.sort_by(|x, y| {
                (y.lift.total_cmp(&x.lift))
                    .then(y.confidence.total_cmp(&x.confidence))
                    .then(x.to.cmp(&y.to))
            });
        }
        Affinity {
            customers,
            min_customers,
            from,
        }
    }

    /// The `count` rules with the highest lift (then confidence, then
    /// the items' names).
    pub fn top_pairs(&self, baskets: &Baskets, count: usize) -> Vec<Pair> {
        let mut pairs: Vec<Pair> = (self.from.iter().enumerate())
            .flat_map(|(a, links)| links.iter().map(move |l| (a, *l)))
            .map(|(a, link)| Pair {
                antecedent: baskets.items[a].clone(),
                consequent: baskets.items[link.to as usize].clone(),
                customers: link.customers,
                support: link.customers as f64 / self.customers.max(1) as f64,
                confidence: link.confidence,
                lift: link.lift,
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

    /// The next best item for a customer who bought `items` (ascending):
    /// of the items not bought, the one with the highest lift (above 1)
    /// from one of theirs, then the highest confidence, then the
    /// most-bought; none when no link leads anywhere.
    pub fn next_best(&self, items: &[u32]) -> Option<u32> {
        let mut best: Option<Link> = None;
        for &item in items {
            let Some(links) = self.from.get(item as usize) else {
                break; // items ascend: the rest are past the paired ones
            };
            // each item's links are best first: its first new one is its best
            let Some(link) = links.iter().find(|l| items.binary_search(&l.to).is_err()) else {
                continue;
            };
            if link.lift <= 1.0 {
                continue;
            }
            let better = best.is_none_or(|b| {
                (link.lift, link.confidence, std::cmp::Reverse(link.to))
                    > (b.lift, b.confidence, std::cmp::Reverse(b.to))
            });
            if better {
                best = Some(*link);
            }
        }
        best.map(|link| link.to)
    }
}

/// Each customer's next best item, as a column `next_best` of
/// `customers` (null where there is none).
pub fn next_best_column(customers: &DataFrame, baskets: &Baskets) -> Result<Column> {
    let affinity = Affinity::of(baskets);
    let best: Vec<Option<&str>> = (baskets.of_customers(customers)?.into_iter())
        .map(|items| Some(baskets.items[affinity.next_best(items)? as usize].as_str()))
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
    let of_customers = baskets.of_customers(customers)?;
    let mut penetration = Vec::new();
    if customers.column("segment").is_ok() {
        let groups = crate::groups::groups(customers, "segment", "revenue")?;
        let mut bought = vec![vec![0u64; shown]; groups.names.len()];
        for (items, &g) in of_customers.iter().zip(&groups.of) {
            for &item in *items {
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
    for items in &of_customers {
        if let Some(item) = affinity.next_best(items) {
            next_counts[item as usize] += 1;
        }
    }
    let mut next_order: Vec<usize> = (0..next_counts.len())
        .filter(|&i| next_counts[i] > 0)
        .collect();
    next_order.sort_by(|&a, &b| next_counts[b].cmp(&next_counts[a]).then(a.cmp(&b)));
    let everyone = of_customers.len().max(1) as f64;
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
