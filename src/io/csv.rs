//! The validating CSV reader.
//!
//! polars' CSV reader is fast but reports no line for a ragged row, no
//! position for invalid UTF-8, and fills short rows with nulls; the csv crate
//! silently accepts an unterminated quote at the end of a file. This reader
//! makes one pass with the csv crate, on all cores (the input is cut into
//! blocks of whole records, parsed side by side and put back in order), and
//! keeps, for every row, the physical line it started on, so every later
//! error or reject can name it:
//!
//! - ragged rows become rejects (`ragged row: 3 fields, expected 5`);
//! - invalid UTF-8 is an error naming line and column and suggesting
//!   `--encoding`;
//! - quote characters are counted on the way through (a byte count, nearly
//!   free). Well-formed quoting always has an even count; only when it is odd
//!   is the input read a second time, by a strict quote checker that names
//!   the line and column where a quoted field opened and never closed;
//! - a quoted field longer than `max_field_size` or spanning more than
//!   `max_field_lines` lines is an error naming where it opens and closes:
//!   a stray quote pair (`"he said` ... `hi"`) would otherwise join every
//!   row between into one value. Rows with line breaks in a field are
//!   counted ([`LineBreaks`]) for the quality report.
//!
//! Every value comes out as a string (typing is `schema`'s job), trimmed,
//! with empty fields and `--null-values` tokens as nulls.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

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

/// The default of [`CsvOptions::max_field_size`]: 1 MiB.
pub const DEFAULT_MAX_FIELD_SIZE: usize = 1 << 20;

/// The default of [`CsvOptions::max_field_lines`].
pub const DEFAULT_MAX_FIELD_LINES: u64 = 100;

/// The CSV dialect options a user can set.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// The most bytes one field may hold: a quoted field longer than this
    /// is an error naming the lines where it opens and closes (a stray
    /// quote pair would otherwise join every row between into one value).
    pub max_field_size: usize,
    /// The most physical lines one quoted field may span (ditto).
    pub max_field_lines: u64,
    /// The character that escapes a quote inside a quoted field (`\`), for
    /// files that write `\"` instead of CSV's `""`; without it such a
    /// quote is an error naming its line.
    pub escape: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            encoding: None,
            no_header: false,
            skip_rows: 0,
            null_values: Vec::new(),
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            max_field_lines: DEFAULT_MAX_FIELD_LINES,
            escape: None,
        }
    }
}

/// Quoted fields that span lines, in the rows read: legitimate in free
/// text (an address, a note), a sign of stray quotes when they are many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LineBreaks {
    /// Rows with a line break inside a quoted field.
    pub rows: u64,
    /// The most physical lines one field spans (0 when no row has one).
    pub longest_span: u64,
}

/// Both counts, over two parts of the input.
impl std::ops::Add for LineBreaks {
    type Output = LineBreaks;

