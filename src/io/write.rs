//! Writing frames: format choice, the writers of every format, and stdout
//! for pipelines. Files are put in place atomically by [`super::atomic`].

use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::io::utils::file::{Writable, WritableTrait};
use polars::polars_utils::compression::ZstdLevel;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::table::{TableStyle, render_markdown, render_table};
use crate::error::usage;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Comma-separated values with a header.
    Csv,
    /// Tab-separated values with a header.
    Tsv,
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// Arrow IPC stream: the fast way to chain cpm commands (`.arrows`).
    Ipc,
    /// Arrow IPC file (`.arrow`, `.feather`): what pyarrow's file readers
    /// and Feather open.
    Arrow,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A table for people (comfy-table).
    Table,
    /// A Markdown table.
    Markdown,
}

impl OutputFormat {
    /// Every format, for help texts and parsing.
    pub const ALL: [OutputFormat; 9] = [
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Parquet,
        OutputFormat::Ipc,
        OutputFormat::Arrow,
        OutputFormat::Json,
        OutputFormat::Ndjson,
        OutputFormat::Table,
        OutputFormat::Markdown,
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Tsv => "tsv",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Ipc => "ipc",
            OutputFormat::Arrow => "arrow",
            OutputFormat::Json => "json",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Table => "table",
            OutputFormat::Markdown => "markdown",
        }
    }

    /// Parses a format name.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .or(match name.as_str() {
                "md" => Some(OutputFormat::Markdown),
                "arrows" => Some(OutputFormat::Ipc),
                "feather" => Some(OutputFormat::Arrow),
                "jsonl" => Some(OutputFormat::Ndjson),
                _ => None,
            })
    }

    /// Binary formats are refused on a terminal.
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            OutputFormat::Parquet | OutputFormat::Ipc | OutputFormat::Arrow
        )
    }

    /// The format a file name implies, if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => OutputFormat::Csv,
            "tsv" | "tab" => OutputFormat::Tsv,
            "parquet" | "pq" => OutputFormat::Parquet,
            "arrows" | "ipc" => OutputFormat::Ipc,
            "arrow" | "feather" => OutputFormat::Arrow,
            "json" => OutputFormat::Json,
            "ndjson" | "jsonl" => OutputFormat::Ndjson,
            "md" | "markdown" => OutputFormat::Markdown,
            "txt" => OutputFormat::Table,
            _ => return None,
        })
    }
}

/// Picks the output format: `--format` if given; else the extension of
/// `-o`; else CSV for a device or pipe named by `-o` (`/dev/null`,
/// `/dev/stdout`); else a table on a terminal and CSV on a pipe. Binary
/// formats on a terminal are a usage error.
pub fn choose_format(
    path: Option<&Path>,
    explicit: Option<OutputFormat>,
    stdout_is_terminal: bool,
) -> Result<OutputFormat> {
    let is_device = |p: &Path| std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir());
    let format = match (explicit, path) {
        (Some(f), _) => f,
        (None, Some(p)) if OutputFormat::from_path(p).is_none() && is_device(p) => {
            OutputFormat::Csv
        }
        (None, Some(p)) => OutputFormat::from_path(p).ok_or_else(|| {
            usage(format!(
                "cannot tell the output format from '{}': use an extension (.csv, .parquet, \
                 .arrow, .json, .ndjson, .md) or --format",
                p.display()
            ))
        })?,
        (None, None) if stdout_is_terminal => OutputFormat::Table,
        (None, None) => OutputFormat::Csv,
    };
    if path.is_none() && stdout_is_terminal && format.is_binary() {
        return Err(usage(format!(
            "refusing to write {} to a terminal: use -o FILE or pipe the output",
            format.name()
        )));
    }
    Ok(format)
}

/// A warning when `--format` and the extension of `-o` name different
/// formats: the file gets `--format`'s, whatever its name says.
pub fn format_mismatch(path: Option<&Path>, explicit: Option<OutputFormat>) -> Option<String> {
    let (path, explicit) = (path?, explicit?);
    let named = OutputFormat::from_path(path)?;
    (named != explicit).then(|| {
        format!(
            "{} is written as {} (--format), not the {} its extension names",
            path.display(),
            explicit.name(),
            named.name()
        )
    })
}

/// Rows of a table [`write_csv`] writes at a time.
const CSV_SLICE_ROWS: usize = 1 << 20;

