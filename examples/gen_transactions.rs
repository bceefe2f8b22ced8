//! Deterministic synthetic retail-export generator.
//!
//! Writes transaction lines shaped like the UCI "Online Retail II" export, with
//! exactly these columns:
//!
//! ```text
//! Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID,Country
//! 489434,34899,3,1/1/2022 11:34,2.70,12351,United Kingdom
//! C489577,73822,-1,1/27/2022 12:48,1.50,12469,United Kingdom
//! ```
//!
//! Customers follow a buy-till-you-die process over 2022-01-01 .. 2023-12-31:
//! each is acquired (first purchase) at a date drawn from a density that falls
//! over the period, buys at a Poisson rate `lambda ~ Gamma(0.75, 1/45 per
//! day)` (an average customer buys every ~2 months), and after every
//! purchase drops out for good with probability `p ~ Beta(0.8, 2.5)`. An
//! invoice has 1-12 lines (truncated geometric) drawn from a fixed catalogue
//! of products with log-normal unit prices (median 2.95); quantities follow a
//! Gamma-Gamma style model (a per-customer mean quantity drawn from a Gamma).
//! About 2% of invoices are cancellations (`C` + an earlier invoice of the
//! same customer, negative quantities), ~0.1% of lines are exact duplicates,
//! and unless `--clean` is given 16 rows are deliberately broken (empty
//! Customer ID, Price `abc`, InvoiceDate `13/45/2022 25:99`, Price `NaN`).
//!
//! The simulation is event driven (a heap of customers keyed by their next
//! purchase), so rows come out sorted by InvoiceDate then Invoice and
//! invoice numbers grow with time, while memory grows with the number of
//! customers, not lines. Output is streamed: CSV through `csv::Writer`,
//! Parquet through polars' batched writer, one row group per 512 Ki rows.
//! The same options and seed always produce byte-identical output.
//!
//! Invoice numbers start at 489434 (6 digits) and Customer IDs at 12346 (5
//! digits). Past ~87 k customers (~590 k lines) IDs get 6+ digits, and past
//! ~510 k invoices (~920 k lines) invoice numbers get 7+ digits.
//!
//! Run it with:
//!
//! ```text
//! # the ~1.1 MB sample in testdata/ (3000 customers, seed 42, ~19.6 k lines):
//! cargo run --release --example gen_transactions -- -o testdata/retail_export.csv
//! # benchmark input: ~10 M lines, no broken rows, CSV or Parquet (zstd):
//! cargo run --release --example gen_transactions -- --rows 10000000 --clean -o bench/data/tx.csv
//! cargo run --release --example gen_transactions -- --rows 10000000 --clean -o bench/data/tx.parquet
//! # CSV to stdout:
//! cargo run --release --example gen_transactions -- --customers 100 --seed 7 | head
//! ```
//!
//! Options: `--customers N` (default 3000), `--rows N` (target line count;
//! overrides `--customers`), `--seed S` (default 42), `--format csv|parquet`
//! (default: from the `-o` extension, else csv), `-o PATH` (default stdout,
//! CSV only), `--clean` (omit the broken rows).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Days, NaiveDate};
use clap::{Parser, ValueEnum};
use polars::prelude::{
    Column, DataFrame, DataType, IntoColumn, ParquetCompression, ParquetWriter, PlSmallStr, Schema,
    StringChunkedBuilder,
};
// Not in the prelude glob on purpose: `polars::prelude::*` exports two
// `BatchedWriter`s (CSV and Parquet) and a `PolarsContext::context` that
// clashes with `anyhow::Context`.
use polars::io::parquet::write::BatchedWriter;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp1, Gamma, LogNormal};

/// Number of simulated days: 2022-01-01 ..= 2023-12-31.
const DAYS: u32 = 730;
/// Minutes per day; event times are minutes since 2022-01-01 00:00.
const MINUTES_PER_DAY: u32 = 24 * 60;
/// First invoice number, as in the UCI export.
const FIRST_INVOICE: u32 = 489_434;
/// First Customer ID, as in the UCI export.
const FIRST_CUSTOMER_ID: u32 = 12_346;
/// Average output lines per customer with the model below (measured; used to
/// turn `--rows` into a number of customers).
const LINES_PER_CUSTOMER: f64 = 6.7;

