//! Cutting a CSV input into blocks of whole records: where records end
//! (outside quotes), and the quoted fields that must stop the reading (one
//! open past the field-size limit, a backslash-escaped quote).

use std::io::{self, Read};

use anyhow::{Context, Result, bail};

use super::CsvOptions;
use super::parse::Block;
use crate::error::InputError;

/// Cuts the input into [`Block`]s of whole records.
pub(super) struct Blocks<'a> {
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

impl<'a> Blocks<'a> {
    /// Blocks of `body`, read `block_bytes` at a time.
    pub(super) fn new(
        body: &'a mut dyn Read,
        file: &'a str,
        opts: &CsvOptions,
        delimiter: u8,
        line_offset: u64,
        block_bytes: usize,
    ) -> Self {
        Blocks {
            body,
            file,
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
        }
    }

    /// What was read and not handed out, from a record boundary: where
    /// the header is read from (and removed).
    pub(super) fn pending_mut(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// The header was read: it named `names` and took `lines` lines.
    pub(super) fn start_body(&mut self, names: Vec<String>, lines: u64) {
        self.names = names;
        self.lines_before = lines;
    }

    /// The next block, or `None` after the last.
    pub(super) fn next_block(&mut self) -> Result<Option<Block>> {
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
    pub(super) fn first_record_end(&mut self) -> Result<usize> {
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
pub(super) fn count_byte(bytes: &[u8], byte: u8) -> usize {
    memchr::memchr_iter(byte, bytes).count()
}

/// A byte size readably: `512 bytes`, `1.0 MiB`.
pub(super) fn human_bytes(bytes: usize) -> String {
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

/// Where a reader is in the quoting of a field, byte by byte: the state
/// of [`scan_records`] and of the strict quote checker.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// In a field that is not quoted: a quote is a character.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// In a quoted field, after the escape character (`--escape`).
    Escaped,
    /// In a quoted field, after a quote: another makes `""`, else it
    /// closed the field.
    QuoteInQuoted,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_quote_left_open_is_found() {
        let open = |block: &[u8]| scan_records(block, b',', None).open_quote;
        assert_eq!(open(b"a,b\n1,\"2\n3"), Some((6, 1)));
        assert_eq!(open(b"a,b\n1,\"2\"\n3"), None);
        assert_eq!(open(b"1,\"x\"\"\n"), Some((2, 1)));
        assert_eq!(open(b"\"x\n"), Some((0, 0)));
        assert_eq!(open(b"1,5\" tv\n"), None);
    }
}
