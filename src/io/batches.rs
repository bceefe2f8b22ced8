//! Canonical transactions read a batch of rows at a time: a frame already
//! in memory, or a Parquet file too large to hold whole, of which only the
//! batch in hand is in memory (what the facts keep per customer is all
//! that grows).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::error::InputError;

/// Where transactions come from.
pub enum Batches<'a> {
    /// A frame in memory.
    Frame(&'a DataFrame),
    /// A Parquet file, read slice by slice.
    Parquet(ParquetFile),
}

/// A Parquet file's path, size and columns, its metadata read once.
#[derive(Clone)]
pub struct ParquetFile {
    path: PathBuf,
    name: String,
    rows: usize,
    columns: Vec<String>,
    metadata: polars::io::parquet::metadata::FileMetadataRef,
}

impl ParquetFile {
    /// Opens `path` (shown as `name` in errors) and reads its metadata.
    pub fn open(path: &Path, name: &str) -> Result<ParquetFile> {
        let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mut reader = ParquetReader::new(file);
        let cannot =
            |e: PolarsError| InputError::file(name, format!("cannot read as Parquet: {e}"));
        let rows = reader.num_rows().map_err(cannot)?;
        let columns = reader
            .schema()
            .map_err(cannot)?
            .iter_names()
            .map(|n| n.to_string())
            .collect();
        let metadata = reader.get_metadata().map_err(cannot)?.clone();
        Ok(ParquetFile {
            path: path.to_path_buf(),
            name: name.to_string(),
            rows,
            columns,
            metadata,
        })
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows `start..start + len` (fewer at the end) of `columns`.
    pub fn read(&self, start: usize, len: usize, columns: &[&str]) -> Result<DataFrame> {
        let handle =
            File::open(&self.path).with_context(|| format!("cannot open {}", self.name))?;
        let mut reader = ParquetReader::new(handle)
            .with_columns(Some(columns.iter().map(|c| c.to_string()).collect()))
            .with_slice(Some((start, len)));
        reader.set_metadata(self.metadata.clone());
        crate::panic::guard("the Parquet reader", || Ok(reader.finish()?)).map_err(|e| {
            InputError::file(&self.name, format!("cannot read as Parquet: {e}")).into()
        })
    }

    /// The names of its columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file with only `columns` visible (those it has).
    pub fn with_columns(mut self, columns: &[String]) -> ParquetFile {
        self.columns.retain(|c| columns.contains(c));
        self
    }
}

impl Batches<'_> {
    /// Rows in all.
    pub fn height(&self) -> usize {
        match self {
            Batches::Frame(frame) => frame.height(),
            Batches::Parquet(file) => file.rows,
        }
    }

    /// Whether there is a column `name`.
    pub fn has(&self, name: &str) -> bool {
        match self {
            Batches::Frame(frame) => frame.column(name).is_ok(),
            Batches::Parquet(file) => file.columns.iter().any(|c| c == name),
        }
    }

    /// The names of the columns.
    pub fn column_names(&self) -> Vec<String> {
        match self {
            Batches::Frame(frame) => frame
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            Batches::Parquet(file) => file.columns.clone(),
        }
    }

    /// Rows `start..start + len` (fewer at the end) of `columns`.
    pub fn read(&self, start: usize, len: usize, columns: &[&str]) -> Result<DataFrame> {
        match self {
            Batches::Frame(frame) => Ok(frame
                .slice(start as i64, len)
                .select(columns.iter().copied())?),
            Batches::Parquet(file) => file.read(start, len, columns),
        }
    }
}
