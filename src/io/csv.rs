//! The validating CSV reader.
//!
//! polars' CSV reader is fast but reports no line for a ragged row, no
//! position for invalid UTF-8, and fills short rows with nulls; the csv crate
//! silently accepts an unterminated quote at the end of a file. This reader
//! makes one streaming pass with the csv crate and keeps, for every row, the
//! physical line it started on, so every later error or reject can name it:
//!
//! - ragged rows become rejects (`ragged row: 3 fields, expected 5`);
//! - invalid UTF-8 is an error naming line and column and suggesting
//!   `--encoding`;
//! - quote characters are counted on the way through (a byte count, nearly
//!   free). Well-formed quoting always has an even count; only when it is odd
//!   is the input read a second time, by a strict quote checker that names
//!   the line and column where a quoted field opened and never closed.
//!
//! Every value comes out as a string (typing is `schema`'s job), trimmed,
//! with empty fields and `--null-values` tokens as nulls.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};
use encoding_rs::Encoding;
use encoding_rs_io::DecodeReaderBytesBuilder;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::source::Opened;
use crate::error::InputError;

/// Name of the column that carries each row's line (CSV) or row (other
/// formats) number through validation. Never written to outputs.
pub const LINE_COLUMN: &str = "__cpm_line";

/// How many bytes are sampled to sniff the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// Text encodings cpm can decode (`--encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// UTF-8 (the default; a BOM is stripped).
    Utf8,
    /// ISO-8859-1. Decoded as Windows-1252, its superset in practice (the
    /// WHATWG encoding standard does the same).
    Latin1,
    /// Windows-1252, the usual encoding of Excel exports in Western Europe.
    Windows1252,
    /// UTF-16, little-endian unless a BOM says otherwise.
    Utf16,
}

impl TextEncoding {
    /// Parses `utf-8`, `latin1`, `iso-8859-1`, `windows-1252`, `cp1252`, `utf-16`...
    pub fn parse(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match key.as_str() {
            "utf8" => TextEncoding::Utf8,
            "latin1" | "iso88591" | "l1" => TextEncoding::Latin1,
            "windows1252" | "cp1252" => TextEncoding::Windows1252,
            "utf16" | "utf16le" => TextEncoding::Utf16,
            _ => return None,
        })
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Latin1 | TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252,
            TextEncoding::Utf16 => encoding_rs::UTF_16LE,
        }
    }
}

/// The CSV dialect options a user can set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CsvOptions {
    /// Field delimiter; sniffed among `,` `;` tab `|` when absent.
    pub delimiter: Option<u8>,
    /// Text encoding; UTF-8 (BOM or not) or BOM-marked UTF-16 when absent.
    pub encoding: Option<TextEncoding>,
    /// The first line is data, not a header (columns become `column_1`...).
    pub no_header: bool,
    /// Lines to skip before the header (a preamble).
    pub skip_rows: usize,
    /// Extra tokens read as null (empty fields always are).
    pub null_values: Vec<String>,
}

/// A row the reader could not use, with its line and reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReject {
    /// Physical line where the row starts.
    pub line: u64,
    /// Why it was rejected.
    pub reason: String,
    /// The row's fields, joined with the delimiter.
    pub raw: String,
}

/// What the reader produced from one CSV input.
pub struct CsvTable {
    /// One string column per header field, plus [`LINE_COLUMN`].
    pub frame: DataFrame,
    /// Ragged rows.
    pub rejects: Vec<RawReject>,
    /// The delimiter used (sniffed or given).
    pub delimiter: u8,
    /// The encoding the bytes were decoded from, e.g. `utf-8`, `utf-16le`.
    pub encoding: String,
}

