//! `ingest` as a library call: the inputs validated into canonical rows
//! written where asked, a batch at a time when the inputs and the output
//! allow it, else whole; the rejects beside them, and the quality report.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::{LoadOptions, Observer, RowBatches};
use crate::ingest::{QualityReport, Reject};
use crate::io::Input;
use crate::io::atomic::{Stage, Staged, TempFile};
use crate::io::batch_writer::{BatchWriter, TypeChanged};
use crate::io::write::OutputFormat;

/// Where [`ingest`] puts what it keeps and rejects.
pub struct IngestOutputs<'a> {
    /// The output file of the kept rows (staged: put in place by the
    /// caller with its other outputs); `None`: stdout, through a temporary
    /// file the caller copies once every check has passed.
    pub rows: Option<&'a Path>,
    /// The format of the kept rows when the output takes them a batch at
    /// a time (CSV, TSV, Parquet, an Arrow IPC stream); `None`: they are
    /// returned whole, for the caller to write.
    pub batch_format: Option<OutputFormat>,
    /// The rejects file (CSV: source, line, reason, raw), when asked for.
    pub rejects: Option<&'a Path>,
    /// A customer attribute table joined onto the rows.
    pub customers: Option<&'a Path>,
    /// Whether text in the kept rows that a spreadsheet would run as a
    /// formula is guarded.
    pub guard_rows: bool,
    /// Whether the rejects' raw text is guarded so.
    pub guard_rejects: bool,
}

/// The kept rows of an ingest.
pub enum Kept {
    /// Written to the output file, staged.
    Staged(Staged),
    /// Written for stdout to a temporary file.
    Spooled(TempFile),
    /// In memory, for the caller to write.
    Whole(DataFrame),
}

/// What [`ingest`] did, before anything is put in place.
pub struct Ingested {
    /// The kept rows.
    pub kept: Kept,
    /// The rejects file, written and staged.
    pub rejects_file: Option<Staged>,
    /// The first rejected rows (all of them when read whole), for messages.
    pub first_rejects: Vec<Reject>,
    /// Ingest's counts.
    pub report: QualityReport,
}

/// Ingests `inputs` as `options` say into `outputs`: a batch at a time
/// when the inputs are read in batches and the output takes batches
/// (memory does not grow with the rows), else whole; a column that
/// changes type after the first batch also sends the inputs to a whole
/// read (what the batches wrote is dropped).
pub fn ingest(
    inputs: &[Input],
    options: &LoadOptions,
    outputs: &IngestOutputs,
    observer: &dyn Observer,
) -> Result<Ingested> {
    let inputs = &crate::io::source::spill(inputs)?;
    let customers = match outputs.customers {
        Some(path) => {
            let table =
                super::read_all(&[Input::Path(path.to_path_buf())], &options.read, observer);
            table?.pop()
        }
        None => None,
    };
    if let Some(format) = outputs.batch_format
        && let Some(opened) = super::opened_for_batches(inputs, &options.read, false)?
    {
        let batches = RowBatches {
            csv: &options.read.csv,
            ingest: &options.ingest,
            filter: options.filter.as_ref(),
            is_table: None,
            customers: customers.as_ref(),
        };
        observer.reading(opened.iter().map(|o| o.size).sum());
        let streamed = streamed(&opened, &batches, format, outputs, observer);
        observer.done_reading();
        match streamed {
            Err(e) => match e.downcast_ref::<TypeChanged>() {
                Some(changed) => observer.info(&format!("{changed}: the input is read whole")),
                None => return Err(e),
            },
            ingested => return ingested,
        }
    }
    let tables = super::read_all(inputs, &options.read, observer)?;
    let ingested = crate::ingest::ingest(tables, customers, &options.ingest)?;
    let rejects_file = match outputs.rejects {
        Some(path) => {
            let mut frame = rejects_frame(&ingested.rejects, outputs.guard_rejects)?;
            Some(crate::io::atomic::stage(path, |w| {
                Ok(CsvWriter::new(w).include_header(true).finish(&mut frame)?)
            })?)
        }
        None => None,
    };
    Ok(Ingested {
        kept: Kept::Whole(ingested.transactions),
        rejects_file,
        first_rejects: ingested.rejects,
        report: ingested.report,
    })
}

