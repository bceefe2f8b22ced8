//! Canonical transactions read a batch of rows at a time: a frame already
//! in memory, or a Parquet or Arrow IPC file too large to hold whole, of
//! which only the batch in hand is in memory (what the facts keep per
//! customer is all that grows).

use std::fs::File;
use std::path::{Path, PathBuf};

use std::io::Seek;

use anyhow::{Context, Result};
use polars::prelude::*;

use polars_arrow::datatypes::ArrowSchemaRef;

use super::source::InputFormat;
use crate::error::InputError;

/// Where transactions come from.
#[derive(Clone)]
pub enum Batches<'a> {
    /// A frame in memory.
    Frame(&'a DataFrame),
    /// A Parquet file, read slice by slice.
    Parquet(ParquetFile),
    /// An Arrow IPC file or stream, read record batch by record batch.
    Ipc(IpcFile),
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

/// An Arrow IPC file or stream on disk (what `cpm ingest --format ipc`
/// writes, spilled from stdin), its schema read once.
#[derive(Clone)]
pub struct IpcFile {
    path: PathBuf,
    name: String,
    stream: bool,
    columns: Vec<String>,
}

impl IpcFile {
    /// Opens `path` (shown as `name` in errors), an IPC stream when
    /// `stream`, else an IPC file, and reads its schema.
    pub fn open(path: &Path, name: &str, stream: bool) -> Result<IpcFile> {
        let mut file = IpcFile {
            path: path.to_path_buf(),
            name: name.to_string(),
            stream,
            columns: Vec::new(),
        };
        let schema = file.schema(&mut file.reader()?)?;
        file.columns = schema.iter_names().map(|n| n.to_string()).collect();
        Ok(file)
    }

    /// The names of its columns.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file with only `columns` visible (those it has).
    pub fn with_columns(mut self, columns: &[String]) -> IpcFile {
        self.columns.retain(|c| columns.contains(c));
        self
    }

    fn reader(&self) -> Result<std::io::BufReader<File>> {
        let file = File::open(&self.path).with_context(|| format!("cannot open {}", self.name))?;
        Ok(std::io::BufReader::with_capacity(1 << 16, file))
    }

    fn cannot(&self, e: impl std::fmt::Display) -> anyhow::Error {
        let format = match self.stream {
            true => InputFormat::IpcStream,
            false => InputFormat::IpcFile,
        };
        let format = super::read::format_name(format);
        InputError::file(&self.name, format!("cannot read as {format}: {e}")).into()
    }

    fn schema(&self, reader: &mut std::io::BufReader<File>) -> Result<ArrowSchemaRef> {
        use polars_arrow::io::ipc::read;
        Ok(if self.stream {
            read::read_stream_metadata(reader)
                .map_err(|e| self.cannot(e))?
                .schema
                .into()
        } else {
            read::read_file_metadata(reader)
                .map_err(|e| self.cannot(e))?
                .schema
        })
    }

    /// Each record batch, of `columns` only, in order.
    /// A file without a record batch gives one batch without rows.
    pub fn each(&self, columns: &[&str], f: &mut dyn FnMut(DataFrame) -> Result<()>) -> Result<()> {
        let mut none = true;
        for batch in self.batches(columns)? {
            none = false;
            f(batch?)?;
        }
        if none {
            let schema = self.schema(&mut self.reader()?)?;
            let empty = DataFrame::empty_with_schema(&Schema::from_arrow_schema(&schema));
            f(empty.select(columns.iter().copied())?)?;
        }
        Ok(())
    }

    /// Its first record batch, every column (`None`: no rows).
    pub fn head(&self) -> Result<Option<DataFrame>> {
        let all: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        self.batches(&all)?.next().transpose()
    }

    /// The record batches of `columns`, read one at a time.
    fn batches<'s>(
        &'s self,
        columns: &'s [&'s str],
    ) -> Result<Box<dyn Iterator<Item = Result<DataFrame>> + 's>> {
        use polars_arrow::io::ipc::read;
        use polars_arrow::record_batch::RecordBatch;
        let mut reader = self.reader()?;
        let schema = self.schema(&mut reader)?;
        let mut projection: Vec<usize> = columns
            .iter()
            .map(|c| {
                schema
                    .index_of(c)
                    .ok_or_else(|| self.cannot(format!("no column '{c}'")))
            })
            .collect::<Result<_>>()?;
        projection.sort_unstable();
        let frame = move |batch: polars::error::PolarsResult<RecordBatch>| -> Result<DataFrame> {
            let batch = batch.map_err(|e| self.cannot(e))?;
            let frame = crate::panic::guard("the Arrow IPC reader", || Ok(DataFrame::from(batch)))
                .map_err(|e| self.cannot(e))?;
            Ok(frame.select(columns.iter().copied())?)
        };
        reader.rewind()?;
        Ok(if self.stream {
            let metadata = read::read_stream_metadata(&mut reader).map_err(|e| self.cannot(e))?;
            Box::new(
                read::StreamReader::new(reader, metadata, Some(projection))
                    .map_while(|state| match state {
                        Ok(read::StreamState::Some(batch)) => Some(Ok(batch)),
                        Ok(read::StreamState::Waiting) => None,
                        Err(e) => Some(Err(e)),
                    })
                    .map(frame),
            )
        } else {
            let metadata = read::read_file_metadata(&mut reader).map_err(|e| self.cannot(e))?;
            Box::new(read::FileReader::new(reader, metadata, Some(projection), None).map(frame))
        })
    }
}

impl Batches<'_> {
    /// Rows in all, when known without reading them (an IPC file's are
    /// not): a capacity to make room for.
    pub fn rows_hint(&self) -> usize {
        match self {
            Batches::Frame(frame) => frame.height(),
            Batches::Parquet(file) => file.rows,
            Batches::Ipc(_) => 0,
        }
    }

    /// Rows in all (an IPC file's counted by reading one column).
    pub fn rows(&self) -> Result<usize> {
        Ok(match self {
            Batches::Ipc(file) => {
                let mut rows = 0;
                if let Some(first) = file.columns.first() {
                    file.each(&[first], &mut |batch| {
                        rows += batch.height();
                        Ok(())
                    })?;
                }
                rows
            }
            _ => self.rows_hint(),
        })
    }

    /// Whether there is a column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.column_names().iter().any(|c| c == name)
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
            Batches::Ipc(file) => file.columns.clone(),
        }
    }

    /// Each batch of about `rows` rows of `columns`, in order, with the
    /// number of the rows before it.
    pub fn each(
        &self,
        rows: usize,
        columns: &[&str],
        f: &mut dyn FnMut(usize, DataFrame) -> Result<()>,
    ) -> Result<()> {
        let rows = rows.max(1);
        match self {
            Batches::Frame(frame) => {
                for start in (0..frame.height()).step_by(rows) {
                    f(
                        start,
                        frame
                            .slice(start as i64, rows)
                            .select(columns.iter().copied())?,
                    )?;
                }
            }
            Batches::Parquet(file) => {
                for start in (0..file.rows).step_by(rows) {
                    f(start, file.read(start, rows, columns)?)?;
                }
            }
            Batches::Ipc(file) => {
                let mut start = 0;
                file.each(columns, &mut |batch| {
                    // a record batch larger than `rows` goes in slices
                    for offset in (0..batch.height()).step_by(rows) {
                        let slice = batch.slice(offset as i64, rows);
                        let height = slice.height();
                        f(start, slice)?;
                        start += height;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }
}