/// Reads one CSV input. `progress` is called with the number of bytes
/// consumed since its last call.
pub fn read_csv(opened: &Opened, opts: &CsvOptions, progress: &dyn Fn(u64)) -> Result<CsvTable> {
    let name = &opened.name;
    let encoding = encoding_label(opened, opts)?;
    let mut decoded = decoder(opened, opts)?;

    let mut sample = Vec::with_capacity(SNIFF_BYTES);
    (&mut decoded)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut sample)
        .with_context(|| format!("reading {name}"))?;
    if sample.iter().all(|b| b.is_ascii_whitespace()) {
        bail!(InputError::file(name, "empty file: no header and no rows"));
    }
    let skip_at = skip_lines(&sample, opts.skip_rows);
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(&sample[skip_at..]),
    };
    let rows_hint = estimate_rows(&sample[skip_at..], opened.size);
    let body = io::Cursor::new(sample[skip_at..].to_vec()).chain(decoded);
    let mut tracked = Tracked::new(body, progress);
    let line_offset = opts.skip_rows as u64;

    let (frame, rejects) = {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(&mut tracked);
        parse_records(&mut reader, name, opts, delimiter, line_offset, rows_hint)?
    };

    if tracked.quotes % 2 == 1 {
        let mut reader = BufReader::new(decoder(opened, opts)?);
        for _ in 0..opts.skip_rows {
            reader.read_until(b'\n', &mut Vec::new())?;
        }
        let names = header_names(&frame);
        if let Some(problem) = check_quotes(reader, delimiter)? {
            let column = names
                .get(problem.field)
                .cloned()
                .unwrap_or_else(|| format!("#{}", problem.field + 1));
            bail!(
                InputError::at_line(name, problem.line + line_offset, problem.message)
                    .in_column(column)
            );
        }
    }
    Ok(CsvTable {
        frame,
        rejects,
        delimiter,
        encoding,
    })
}

fn header_names(frame: &DataFrame) -> Vec<String> {
    frame
        .get_column_names()
        .into_iter()
        .filter(|n| n.as_str() != LINE_COLUMN)
        .map(|n| n.to_string())
        .collect()
}

/// The reader after decoding: transcoded to UTF-8 when an encoding is given
/// or a UTF-16 BOM is found; a UTF-8 BOM is stripped.
fn decoder<'a>(opened: &'a Opened, opts: &CsvOptions) -> Result<Box<dyn Read + 'a>> {
    let raw = opened.reader()?;
    let mut builder = DecodeReaderBytesBuilder::new();
    builder.strip_bom(true).bom_sniffing(true);
    if let Some(enc) = opts.encoding {
        builder.encoding(Some(enc.encoding()));
    }
    Ok(Box::new(builder.build(raw)))
}

fn encoding_label(opened: &Opened, opts: &CsvOptions) -> Result<String> {
    let mut head = [0u8; 3];
    let n = opened.reader()?.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    Ok(if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        "utf-8 (BOM)".to_string()
    } else if head.starts_with(&[0xff, 0xfe]) {
        "utf-16le".to_string()
    } else if head.starts_with(&[0xfe, 0xff]) {
        "utf-16be".to_string()
    } else {
        match opts.encoding {
            None | Some(TextEncoding::Utf8) => "utf-8",
            Some(TextEncoding::Latin1) => "latin1",
            Some(TextEncoding::Windows1252) => "windows-1252",
            Some(TextEncoding::Utf16) => "utf-16le",
        }
        .to_string()
    })
}

/// About how many rows an input of `size` bytes that starts with `sample`
/// has (for a compressed input, fewer than it has), so that the column
/// builders do not copy their buffers each time they grow.
fn estimate_rows(sample: &[u8], size: u64) -> usize {
    let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
    let estimate = size as f64 / (sample.len() as f64 / lines as f64) * 1.05;
    (estimate as usize).min(1 << 28)
}

/// Byte offset just after the first `n` lines of `sample`.
fn skip_lines(sample: &[u8], n: usize) -> usize {
    let mut at = 0;
    for _ in 0..n {
        match memchr::memchr(b'\n', &sample[at..]) {
            Some(i) => at += i + 1,
            None => return sample.len(),
        }
    }
    at
}

/// Records per batch handed from the parsing thread to the building thread.
const BATCH_RECORDS: usize = 4096;