    fn add(self, other: LineBreaks) -> LineBreaks {
        LineBreaks {
            rows: self.rows + other.rows,
            longest_span: self.longest_span.max(other.longest_span),
        }
    }
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
    /// Rows whose quoted fields span lines.
    pub line_breaks: LineBreaks,
    /// What the caller should warn of (byte order marks inside the file,
    /// repeated headers).
    pub warnings: Vec<String>,
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
    if let Some(at) = memchr::memchr(0, &sample) {
        let line = count_byte(&sample[..at], b'\n') as u64 + 1;
        bail!(InputError::at_line(
            name,
            line,
            "binary data (a NUL byte): not a text file; cpm reads CSV, Parquet, Arrow, JSON, \
             NDJSON and Excel (a UTF-16 file needs its BOM, or --encoding utf-16)"
        ));
    }
    let skip_at = skip_lines(&sample, opts.skip_rows);
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(&sample[skip_at..]),
    };
    let body = io::Cursor::new(sample[skip_at..].to_vec()).chain(decoded);
    let mut tracked = Tracked::new(body, progress);
    let line_offset = opts.skip_rows as u64;
    let Parsed {
        frame,
        rejects,
        line_breaks,
        boms,
        headers,
    } = parse_records(
        &mut tracked,
        name,
        opts,
        delimiter,
        line_offset,
        BLOCK_BYTES,
    )?;

    if tracked.quotes % 2 == 1 {
        let mut reader = BufReader::new(decoder(opened, opts)?);
        for _ in 0..opts.skip_rows {
            reader.read_until(b'\n', &mut Vec::new())?;
        }
        let names = header_names(&frame);
        if let Some(problem) = check_quotes(reader, delimiter, opts.escape)? {
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
    let lines = |lines: &[u64]| match lines {
        [one] => format!("line {one}"),
        [first, ..] => format!(
            "{} lines (line {first} first)",
            crate::io::human::count(lines.len() as u64)
        ),
        [] => String::new(),
    };
    let mut warnings = Vec::new();
    if !boms.is_empty() {
        warnings.push(format!(
            "{name}: {} began with a byte order mark (files joined with cat?): removed",
            lines(&boms)
        ));
    }
    if !headers.is_empty() {
        warnings.push(format!(
            "{name}: {} repeated the header (files joined with cat?): skipped, not rows",
            lines(&headers)
        ));
    }
    Ok(CsvTable {
        frame,
        rejects,
        line_breaks,
        warnings,
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
/// or a UTF-16 BOM is found; a UTF-8 BOM is stripped. Input that needs no
/// transcoding is read as it is (the decoder would copy it 8 KiB at a time).
fn decoder<'a>(opened: &'a Opened, opts: &CsvOptions) -> Result<Box<dyn Read + 'a>> {
    let mut raw = opened.reader()?;
    if opts.encoding.is_none() {
        match head(opened)?.as_slice() {
            [0xef, 0xbb, 0xbf] => {
                raw.read_exact(&mut [0; 3])?;
                return Ok(raw);
            }
            [0xff, 0xfe, ..] | [0xfe, 0xff, ..] => {}
            _ => return Ok(raw),
        }
    }
    let mut builder = DecodeReaderBytesBuilder::new();
    builder.strip_bom(true).bom_sniffing(true);
    if let Some(enc) = opts.encoding {
        builder.encoding(Some(enc.encoding()));
    }
    Ok(Box::new(builder.build_with_buffer(raw, vec![0; 1 << 16])?))
}

/// The first three bytes of the input (fewer if it is shorter): where a
/// byte order mark would be.
fn head(opened: &Opened) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(3);
    opened.reader()?.take(3).read_to_end(&mut head)?;
    Ok(head)
}

fn encoding_label(opened: &Opened, opts: &CsvOptions) -> Result<String> {
    let head = head(opened)?;
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

/// Bytes per block handed to a parsing thread (blocks end on a record
/// boundary, so one long record makes its block longer).
const BLOCK_BYTES: usize = 8 << 20;

/// One block of whole records and where it starts in the input.
struct Block {
    /// Its place among the blocks, to put the parsed blocks back in order.
    index: usize,
    /// Lines before the block (of the body after skipped lines).
    lines_before: u64,
    /// Newlines in the block: an upper bound of its records.
    newlines: usize,
    bytes: Vec<u8>,
}

/// What [`parse_records`] made of an input.
struct Parsed {
    /// One string column per header field, plus [`LINE_COLUMN`].
    frame: DataFrame,
    /// Ragged rows.
    rejects: Vec<RawReject>,
    line_breaks: LineBreaks,
    /// Lines that began with a byte order mark, removed.
    boms: Vec<u64>,
    /// Lines that repeat the header, skipped.
    headers: Vec<u64>,
}

/// Parses the records: this thread reads the input in blocks of about
/// `block_bytes` that end on a record boundary and hands them to one
/// parsing thread per core; each parses its blocks into column chunks with
/// the csv crate, and the chunks are put back in input order. Line numbers
/// are exact: each block knows how many lines came before it.
fn parse_records(
    body: &mut dyn Read,
    name: &str,
    opts: &CsvOptions,
    delimiter: u8,
    line_offset: u64,
    block_bytes: usize,
) -> Result<Parsed> {
    let mut blocks = Blocks {
        body,
        file: name,
        pending: Vec::with_capacity(block_bytes),
        at_end: false,
        delimiter,
        block_bytes,
        max_field_size: opts.max_field_size,
        index: 0,
        lines_before: 0,
        line_offset,
        names: Vec::new(),
        escape: opts.escape,
    };
    // enough for the whole header
    blocks.first_record_end()?;
    let (names, lines_before) =
        read_header(&mut blocks.pending, name, opts, delimiter, line_offset)?;
    blocks.lines_before = lines_before;
    blocks.names = names.clone();
    let columns = Columns {
        file: name.to_string(),
        names,
        nulls: opts
            .null_values
            .iter()
            .map(|s| s.trim().to_string())
            .collect(),
        delimiter,
        line_offset,
        max_field_size: opts.max_field_size,
        max_field_lines: opts.max_field_lines,
        escape: opts.escape,
    };

    let workers = rayon::current_num_threads().max(1);
    let failed = AtomicBool::new(false);
    let (block_tx, block_rx) = mpsc::sync_channel::<Block>(workers);
    let block_rx = Mutex::new(block_rx);
    let mut parsed: Vec<(usize, Result<Chunk>)> = std::thread::scope(|scope| {
        let (chunk_tx, chunk_rx) = mpsc::channel();
        for _ in 0..workers {
            let (block_rx, chunk_tx, columns, failed) =
                (&block_rx, chunk_tx.clone(), &columns, &failed);
            scope.spawn(move || {
                while let Ok(Ok(block)) = block_rx.lock().map(|rx| rx.recv()) {
                    let chunk = columns.parse(&block);
                    if chunk.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if chunk_tx.send((block.index, chunk)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(chunk_tx);
        // a parsing thread's error stops the reading; it is reported below
        let read = loop {
            if failed.load(Ordering::Relaxed) {
                break Ok(());
            }
            match blocks.next_block() {
                Ok(Some(block)) => {
                    if block_tx.send(block).is_err() {
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        drop(block_tx);
        read.map(|()| chunk_rx.iter().collect())
    })?;

    // the first error in input order, else the chunks in input order
    parsed.sort_by_key(|(index, _)| *index);
    let chunks = parsed
        .into_iter()
        .map(|(_, chunk)| chunk)
        .collect::<Result<Vec<_>>>()?;
    columns.finish(chunks)
}

/// The column names from the header at the start of `pending`, which is
/// then removed from it, and the lines it took (as the csv crate counts
/// them); with `--no-header`, names `column_1`... as many as the first row
/// has fields, and the row stays.
fn read_header(
    pending: &mut Vec<u8>,
    name: &str,
    opts: &CsvOptions,
    delimiter: u8,
    line_offset: u64,
) -> Result<(Vec<String>, u64)> {
    let mut first = csv::ByteRecord::new();
    let mut reader = csv_reader(delimiter, opts.escape, &pending[..]);
    let found = reader
        .read_byte_record(&mut first)
        .map_err(|e| csv_error(name, e, line_offset))?;
    if !found {
        if opts.skip_rows > 0 {
            bail!(InputError::file(
                name,
                format!(
                    "nothing left after --skip-rows {}: the file has no more lines than that",
                    opts.skip_rows
                )
            ));
        }
        bail!(InputError::file(name, "empty file: no header and no rows"));
    }
    if opts.no_header {
        return Ok((
            (1..=first.len()).map(|i| format!("column_{i}")).collect(),
            0,
        ));
    }
    let line = record_line(&first, pending) + line_offset;
    let end = reader.position().clone();
    let names = header_from_record(&first, name, line)?;
    pending.drain(..end.byte() as usize);
    Ok((names, end.line() - 1))
}

/// The line `record`, read from `bytes`, starts on. The csv crate gives
/// the position where its read began, before the empty lines it skipped
/// and, after a CRLF line end, before the LF: those are counted here.
fn record_line(record: &csv::ByteRecord, bytes: &[u8]) -> u64 {
    let Some(position) = record.position() else {
        return 0;
    };
    let skipped = bytes
        .get(position.byte() as usize..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .filter(|&&b| b == b'\n')
        .count();
    position.line() + skipped as u64
}

/// Cuts the input into [`Block`]s of whole records.
struct Blocks<'a> {
    body: &'a mut dyn Read,
    /// The input's display name, for errors.
    file: &'a str,
    /// Read but not yet handed out; starts at a record boundary.
    pending: Vec<u8>,
    at_end: bool,
    delimiter: u8,
    block_bytes: usize,
    /// [`CsvOptions::max_field_size`]: how far a quoted field may run
    /// before reading stops, so that a stray quote cannot pull the rest of
    /// the input into memory.
    max_field_size: usize,
    index: usize,
    lines_before: u64,
    /// Lines skipped before the body (`--skip-rows`).
    line_offset: u64,
    /// The header's column names, once read (for errors).
    names: Vec<String>,
    /// [`CsvOptions::escape`].
    escape: Option<u8>,
}

impl Blocks<'_> {
    /// The next block, or `None` after the last.
    fn next_block(&mut self) -> Result<Option<Block>> {
        if self.at_end && self.pending.is_empty() {
            return Ok(None);
        }
        let cut = self.first_record_end()?;
        let mut rest = Vec::with_capacity(self.block_bytes + self.block_bytes / 8);
        rest.extend_from_slice(&self.pending[cut..]);
        let mut bytes = std::mem::replace(&mut self.pending, rest);
        bytes.truncate(cut);
        let newlines = count_byte(&bytes, b'\n');
        let block = Block {
            index: self.index,
            lines_before: self.lines_before,
            newlines,
            bytes,
        };
        self.index += 1;
        self.lines_before += newlines as u64;
        if !self.at_end {
            self.at_end = self.fill()?;
        }
        Ok(block.into())
    }

    /// Reads until `pending` holds a record end (or the input ends) and
    /// returns the offset just after the last record end in it (or its
    /// length, at the end of the input). A quoted field still open more
    /// than `max_field_size` bytes after its quote is an error naming the
    /// line the quote opened on.
    fn first_record_end(&mut self) -> Result<usize> {
        loop {
            let scan = scan_records(&self.pending, self.delimiter, self.escape);
            // (found again once the header, which names the column, is read)
            if let Some((at, field)) = scan.escaped_quote
                && !self.names.is_empty()
            {
                let line = self.line_at(at);
                bail!(
                    InputError::at_line(
                        self.file,
                        line,
                        "a quote escaped with a backslash (\\\") in a quoted field: CSV doubles \
                         a quote inside quotes (\"\"), so the value would be split or mangled; \
                         read this file with --escape '\\'"
                    )
                    .in_column(self.column_name(field))
                );
            }
            if self.at_end {
                return Ok(self.pending.len());
            }
            if let Some(cut) = scan.last_end {
                return Ok(cut);
            }
            if let Some((open, field)) = scan.open_quote
                && self.pending.len() - open > self.max_field_size
            {
                let line = self.line_at(open);
                let lines = count_byte(&self.pending[open..], b'\n') as u64;
                let column = self.column_name(field);
                bail!(
                    InputError::at_line(
                        self.file,
                        line,
                        format!(
                            "a quoted field opens on line {line} and runs past the limit of {} \
                             (--max-field-size) without its closing quote ({} over {} lines \
                             read). If the field is real, raise --max-field-size; else a stray \
                             or unterminated quote would make one value of the rows after it (a \
                             quote inside a quoted field is doubled: \"\")",
                            human_bytes(self.max_field_size),
                            human_bytes(self.pending.len() - open),
                            crate::io::human::count(lines + 1),
                        )
                    )
                    .in_column(column)
                );
            }
            // a record this long without a quote open holds a field past
            // the limit: binary data, or a file without line ends
            let longest = self
                .max_field_size
                .saturating_mul(self.names.len().max(1) + 1);
            if scan.open_quote.is_none() && self.pending.len() > longest {
                let line = self.lines_before + self.line_offset + 1;
                bail!(InputError::at_line(
                    self.file,
                    line,
                    format!(
                        "line {line} runs past {} without ending: a field past the limit of {} \
                         (--max-field-size), binary data, or a file without line ends",
                        human_bytes(self.pending.len()),
                        human_bytes(self.max_field_size),
                    )
                ));
            }
            // no record ends in what is pending: read on
            self.at_end = self.fill()?;
        }
    }

    /// The line of the byte at `offset` in `pending`.
    fn line_at(&self, offset: usize) -> u64 {
        self.lines_before + self.line_offset + 1 + count_byte(&self.pending[..offset], b'\n') as u64
    }

    /// The name of the field at `index` (`#n` past the header).
    fn column_name(&self, index: usize) -> String {
        self.names
            .get(index)
            .cloned()
            .unwrap_or_else(|| format!("#{}", index + 1))
    }

    /// Reads another `block_bytes` into `pending`; returns whether the
    /// input ended.
    fn fill(&mut self) -> Result<bool> {
        fill(self.body, &mut self.pending, self.block_bytes)
            .with_context(|| format!("reading {}", self.file))
    }
}

/// Reads from `input` until `buffer` holds `at_least` more bytes or the
/// input ends; returns whether it ended.
fn fill(input: &mut dyn Read, buffer: &mut Vec<u8>, at_least: usize) -> io::Result<bool> {
    let read = input.take(at_least as u64).read_to_end(buffer)?;
    Ok(read < at_least)
}

/// How many times `byte` occurs in `bytes`.
fn count_byte(bytes: &[u8], byte: u8) -> usize {
    memchr::memchr_iter(byte, bytes).count()
}

/// A byte size readably: `512 bytes`, `1.0 MiB`.
fn human_bytes(bytes: usize) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} bytes")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else {
        format!("{:.1} MiB", b / KIB / KIB)
    }
}

/// Where records end in a block, as [`scan_records`] found.
#[derive(Debug, PartialEq)]
struct RecordScan {
    /// The offset just after the last line end that ends a record.
    last_end: Option<usize>,
    /// The offset of the quote that opened a quoted field still open at
    /// the end of the block, and the field's index in its record.
    open_quote: Option<(usize, usize)>,
    /// Without an escape character: the first `\"` in a quoted field that
    /// the quote does not end (text follows it), and the field's index.
    escaped_quote: Option<(usize, usize)>,
}

/// Finds the last record end in `block`, which starts at the start of a
/// record, and the quoted field left open at its end: a line end inside a
/// quoted field ends no record. Quotes are read as the csv crate reads
/// them: a quote opens a quoted field only at the start of a field, `""`
/// inside one is a quote (so is `\"` with `escape`), and a quote inside an
/// unquoted field is literal (`5" screen`).
fn scan_records(block: &[u8], delimiter: u8, escape: Option<u8>) -> RecordScan {
    if memchr::memchr(b'"', block).is_none() {
        return RecordScan {
            last_end: memchr::memrchr(b'\n', block).map(|i| i + 1),
            open_quote: None,
            escaped_quote: None,
        };
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        Escaped,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let (mut last_end, mut opened, mut field) = (None, (0, 0), 0);
    let mut escaped_quote = None;
    for (i, &b) in block.iter().enumerate() {
        state = match state {
            State::Quoted if Some(b) == escape => State::Escaped,
            State::Escaped => State::Quoted,
            State::Quoted if b == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::FieldStart if b == b'"' => {
                opened = (i, field);
                State::Quoted
            }
            State::QuoteInQuoted if b == b'"' => State::Quoted,
            _ if b == b'\n' => {
                last_end = Some(i + 1);
                field = 0;
                State::FieldStart
            }
            _ if b == delimiter => {
                field += 1;
                State::FieldStart
            }
            _ if b == b'\r' => State::FieldStart,
            State::QuoteInQuoted => {
                // text after a closing quote: `\"` was meant as a quote
                if i >= 2 && block[i - 2] == b'\\' && escaped_quote.is_none() {
                    escaped_quote = Some((i - 2, field));
                }
                State::Unquoted
            }
            _ => State::Unquoted,
        };
    }
    RecordScan {
        last_end,
        open_quote: matches!(state, State::Quoted | State::Escaped).then_some(opened),
        escaped_quote,
    }
}

/// A csv crate reader with cpm's dialect over `input`.
fn csv_reader<R: Read>(delimiter: u8, escape: Option<u8>, input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .escape(escape)
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// How the records of one CSV input become string columns.
struct Columns {
    file: String,
    names: Vec<String>,
    nulls: Vec<String>,
    delimiter: u8,
    line_offset: u64,
    max_field_size: usize,
    max_field_lines: u64,
    escape: Option<u8>,
}

/// The columns of one block of records, with each row's line and the
/// block's ragged rows.
struct Chunk {
    columns: Vec<Series>,
    lines: Vec<u64>,
    rejects: Vec<RawReject>,
    line_breaks: LineBreaks,
    /// Lines that began with a byte order mark (removed).
    boms: Vec<u64>,
    /// Lines that repeat the header (skipped).
    headers: Vec<u64>,
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

impl Columns {
    /// Parses one block: values trimmed, empty fields and null tokens as
    /// nulls; a row of the wrong width is a reject; invalid UTF-8 is an
    /// error naming the line and column.
    fn parse(&self, block: &Block) -> Result<Chunk> {
        let width = self.names.len();
        let mut builders: Vec<StringChunkedBuilder> = self
            .names
            .iter()
            .map(|n| StringChunkedBuilder::new(n.as_str().into(), block.newlines + 1))
            .collect();
        let mut lines = Vec::with_capacity(block.newlines + 1);
        let mut rejects = Vec::new();
        let mut line_breaks = LineBreaks::default();
        let (mut boms, mut headers) = (Vec::new(), Vec::new());
        let mut reader = csv_reader(self.delimiter, self.escape, &block.bytes[..]);
        let mut record = csv::ByteRecord::new();
        let lines_before = block.lines_before + self.line_offset;
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| csv_error(&self.file, e, lines_before))?
        {
            let line = record_line(&record, &block.bytes) + lines_before;
            // files joined with `cat`: the next one's BOM starts a line
            if record.get(0).is_some_and(|f| f.starts_with(BOM)) {
                record = without_bom(&record);
                boms.push(line);
            }
            let whole = record.as_slice();
            if whole.len() > self.max_field_size || memchr::memchr(b'\n', whole).is_some() {
                line_breaks = line_breaks + self.check_spans(&record, line)?;
            }
            // a line of spaces is an empty line, not a row
            if record.len() == 1 && width > 1 && record[0].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // a header line, not a row (files joined with `cat`)
            if self.is_header(&record) {
                headers.push(line);
                continue;
            }
            if record.len() != width {
                rejects.push(RawReject {
                    line,
                    reason: format!("ragged row: {} fields, expected {width}", record.len()),
                    raw: join_lossy(&record, self.delimiter),
                });
                continue;
            }
            for (i, (field, builder)) in record.iter().zip(builders.iter_mut()).enumerate() {
                let text = std::str::from_utf8(field).map_err(|e| {
                    not_utf8(&self.file, line, &self.names[i], field, e.valid_up_to())
                })?;
                let text = trim(text);
                if text.is_empty() || self.nulls.iter().any(|n| n == text) {
                    builder.append_null();
                } else {
                    builder.append_value(text);
                }
            }
            lines.push(line);
        }
        Ok(Chunk {
            columns: builders
                .into_iter()
                .map(|b| b.finish().into_series())
                .collect(),
            lines,
            rejects,
            line_breaks,
            boms,
            headers,
        })
    }

    /// Whether `record` repeats the header.
    fn is_header(&self, record: &csv::ByteRecord) -> bool {
        let same = |field: &[u8], name: &String| {
            std::str::from_utf8(field).is_ok_and(|text| text.trim() == name)
        };
        record.len() == self.names.len()
            && record
                .get(0)
                .is_some_and(|first| same(first, &self.names[0]))
            && record.iter().zip(&self.names).all(|(f, n)| same(f, n))
    }

    /// The line breaks of a record that has some or is long, which starts
    /// on `line`; a field past [`CsvOptions::max_field_lines`] or
    /// [`CsvOptions::max_field_size`] is an error naming the lines where it
    /// opens and closes.
    fn check_spans(&self, record: &csv::ByteRecord, line: u64) -> Result<LineBreaks> {
        let mut found = LineBreaks::default();
        let mut opens = line;
        for (i, field) in record.iter().enumerate() {
            let breaks = count_byte(field, b'\n') as u64;
            let closes = opens + breaks;
            let past = if breaks + 1 > self.max_field_lines {
                Some(format!(
                    "spans {} lines (the limit is {}, --max-field-lines)",
                    crate::io::human::count(breaks + 1),
                    self.max_field_lines
                ))
            } else if field.len() > self.max_field_size {
                Some(format!(
                    "holds {} (the limit is {}, --max-field-size)",
                    human_bytes(field.len()),
                    human_bytes(self.max_field_size)
                ))
            } else {
                None
            };
            if let Some(past) = past {
                let column = self
                    .names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let message = if breaks == 0 {
                    format!("a field {past}; raise the limit if the field is real")
                } else {
                    format!(
                        "a quoted field opens on line {opens} and closes on line {closes}: it \
                         {past}, so a stray quote pair has probably made one value of every \
                         row between. Fix the quotes (a quote inside a quoted field is \
                         doubled: \"\"), or raise the limit if the field is real"
                    )
                };
                bail!(InputError::at_line(&self.file, opens, message).in_column(column));
            }
            if breaks > 0 {
                found.rows = 1;
                found.longest_span = found.longest_span.max(breaks + 1);
            }
            opens = closes;
        }
        Ok(found)
    }

    /// The chunks, in input order, as one frame (each column keeps one
    /// chunk per block: no copy) and their rejects.
    fn finish(&self, chunks: Vec<Chunk>) -> Result<Parsed> {
        let mut columns: Vec<Series> = self
            .names
            .iter()
            .map(|n| Series::new_empty(n.as_str().into(), &DataType::String))
            .collect();
        let mut lines = Vec::with_capacity(chunks.iter().map(|c| c.lines.len()).sum());
        let mut rejects = Vec::new();
        let mut line_breaks = LineBreaks::default();
        let (mut boms, mut headers) = (Vec::new(), Vec::new());
        for chunk in chunks {
            line_breaks = line_breaks + chunk.line_breaks;
            boms.extend(chunk.boms);
            headers.extend(chunk.headers);
            for (column, part) in columns.iter_mut().zip(chunk.columns) {
                column.append_owned(part)?;
            }
            lines.extend_from_slice(&chunk.lines);
            rejects.extend(chunk.rejects);
        }
        let height = lines.len();
        let mut columns: Vec<Column> = columns.into_iter().map(Column::from).collect();
        columns.push(Column::new(LINE_COLUMN.into(), lines));
        Ok(Parsed {
            frame: DataFrame::new(height, columns)?,
            rejects,
            line_breaks,
            boms,
            headers,
        })
    }
}

/// `record` with the byte order mark at the start of its first field
/// removed.
fn without_bom(record: &csv::ByteRecord) -> csv::ByteRecord {
    let mut fixed = csv::ByteRecord::with_capacity(record.as_slice().len(), record.len());
    for (i, field) in record.iter().enumerate() {
        fixed.push_field(if i == 0 { &field[BOM.len()..] } else { field });
    }
    fixed.set_position(record.position().cloned());
    fixed
}

/// `text` without surrounding whitespace; most values have none, and are
/// told by their first and last bytes without a Unicode-aware trim.
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(a), Some(z)) if is_plain(*a) && is_plain(*z) => text,
        _ => text.trim(),
    }
}

/// A byte that is neither ASCII whitespace nor part of a multi-byte
/// character (which could be Unicode whitespace).
fn is_plain(byte: u8) -> bool {
    byte.is_ascii() && !byte.is_ascii_whitespace()
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
pub fn check_quotes(
    reader: impl BufRead,
    delimiter: u8,
    escape: Option<u8>,
) -> Result<Option<QuoteProblem>> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        Escaped,
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
        if state == State::Escaped {
            state = State::Quoted;
            continue;
        }
        if state == State::Quoted {
            if Some(b) == escape {
                state = State::Escaped;
            } else if b == b'"' {
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
            State::FieldStart | State::Unquoted | State::Quoted | State::Escaped => State::Unquoted,
        };
    }
    Ok(
        matches!(state, State::Quoted | State::Escaped).then(|| QuoteProblem {
            line: open_line,
            field: open_field,
            message: "unterminated quoted field: the quote that opens it never closes, so the \
                  rest of the file would be read as one value"
                .to_string(),
        }),
    )
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
        self.quotes += count_byte(&buf[..n], b'"') as u64;
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
        let ok = check_quotes(&b"a,b\n\"x,\"\"y\"\"\",2\n5\" tv,3\n"[..], b',', None).unwrap();
        assert_eq!(ok, None);
        let open = check_quotes(&b"a,b\n1,2\n3,\"oops\n4,5\n"[..], b',', None)
            .unwrap()
            .unwrap();
        assert_eq!((open.line, open.field), (3, 1));
        assert!(open.message.contains("unterminated"));
        let spanning = check_quotes(&b"a,b\n\"x,\ny\",2\n3,\"open\n"[..], b',', None)
            .unwrap()
            .unwrap();
        assert_eq!((spanning.line, spanning.field), (4, 1));
        let bad = check_quotes(&b"a,b\n\"x\"y,2\n"[..], b',', None)
            .unwrap()
            .unwrap();
        assert_eq!((bad.line, bad.field), (2, 0));
        assert!(bad.message.contains("malformed"));
    }

    /// Parses `text` as one input cut into blocks of `block_bytes`.
    fn parse_in_blocks(
        text: &[u8],
        opts: &CsvOptions,
        block_bytes: usize,
    ) -> Result<(DataFrame, Vec<RawReject>, LineBreaks)> {
        parse_records(&mut &text[..], "t.csv", opts, b',', 0, block_bytes)
            .map(|p| (p.frame, p.rejects, p.line_breaks))
    }

    /// The values of the text column `name` of `frame`.
    fn texts<'a>(frame: &'a DataFrame, name: &str) -> Vec<Option<&'a str>> {
        frame.column(name).unwrap().str().unwrap().iter().collect()
    }

    #[test]
    fn blocks_of_any_size_read_as_one() {
        // quoted line ends and delimiters, doubled quotes, a literal quote
        // in an unquoted field, CRLF and LF, an empty line, ragged rows,
        // padding and null tokens
        let text = b"id,name,amount\r\n\
            1,\"Smith, J\",10\r\n\
            2,\"two\nlines\",20\n\
            3,5\" screen,30\n\
            \n\
            4,\"say \"\"hi\"\"\",40\n\
            5,short\n\
            6, padded ,NA\n\
            7,\"\",\"70\"\n\
            8,a,b,c\n\
            9,\"last\nrow\",90";
        let opts = CsvOptions {
            null_values: vec!["NA".to_string()],
            ..CsvOptions::default()
        };
        let (whole, whole_rejects, _) = parse_in_blocks(text, &opts, 1 << 20).unwrap();
        let lines: Vec<u64> = whole
            .column(LINE_COLUMN)
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(lines, [2, 3, 5, 7, 9, 10, 12]);
        let names = texts(&whole, "name");
        assert_eq!(
            names,
            [
                Some("Smith, J"),
                Some("two\nlines"),
                Some("5\" screen"),
                Some("say \"hi\""),
                Some("padded"),
                None,
                Some("last\nrow")
            ]
        );
        let amounts = texts(&whole, "amount");
        assert_eq!(
            amounts,
            [
                Some("10"),
                Some("20"),
                Some("30"),
                Some("40"),
                None,
                Some("70"),
                Some("90")
            ]
        );
        let rejected: Vec<(u64, &str)> = whole_rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (8, "ragged row: 2 fields, expected 3"),
                (11, "ragged row: 4 fields, expected 3")
            ]
        );
        for block_bytes in 1..=48 {
            let (frame, rejects, _) = parse_in_blocks(text, &opts, block_bytes).unwrap();
            assert!(
                frame.equals_missing(&whole),
                "blocks of {block_bytes} bytes"
            );
            assert_eq!(rejects, whole_rejects, "blocks of {block_bytes} bytes");
        }
    }

    #[test]
    fn invalid_utf8_is_named_at_its_line_whatever_the_blocks() {
        let mut text = b"id,name\n1,a\n2,\"b\nc\"\n3,d\n".to_vec();
        text.extend_from_slice(b"4,caf\xe9\n5,e\n");
        for block_bytes in [1, 5, 9, 1 << 20] {
            let err = parse_in_blocks(&text, &CsvOptions::default(), block_bytes).unwrap_err();
            let message = format!("{err:#}");
            assert!(message.contains("line 6"), "{block_bytes}: {message}");
            assert!(message.contains("name"), "{block_bytes}: {message}");
        }
    }

    #[test]
    fn a_record_ends_only_outside_quotes() {
        let last_end = |block: &[u8], delimiter| scan_records(block, delimiter, None).last_end;
        assert_eq!(last_end(b"a,b\n1,2\n3,", b','), Some(8));
        assert_eq!(last_end(b"a,b\n1,\"2\n3\"", b','), Some(4));
        assert_eq!(last_end(b"1,\"x\"\"\n\"\"y\"\n2", b','), Some(12));
        // a quote inside an unquoted field opens nothing
        assert_eq!(last_end(b"1,5\" tv\n2,3", b','), Some(8));
        assert_eq!(last_end(b"1;\"a;b\"\r\n2", b';'), Some(9));
        assert_eq!(last_end(b"no line end", b','), None);
    }

    #[test]
    fn a_line_that_never_ends_stops_the_reading() {
        let mut text = String::from("id,note\n1,ok\n");
        text.push_str(&"x".repeat(1000));
        let opts = CsvOptions {
            max_field_size: 100,
            ..CsvOptions::default()
        };
        let err = parse_in_blocks(text.as_bytes(), &opts, 64).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("t.csv, line 3: line 3 runs past"),
            "{message}"
        );
    }

    #[test]
    fn a_backslash_escaped_quote_is_named_or_read_with_the_escape() {
        let text = b"id,note\n1,ok\n2,\"say \\\"hi\\\", then\"\n3,\"C:\\dir\\\"\n";
        let err = parse_in_blocks(text, &CsvOptions::default(), 1 << 20).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.starts_with("t.csv, line 3, column 'note': a quote escaped"),
            "{message}"
        );
        let opts = CsvOptions {
            escape: Some(b'\\'),
            ..CsvOptions::default()
        };
        let (frame, rejects, _) = parse_in_blocks(&text[..text.len() - 12], &opts, 7).unwrap();
        assert!(rejects.is_empty());
        assert_eq!(
            texts(&frame, "note"),
            [Some("ok"), Some("say \"hi\", then")]
        );
        // a backslash before a closing quote, then a delimiter, is text
        let path = b"id,note,other\n1,\"C:\\dir\\\",x\n";
        let (frame, _, _) = parse_in_blocks(path, &CsvOptions::default(), 1 << 20).unwrap();
        assert_eq!(texts(&frame, "note"), [Some("C:\\dir\\")]);
    }

    #[test]
    fn the_quote_left_open_is_found() {
        let open = |block: &[u8]| scan_records(block, b',', None).open_quote;
        assert_eq!(open(b"a,b\n1,\"2\n3"), Some((6, 1)));
        assert_eq!(open(b"a,b\n1,\"2\"\n3"), None);
        assert_eq!(open(b"1,\"x\"\"\n"), Some((2, 1)));
        assert_eq!(open(b"\"x\n"), Some((0, 0)));
        assert_eq!(open(b"1,5\" tv\n"), None);
    }

    #[test]
    fn a_stray_quote_pair_is_an_error_naming_both_lines() {
        // lines 3..=204 would be one value
        let mut text = String::from("id,note\n1,ok\n2,\"he said\n");
        for i in 0..200 {
            text.push_str(&format!("{i},x\n"));
        }
        text.push_str("3,hi\"\n4,ok\n");
        for block_bytes in [7, 64, 1 << 20] {
            let err =
                parse_in_blocks(text.as_bytes(), &CsvOptions::default(), block_bytes).unwrap_err();
            let message = format!("{err:#}");
            assert!(
                message.contains("line 3") && message.contains("closes on line 204"),
                "{block_bytes}: {message}"
            );
            assert!(message.contains("note"), "{message}");
        }
        // within a raised limit it is one value, counted
        let opts = CsvOptions {
            max_field_lines: 1000,
            ..CsvOptions::default()
        };
        let (frame, _, breaks) = parse_in_blocks(text.as_bytes(), &opts, 64).unwrap();
        assert_eq!(frame.height(), 3);
        assert_eq!(
            breaks,
            LineBreaks {
                rows: 1,
                longest_span: 202
            }
        );
    }

    #[test]
    fn a_quote_open_past_the_size_limit_stops_the_reading() {
        let mut text = String::from("id,note\n1,ok\n2,\"open\n");
        text.push_str(&"x,y\n".repeat(1000));
        let opts = CsvOptions {
            max_field_size: 100,
            ..CsvOptions::default()
        };
        let err = parse_in_blocks(text.as_bytes(), &opts, 64).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("line 3, column 'note'") && message.contains("runs past the limit"),
            "{message}"
        );
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
