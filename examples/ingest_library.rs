//! Using cpm as a library: read an export, ingest it, and look at the
//! quality report and the first rows, without the command line.
//!
//! ```sh
//! cargo run --example ingest_library -- testdata/orders.csv
//! ```

use anyhow::Result;
use cpm::ingest::{IngestConfig, ingest};
use cpm::io::{Input, ReadOptions, TableStyle, read_input, table::render_table};

fn main() -> Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/orders.csv".to_string());
    let table = read_input(&Input::Path(path.into()), &ReadOptions::default(), &|_| {})?;
    let result = ingest(vec![table], None, &IngestConfig::default())?;
    println!("{}", serde_json::to_string_pretty(&result.report)?);
    for reject in &result.rejects {
        println!("rejected line {}: {}", reject.line, reject.reason);
    }
    let style = TableStyle {
        width: Some(100),
        max_rows: 5,
        ..TableStyle::default()
    };
    print!(
        "{}",
        render_table(&result.transactions.head(Some(5)), &style)
    );
    Ok(())
}
