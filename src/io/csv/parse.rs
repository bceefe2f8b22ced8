//! Parsing the body of a CSV input on every core: blocks of whole records
//! ([`super::blocks`]) parsed side by side into string columns, with each
//! row's physical line, the ragged rows, the field limits, byte order marks
//! and repeated headers of files joined with `cat`.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use anyhow::{Result, bail};
use polars::prelude::*;

use super::blocks::{Blocks, count_byte, human_bytes};
use super::{CsvOptions, LINE_COLUMN, LineBreaks, RawReject};
use crate::error::InputError;

/// Bytes per block handed to a parsing thread (blocks end on a record
/// boundary, so one long record makes its block longer).
pub(super) const BLOCK_BYTES: usize = 8 << 20;

/// One block of whole records and where it starts in the input.
pub(super) struct Block {
    /// Its place among the blocks, to put the parsed blocks back in order.
    pub(super) index: usize,
    /// Lines before the block (of the body after skipped lines).
    pub(super) lines_before: u64,
    /// Newlines in the block: an upper bound of its records.
    pub(super) newlines: usize,
    pub(super) bytes: Vec<u8>,
}

/// What [`parse_records`] made of a batch of records.
pub(super) struct Parsed {
    /// One string column per header field, plus [`LINE_COLUMN`].
    pub(super) frame: DataFrame,
    /// Ragged rows.
    pub(super) rejects: Vec<RawReject>,
    pub(super) line_breaks: LineBreaks,
    /// Lines that began with a byte order mark, removed.
    pub(super) boms: Vec<u64>,
    /// Lines that repeat the header, skipped.
    pub(super) headers: Vec<u64>,
}

/// Parses the records: this thread reads the input in blocks of about
/// `block_bytes` that end on a record boundary and hands them to one
/// parsing thread per core; each parses its blocks into column chunks with
/// the csv crate, and the chunks are put back in input order and handed to
/// `sink` in batches of `batch_rows` rows (the last one may be smaller;
/// an input without rows gives one empty batch). Line numbers are
/// exact: each block knows how many lines came before it. Only the blocks
/// in flight and the batch in hand are in memory.
#[allow(clippy::too_many_arguments)]
pub(super) fn parse_records(
    body: &mut dyn Read,
    name: &str,
    opts: &CsvOptions,
    delimiter: u8,
    line_offset: u64,
    block_bytes: usize,
    batch_rows: usize,
    sink: &mut dyn FnMut(Parsed) -> Result<()>,
) -> Result<()> {
    let mut blocks = Blocks::new(body, name, opts, delimiter, line_offset, block_bytes);
    // enough for the whole header
    blocks.first_record_end()?;
    let (names, lines_before) =
        read_header(blocks.pending_mut(), name, opts, delimiter, line_offset)?;
    blocks.start_body(names.clone(), lines_before);
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
    std::thread::scope(|scope| {
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
        let mut batches = InOrder {
            columns: &columns,
            waiting: BTreeMap::new(),
            next: 0,
            batch: Vec::new(),
            batch_rows,
            emitted: false,
            sink,
        };
        // a parsing thread's error stops the reading; the chunks come back
        // in input order, so the first error in input order is the one told
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
            while let Ok((index, chunk)) = chunk_rx.try_recv() {
                if let Err(e) = batches.take(index, chunk) {
                    drop(block_tx);
                    return Err(e);
                }
            }
        };
        drop(block_tx);
        for (index, chunk) in chunk_rx.iter() {
            batches.take(index, chunk)?;
        }
        read?;
        batches.flush()
    })
}

/// Puts parsed chunks back in input order and hands them on in batches.
struct InOrder<'a, 's> {
    columns: &'a Columns,
    /// Chunks that came before those ahead of them.
    waiting: BTreeMap<usize, Result<Chunk>>,
    /// The index of the next chunk in input order.
    next: usize,
    batch: Vec<Chunk>,
    batch_rows: usize,
    /// Whether a batch was handed on.
    emitted: bool,
    sink: &'s mut dyn FnMut(Parsed) -> Result<()>,
}

impl InOrder<'_, '_> {
    /// Takes the chunk `index`, and hands on the batches it completes.
    fn take(&mut self, index: usize, chunk: Result<Chunk>) -> Result<()> {
        self.waiting.insert(index, chunk);
        while let Some(chunk) = self.waiting.remove(&self.next) {
            self.next += 1;
            self.batch.push(chunk?);
            let rows: usize = self.batch.iter().map(|c| c.lines.len()).sum();
            if rows >= self.batch_rows {
                self.hand_on()?;
            }
        }
        Ok(())
    }

    /// Hands on the chunks taken, in batches of `batch_rows` rows (the
    /// last may be smaller): each with the ragged rows among its lines.
    fn hand_on(&mut self) -> Result<()> {
        let mut parsed = self.columns.finish(std::mem::take(&mut self.batch))?;
        self.emitted = true;
        while parsed.frame.height() > self.batch_rows {
            let rest = parsed.frame.slice(self.batch_rows as i64, usize::MAX);
            let frame = parsed.frame.slice(0, self.batch_rows);
            let first_after = rest.column(LINE_COLUMN)?.u64()?.get(0).unwrap_or(u64::MAX);
            let (before, after) = parsed
                .rejects
                .into_iter()
                .partition(|r| r.line < first_after);
            (self.sink)(Parsed {
                frame,
                rejects: before,
                line_breaks: parsed.line_breaks,
                boms: std::mem::take(&mut parsed.boms),
                headers: std::mem::take(&mut parsed.headers),
            })?;
            parsed = Parsed {
                frame: rest,
                rejects: after,
                line_breaks: LineBreaks::default(),
                boms: Vec::new(),
                headers: Vec::new(),
            };
        }
        (self.sink)(parsed)
    }

    /// Hands on the last batch (an empty one when there were no rows).
    fn flush(mut self) -> Result<()> {
        if !self.batch.is_empty() || !self.emitted {
            self.hand_on()?;
        }
        Ok(())
    }
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

/// A csv crate reader with cpm's dialect over `input`.
pub(super) fn csv_reader<R: Read>(delimiter: u8, escape: Option<u8>, input: R) -> csv::Reader<R> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` as one input cut into blocks of `block_bytes`.
    fn parse_in_blocks(
        text: &[u8],
        opts: &CsvOptions,
        block_bytes: usize,
    ) -> Result<(DataFrame, Vec<RawReject>, LineBreaks)> {
        let mut parts = Vec::new();
        parse_records(
            &mut &text[..],
            "t.csv",
            opts,
            b',',
            0,
            block_bytes,
            usize::MAX,
            &mut |p| {
                parts.push(p);
                Ok(())
            },
        )?;
        let [part] = <[Parsed; 1]>::try_from(parts).ok().expect("one batch");
        Ok((part.frame, part.rejects, part.line_breaks))
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
    fn the_reading_stops_where_a_field_runs_past_the_size_limit() {
        let opts = CsvOptions {
            max_field_size: 100,
            ..CsvOptions::default()
        };
        // a quote left open, then a line that never ends
        let open = format!("id,note\n1,ok\n2,\"open\n{}", "x,y\n".repeat(1000));
        let endless = format!("id,note\n1,ok\n{}", "x".repeat(1000));
        for (text, says) in [
            (
                open,
                "t.csv, line 3, column 'note': a quoted field opens on line 3 and runs past",
            ),
            (endless, "t.csv, line 3: line 3 runs past"),
        ] {
            let err = parse_in_blocks(text.as_bytes(), &opts, 64).unwrap_err();
            let message = format!("{err:#}");
            assert!(message.contains(says), "{message}");
        }
    }
}
