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

use anyhow::{Context, Result, bail};
use encoding_rs::Encoding;
use encoding_rs_io::DecodeReaderBytesBuilder;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use self::blocks::count_byte;
use self::parse::{BLOCK_BYTES, Parsed, parse_records};
pub use self::quotes::{QuoteProblem, check_quotes};
use super::source::Opened;
use crate::error::InputError;

mod blocks;
mod parse;
mod quotes;

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

/// A batch of rows of a CSV input, as the reader hands them on.
pub struct CsvBatch {
    /// One string column per header field, plus [`LINE_COLUMN`].
    pub frame: DataFrame,
    /// The batch's ragged rows.
    pub rejects: Vec<RawReject>,
    /// The batch's rows whose quoted fields span lines.
    pub line_breaks: LineBreaks,
    /// The delimiter used (sniffed or given).
    pub delimiter: u8,
    /// The encoding the bytes were decoded from.
    pub encoding: String,
}

impl CsvBatch {
    /// The rows of `next` (the batch after this one) appended.
    pub fn append(&mut self, next: CsvBatch) -> Result<()> {
        self.frame.vstack_mut_owned(next.frame)?;
        self.rejects.extend(next.rejects);
        self.line_breaks = self.line_breaks + next.line_breaks;
        Ok(())
    }
}

/// What the reader learnt of a CSV input once every batch was read.
pub struct CsvEnd {
    /// What the caller should warn of (byte order marks inside the file,
    /// repeated headers).
    pub warnings: Vec<String>,
    /// The delimiter used (sniffed or given).
    pub delimiter: u8,
    /// The encoding the bytes were decoded from, e.g. `utf-8`, `utf-16le`.
    pub encoding: String,
}

/// Reads one CSV input whole. `progress` is called with the number of
/// bytes consumed since its last call.
pub fn read_csv(opened: &Opened, opts: &CsvOptions, progress: &dyn Fn(u64)) -> Result<CsvTable> {
    let mut batches: Vec<CsvBatch> = Vec::new();
    let end = read_csv_batches(opened, opts, progress, usize::MAX, &mut |batch| {
        batches.push(batch);
        Ok(())
    })?;
    let mut batches = batches.into_iter();
    let mut whole = batches
        .next()
        .ok_or_else(|| anyhow::anyhow!("no batch read"))?;
    for batch in batches {
        whole.append(batch)?;
    }
    Ok(CsvTable {
        frame: whole.frame,
        rejects: whole.rejects,
        line_breaks: whole.line_breaks,
        warnings: end.warnings,
        delimiter: end.delimiter,
        encoding: end.encoding,
    })
}

/// Reads one CSV input a batch of `batch_rows` rows at a time (the last
/// may be smaller; an input without rows gives one empty batch),
/// handing each to `sink` in input order: only the batch in hand is in
/// memory. An error may come after some batches were handed on.
pub fn read_csv_batches(
    opened: &Opened,
    opts: &CsvOptions,
    progress: &dyn Fn(u64),
    batch_rows: usize,
    sink: &mut dyn FnMut(CsvBatch) -> Result<()>,
) -> Result<CsvEnd> {
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
    let (mut boms, mut headers) = (Vec::new(), Vec::new());
    let mut names = Vec::new();
    parse_records(
        &mut tracked,
        name,
        opts,
        delimiter,
        line_offset,
        BLOCK_BYTES,
        batch_rows,
        &mut |parsed: Parsed| {
            boms.extend(parsed.boms);
            headers.extend(parsed.headers);
            if names.is_empty() {
                names = header_names(&parsed.frame);
            }
            sink(CsvBatch {
                frame: parsed.frame,
                rejects: parsed.rejects,
                line_breaks: parsed.line_breaks,
                delimiter,
                encoding: encoding.clone(),
            })
        },
    )?;

    if tracked.quotes % 2 == 1 {
        let mut reader = BufReader::new(decoder(opened, opts)?);
        for _ in 0..opts.skip_rows {
            reader.read_until(b'\n', &mut Vec::new())?;
        }
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
    Ok(CsvEnd {
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
