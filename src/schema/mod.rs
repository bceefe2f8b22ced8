//! The canonical transaction columns, the export names that map to them,
//! and typing of raw values (dates in [`dates`], amounts in [`numbers`]).
//!
//! Matching is case- and punctuation-insensitive: `Customer ID`,
//! `customer-id` and `CUSTOMERID` are all `customerid`.

pub mod dates;
pub mod numbers;

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::error::{InputError, usage};

/// Canonical column: the customer's id (string).
pub const CUSTOMER_ID: &str = "customer_id";
/// Canonical column: the order's date.
pub const ORDER_DATE: &str = "order_date";
/// Canonical column: the row's revenue (negative = refund).
pub const REVENUE: &str = "revenue";
/// Canonical column: the order id (optional).
pub const ORDER_ID: &str = "order_id";
/// Canonical column: cost of goods / cost to serve (optional).
pub const COST: &str = "cost";
/// Canonical column: the line's product (optional; cross-sell).
pub const PRODUCT: &str = "product";
/// Canonical column: the line's product category (optional; cross-sell).
pub const CATEGORY: &str = "category";

/// Accepted export names per canonical column, in order of preference,
/// as shown to users. Matching uses their [`normalize`]d form.
pub const ALIASES: &[(&str, &[&str])] = &[
    (
        CUSTOMER_ID,
        &[
            "customer_id",
            "CustomerID",
            "Customer ID",
            "customer",
            "client_id",
            "cust_id",
            "customer_no",
            "customer_number",
            "client",
            "user_id",
            "buyer_id",
        ],
    ),
    (
        ORDER_DATE,
        &[
            "order_date",
            "InvoiceDate",
            "Date",
            "order_ts",
            "timestamp",
            "order_datetime",
            "purchase_date",
            "transaction_date",
            "created_at",
            "datetime",
        ],
    ),
    (
        REVENUE,
        &[
            "revenue",
            "amount",
            "total",
            "sales",
            "dollar_value",
            "value",
            "order_value",
            "total_price",
            "line_total",
            "net_amount",
        ],
    ),
    (
        ORDER_ID,
        &[
            "order_id",
            "Invoice",
            "InvoiceNo",
            "order",
            "order_number",
            "order_no",
            "invoice_id",
            "transaction_id",
        ],
    ),
    (COST, &["cost", "cogs", "cost_of_goods", "unit_cost_total"]),
    (PRODUCT, &["product"]),
    (CATEGORY, &["category", "product_category"]),
];

/// Names accepted for a quantity, when revenue is quantity × unit price.
pub const QUANTITY_ALIASES: &[&str] = &["Quantity", "qty", "units", "number_of_units"];
/// Names accepted for a unit price, when revenue is quantity × unit price.
pub const PRICE_ALIASES: &[&str] = &["Price", "UnitPrice", "unit_price", "price_each"];

/// Lower-case letters and digits only: the key aliases are compared by.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// Where the revenue of a row comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RevenueSource {
    /// One column.
    Column(String),
    /// Quantity × unit price.
    QuantityTimesPrice {
        /// The quantity column.
        quantity: String,
        /// The unit price column.
        price: String,
    },
    /// No amount at all (a purchase log): every line is a purchase of
    /// unknown value, revenue 0, and `value` leaves spend and CLV out.
    Absent,
}

/// Which source column feeds each canonical column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMap {
    /// Source of `customer_id`.
    pub customer_id: String,
    /// Source of `order_date`.
    pub order_date: String,
    /// Source of `revenue`.
    pub revenue: RevenueSource,
    /// Source of `order_id`, if any.
    pub order_id: Option<String>,
    /// Source of `cost`, if any.
    pub cost: Option<String>,
    /// Source of `product`, if any.
    pub product: Option<String>,
    /// Source of `category`, if any.
    pub category: Option<String>,
    /// What the mapping passed over, as messages for a warning: columns
    /// whose names match a mapped one but were not taken (`Revenue` beside
    /// `revenue`), or no revenue column at all.
    pub warnings: Vec<String>,
}