/// Shape `r` of the Gamma distribution of purchase rates.
const RATE_SHAPE: f64 = 0.75;
/// Rate `alpha` (in days) of the Gamma distribution of purchase rates.
const RATE_ALPHA_DAYS: f64 = 45.0;
/// Beta(a, b) parameters of the per-purchase drop-out probability.
const DROPOUT_A: f64 = 0.8;
const DROPOUT_B: f64 = 2.5;
/// Gamma(shape, scale) of a customer's mean quantity per line.
const QTY_SCALE_SHAPE: f64 = 2.0;
const QTY_SCALE_SCALE: f64 = 3.0;
/// Gamma(shape, 1/shape) line-level noise around the customer's mean quantity.
const QTY_NOISE_SHAPE: f64 = 2.0;
/// Probability that an invoice gets one more line (truncated geometric).
const LINE_CONTINUE: f64 = 0.42;
/// Most lines an invoice can have (product lines; postage may add one).
const MAX_LINES: usize = 12;

/// Number of products in the catalogue.
const CATALOGUE_SIZE: usize = 3_500;
/// Median and log-sd of catalogue unit prices.
const PRICE_MEDIAN: f64 = 2.95;
const PRICE_SIGMA: f64 = 0.7;
/// Postage line for customers outside the UK: code, unit price in cents and
/// the probability that an invoice carries one.
const POSTAGE_CODE: &str = "POST";
const POSTAGE_CENTS: u32 = 1_800;
const POSTAGE_PROB: f64 = 0.3;

/// Probability that an invoice is later (1-14 days) cancelled.
const CANCEL_PROB: f64 = 0.021;
/// Probability that a purchase line is written twice.
const DUPLICATE_PROB: f64 = 0.001;
/// Number of deliberately broken rows unless `--clean`.
const BAD_ROWS: u64 = 16;
/// Rows per Parquet batch (and row group).
const PARQUET_CHUNK_ROWS: usize = 512 * 1024;

/// Countries and their share of customers.
const COUNTRIES: [(&str, f64); 16] = [
    ("United Kingdom", 82.0),
    ("Germany", 4.0),
    ("France", 3.5),
    ("EIRE", 2.5),
    ("Spain", 1.3),
    ("Netherlands", 1.2),
    ("Belgium", 1.0),
    ("Switzerland", 0.8),
    ("Portugal", 0.7),
    ("Australia", 0.5),
    ("Norway", 0.4),
    ("Italy", 0.4),
    ("Sweden", 0.4),
    ("Channel Islands", 0.3),
    ("Finland", 0.3),
    ("Denmark", 0.2),
];
/// Index of the home market in [`COUNTRIES`] (no postage lines).
const HOME_COUNTRY: u8 = 0;

/// Relative weight of purchases per hour of the day, from 7:00 to 19:59.
const HOUR_WEIGHTS: [f64; 13] = [
    1.0, 4.0, 8.0, 12.0, 14.0, 16.0, 14.0, 12.0, 10.0, 6.0, 3.0, 1.0, 1.0,
];
const FIRST_HOUR: u32 = 7;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Generate a synthetic, deterministic retail transaction export")]
struct Args {
    /// Number of customers to simulate.
    #[arg(long, default_value_t = 3000, conflicts_with = "rows")]
    customers: u64,
    /// Target number of transaction lines (scales the number of customers).
    #[arg(long)]
    rows: Option<u64>,
    /// Random seed; the same seed and options give identical output.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output format [default: from the output extension, else csv].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Output file [default: stdout, CSV only].
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Omit the deliberately broken rows (for benchmarks).
    #[arg(long)]
    clean: bool,
}

/// Output file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Csv,
    Parquet,
}

impl Args {
    /// Number of customers to simulate, derived from `--rows` if given.
    fn customer_count(&self) -> u64 {
        match self.rows {
            Some(rows) => ((rows as f64 / LINES_PER_CUSTOMER).round() as u64).max(1),
            None => self.customers,
        }
    }

    /// The output format: explicit, else from the extension, else CSV.
    fn format(&self) -> Format {
        if let Some(format) = self.format {
            return format;
        }
        let ext = self.output.as_deref().and_then(Path::extension);
        match ext.and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") => {
                Format::Parquet
            }
            _ => Format::Csv,
        }
    }
}

