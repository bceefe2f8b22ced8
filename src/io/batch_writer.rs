//! A table written a batch of rows at a time, as the batches come: CSV,
//! TSV, Parquet (a row group per batch) and Arrow IPC streams. The first batch fixes the
//! columns and their types.

use std::io::Write;

use anyhow::{Result, bail};
use polars::polars_utils::compression::ZstdLevel;
use polars::prelude::*;
use polars_arrow::io::ipc::write::{StreamWriter, WriteOptions};

use super::write::{OutputFormat, write_csv_rows};

/// A later batch's column holds what the type written for it cannot (it
/// was written as integers, and now holds text), or a later input has
/// other columns: the caller writes the table whole instead, with the
/// columns aligned by name and each one's type found over every row.
#[derive(Debug)]
pub struct TypeChanged {
    /// The column.
    pub column: String,
}

impl std::fmt::Display for TypeChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "column '{}' changes type after the first batch of rows, or is not in every input",
            self.column
        )
    }
}

impl std::error::Error for TypeChanged {}

/// Writes batches of rows to `out` in a format.
pub struct BatchWriter<'w> {
    sink: Sink<'w>,
    /// The columns written and their types, from the first batch.
    schema: Option<Schema>,
}

enum Sink<'w> {
    Text {
        out: &'w mut dyn Write,
        separator: u8,
        header: bool,
    },
    Parquet(Option<Box<polars::io::parquet::write::BatchedWriter<&'w mut dyn Write>>>),
    /// A Parquet writer, made when the first batch tells the schema.
    Pending(Option<&'w mut dyn Write>),
    /// An Arrow IPC stream (what `--format ipc` writes): its schema is
    /// written with the first batch.
    IpcStream {
        writer: StreamWriter<&'w mut dyn Write>,
        started: bool,
    },
}

/// The Arrow compatibility level of the IPC streams cpm writes (polars'
/// `IpcStreamWriter` default, which every Arrow reader reads).
const IPC_COMPAT: CompatLevel = CompatLevel::oldest();

impl<'w> BatchWriter<'w> {
    /// A writer of `format` to `out`; `None` for the formats written whole
    /// (Arrow, JSON, tables for people).
    pub fn new(format: OutputFormat, out: &'w mut dyn Write) -> Option<BatchWriter<'w>> {
        let sink = match format {
            OutputFormat::Csv | OutputFormat::Tsv => Sink::Text {
                out,
                separator: if format == OutputFormat::Csv {
                    b','
                } else {
                    b'\t'
                },
                header: true,
            },
            OutputFormat::Parquet => Sink::Pending(Some(out)),
            OutputFormat::Ipc => Sink::IpcStream {
                writer: StreamWriter::new(out, WriteOptions { compression: None }),
                started: false,
            },
            _ => return None,
        };
        Some(BatchWriter { sink, schema: None })
    }

    /// Writes the next batch. Its columns are those of the first; a column
    /// typed otherwise is cast to the type written when that holds its
    /// values (integers in a column of decimals), else [`TypeChanged`].
    pub fn write(&mut self, batch: &DataFrame) -> Result<()> {
        let mut batch = match &self.schema {
            None => {
                self.schema = Some(batch.schema().as_ref().clone());
                batch.clone()
            }
            Some(schema) => conformed(batch, schema)?,
        };
        batch.align_chunks_par();
        if let Sink::Pending(out) = &mut self.sink {
            let out = out.take().ok_or_else(|| anyhow::anyhow!("writer taken"))?;
            let zstd = ParquetCompression::Zstd(Some(ZstdLevel::try_new(1)?));
            self.sink = Sink::Parquet(Some(Box::new(
                ParquetWriter::new(out)
                    .with_compression(zstd)
                    .batched(batch.schema())?,
            )));
        }
        match &mut self.sink {
            Sink::Text {
                out,
                separator,
                header,
            } => {
                let format = match separator {
                    b'\t' => OutputFormat::Tsv,
                    _ => OutputFormat::Csv,
                };
                super::write::refuse_nested(&batch, format)?;
                write_csv_rows(&batch, *separator, *header, &mut **out)?;
                *header = false;
            }
            Sink::Parquet(Some(writer)) => writer.write_batch(&batch)?,
            Sink::IpcStream { writer, started } => {
                if !*started {
                    writer.start(&batch.schema().to_arrow(IPC_COMPAT), None)?;
                    *started = true;
                }
                for chunk in batch.iter_chunks(IPC_COMPAT, true) {
                    writer.write(&chunk, None)?;
                }
            }
            _ => bail!("the writer was finished"),
        }
        Ok(())
    }

    /// Ends the table (Parquet's footer). At least one batch must have
    /// been written.
    pub fn finish(mut self) -> Result<()> {
        match &mut self.sink {
            Sink::Parquet(writer) => {
                if let Some(writer) = writer.take() {
                    writer.finish()?;
                }
            }
            Sink::IpcStream { writer, .. } => writer.finish()?,
            _ => {}
        }
        Ok(())
    }
}

/// `batch` with the columns of `schema`, each cast to its type when that
/// holds every value.
fn conformed(batch: &DataFrame, schema: &Schema) -> Result<DataFrame> {
    if batch.schema().as_ref() == schema {
        return Ok(batch.clone());
    }
    // another input with other columns: a whole read aligns them by name
    if let Some(extra) = batch
        .get_column_names()
        .into_iter()
        .find(|name| schema.get(name).is_none())
    {
        bail!(TypeChanged {
            column: extra.to_string(),
        });
    }
    let columns = schema
        .iter()
        .map(|(name, dtype)| {
            let Ok(column) = batch.column(name) else {
                bail!(TypeChanged {
                    column: name.to_string(),
                });
            };
            if column.dtype() == dtype {
                return Ok(column.clone());
            }
            let holds = column.null_count() == column.len()
                || (dtype == &DataType::Float64 && column.dtype() == &DataType::Int64);
            if holds {
                Ok(column.cast(dtype)?)
            } else {
                Err(TypeChanged {
                    column: name.to_string(),
                }
                .into())
            }
        })
        .collect::<Result<Vec<Column>>>()?;
    Ok(DataFrame::new(batch.height(), columns)?)
}