/// Rows per thread and batch of the CSV writer (checked at compile time).
const CSV_BATCH_ROWS: NonZeroUsize = NonZeroUsize::new(1 << 16).unwrap();

/// A usage error when `frame` has a nested column (a list, a struct)
/// that `format` (CSV, TSV) cannot hold.
pub fn refuse_nested(frame: &DataFrame, format: OutputFormat) -> Result<()> {
    if let Some(nested) = frame.columns().iter().find(|c| c.dtype().is_nested()) {
        bail!(usage(format!(
            "column '{}' holds nested data ({}), which {} cannot hold: write Parquet, \
             Arrow or JSON (-o out.parquet), or leave it out (--columns)",
            nested.name(),
            nested.dtype(),
            format.name().to_uppercase()
        )));
    }
    Ok(())
}

/// Writes `frame` in `format` to `out`.
pub fn write_frame(
    frame: &mut DataFrame,
    format: OutputFormat,
    style: &TableStyle,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        OutputFormat::Csv | OutputFormat::Tsv => {
            // checked before a byte is written
            refuse_nested(frame, format)?;
            let separator = if format == OutputFormat::Csv {
                b','
            } else {
                b'\t'
            };
            writing_alongside(out, |mut w| {
                write_csv(frame, separator, CSV_SLICE_ROWS, &mut w)
            })?;
        }
        OutputFormat::Parquet => writing_alongside(out, |w| sink_parquet(frame, w))?,
        OutputFormat::Ipc => {
            IpcStreamWriter::new(out).finish(frame)?;
        }
        OutputFormat::Arrow => {
            IpcWriter::new(out).finish(frame)?;
        }
        OutputFormat::Json => {
            JsonWriter::new(&mut *out)
                .with_json_format(JsonFormat::Json)
                .finish(frame)?;
            // a text file ends with a newline
            out.write_all(b"\n")?;
        }
        OutputFormat::Ndjson => {
            JsonWriter::new(out)
                .with_json_format(JsonFormat::JsonLines)
                .finish(frame)?;
        }
        OutputFormat::Table => out.write_all(render_table(frame, style).as_bytes())?,
        OutputFormat::Markdown => out.write_all(render_markdown(frame, style).as_bytes())?,
    }
    Ok(())
}

/// Writes `frame` as CSV with a header, `slice_rows` rows at a time, so
/// only one slice's dates are text at once (the date columns of millions
/// of customers as text would take hundreds of MB, and be slower to write).
fn write_csv(
    frame: &DataFrame,
    separator: u8,
    slice_rows: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let slices = frame.height().div_ceil(slice_rows).max(1);
    for i in 0..slices {
        let slice = frame.slice((i * slice_rows) as i64, slice_rows);
        write_csv_rows(&slice, separator, i == 0, out)?;
    }
    Ok(())
}

/// Writes the rows of `frame` as CSV, after the header when `header`.
pub(super) fn write_csv_rows(
    frame: &DataFrame,
    separator: u8,
    header: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let mut text = dates_as_text(frame)?;
    // batches of 65,536 rows per thread, not 1,024: fewer rounds of
    // slicing, rechunking and waiting for the other thread
    CsvWriter::new(&mut *out)
        .with_batch_size(CSV_BATCH_ROWS)
        .include_header(header)
        .with_separator(separator)
        .finish(&mut text)?;
    Ok(())
}

/// Runs `produce` on another thread, writing what it produces to `out` on
/// this one as it comes. polars' CSV writer formats a batch of rows on all
/// cores, then writes it, then formats the next: with the writing here,
/// the cores format while the kernel takes the previous batch. The
/// producer owns its [`HandOver`], so polars' sinks, which need a writer of
/// their own, can take it too. The first error of either side is returned;
/// a failed write stops the producer.
fn writing_alongside(
    out: &mut dyn Write,
    produce: impl FnOnce(HandOver) -> Result<()> + Send,
) -> Result<()> {
    let (full, filled) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (spare, spares) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(HandOver { full, spares }));
        let mut failed = None;
        for mut buffer in filled.iter() {
            if let Err(e) = out.write_all(&buffer) {
                failed = Some(e);
                break;
            }
            buffer.clear();
            let _ = spare.send(buffer);
        }
        // a failed write drops the receiver: the producer's next hand-over
        // fails and it stops
        drop(filled);
        let produced = producer
            .join()
            .map_err(|_| anyhow::anyhow!("the output writer panicked"))?;
        match failed {
            Some(e) => Err(e.into()),
            None => produced,
        }
    })
}