/// SplitMix64 finaliser: decorrelates derived seeds.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A derived random stream for a purpose (`salt`) and key under `seed`.
fn derived_rng(seed: u64, salt: u64, key: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix64(seed ^ splitmix64(salt ^ splitmix64(key))))
}

/// Formats cents as a price with two decimals.
fn push_cents(buf: &mut String, cents: u32) {
    // Writing to a String cannot fail.
    let _ = write!(buf, "{}.{:02}", cents / 100, cents % 100);
}

/// The product catalogue: stock codes, unit prices and popularity.
struct Catalogue {
    /// Stock codes; index 0 is the postage pseudo-product.
    codes: Vec<String>,
    /// Unit prices in cents, parallel to `codes`.
    cents: Vec<u32>,
    /// Popularity of each code (postage has weight 0).
    popularity: WeightedIndex<f64>,
}

impl Catalogue {
    /// Builds the catalogue from its own random stream, so it does not depend
    /// on the number of customers.
    fn new(seed: u64) -> Result<Self> {
        let mut rng = derived_rng(seed, 1, 0);
        let prices = LogNormal::new(PRICE_MEDIAN.ln(), PRICE_SIGMA)?;
        let mut seen = HashSet::new();
        let mut codes = vec![POSTAGE_CODE.to_string()];
        let mut cents = vec![POSTAGE_CENTS];
        let mut weights = vec![0.0];
        while codes.len() <= CATALOGUE_SIZE {
            let code = Self::random_code(&mut rng);
            if !seen.insert(code.clone()) {
                continue;
            }
            let rank = codes.len() as f64;
            weights.push(1.0 / (rank + 20.0).powf(1.1));
            cents.push(Self::retail_cents(prices.sample(&mut rng)));
            codes.push(code);
        }
        let popularity = WeightedIndex::new(&weights)?;
        Ok(Self {
            codes,
            cents,
            popularity,
        })
    }

    /// A stock code like `22423` or `85123A`.
    fn random_code(rng: &mut StdRng) -> String {
        const SUFFIXES: &[u8] = b"ABCDEFGLNPSW";
        let number = rng.random_range(10_000..90_000u32);
        if rng.random_bool(0.15) {
            let suffix = SUFFIXES[rng.random_range(0..SUFFIXES.len())] as char;
            format!("{number}{suffix}")
        } else {
            number.to_string()
        }
    }

    /// Rounds a price to 5 cents within 0.10 .. 300.00, as shops do.
    fn retail_cents(price: f64) -> u32 {
        ((price.clamp(0.10, 300.0) * 20.0).round() * 5.0) as u32
    }
}

/// A customer's fixed traits.
#[derive(Clone, Copy, Debug)]
struct Customer {
    id: u32,
    /// Purchases per day while alive.
    rate: f32,
    /// Probability of dropping out after each purchase.
    dropout: f32,
    /// Mean quantity per line.
    qty_scale: f32,
    /// Index into [`COUNTRIES`].
    country: u8,
}

/// Population distributions of the customer traits.
struct CustomerModel {
    rate: Gamma<f64>,
    dropout: Beta<f64>,
    qty_scale: Gamma<f64>,
    country: WeightedIndex<f64>,
}

impl CustomerModel {
    fn new() -> Result<Self> {
        Ok(Self {
            rate: Gamma::new(RATE_SHAPE, 1.0 / RATE_ALPHA_DAYS)?,
            dropout: Beta::new(DROPOUT_A, DROPOUT_B)?,
            qty_scale: Gamma::new(QTY_SCALE_SHAPE, QTY_SCALE_SCALE)?,
            country: WeightedIndex::new(COUNTRIES.iter().map(|(_, w)| *w))?,
        })
    }

    /// Draws the traits of customer `id`.
    fn sample(&self, id: u32, rng: &mut StdRng) -> Customer {
        Customer {
            id,
            rate: self.rate.sample(rng) as f32,
            dropout: self.dropout.sample(rng) as f32,
            qty_scale: self.qty_scale.sample(rng).max(1.0) as f32,
            country: self.country.sample(rng) as u8,
        }
    }
}

