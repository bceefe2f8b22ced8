//! Using cpm as a library, end to end: an export read and validated, its
//! facts gathered and the customer table derived by the pipeline (the
//! same front half every subcommand uses, told to an observer), then
//! segmented, and the customers counted by segment, without the command
//! line.
//!
//! ```sh
//! cargo run --example segment_library -- testdata/retail_export.csv
//! ```

use anyhow::Result;
use cpm::ingest::MaxRejects;
use cpm::io::Input;
use cpm::pipeline::{LoadOptions, Observer};
use cpm::segment::{SegmentConfig, segment};
use cpm::summary::SummaryConfig;
use polars::prelude::*;

/// Shows the pipeline's warnings and the end of each step on stderr.
struct Stderr;

impl Observer for Stderr {
    fn warn(&self, message: &str) {
        eprintln!("warning: {message}");
    }

    fn step(&self, name: &str) {
        eprintln!("done: {name}");
    }
}

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/retail_export.csv".to_string());
    // read, validate (the retail export's columns map by their aliases; up
    // to 1% of the rows may be rejected), gather the facts a batch at a
    // time, derive the customer table
    let options = LoadOptions {
        max_rejects: MaxRejects::Percent(1.0),
        ..LoadOptions::default()
    };
    let customers = cpm::pipeline::customers(
        &[Input::Path(path.into())],
        &options,
        &SummaryConfig::default(),
        cpm::segment::is_customer_table,
        &Stderr,
    )?;
    println!(
        "{} customers as of {}",
        customers.table.height(),
        customers.as_of.map(|d| d.to_string()).unwrap_or_default()
    );
    // RFM scores and named segments, counted
    let segmented = segment(&customers.table, &SegmentConfig::default())?;
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
