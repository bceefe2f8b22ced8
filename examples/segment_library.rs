//! Using cpm as a library, end to end: an export read and validated, its
//! facts gathered, the customer table derived and segmented, and the
//! customers counted by segment, without the command line.
//!
//! ```sh
//! cargo run --example segment_library -- testdata/retail_export.csv
//! ```

use anyhow::Result;
use cpm::ingest::{IngestConfig, ingest};
use cpm::io::batches::Batches;
use cpm::io::{Input, ReadOptions, read_input};
use cpm::segment::{SegmentConfig, segment};
use cpm::summary::{SummaryConfig, derive};
use polars::prelude::*;

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/retail_export.csv".to_string());
    // read and validate: the retail export's columns map by their aliases
    let table = read_input(&Input::Path(path.into()), &ReadOptions::default(), &|_| {})?;
    let ingested = ingest(vec![table], None, &IngestConfig::default())?;
    println!(
        "{} rows read, {} kept, {} rejected",
        ingested.report.rows_read, ingested.report.rows_kept, ingested.report.rows_rejected
    );
    // the per-customer facts, then the customer table derived from them
    let facts = cpm::facts::gather(&Batches::Frame(&ingested.transactions), None)?;
    let summary = derive(facts.table, &SummaryConfig::default())?;
    println!(
        "{} customers as of {}",
        summary.customers.height(),
        summary.as_of
    );
    // RFM scores and named segments, counted
    let segmented = segment(&summary.customers, &SegmentConfig::default())?;
    let counts = segmented
        .customers
        .lazy()
        .group_by([col("segment")])
        .agg([len().alias("customers")])
        .sort(
            ["customers"],
            SortMultipleOptions::default().with_order_descending(true),
        )
        .collect()?;
    println!("{counts}");
    Ok(())
}