/// What happens at an event.
#[derive(Clone, Copy, Debug)]
enum EventKind {
    /// The customer places an order.
    Purchase(Customer),
    /// The customer cancels an earlier invoice.
    Cancel { customer: Customer, invoice: u32 },
}

/// A scheduled event; ordered so that [`BinaryHeap`] pops the earliest.
#[derive(Clone, Copy, Debug)]
struct Event {
    /// Minutes since 2022-01-01 00:00.
    minute: u32,
    /// Scheduling order, to break ties deterministically.
    seq: u64,
    kind: EventKind,
}

impl Event {
    /// Order within one minute: purchases (in scheduling order) before
    /// cancellations (by invoice), matching a sort on the Invoice column.
    fn order_in_minute(&self) -> (u8, u64) {
        match self.kind {
            EventKind::Purchase(_) => (0, self.seq),
            EventKind::Cancel { invoice, .. } => (1, u64::from(invoice)),
        }
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.minute, self.seq) == (other.minute, other.seq)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    /// Reversed, so the max-heap yields the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.minute, other.seq).cmp(&(self.minute, self.seq))
    }
}

/// Acquisition days of all customers, generated lazily in ascending order.
///
/// Uses sequential order statistics of uniforms mapped through the inverse
/// CDF of the density `1.6 - 1.2 x` on the period (4x as many customers are
/// acquired at the start as at the end), so no list of customers is held.
struct Acquisitions {
    remaining: u64,
    last_u: f64,
    next_day: Option<u32>,
}

impl Acquisitions {
    fn new(total: u64, rng: &mut StdRng) -> Self {
        let mut stream = Self {
            remaining: total,
            last_u: 0.0,
            next_day: None,
        };
        stream.advance(rng);
        stream
    }

    /// Day of the next acquisition, if any customer is left.
    fn peek(&self) -> Option<u32> {
        self.next_day
    }

    /// Takes the next acquisition day and draws the one after it.
    fn take(&mut self, rng: &mut StdRng) -> Option<u32> {
        let day = self.next_day;
        self.advance(rng);
        day
    }

    fn advance(&mut self, rng: &mut StdRng) {
        if self.remaining == 0 {
            self.next_day = None;
            return;
        }
        let v: f64 = rng.random();
        self.last_u = 1.0 - (1.0 - self.last_u) * v.powf(1.0 / self.remaining as f64);
        self.remaining -= 1;
        let x = (1.6 - (2.56 - 2.4 * self.last_u).max(0.0).sqrt()) / 1.2;
        self.next_day = Some(((x * f64::from(DAYS)) as u32).min(DAYS - 1));
    }
}

/// Turns minutes into `M/D/YYYY H:MM` timestamps.
struct Clock {
    day_labels: Vec<String>,
    hours: WeightedIndex<f64>,
}

impl Clock {
    fn new() -> Result<Self> {
        let start = NaiveDate::from_ymd_opt(2022, 1, 1).context("invalid start date")?;
        let day_labels = (0..DAYS)
            .map(|d| {
                let date = start + Days::new(u64::from(d));
                format!("{}/{}/{}", date.month(), date.day(), date.year())
            })
            .collect();
        Ok(Self {
            day_labels,
            hours: WeightedIndex::new(HOUR_WEIGHTS)?,
        })
    }

    /// A random shop-hours minute on `day`.
    fn minute_on(&self, day: u32, rng: &mut StdRng) -> u32 {
        let hour = FIRST_HOUR + self.hours.sample(rng) as u32;
        day * MINUTES_PER_DAY + hour * 60 + rng.random_range(0..60)
    }

    /// Formats a minute as `M/D/YYYY H:MM`.
    fn format(&self, minute: u32) -> String {
        let day = (minute / MINUTES_PER_DAY) as usize;
        let time = minute % MINUTES_PER_DAY;
        format!("{} {}:{:02}", self.day_labels[day], time / 60, time % 60)
    }
}

/// One product line of an invoice.
#[derive(Clone, Copy, Debug)]
struct Line {
    /// Index into [`Catalogue::codes`].
    product: usize,
    quantity: i64,
    cents: u32,
}

