//! Writing frames: format choice, the writers, and atomic file replacement.
//!
//! Files are never written in place: the data goes to a temporary file in
//! the target's folder, which is flushed, fsynced and renamed over the
//! target, and the folder is fsynced. A crash or an error leaves the old
//! file or the new one, never half of one.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Writes `frame` in `format` to `out`.
pub fn write_frame(
    frame: &mut DataFrame,
    format: OutputFormat,
    style: &TableStyle,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        OutputFormat::Csv | OutputFormat::Tsv => {
            // checked before a byte is written: CSV has no nested values
            if let Some(nested) = frame.columns().iter().find(|c| c.dtype().is_nested()) {
                bail!(usage(format!(
                    "column '{}' holds nested data ({}), which {} cannot hold: write Parquet, \
                     Arrow or JSON (-o out.parquet), or leave it out (--columns)",
                    nested.name(),
                    nested.dtype(),
                    format.name().to_uppercase()
                )));
            }
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
/// only one slice's dates are text at once (the two date columns of 7.5 M
/// customers as text take 240 MB, and at 50 M lines the write went from
/// 4.8 to 3.8-4.2 s).
fn write_csv(
    frame: &DataFrame,
    separator: u8,
    slice_rows: usize,
    out: &mut dyn Write,
) -> Result<()> {
    let slices = frame.height().div_ceil(slice_rows).max(1);
    for i in 0..slices {
        let mut text = dates_as_text(&frame.slice((i * slice_rows) as i64, slice_rows))?;
        // batches of 65,536 rows per thread, not 1,024: fewer rounds of
        // slicing, rechunking and waiting for the other thread
        CsvWriter::new(&mut *out)
            .with_batch_size(CSV_BATCH_ROWS)
            .include_header(i == 0)
            .with_separator(separator)
            .finish(&mut text)?;
    }
    Ok(())
}

/// Runs `produce` on another thread, writing what it produces to `out` on
/// this one as it comes. polars' CSV writer formats a batch of rows on all
/// cores, then writes it, then formats the next: with the writing here,
/// the cores format while the kernel takes the previous batch (value on
/// 10 M lines: write 0.78 s -> 0.6 s). The producer owns its [`HandOver`],
/// so polars' sinks, which need a writer of their own, can take it too. The
/// first error of either side is returned; a failed write stops the
/// producer.
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
/// in-memory `ParquetWriter` takes them one at a time (ingest of 10 M
/// lines: write 2.7 -> 1.9 s). zstd level 1: on 10 M rows 0.75 s faster than
/// the default level, for a file 5% larger.
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
/// through chrono's Debug: 0.3 s for the 3 M dates of a 1.5 M-customer
/// table).
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

/// Whether [`write_atomically`] also makes files durable (see [`set_durable`]).
static DURABLE: AtomicBool = AtomicBool::new(false);

/// Makes [`write_atomically`] fsync each file before renaming it into place,
/// and its folder after, so that the new file survives a power loss, not
/// only a crash of cpm. Off by default: flushing a 300 MB output to disk
/// takes longer than computing it.
pub fn set_durable(durable: bool) {
    DURABLE.store(durable, Ordering::Relaxed);
}

/// Creates or replaces `path` atomically with what `fill` writes: a reader
/// sees the old file or the complete new one, never a part, even when cpm
/// is killed. A path that is not a regular file (`/dev/stdout`, a named
/// pipe) is written in place: renaming over it would replace the device.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    stage(path, fill)?.commit()
}

/// An output written to its temporary file and not yet renamed into
/// place: several outputs of one run are all staged first and committed
/// only when every one was written ([`commit_all`]), so a failure (a full
/// disk for the second of two) leaves every previous file as it was.
/// Dropped uncommitted, the temporary file is removed.
pub struct Staged {
    path: PathBuf,
    /// None for a device, which was written directly.
    temp: Option<tempfile::NamedTempFile>,
}

/// Writes `fill` to a temporary file beside `path` (a device directly).
pub fn stage(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<Staged> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let device = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut writer = BufWriter::new(device);
        fill(&mut writer).with_context(|| format!("writing {}", path.display()))?;
        writer
            .flush()
            .with_context(|| format!("writing {}", path.display()))?;
        return Ok(Staged {
            path: path.to_path_buf(),
            temp: None,
        });
    }
    let dir = parent_dir(path);
    remove_stale_temps(&dir);
    let mut builder = temp_builder();
    // A new file gets the usual 0666 less the umask (tempfile's 0600 would
    // surprise whoever reads the output); a replaced file keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(match std::fs::metadata(path) {
            Ok(meta) => meta.permissions(),
            Err(_) => std::fs::Permissions::from_mode(0o666),
        });
    }
    let temp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut writer = BufWriter::new(temp);
    fill(&mut writer).with_context(|| format!("writing {}", path.display()))?;
    let temp = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    if DURABLE.load(Ordering::Relaxed) {
        temp.as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
    }
    Ok(Staged {
        path: path.to_path_buf(),
        temp: Some(temp),
    })
}

impl Staged {
    /// Renames the temporary file over the output.
    pub fn commit(self) -> Result<()> {
        let Some(temp) = self.temp else {
            return Ok(());
        };
        let path = &self.path;
        temp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        if DURABLE.load(Ordering::Relaxed) {
            // make the rename itself durable
            if let Ok(d) = File::open(parent_dir(path)) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Commits every staged output, in order.
pub fn commit_all(staged: Vec<Staged>) -> Result<()> {
    staged.into_iter().try_for_each(Staged::commit)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses an output that would overwrite one of the inputs, before anything
/// is read. Paths are compared after resolving links and `..`.
pub fn refuse_overwriting_inputs(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    let Some(out) = resolve(output) else {
        return Ok(());
    };
    for input in inputs {
        if resolve(input).as_deref() == Some(out.as_path()) {
            return Err(usage(format!(
                "output {} is also an input: refusing to overwrite it (write elsewhere, then rename)",
                output.display()
            )));
        }
    }
    Ok(())
}

fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    Some(parent_dir(path).canonicalize().ok()?.join(name))
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

/// Fails unless `path`'s folder exists, so a bad `-o` is reported before
/// any work is done.
pub fn check_writable_target(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        // a device or pipe is written in place
        return Ok(());
    }
    // the folder must take the temporary file the output is written to:
    // find out now, not after the work (a read-only folder, a full disk)
    temp_builder().tempfile_in(&dir).map(drop).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {}: {}",
            path.display(),
            crate::io::source::io_reason(&e)
        )
    })
}

/// The prefix of cpm's temporary files: `.cpm-PID-` and a random part, so
/// a later run can tell the files of a run that was killed.
fn temp_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| format!(".cpm-{}-", std::process::id()))
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(temp_prefix()).suffix(".tmp");
    builder
}

/// Removes the temporary files that runs killed before they could rename
/// them left in `dir`: `.cpm-PID-*.tmp` whose process is gone (on systems
/// without /proc, older than a day).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let procfs = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".cpm-"))
            .filter(|n| n.ends_with(".tmp"))
            .and_then(|n| n.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let dead = if procfs {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 86_400))
        };
        if dead {
            let _ = std::fs::remove_file(entry.path());
        }
    }
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

    #[cfg(unix)]
    #[test]
    fn pipes_and_devices_are_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, |w| Ok(w.write_all(b"through the pipe")?)).unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn atomic_write_leaves_old_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let failed = write_atomically(&target, |w| {
            w.write_all(b"half")?;
            bail!("boom")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&target, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
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