impl ColumnMap {
    /// canonical → source name, as shown in the quality report.
    pub fn describe(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert(CUSTOMER_ID.to_string(), self.customer_id.clone());
        map.insert(ORDER_DATE.to_string(), self.order_date.clone());
        let revenue = match &self.revenue {
            RevenueSource::Column(c) => c.clone(),
            RevenueSource::QuantityTimesPrice { quantity, price } => {
                format!("{quantity} * {price}")
            }
            RevenueSource::Absent => "(none: 0)".to_string(),
        };
        map.insert(REVENUE.to_string(), revenue);
        if let Some(c) = &self.order_id {
            map.insert(ORDER_ID.to_string(), c.clone());
        }
        for (canonical, source) in [
            (COST, &self.cost),
            (PRODUCT, &self.product),
            (CATEGORY, &self.category),
        ] {
            if let Some(c) = source {
                map.insert(canonical.to_string(), c.clone());
            }
        }
        map
    }

    /// The source columns the map reads.
    pub fn sources(&self) -> Vec<&str> {
        let mut out = vec![self.customer_id.as_str(), self.order_date.as_str()];
        match &self.revenue {
            RevenueSource::Column(c) => out.push(c),
            RevenueSource::QuantityTimesPrice { quantity, price } => {
                out.push(quantity);
                out.push(price);
            }
            RevenueSource::Absent => {}
        }
        out.extend(self.optional_sources());
        out
    }

    /// The source columns of the optional canonical columns there are.
    pub fn optional_sources(&self) -> impl Iterator<Item = &str> {
        [&self.order_id, &self.cost, &self.product, &self.category]
            .into_iter()
            .filter_map(|s| s.as_deref())
    }
}

/// A `--map canonical=Source` override; `revenue=Qty*Price` names a product.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MapOverride {
    /// The canonical column.
    pub canonical: String,
    /// The source column (or `A*B` for revenue).
    pub source: String,
}

impl MapOverride {
    /// Parses `canonical=Source`, the value of the option `option` (the
    /// caller's name for it, e.g. `--map`, named in errors).
    pub fn parse(option: &str, text: &str) -> Result<Self> {
        let (canonical, source) = text.split_once('=').ok_or_else(|| {
            usage(format!(
                "{option} '{text}': expected CANONICAL=SOURCE, e.g. customer_id=Kunde"
            ))
        })?;
        let canonical = canonical.trim().to_string();
        if !ALIASES.iter().any(|(c, _)| *c == canonical) {
            let names: Vec<&str> = ALIASES.iter().map(|(c, _)| *c).collect();
            return Err(usage(format!(
                "{option} '{text}': '{canonical}' is not a canonical column (one of: {})",
                names.join(", ")
            )));
        }
        Ok(MapOverride {
            canonical,
            source: source.trim().to_string(),
        })
    }
}

/// Words that hint at a canonical column in an export's own (often not
/// English) header, for the `--map` line of a missing-column error.
const HINTS: [(&str, &[&str]); 3] = [
    (
        CUSTOMER_ID,
        &[
            "kunde", "kund", "client", "cust", "member", "account", "buyer", "user",
        ],
    ),
    (
        ORDER_DATE,
        &[
            "date", "datum", "fecha", "data", "time", "zeit", "tag", "day",
        ],
    ),
    (
        REVENUE,
        &[
            "amount", "betrag", "summe", "umsatz", "montant", "importe", "total", "sales", "value",
            "sum", "net", "gross",
        ],
    ),
];

/// A `--map` line for the `missing` canonical columns, ready to paste: each
/// with the first column of `found` whose name hints at it, or COLUMN.
fn map_line(missing: &[&str], found: &[String]) -> String {
    let mut taken: Vec<&str> = Vec::new();
    let parts: Vec<String> = missing
        .iter()
        .map(|canonical| {
            let hints = HINTS
                .iter()
                .find(|(c, _)| c == canonical)
                .map_or(&[][..], |(_, h)| *h);
            let guess = found.iter().find(|f| {
                let name = f.to_lowercase();
                !taken.contains(&f.as_str()) && hints.iter().any(|h| name.contains(h))
            });
            match guess {
                Some(column) => {
                    taken.push(column);
                    let pair = format!("{canonical}={column}");
                    if column.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                        format!("--map '{}'", pair.replace('\'', "'\\''"))
                    } else {
                        format!("--map {pair}")
                    }
                }
                None => format!("--map {canonical}=COLUMN"),
            }
        })
        .collect();
    parts.join(" ")
}