/// Generates invoice contents. Each invoice's lines come from a random
/// stream keyed by its number, so a cancellation can reproduce them.
struct Orders {
    seed: u64,
    catalogue: Catalogue,
    qty_noise: Gamma<f64>,
}

impl Orders {
    fn new(seed: u64) -> Result<Self> {
        Ok(Self {
            seed,
            catalogue: Catalogue::new(seed)?,
            qty_noise: Gamma::new(QTY_NOISE_SHAPE, 1.0 / QTY_NOISE_SHAPE)?,
        })
    }

    /// Fills `out` with the lines of `invoice` placed by `customer`.
    fn lines(&self, invoice: u32, customer: &Customer, out: &mut Vec<Line>) {
        out.clear();
        let mut rng = derived_rng(self.seed, 2, u64::from(invoice));
        let mut count = 1;
        while count < MAX_LINES && rng.random_bool(LINE_CONTINUE) {
            count += 1;
        }
        for _ in 0..count {
            let product = self.catalogue.popularity.sample(&mut rng);
            let quantity = self.quantity(customer, &mut rng);
            let cents = Self::discounted(self.catalogue.cents[product], quantity);
            out.push(Line {
                product,
                quantity,
                cents,
            });
        }
        if customer.country != HOME_COUNTRY && rng.random_bool(POSTAGE_PROB) {
            out.push(Line {
                product: 0,
                quantity: rng.random_range(1..=3),
                cents: POSTAGE_CENTS,
            });
        }
    }

    /// A line quantity around the customer's mean; large ones in dozens.
    fn quantity(&self, customer: &Customer, rng: &mut StdRng) -> i64 {
        let q = (f64::from(customer.qty_scale) * self.qty_noise.sample(rng)).round();
        let q = q.max(1.0) as i64;
        if q > 12 { (q + 6) / 12 * 12 } else { q }
    }

    /// 15% off the unit price from 24 pieces on.
    fn discounted(cents: u32, quantity: i64) -> u32 {
        if quantity >= 24 {
            (cents * 85 + 50) / 100
        } else {
            cents
        }
    }

    fn code(&self, product: usize) -> &str {
        &self.catalogue.codes[product]
    }
}

/// The Price field of a row.
#[derive(Clone, Copy, Debug)]
enum Price {
    Cents(u32),
    /// The literal `NaN`.
    NotANumber,
    /// The literal `abc` (null in Parquet).
    Garbage,
}

/// One output row.
#[derive(Clone, Copy, Debug)]
struct Row<'a> {
    invoice: &'a str,
    stock_code: &'a str,
    quantity: i64,
    date: &'a str,
    price: Price,
    /// `None` writes an empty Customer ID (null in Parquet).
    customer: Option<u32>,
    country: &'a str,
}

/// Header of the export, in column order.
const HEADER: [&str; 7] = [
    "Invoice",
    "StockCode",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
];
const BAD_DATE: &str = "13/45/2022 25:99";

