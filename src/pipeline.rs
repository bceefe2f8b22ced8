//! Inputs → the rows the facts need, read the way their size calls for:
//! the one place that decides whether an input is read whole or a batch
//! at a time. Today a single canonical Parquet file (what `cpm ingest`
//! writes) above [`Streaming::above`] rows is read a batch at a time, and
//! only the columns the facts need; every other input is read whole.

use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use crate::io::Input;
use crate::io::batches::ParquetFile;

/// When inputs are read a batch at a time.
#[derive(Debug, Clone, Copy)]
pub struct Streaming {
    /// Rows of a canonical Parquet input above which it is read a batch at
    /// a time ([`crate::facts::STREAM_ABOVE`] for the commands that read
    /// the rows once, [`crate::facts::REPORT_STREAM_ABOVE`] for the report,
    /// which reads them three times; tests set 1).
    pub above: usize,
}

/// The file to read a batch at a time, with only the columns the facts
/// need: `inputs` is a single canonical Parquet file (not a customer
/// table: `is_table`) of more than `streaming.above` rows, and nothing
/// asks for the rows whole (`whole`: a column map, a row filter). `None`:
/// read the inputs whole.
pub fn batched_parquet(
    inputs: &[Input],
    streaming: Streaming,
    whole: bool,
    is_table: fn(&DataFrame) -> bool,
) -> Result<Option<ParquetFile>> {
    let [Input::Path(path)] = inputs else {
        return Ok(None);
    };
    if whole || !is_parquet_file(path) {
        return Ok(None);
    }
    let file = ParquetFile::open(path, &path.display().to_string())?;
    if file.rows() <= streaming.above {
        return Ok(None);
    }
    let all: Vec<&str> = file.columns().iter().map(String::as_str).collect();
    let head = file.read(0, 1 << 13, &all)?;
    if !crate::ingest::is_canonical(&head) || is_table(&head) {
        return Ok(None);
    }
    let columns = crate::facts::columns_needed(&head)?;
    Ok(Some(file.with_columns(&columns)))
}

/// Whether `path` is a regular file that starts with Parquet's magic
/// bytes. Only a regular file may be opened more than once: a FIFO's bytes
/// come once, so it is never taken for one.
fn is_parquet_file(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    path.is_file()
        && std::fs::File::open(path)
            .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut magic))
            .is_ok()
        && &magic == b"PAR1"
}