/// [`ingest`] a batch at a time ([`super::stream_ingest`]).
fn streamed(
    opened: &[crate::io::source::Opened],
    batches: &RowBatches,
    format: OutputFormat,
    outputs: &IngestOutputs,
    observer: &dyn Observer,
) -> Result<Ingested> {
    let out_path = outputs.rows.unwrap_or(Path::new("<stdout>"));
    let rejects_path = outputs.rejects.unwrap_or(out_path);
    let mut out = RowsOut::open(outputs.rows)?;
    let mut rejects_out = outputs.rejects.map(Stage::open).transpose()?;
    let mut first_rejects = Vec::new();
    let report = {
        let mut writer = BatchWriter::new(format, out.writer())
            .ok_or_else(|| anyhow::anyhow!("{format:?} is not written a batch at a time"))?;
        let mut rejects_writer = rejects_out.as_mut().map(|stage| (stage.writer(), true));
        let report = super::stream_ingest(
            opened,
            batches,
            &|n| observer.read(n),
            &mut |rows| {
                let rows = match outputs.guard_rows {
                    true => crate::io::spreadsheet::guard_formulas(&rows)?,
                    false => rows,
                };
                writer
                    .write(&rows)
                    .with_context(|| format!("writing {}", out_path.display()))
            },
            &mut |rejects| {
                if let Some((out, header)) = &mut rejects_writer {
                    let mut frame = rejects_frame(&rejects, outputs.guard_rejects)?;
                    CsvWriter::new(&mut **out)
                        .include_header(*header)
                        .finish(&mut frame)
                        .map_err(anyhow::Error::from)
                        .with_context(|| format!("writing {}", rejects_path.display()))?;
                    *header = false;
                }
                let room = super::REJECTS_KEPT.saturating_sub(first_rejects.len());
                first_rejects.extend(rejects.into_iter().take(room));
                Ok(())
            },
        )?;
        writer
            .finish()
            .with_context(|| format!("writing {}", out_path.display()))?;
        report
    };
    for input in &report.inputs {
        observer.info(&format!(
            "{}: {}{}{}, {} rows",
            input.name,
            input.format,
            (input.delimiter.as_ref())
                .map(|d| format!(", delimiter '{d}'"))
                .unwrap_or_default(),
            (input.encoding.as_ref())
                .map(|e| format!(", encoding {e}"))
                .unwrap_or_default(),
            input.rows
        ));
    }
    Ok(Ingested {
        kept: out.finish()?,
        rejects_file: rejects_out.map(Stage::finish).transpose()?,
        first_rejects,
        report,
    })
}

/// Where the batches of kept rows are written.
enum RowsOut {
    /// The output file, staged.
    File(Stage),
    /// Stdout's rows, in a temporary file until every check has passed.
    Stdout(TempFile, std::io::BufWriter<std::fs::File>),
}

impl RowsOut {
    /// The output file staged, or a temporary file for stdout.
    fn open(path: Option<&Path>) -> Result<RowsOut> {
        Ok(match path {
            Some(path) => RowsOut::File(Stage::open(path)?),
            None => {
                let temp = TempFile::new(".rows")?;
                let file = std::fs::File::create(temp.path())
                    .with_context(|| format!("writing {}", temp.path().display()))?;
                RowsOut::Stdout(temp, std::io::BufWriter::new(file))
            }
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            RowsOut::File(stage) => stage.writer(),
            RowsOut::Stdout(_, writer) => writer,
        }
    }

    /// The rows written, ready to be put in place or copied.
    fn finish(self) -> Result<Kept> {
        Ok(match self {
            RowsOut::File(stage) => Kept::Staged(stage.finish()?),
            RowsOut::Stdout(temp, mut writer) => {
                writer.flush().context("writing a temporary file")?;
                Kept::Spooled(temp)
            }
        })
    }
}

/// Rejects as a frame with the columns source, line, reason, raw; their
/// raw text guarded against spreadsheets' formulas when `guard`.
fn rejects_frame(rejects: &[Reject], guard: bool) -> Result<DataFrame> {
    let frame = df!(
        "source" => rejects.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(),
        "line" => rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
        "reason" => rejects.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
        "raw" => rejects.iter().map(|r| r.raw.as_str()).collect::<Vec<_>>(),
    )?;
    match guard {
        true => crate::io::spreadsheet::guard_formulas(&frame),
        false => Ok(frame),
    }
}