/// Where rows go.
trait RowSink {
    fn write(&mut self, row: &Row<'_>) -> Result<()>;
    /// Flushes everything and closes the output.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Streams rows as CSV.
struct CsvSink {
    writer: csv::Writer<Box<dyn Write>>,
    quantity: String,
    price: String,
    customer: String,
}

impl CsvSink {
    fn new(output: Option<&Path>) -> Result<Self> {
        let out: Box<dyn Write> = match output {
            Some(path) => Box::new(
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            ),
            None => Box::new(io::stdout().lock()),
        };
        let mut writer = csv::WriterBuilder::new()
            .buffer_capacity(1 << 16)
            .from_writer(out);
        writer.write_record(HEADER)?;
        Ok(Self {
            writer,
            quantity: String::new(),
            price: String::new(),
            customer: String::new(),
        })
    }
}

impl RowSink for CsvSink {
    fn write(&mut self, row: &Row<'_>) -> Result<()> {
        self.quantity.clear();
        let _ = write!(self.quantity, "{}", row.quantity);
        self.price.clear();
        match row.price {
            Price::Cents(cents) => push_cents(&mut self.price, cents),
            Price::NotANumber => self.price.push_str("NaN"),
            Price::Garbage => self.price.push_str("abc"),
        }
        self.customer.clear();
        if let Some(id) = row.customer {
            let _ = write!(self.customer, "{id}");
        }
        self.writer.write_record([
            row.invoice,
            row.stock_code,
            &self.quantity,
            row.date,
            &self.price,
            &self.customer,
            row.country,
        ])?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let mut writer = self.writer;
        writer.flush().context("cannot write CSV output")?;
        Ok(())
    }
}

/// Column buffers for one Parquet batch.
struct ParquetColumns {
    invoice: StringChunkedBuilder,
    stock_code: StringChunkedBuilder,
    quantity: Vec<i64>,
    date: StringChunkedBuilder,
    price: Vec<Option<f64>>,
    customer: StringChunkedBuilder,
    country: StringChunkedBuilder,
    /// Scratch buffer for Customer IDs.
    scratch: String,
}

impl ParquetColumns {
    fn new() -> Self {
        let text = |name: &str| StringChunkedBuilder::new(name.into(), PARQUET_CHUNK_ROWS);
        Self {
            invoice: text(HEADER[0]),
            stock_code: text(HEADER[1]),
            quantity: Vec::with_capacity(PARQUET_CHUNK_ROWS),
            date: text(HEADER[3]),
            price: Vec::with_capacity(PARQUET_CHUNK_ROWS),
            customer: text(HEADER[5]),
            country: text(HEADER[6]),
            scratch: String::new(),
        }
    }

    /// The Parquet schema: everything String but Quantity and Price.
    fn schema() -> Schema {
        HEADER
            .iter()
            .map(|&name| {
                let dtype = match name {
                    "Quantity" => DataType::Int64,
                    "Price" => DataType::Float64,
                    _ => DataType::String,
                };
                (PlSmallStr::from(name), dtype)
            })
            .collect()
    }

    fn len(&self) -> usize {
        self.quantity.len()
    }

    fn push(&mut self, row: &Row<'_>) {
        self.invoice.append_value(row.invoice);
        self.stock_code.append_value(row.stock_code);
        self.quantity.push(row.quantity);
        self.date.append_value(row.date);
        self.price.push(match row.price {
            Price::Cents(cents) => Some(f64::from(cents) / 100.0),
            Price::NotANumber => Some(f64::NAN),
            Price::Garbage => None,
        });
        match row.customer {
            Some(id) => {
                self.scratch.clear();
                let _ = write!(self.scratch, "{id}");
                self.customer.append_value(&self.scratch);
            }
            None => self.customer.append_null(),
        }
        self.country.append_value(row.country);
    }

    /// Moves the buffered rows into a DataFrame, leaving the buffers empty.
    fn take_frame(&mut self) -> Result<DataFrame> {
        let full = std::mem::replace(self, Self::new());
        let height = full.len();
        let columns = vec![
            full.invoice.finish().into_column(),
            full.stock_code.finish().into_column(),
            Column::new(HEADER[2].into(), full.quantity),
            full.date.finish().into_column(),
            Column::new(HEADER[4].into(), full.price),
            full.customer.finish().into_column(),
            full.country.finish().into_column(),
        ];
        Ok(DataFrame::new(height, columns)?)
    }
}

/// Streams rows into a zstd-compressed Parquet file, one batch at a time.
struct ParquetSink {
    writer: BatchedWriter<File>,
    columns: ParquetColumns,
}

impl ParquetSink {
    fn new(path: &Path) -> Result<Self> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(&ParquetColumns::schema())?;
        Ok(Self {
            writer,
            columns: ParquetColumns::new(),
        })
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.columns.len() > 0 {
            let frame = self.columns.take_frame()?;
            self.writer
                .write_batch(&frame)
                .context("cannot write Parquet batch")?;
        }
        Ok(())
    }
}

impl RowSink for ParquetSink {
    fn write(&mut self, row: &Row<'_>) -> Result<()> {
        self.columns.push(row);
        if self.columns.len() >= PARQUET_CHUNK_ROWS {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.flush_batch()?;
        self.writer
            .finish()
            .context("cannot finish Parquet output")?;
        Ok(())
    }
}

/// Breaks `BAD_ROWS` rows spread evenly over the expected output.
struct Corruptor {
    every: u64,
    done: u64,
    limit: u64,
}

impl Corruptor {
    fn new(expected_lines: u64, clean: bool) -> Self {
        Self {
            // Spread over the first 80% so a shorter run still gets them all.
            every: (expected_lines * 4 / 5 / BAD_ROWS).max(1),
            done: 0,
            limit: if clean { 0 } else { BAD_ROWS },
        }
    }