/// Parses records on this thread and builds the columns on another: the
/// csv crate's parser and the column builders each keep one core busy.
/// Batches of records travel over a bounded channel and come back empty to
/// be refilled, so records are not reallocated.
fn parse_records<R: Read>(
    reader: &mut csv::Reader<R>,
    name: &str,
    opts: &CsvOptions,
    delimiter: u8,
    line_offset: u64,
    rows_hint: usize,
) -> Result<(DataFrame, Vec<RawReject>)> {
    let read = |reader: &mut csv::Reader<R>, record: &mut csv::ByteRecord| {
        reader
            .read_byte_record(record)
            .map_err(|e| csv_error(name, e, line_offset))
    };
    let line_of =
        |record: &csv::ByteRecord| record.position().map_or(0, |p| p.line()) + line_offset;

    let mut first = csv::ByteRecord::new();
    if !read(reader, &mut first)? {
        bail!(InputError::file(name, "empty file: no header and no rows"));
    }
    let names = if opts.no_header {
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    } else {
        header_from_record(&first, name, line_of(&first))?
    };
    let mut columns = ColumnBuilders::new(name, names, &opts.null_values, rows_hint);
    let width = columns.names.len();
    let mut rejects = Vec::new();

    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<csv::ByteRecord>>(4);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<csv::ByteRecord>>();
        let builder = scope.spawn(move || -> Result<ColumnBuilders> {
            for batch in full_rx {
                for record in &batch {
                    columns.push(record, line_offset)?;
                }
                let _ = empty_tx.send(batch);
            }
            Ok(columns)
        });

        let mut spare: Vec<csv::ByteRecord> = Vec::new();
        let mut batch: Vec<csv::ByteRecord> = Vec::with_capacity(BATCH_RECORDS);
        if opts.no_header {
            batch.push(first);
        }
        let parsed: Result<()> = loop {
            if spare.is_empty()
                && let Ok(returned) = empty_rx.try_recv()
            {
                spare = returned;
            }
            let mut record = spare.pop().unwrap_or_default();
            match read(reader, &mut record) {
                Err(e) => break Err(e),
                Ok(false) => break Ok(()),
                Ok(true) => {}
            }
            if record.len() != width {
                rejects.push(RawReject {
                    line: line_of(&record),
                    reason: format!("ragged row: {} fields, expected {width}", record.len()),
                    raw: join_lossy(&record, delimiter),
                });
                spare.push(record);
                continue;
            }
            batch.push(record);
            if batch.len() == BATCH_RECORDS {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_RECORDS));
                if full_tx.send(full).is_err() {
                    break Ok(()); // the builder stopped on an error it reports below
                }
            }
        };
        if !batch.is_empty() {
            let _ = full_tx.send(batch);
        }
        drop(full_tx);
        let columns = builder
            .join()
            .map_err(|_| anyhow::anyhow!("the CSV column builder panicked"))??;
        parsed?;
        Ok((columns.finish()?, std::mem::take(&mut rejects)))
    })
}

/// Column builders for the string columns of one CSV input.
struct ColumnBuilders {
    file: String,
    names: Vec<String>,
    nulls: Vec<String>,
    builders: Vec<StringChunkedBuilder>,
    lines: Vec<u64>,
}

impl ColumnBuilders {
    fn new(file: &str, names: Vec<String>, nulls: &[String], rows_hint: usize) -> Self {
        let builders = names
            .iter()
            .map(|n| StringChunkedBuilder::new(n.as_str().into(), rows_hint))
            .collect();
        ColumnBuilders {
            file: file.to_string(),
            names,
            nulls: nulls.iter().map(|s| s.trim().to_string()).collect(),
            builders,
            lines: Vec::with_capacity(rows_hint),
        }
    }

    /// Appends one record of the right width: values trimmed, empty fields
    /// and null tokens as nulls; invalid UTF-8 is an error naming the line
    /// and column.
    fn push(&mut self, record: &csv::ByteRecord, line_offset: u64) -> Result<()> {
        let line = record.position().map_or(0, |p| p.line()) + line_offset;
        for (i, (field, builder)) in record.iter().zip(self.builders.iter_mut()).enumerate() {
            let text = std::str::from_utf8(field)
                .map_err(|e| not_utf8(&self.file, line, &self.names[i], field, e.valid_up_to()))?;
            let text = text.trim();
            if text.is_empty() || self.nulls.iter().any(|n| n == text) {
                builder.append_null();
            } else {
                builder.append_value(text);
            }
        }
        self.lines.push(line);
        Ok(())
    }