/// Resolves the canonical columns among `found` (the columns of `file`),
/// overrides first, then aliases.
pub fn map_columns(found: &[String], overrides: &[MapOverride], file: &str) -> Result<ColumnMap> {
    let find_exact = |wanted: &str| -> Result<String> {
        found
            .iter()
            .find(|f| f.as_str() == wanted)
            .or_else(|| found.iter().find(|f| normalize(f) == normalize(wanted)))
            .cloned()
            .ok_or_else(|| {
                InputError::file(
                    file,
                    format!(
                        "--map names column '{wanted}', which is not there (found: {})",
                        found.join(", ")
                    ),
                )
                .into()
            })
    };
    // an exact name first (`revenue` over `Revenue`), then ignoring case
    // and punctuation
    let by_alias = |aliases: &[&str]| -> Option<String> {
        aliases.iter().find_map(|alias| {
            let key = normalize(alias);
            found
                .iter()
                .find(|f| f.as_str() == *alias)
                .or_else(|| found.iter().find(|f| normalize(f) == key))
                .cloned()
        })
    };
    let aliases_of = |canonical: &str| -> &[&str] {
        ALIASES
            .iter()
            .find(|(c, _)| *c == canonical)
            .map(|(_, a)| *a)
            .unwrap_or(&[])
    };
    let resolve = |canonical: &str| -> Result<Option<String>> {
        match overrides.iter().rev().find(|o| o.canonical == canonical) {
            Some(o) => find_exact(&o.source).map(Some),
            None => Ok(by_alias(aliases_of(canonical))),
        }
    };
    // not one known name: the first line is likely a title, not the header
    let preamble = if ALIASES
        .iter()
        .all(|(_, aliases)| by_alias(aliases).is_none())
    {
        "\n  no column has a known name: if lines come before the header, skip them with \
         --skip-rows N (or give --delimiter, --no-header)"
    } else {
        ""
    };
    let customer_id = resolve(CUSTOMER_ID)?;
    let order_date = resolve(ORDER_DATE)?;
    let revenue_override = overrides.iter().rev().find(|o| o.canonical == REVENUE);
    let revenue = match revenue_override {
        Some(o) if o.source.contains('*') => {
            let (q, p) = o.source.split_once('*').unwrap_or_default();
            Some(RevenueSource::QuantityTimesPrice {
                quantity: find_exact(q.trim())?,
                price: find_exact(p.trim())?,
            })
        }
        Some(o) => Some(RevenueSource::Column(find_exact(&o.source)?)),
        None => match by_alias(aliases_of(REVENUE)) {
            Some(c) => Some(RevenueSource::Column(c)),
            None => match (by_alias(QUANTITY_ALIASES), by_alias(PRICE_ALIASES)) {
                (Some(quantity), Some(price)) => {
                    Some(RevenueSource::QuantityTimesPrice { quantity, price })
                }
                _ => None,
            },
        },
    };
    // a purchase log without amounts: the purchase models need no spend
    let no_revenue = revenue.is_none() && customer_id.is_some() && order_date.is_some();
    let revenue = revenue.or(no_revenue.then_some(RevenueSource::Absent));
    let missing: Vec<&str> = [
        (CUSTOMER_ID, customer_id.is_none()),
        (ORDER_DATE, order_date.is_none()),
        (REVENUE, revenue.is_none()),
    ]
    .into_iter()
    .filter(|(_, missing)| *missing)
    .map(|(name, _)| name)
    .collect();
    let (Some(customer_id), Some(order_date), Some(revenue)) = (customer_id, order_date, revenue)
    else {
        let mut message = format!(
            "no column for {} (found: {})",
            missing.join(", "),
            found.join(", ")
        );
        for canonical in &missing {
            let extra = if *canonical == REVENUE {
                ", or a quantity (Quantity, qty) and a unit price (Price, UnitPrice)"
            } else {
                ""
            };
            message.push_str(&format!(
                "\n  accepted names for {canonical}: {}{extra}",
                aliases_of(canonical).join(", ")
            ));
        }
        message.push_str(&format!(
            "\n  map them: {}{preamble}",
            map_line(&missing, found)
        ));
        return Err(InputError::file(file, message).into());
    };
    let mut map = ColumnMap {
        customer_id,
        order_date,
        revenue,
        order_id: resolve(ORDER_ID)?,
        cost: resolve(COST)?,
        product: resolve(PRODUCT)?,
        category: resolve(CATEGORY)?,
        warnings: Vec::new(),
    };
    if no_revenue {
        map.warnings.push(format!(
            "{file}: no revenue column (found: {}): every line counts as a purchase of \
             unknown value (revenue 0); value fits the purchase model and leaves spend, \
             profit and CLV out. Map one with --map revenue=COLUMN (or Quantity*Price)",
            found.join(", ")
        ));
    }
    let taken: Vec<(&str, String)> = map
        .describe()
        .into_iter()
        .filter(|(_, source)| !source.contains(" * "))
        .map(|(canonical, source)| (canonical_name(&canonical), source))
        .collect();
    for (canonical, source) in taken {
        for other in found.iter().filter(|f| **f != source) {
            if normalize(other) == normalize(&source) {
                map.warnings.push(format!(
                    "{file}: columns '{source}' and '{other}' both name {canonical}: '{source}' \
                     is taken, '{other}' passes through (--map {canonical}={other} takes it)"
                ));
            }
        }
    }
    Ok(map)
}