    /// Corrupts `row` if line number `line` (1-based) is due.
    fn apply(&mut self, line: u64, row: &mut Row<'_>) {
        if self.done >= self.limit || line != self.every * (self.done + 1) {
            return;
        }
        match self.done % 4 {
            0 => row.customer = None,
            1 => row.price = Price::Garbage,
            2 => row.date = BAD_DATE,
            _ => row.price = Price::NotANumber,
        }
        self.done += 1;
    }
}

/// Counts reported at the end.
#[derive(Debug, Default)]
struct Summary {
    customers: u64,
    invoices: u64,
    cancellations: u64,
    lines: u64,
    duplicates: u64,
    broken: u64,
}

/// The event-driven simulation and its output.
struct Simulation {
    rng: StdRng,
    model: CustomerModel,
    orders: Orders,
    clock: Clock,
    acquisitions: Acquisitions,
    events: BinaryHeap<Event>,
    next_seq: u64,
    next_invoice: u32,
    corruptor: Corruptor,
    sink: Box<dyn RowSink>,
    summary: Summary,
    /// Scratch buffer for invoice lines.
    lines: Vec<Line>,
}

impl Simulation {
    fn new(args: &Args, sink: Box<dyn RowSink>) -> Result<Self> {
        let customers = args.customer_count();
        let mut rng = StdRng::seed_from_u64(args.seed);
        let acquisitions = Acquisitions::new(customers, &mut rng);
        let expected_lines = (customers as f64 * LINES_PER_CUSTOMER) as u64;
        Ok(Self {
            rng,
            model: CustomerModel::new()?,
            orders: Orders::new(args.seed)?,
            clock: Clock::new()?,
            acquisitions,
            events: BinaryHeap::new(),
            next_seq: 0,
            next_invoice: FIRST_INVOICE,
            corruptor: Corruptor::new(expected_lines, args.clean),
            sink,
            summary: Summary::default(),
            lines: Vec::with_capacity(MAX_LINES + 1),
        })
    }

    /// Runs the simulation to the end of the period and closes the output.
    fn run(mut self) -> Result<Summary> {
        let mut group = Vec::new();
        loop {
            self.admit_customers();
            let Some(first) = self.events.pop() else {
                break;
            };
            group.clear();
            group.push(first);
            while let Some(next) = self.events.peek().filter(|e| e.minute == first.minute) {
                group.push(*next);
                self.events.pop();
            }
            group.sort_by_key(Event::order_in_minute);
            let stamp = self.clock.format(first.minute);
            for event in &group {
                self.handle(event, &stamp)?;
            }
        }
        self.sink.finish()?;
        Ok(self.summary)
    }

    /// Schedules the first purchase of every customer acquired on a day that
    /// starts no later than the earliest pending event.
    fn admit_customers(&mut self) {
        while let Some(day) = self.acquisitions.peek() {
            if let Some(top) = self.events.peek()
                && day * MINUTES_PER_DAY > top.minute
            {
                break;
            }
            self.acquisitions.take(&mut self.rng);
            let id = FIRST_CUSTOMER_ID + self.summary.customers as u32;
            self.summary.customers += 1;
            let customer = self.model.sample(id, &mut self.rng);
            let minute = self.clock.minute_on(day, &mut self.rng);
            self.schedule(minute, EventKind::Purchase(customer));
        }
    }

    fn schedule(&mut self, minute: u32, kind: EventKind) {
        self.events.push(Event {
            minute,
            seq: self.next_seq,
            kind,
        });
        self.next_seq += 1;
    }

    fn handle(&mut self, event: &Event, stamp: &str) -> Result<()> {
        match event.kind {
            EventKind::Purchase(customer) => self.purchase(event.minute, &customer, stamp),
            EventKind::Cancel { customer, invoice } => self.cancel(&customer, invoice, stamp),
        }
    }