    fn finish(self) -> Result<DataFrame> {
        let height = self.lines.len();
        let mut columns: Vec<Column> = self
            .builders
            .into_iter()
            .map(|b| b.finish().into_series().into_column())
            .collect();
        columns.push(Column::new(LINE_COLUMN.into(), self.lines));
        Ok(DataFrame::new(height, columns)?)
    }
}

fn header_from_record(record: &csv::ByteRecord, name: &str, line: u64) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let text = std::str::from_utf8(field)
            .map_err(|e| not_utf8(name, line, &format!("#{}", i + 1), field, e.valid_up_to()))?;
        let text = text.trim();
        let column = if text.is_empty() {
            format!("column_{}", i + 1)
        } else {
            text.to_string()
        };
        if let Some(j) = names.iter().position(|n| *n == column) {
            bail!(
                InputError::at_line(
                    name,
                    line,
                    format!(
                        "duplicate column name in the header (columns {} and {}); rename one, \
                         or use --no-header",
                        j + 1,
                        i + 1
                    )
                )
                .in_column(column)
            );
        }
        names.push(column);
    }
    Ok(names)
}

fn not_utf8(name: &str, line: u64, column: &str, field: &[u8], at: usize) -> anyhow::Error {
    let byte = field.get(at).copied().unwrap_or(0);
    InputError::at_line(
        name,
        line,
        format!(
            "invalid UTF-8 (byte 0x{byte:02X}); the file is not UTF-8: if it comes from Excel or \
             an older system, try --encoding windows-1252 (or latin1, utf-16)"
        ),
    )
    .in_column(column)
    .into()
}

fn csv_error(name: &str, err: csv::Error, line_offset: u64) -> anyhow::Error {
    let line = err.position().map(|p| p.line() + line_offset);
    match err.into_kind() {
        csv::ErrorKind::Io(e) => anyhow::Error::new(e).context(format!("reading {name}")),
        other => {
            let message = format!("{other:?}");
            match line {
                Some(line) => InputError::at_line(name, line, message).into(),
                None => InputError::file(name, message).into(),
            }
        }
    }
}

fn join_lossy(record: &csv::ByteRecord, delimiter: u8) -> String {
    let mut out = Vec::new();
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        out.extend_from_slice(field);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the delimiter among `,` `;` tab `|` that splits the sampled lines
/// into the same number of fields most consistently (ties: more fields,
/// then that order).
pub fn sniff_delimiter(sample: &[u8]) -> u8 {
    const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
    let mut lines: Vec<&[u8]> = sample.split(|&b| b == b'\n').take(50).collect();
    if lines.len() > 1 && sample.len() >= SNIFF_BYTES {
        lines.pop(); // probably cut short by the sample size
    }
    lines.retain(|l| !l.iter().all(|b| b.is_ascii_whitespace()));
    let mut best = (b',', 0usize, 0usize);
    for &candidate in &CANDIDATES {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| count_outside_quotes(l, candidate))
            .collect();
        let Some(&header) = counts.first() else {
            continue;
        };
        if header == 0 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&c| c == header).count();
        let score = (agreeing * 1000) / counts.len();
        if (score, header) > (best.1, best.2) {
            best = (candidate, score, header);
        }
    }
    best.0
}

fn count_outside_quotes(line: &[u8], delimiter: u8) -> usize {
    let mut quoted = false;
    let mut count = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            count += 1;
        }
    }
    count
}

/// A quoting problem found by [`check_quotes`].
#[derive(Debug, PartialEq)]
pub struct QuoteProblem {
    /// Line (relative to the checked text) where the quoted field opened.
    pub line: u64,
    /// 0-based field index of that field.
    pub field: usize,
    /// What is wrong.
    pub message: String,
}