/// The canonical column `name` as a static name.
fn canonical_name(name: &str) -> &'static str {
    [CUSTOMER_ID, ORDER_DATE, REVENUE, ORDER_ID, COST]
        .into_iter()
        .find(|c| *c == name)
        .unwrap_or("a column")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_log_without_amounts_maps_with_revenue_absent_and_a_warning() {
        let found: Vec<String> = ["customer_id", "date", "Betrag"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let map = map_columns(&found, &[], "log.csv").unwrap();
        assert_eq!(map.revenue, RevenueSource::Absent);
        assert!(map.warnings[0].contains("no revenue column (found: customer_id, date, Betrag)"));
        assert!(map.warnings[0].contains("--map revenue=COLUMN"));
    }

    #[test]
    fn retail_export_maps_with_quantity_times_price() {
        let found = cols(&[
            "Invoice",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "Price",
            "Customer ID",
            "Country",
        ]);
        let map = map_columns(&found, &[], "x.csv").unwrap();
        assert_eq!(map.customer_id, "Customer ID");
        assert_eq!(map.order_date, "InvoiceDate");
        assert_eq!(map.order_id.as_deref(), Some("Invoice"));
        assert_eq!(
            map.revenue,
            RevenueSource::QuantityTimesPrice {
                quantity: "Quantity".into(),
                price: "Price".into()
            }
        );
        assert_eq!(map.describe()["revenue"], "Quantity * Price");
    }

    #[test]
    fn overrides_win_and_unknown_columns_are_named() {
        let found = cols(&["Kunde", "Datum", "Betrag"]);
        let overrides = vec![
            MapOverride::parse("--map", "customer_id=Kunde").unwrap(),
            MapOverride::parse("--map", "order_date = Datum").unwrap(),
            MapOverride::parse("--map", "revenue=Betrag").unwrap(),
        ];
        let map = map_columns(&found, &overrides, "x.csv").unwrap();
        assert_eq!(
            (map.customer_id.as_str(), map.order_date.as_str()),
            ("Kunde", "Datum")
        );
        let err = map_columns(&found, &overrides[1..], "x.csv")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no column for customer_id (found: Kunde, Datum, Betrag)"),
            "{err}"
        );
        // every missing column in one message, with a line to paste
        let err = map_columns(&found, &[], "x.csv").unwrap_err().to_string();
        assert!(
            err.contains("no column for customer_id, order_date, revenue (found: Kunde"),
            "{err}"
        );
        assert!(
            err.contains(
                "map them: --map customer_id=Kunde --map order_date=Datum --map revenue=Betrag"
            ),
            "{err}"
        );
        let spaced = [
            "Kunden Nr".to_string(),
            "Tag".to_string(),
            "Wert".to_string(),
        ];
        let err = map_columns(&spaced, &[], "x.csv").unwrap_err().to_string();
        assert!(
            err.contains("--map 'customer_id=Kunden Nr' --map order_date=Tag --map revenue=COLUMN"),
            "{err}"
        );
        assert!(MapOverride::parse("--map", "nope=Kunde").is_err());
    }

    #[test]
    fn normalization_ignores_case_and_punctuation() {
        assert_eq!(normalize("Customer ID"), "customerid");
        assert_eq!(normalize("customer-id"), "customerid");
    }
}