    /// Writes a new invoice, then maybe schedules its cancellation and the
    /// customer's next purchase (unless they drop out).
    fn purchase(&mut self, minute: u32, customer: &Customer, stamp: &str) -> Result<()> {
        let invoice = self.next_invoice;
        self.next_invoice += 1;
        self.summary.invoices += 1;
        let mut lines = std::mem::take(&mut self.lines);
        self.orders.lines(invoice, customer, &mut lines);
        let label = invoice.to_string();
        for line in &lines {
            let copies = if self.rng.random_bool(DUPLICATE_PROB) {
                self.summary.duplicates += 1;
                2
            } else {
                1
            };
            for _ in 0..copies {
                self.emit(&label, line, customer, stamp)?;
            }
        }
        self.lines = lines;

        let day = minute / MINUTES_PER_DAY;
        if self.rng.random_bool(CANCEL_PROB) {
            let cancel_day = day + self.rng.random_range(1..=14);
            if cancel_day < DAYS {
                let at = self.clock.minute_on(cancel_day, &mut self.rng);
                let kind = EventKind::Cancel {
                    customer: *customer,
                    invoice,
                };
                self.schedule(at, kind);
            }
        }
        if !self.rng.random_bool(f64::from(customer.dropout)) {
            self.schedule_next_purchase(day, customer);
        }
        Ok(())
    }

    /// Schedules the next purchase after an exponential gap, if it falls
    /// inside the period.
    fn schedule_next_purchase(&mut self, day: u32, customer: &Customer) {
        let gap: f64 = Exp1.sample(&mut self.rng);
        let gap_days = gap / f64::from(customer.rate);
        let next_day = f64::from(day) + 1.0 + gap_days.floor();
        if next_day < f64::from(DAYS) {
            let at = self.clock.minute_on(next_day as u32, &mut self.rng);
            self.schedule(at, EventKind::Purchase(*customer));
        }
    }

    /// Writes a cancellation of all lines of `invoice`, or of one of them.
    fn cancel(&mut self, customer: &Customer, invoice: u32, stamp: &str) -> Result<()> {
        self.summary.cancellations += 1;
        let mut lines = std::mem::take(&mut self.lines);
        self.orders.lines(invoice, customer, &mut lines);
        if lines.len() > 1 && self.rng.random_bool(0.5) {
            let keep = self.rng.random_range(0..lines.len());
            lines.swap(0, keep);
            lines.truncate(1);
        }
        let label = format!("C{invoice}");
        for line in &lines {
            let negated = Line {
                quantity: -line.quantity,
                ..*line
            };
            self.emit(&label, &negated, customer, stamp)?;
        }
        self.lines = lines;
        Ok(())
    }

    /// Writes one row, corrupting it if its line number is due.
    fn emit(&mut self, invoice: &str, line: &Line, customer: &Customer, stamp: &str) -> Result<()> {
        self.summary.lines += 1;
        let mut row = Row {
            invoice,
            stock_code: self.orders.code(line.product),
            quantity: line.quantity,
            date: stamp,
            price: Price::Cents(line.cents),
            customer: Some(customer.id),
            country: COUNTRIES[usize::from(customer.country)].0,
        };
        let broken_before = self.corruptor.done;
        self.corruptor.apply(self.summary.lines, &mut row);
        self.summary.broken += self.corruptor.done - broken_before;
        self.sink.write(&row)
    }
}

/// Opens the sink for the requested format and destination.
fn open_sink(args: &Args) -> Result<Box<dyn RowSink>> {
    match (args.format(), args.output.as_deref()) {
        (Format::Csv, output) => Ok(Box::new(CsvSink::new(output)?)),
        (Format::Parquet, Some(path)) => Ok(Box::new(ParquetSink::new(path)?)),
        (Format::Parquet, None) => bail!("--format parquet needs an output file (-o PATH)"),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let sink = open_sink(&args)?;
    let summary = Simulation::new(&args, sink)?.run()?;
    let target = args
        .output
        .as_deref()
        .map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    eprintln!(
        "gen_transactions: {} lines ({} invoices, {} cancellations, {} duplicated, {} broken) \
         for {} customers to {} in {:.1}s",
        summary.lines,
        summary.invoices,
        summary.cancellations,
        summary.duplicates,
        summary.broken,
        summary.customers,
        target,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