/// The producer's side of [`writing_alongside`]: each write is copied into
/// a spare buffer (recycled, so the copies touch no new memory) and handed
/// over.
struct HandOver {
    full: std::sync::mpsc::SyncSender<Vec<u8>>,
    spares: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Write for HandOver {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.spares.try_recv().unwrap_or_default();
        buffer.extend_from_slice(bytes);
        self.full
            .send(buffer)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the output was closed"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What polars' sinks need of a writer besides `Write`; nothing to close or
/// sync here, the receiving side owns the file.
impl WritableTrait for HandOver {
    fn close(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes `frame` as zstd-compressed Parquet through polars' streaming
/// sink, which encodes and compresses row groups on all cores while the
/// in-memory `ParquetWriter` takes them one at a time. zstd level 1: much
/// faster than the default level, for a file a few percent larger.
fn sink_parquet(frame: &DataFrame, out: HandOver) -> Result<()> {
    let options = ParquetWriteOptions {
        compression: ParquetCompression::Zstd(Some(ZstdLevel::try_new(1)?)),
        ..Default::default()
    };
    let writer = Writable::Dyn(Box::new(out));
    let target = SinkTarget::Dyn(SpecialEq::new(Arc::new(std::sync::Mutex::new(Some(
        writer,
    )))));
    frame
        .clone()
        .lazy()
        .sink(
            SinkDestination::File { target },
            FileWriteFormat::Parquet(Arc::new(options)),
            UnifiedSinkArgs::default(),
        )?
        .collect_with_engine(Engine::Streaming)?;
    Ok(())
}

/// The frame with its Date columns as YYYY-MM-DD text, as polars' CSV
/// writer would write them, but ten times faster (it formats each date
/// through chrono's Debug).
fn dates_as_text(frame: &DataFrame) -> Result<DataFrame> {
    let mut out = frame.clone();
    for column in frame.columns() {
        if column.dtype() != &DataType::Date {
            continue;
        }
        let days = column.cast(&DataType::Int32)?;
        let mut text = StringChunkedBuilder::new(column.name().clone(), column.len());
        let mut buffer = String::with_capacity(16);
        for day in days.i32()?.iter() {
            match day {
                Some(day) => {
                    buffer.clear();
                    format_day(day, &mut buffer);
                    text.append_value(&buffer);
                }
                None => text.append_null(),
            }
        }
        out.with_column(text.finish().into_column())?;
    }
    Ok(out)
}

/// Writes the date `days` after 1970-01-01 as YYYY-MM-DD (years outside
/// 0..=9999 as chrono writes them).
fn format_day(days: i32, out: &mut String) {
    use chrono::Datelike;
    use std::fmt::Write as _;
    let Some(date) = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163) else {
        let _ = write!(out, "{days}");
        return;
    };
    let (year, month, day) = (date.year(), date.month(), date.day());
    if !(0..=9999).contains(&year) {
        let _ = write!(out, "{date}");
        return;
    }
    let digits = [
        year / 1000,
        year / 100 % 10,
        year / 10 % 10,
        year % 10,
        -1,
        (month / 10) as i32,
        (month % 10) as i32,
        -1,
        (day / 10) as i32,
        (day % 10) as i32,
    ];
    for d in digits {
        out.push(if d < 0 {
            '-'
        } else {
            char::from(b'0' + d as u8)
        });
    }
}

/// A stdout writer for pipelines: once the reader has gone (`cpm … | head`),
/// further output is discarded and [`StdoutSink::closed`] says so, so the
/// command can finish quietly with exit code 0.
pub struct StdoutSink {
    inner: io::StdoutLock<'static>,
    closed: bool,
}

impl StdoutSink {
    /// Locks stdout.
    pub fn new() -> Self {
        StdoutSink {
            inner: io::stdout().lock(),
            closed: false,
        }
    }

    /// Whether the reading end of the pipe closed.
    pub fn closed(&self) -> bool {
        self.closed
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        StdoutSink::new()
    }
}

impl Write for StdoutSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

/// Writes to stdout, buffered; a closed pipe is not an error.
pub fn write_stdout(fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let mut sink = BufWriter::with_capacity(1 << 16, StdoutSink::new());
    fill(&mut sink).context("writing to stdout")?;
    sink.flush().context("writing to stdout")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_chrono_writes_them() {
        for days in [
            -719_528,
            -1,
            0,
            19_000,
            20_000,
            2_932_896,
            2_932_897,
            100_000_000,
        ] {
            let mut ours = String::new();
            format_day(days, &mut ours);
            let chrono = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or(days.to_string(), |d| d.to_string());
            assert_eq!(ours, chrono, "{days}");
        }
    }

    #[test]
    fn csv_written_in_slices_is_the_csv_written_whole() {
        let days = [Some(0), None, Some(19_000), Some(-1), Some(20_000)];
        let mut frame = df!(
            "id" => ["a", "b,c", "d\"e", "", "f"],
            "day" => days,
            "x" => [1.5, f64::NAN, -0.0, 2.0, 1e300],
        )
        .unwrap();
        frame
            .with_column(frame.column("day").unwrap().cast(&DataType::Date).unwrap())
            .unwrap();
        let written = |slice_rows: usize, frame: &DataFrame| {
            let mut out = Vec::new();
            write_csv(frame, b',', slice_rows, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let whole = written(100, &frame);
        assert_eq!(
            whole,
            "id,day,x\na,1970-01-01,1.5\n\"b,c\",,NaN\n\"d\"\"e\",2022-01-08,-0.0\n\"\",\
             1969-12-31,2.0\nf,2024-10-04,1e+300\n"
        );
        for slice_rows in [1, 2, 4, 5] {
            assert_eq!(written(slice_rows, &frame), whole, "{slice_rows}");
        }
        // a header alone for an empty table
        assert_eq!(written(2, &frame.slice(0, 0)), "id,day,x\n");
    }

    #[test]
    fn format_from_flag_extension_or_terminal() {
        let p = Path::new("x.parquet");
        assert_eq!(
            choose_format(Some(p), None, true).unwrap(),
            OutputFormat::Parquet
        );
        assert_eq!(
            choose_format(Some(p), Some(OutputFormat::Csv), false).unwrap(),
            OutputFormat::Csv
        );
        assert_eq!(
            choose_format(None, None, true).unwrap(),
            OutputFormat::Table
        );
        assert_eq!(choose_format(None, None, false).unwrap(), OutputFormat::Csv);
        assert!(choose_format(None, Some(OutputFormat::Parquet), true).is_err());
        assert!(choose_format(Some(Path::new("x.weird")), None, false).is_err());
    }

    mod properties {
        use super::*;
        use crate::io::source::{Compression, InputFormat, Opened, Payload};
        use proptest::prelude::*;

        /// Text as exports have it: quotes, delimiters, line breaks,
        /// formula starts, non-ASCII; trimmed and non-empty, as the reader
        /// keeps values.
        fn text() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9 ,;|\"'=+@\\-\n\r\téü€中]{1,16}"
                .prop_map(|s| s.trim().to_string())
                .prop_filter("a value", |s| !s.is_empty())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(500))]

            /// What cpm writes as CSV, cpm reads back value for value.
            #[test]
            fn csv_write_then_read_keeps_every_value(
                rows in prop::collection::vec((text(), any::<f64>().prop_filter("finite", |v| v.is_finite())), 1..40)
            ) {
                let (texts, numbers): (Vec<String>, Vec<f64>) = rows.into_iter().unzip();
                let mut frame = df!("text" => &texts, "number" => &numbers).unwrap();
                let mut bytes = Vec::new();
                write_frame(&mut frame, OutputFormat::Csv, &TableStyle::default(), &mut bytes).unwrap();
                let opened = Opened {
                    name: "roundtrip.csv".to_string(),
                    size: bytes.len() as u64,
                    payload: Payload::Bytes(bytes),
                    format: InputFormat::Csv,
                    compression: Compression::None,
                };
                let read = crate::io::csv::read_csv(&opened, &Default::default(), &|_| {}).unwrap();
                prop_assert!(read.rejects.is_empty());
                let text_back: Vec<String> = read.frame.column("text").unwrap().str().unwrap()
                    .iter().map(|v| v.unwrap_or_default().to_string()).collect();
                prop_assert_eq!(text_back, texts);
                let numbers_back: Vec<f64> = read.frame.column("number").unwrap().str().unwrap()
                    .iter().map(|v| v.unwrap().parse().unwrap()).collect();
                prop_assert_eq!(numbers_back, numbers);
            }
        }
    }
}