/// Strict RFC 4180 quote check: finds a quoted field that never closes, or
/// one whose closing quote is followed by something other than a delimiter
/// or a line end. A quote inside an unquoted field is taken literally, as
/// the csv crate does (`5" screen`).
pub fn check_quotes(reader: impl BufRead, delimiter: u8) -> Result<Option<QuoteProblem>> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let (mut line, mut field) = (1u64, 0usize);
    let (mut open_line, mut open_field) = (0u64, 0usize);
    let mut state = State::FieldStart;
    for byte in reader.bytes() {
        let b = byte?;
        if b == b'\n' {
            line += 1;
        }
        if state == State::Quoted {
            if b == b'"' {
                state = State::QuoteInQuoted;
            }
            continue;
        }
        // outside quotes, a delimiter or a line end closes the field
        if b == delimiter || b == b'\n' {
            field = if b == delimiter { field + 1 } else { 0 };
            state = State::FieldStart;
            continue;
        }
        state = match state {
            State::FieldStart if b == b'"' => {
                open_line = line;
                open_field = field;
                State::Quoted
            }
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            _ if b == b'\r' => state,
            State::QuoteInQuoted => {
                return Ok(Some(QuoteProblem {
                    line: open_line,
                    field: open_field,
                    message: format!(
                        "malformed quoted field: the quote that opens it closes on line {line} \
                         and is followed by '{}' instead of a delimiter or a line end (a quote \
                         inside a quoted field must be doubled: \"\")",
                        char::from(b).escape_default()
                    ),
                }));
            }
            State::FieldStart | State::Unquoted | State::Quoted => State::Unquoted,
        };
    }
    Ok((state == State::Quoted).then(|| QuoteProblem {
        line: open_line,
        field: open_field,
        message: "unterminated quoted field: the quote that opens it never closes, so the \
                  rest of the file would be read as one value"
            .to_string(),
    }))
}

/// Counts bytes and quote characters on their way to the CSV parser.
struct Tracked<'p, R> {
    inner: R,
    quotes: u64,
    unreported: u64,
    progress: &'p dyn Fn(u64),
}

impl<'p, R: Read> Tracked<'p, R> {
    fn new(inner: R, progress: &'p dyn Fn(u64)) -> Self {
        Tracked {
            inner,
            quotes: 0,
            unreported: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.quotes += buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
        self.unreported += n as u64;
        if self.unreported >= 4 << 20 || n == 0 {
            (self.progress)(self.unreported);
            self.unreported = 0;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_consistent_delimiter() {
        assert_eq!(sniff_delimiter(b"a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n1,5;2;3\n4;5,5;6\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b\n\"x|y\"|2\n"), b'|');
        assert_eq!(sniff_delimiter(b"single\n1\n"), b',');
    }

    #[test]
    fn finds_unterminated_and_malformed_quotes() {
        let ok = check_quotes(&b"a,b\n\"x,\"\"y\"\"\",2\n5\" tv,3\n"[..], b',').unwrap();
        assert_eq!(ok, None);
        let open = check_quotes(&b"a,b\n1,2\n3,\"oops\n4,5\n"[..], b',')
            .unwrap()
            .unwrap();
        assert_eq!((open.line, open.field), (3, 1));
        assert!(open.message.contains("unterminated"));
        let spanning = check_quotes(&b"a,b\n\"x,\ny\",2\n3,\"open\n"[..], b',')
            .unwrap()
            .unwrap();
        assert_eq!((spanning.line, spanning.field), (4, 1));
        let bad = check_quotes(&b"a,b\n\"x\"y,2\n"[..], b',')
            .unwrap()
            .unwrap();
        assert_eq!((bad.line, bad.field), (2, 0));
        assert!(bad.message.contains("malformed"));
    }

    #[test]
    fn encoding_names() {
        assert_eq!(TextEncoding::parse("Latin-1"), Some(TextEncoding::Latin1));
        assert_eq!(
            TextEncoding::parse("windows-1252"),
            Some(TextEncoding::Windows1252)
        );
        assert_eq!(TextEncoding::parse("UTF-16"), Some(TextEncoding::Utf16));
        assert_eq!(TextEncoding::parse("ebcdic"), None);
    }
}
