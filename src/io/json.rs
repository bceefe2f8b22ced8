//! Checks around polars' JSON and NDJSON readers.
//!
//! Before the read, one streaming pass refuses what would blow the reader
//! up: a value nested deeper than [`MAX_NESTING`] (polars recurses once per
//! level: depth 600 overflows its stack, depth 2,000 takes gigabytes) and
//! binary data (a NUL byte outside a string). After a failed read, the
//! input is scanned again to say where it went wrong, by line and column,
//! instead of polars' `at character 57`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

use std::num::NonZeroUsize;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use polars::prelude::*;

use super::source::{InputFormat, Opened};
use crate::error::InputError;

/// The deepest nesting of objects and lists a JSON input may have: customer
/// and transaction exports hold flat records, or a level or two of nesting.
pub const MAX_NESTING: usize = 64;

/// Fails on a value nested deeper than [`MAX_NESTING`], naming the line,
/// or on a NUL byte (binary data); else returns the records' keys in the
/// order they first appear, the column order (polars' own is not the same
/// from one run to the next when records hold different keys). Reads
/// `input` once, in memory bounded by the keys.
pub fn scan_structure(input: impl Read, format: InputFormat, name: &str) -> Result<Vec<String>> {
    // NDJSON records are top-level objects; a JSON array holds them
    let record_depth = if format == InputFormat::Json { 2 } else { 1 };
    let mut input = BufReader::with_capacity(1 << 16, input);
    let (mut depth, mut line) = (0usize, 1u64);
    let (mut in_string, mut escaped) = (false, false);
    // the text of a string at record depth, and one that may be a key
    let (mut capturing, mut text, mut maybe_key) = (false, Vec::new(), None::<Vec<u8>>);
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let chunk = input
            .fill_buf()
            .with_context(|| format!("reading {name}"))?;
        if chunk.is_empty() {
            return Ok(keys);
        }
        for &b in chunk {
            if b == 0 {
                bail!(InputError::at_line(
                    name,
                    line,
                    "binary data (a NUL byte): not JSON text; cpm reads CSV, Parquet, Arrow, \
                     JSON, NDJSON and Excel"
                ));
            }
            if b == b'\n' {
                line += 1;
            }
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        in_string = false;
                        if capturing {
                            capturing = false;
                            maybe_key = Some(std::mem::take(&mut text));
                            continue;
                        }
                    }
                    _ => {}
                }
                if capturing {
                    text.push(b);
                }
                continue;
            }
            if b.is_ascii_whitespace() {
                continue;
            }
            if let Some(key) = maybe_key.take()
                && b == b':'
                && let Some(key) = decode_key(&key)
                && seen.insert(key.clone())
            {
                keys.push(key);
            }
            match b {
                b'"' => {
                    in_string = true;
                    capturing = depth == record_depth;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        bail!(InputError::at_line(
                            name,
                            line,
                            format!(
                                "values nested more than {MAX_NESTING} levels deep (objects in \
                                 objects or lists in lists): not an export of records"
                            )
                        ));
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let n = chunk.len();
        input.consume(n);
    }
}

/// A key's text from its raw bytes between the quotes (escapes undone).
fn decode_key(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).ok()
}

/// Reads an NDJSON input a batch of `rows` lines at a time, each batch
/// typed as a whole read types every line (the schema polars infers from
/// the first 100 records), its columns in the order their keys first
/// appear; `progress` gets the bytes read.
pub fn ndjson_batches(
    opened: &Opened,
    rows: usize,
    progress: &dyn Fn(u64),
    f: &mut dyn FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let name = &opened.name;
    let keys = scan_structure(opened.reader()?, InputFormat::Ndjson, name)?;
    // where it goes wrong, by line, as after a whole read
    let cannot = |e: &dyn std::fmt::Display| -> anyhow::Error {
        let named = opened
            .reader()
            .ok()
            .and_then(|input| explain_failure(input, InputFormat::Ndjson, name));
        named
            .unwrap_or_else(|| InputError::file(name, format!("cannot read as NDJSON: {e}")))
            .into()
    };
    let schema: SchemaRef = {
        let mut head = BufReader::new(opened.reader()?);
        let inferred = polars::io::ndjson::infer_schema(&mut head, NonZeroUsize::new(100));
        Arc::new(inferred.map_err(|e| cannot(&e))?)
    };
    let mut input = BufReader::with_capacity(1 << 16, opened.reader()?);
    let (mut chunk, mut line) = (Vec::new(), Vec::new());
    loop {
        chunk.clear();
        let (mut records, mut bytes) = (0, 0);
        while records < rows.max(1) {
            line.clear();
            let n = input
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {name}"))?;
            if n == 0 {
                break;
            }
            bytes += n;
            // blank lines hold no record (polars' reader trips on a chunk
            // of them alone)
            if !line.iter().all(u8::is_ascii_whitespace) {
                chunk.extend_from_slice(&line);
                records += 1;
            }
        }
        progress(bytes as u64);
        if records == 0 {
            break;
        }
        let read = crate::panic::guard("the NDJSON reader", || {
            Ok(JsonReader::new(std::io::Cursor::new(chunk.as_slice()))
                .with_json_format(JsonFormat::JsonLines)
                .with_schema(schema.clone())
                .finish()?)
        });
        let frame = read.map_err(|e| cannot(&e))?;
        f(super::read::in_order_of(frame, &keys)?)?;
    }
    Ok(())
}

/// Where a JSON or NDJSON input polars could not read goes wrong: the first
/// line that is not valid JSON (with serde_json's reason and column), or
/// the first column whose values are of kinds no column can hold together
/// (an object on one line, a list or a number on another). None when
/// neither is found.
pub fn explain_failure(input: impl Read, format: InputFormat, name: &str) -> Option<InputError> {
    match format {
        InputFormat::Ndjson => explain_lines(BufReader::new(input), name),
        _ => {
            let mut bytes = Vec::new();
            BufReader::new(input).read_to_end(&mut bytes).ok()?;
            let error = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).err()?;
            Some(InputError::at_line(
                name,
                error.line() as u64,
                format!(
                    "not valid JSON at column {}: {}",
                    error.column(),
                    reason(&error)
                ),
            ))
        }
    }
}

/// [`explain_failure`] for NDJSON: one object per line.
fn explain_lines(input: impl BufRead, name: &str) -> Option<InputError> {
    // column -> (kind of its first value, line of it)
    let mut kinds: BTreeMap<String, (&'static str, u64)> = BTreeMap::new();
    for (index, text) in input.split(b'\n').enumerate() {
        let line = index as u64 + 1;
        let text = text.ok()?;
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(&text) {
            Ok(value) => value,
            Err(error) => {
                return Some(InputError::at_line(
                    name,
                    line,
                    format!(
                        "not valid JSON at column {}: {}",
                        error.column(),
                        reason(&error)
                    ),
                ));
            }
        };
        let serde_json::Value::Object(record) = value else {
            return Some(InputError::at_line(
                name,
                line,
                format!(
                    "{} where NDJSON has one object per line",
                    kind(&value).unwrap_or("null")
                ),
            ));
        };
        for (column, value) in record {
            let Some(this) = kind(&value) else { continue };
            match kinds.get(&column) {
                Some(&(first, first_line)) if !compatible(first, this) => {
                    return Some(
                        InputError::at_line(
                            name,
                            line,
                            format!(
                                "{this} here, {first} on line {first_line}: a column holds one \
                                 kind of value"
                            ),
                        )
                        .in_column(column),
                    );
                }
                Some(_) => {}
                None => {
                    kinds.insert(column, (this, line));
                }
            }
        }
    }
    None
}

/// serde_json's message without its own ` at line L column C` suffix.
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// What kind of value `value` is, in words (None for null).
fn kind(value: &serde_json::Value) -> Option<&'static str> {
    use serde_json::Value;
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => "a true/false value",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    })
}

/// Whether one column can hold values of both kinds: scalars mix (polars
/// reads them as text), a list or an object mixes only with its own kind.
fn compatible(a: &str, b: &str) -> bool {
    let nested = |k: &str| k == "a list" || k == "an object";
    a == b || (!nested(a) && !nested(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: impl std::fmt::Display) -> String {
        error.to_string()
    }

    #[test]
    fn deep_nesting_and_nul_bytes_are_refused_with_their_line() {
        let deep = format!(
            "{{\"a\":1}}\n{{\"x\":{}{}}}\n",
            "[".repeat(600),
            "]".repeat(600)
        );
        let ndjson = InputFormat::Ndjson;
        let err = scan_structure(deep.as_bytes(), ndjson, "d.ndjson").unwrap_err();
        assert!(message(&err).contains("d.ndjson, line 2"), "{err}");
        let within = format!("{{\"x\":{}{}}}", "[".repeat(63), "]".repeat(63));
        scan_structure(within.as_bytes(), ndjson, "ok.ndjson").unwrap();
        // brackets inside strings, escaped quotes, are text
        let text = format!("{{\"x\":\"{}\\\"{}\"}}", "[".repeat(100), "{".repeat(100));
        scan_structure(text.as_bytes(), ndjson, "s.ndjson").unwrap();
        let err = scan_structure(&b"{\"a\":1}\n\0\0\0"[..], ndjson, "b.json").unwrap_err();
        assert!(
            message(&err).contains("b.json, line 2: binary data"),
            "{err}"
        );
    }

    #[test]
    fn keys_come_in_the_order_they_first_appear() {
        let ndjson =
            "{\"b\":1,\"a\":{\"z\":1,\"y\":[\"q\"]}}\n{\"c\" : \"b:\", \"b\":2, \"d\\u0041\":3}\n";
        let keys = scan_structure(ndjson.as_bytes(), InputFormat::Ndjson, "k").unwrap();
        assert_eq!(keys, ["b", "a", "c", "dA"]);
        let json = "[{\"b\":1,\"a\":{\"z\":1}},\n {\"c\":[1,{\"w\":2}]}]";
        let keys = scan_structure(json.as_bytes(), InputFormat::Json, "k").unwrap();
        assert_eq!(keys, ["b", "a", "c"]);
    }

    #[test]
    fn a_failed_read_is_named_by_line_and_column() {
        let ndjson = "{\"a\":1}\n{\"a\" 2}\n";
        let err = explain_failure(ndjson.as_bytes(), InputFormat::Ndjson, "x.ndjson").unwrap();
        assert!(
            message(&err).starts_with("x.ndjson, line 2: not valid JSON at column 6"),
            "{err}"
        );
        let mixed = "{\"a\":{\"b\":1}}\n{\"a\":null}\n{\"a\":[1]}\n";
        let err = explain_failure(mixed.as_bytes(), InputFormat::Ndjson, "m.ndjson").unwrap();
        assert_eq!(
            message(&err),
            "m.ndjson, line 3, column 'a': a list here, an object on line 1: a column holds one \
             kind of value"
        );
        let scalar_line = "{\"a\":1}\n[1,2]\n";
        let err = explain_failure(scalar_line.as_bytes(), InputFormat::Ndjson, "s").unwrap();
        assert!(
            message(&err).contains("line 2: a list where NDJSON"),
            "{err}"
        );
        let json = "[{\"a\":1},\n{\"a\":2,,}]";
        let err = explain_failure(json.as_bytes(), InputFormat::Json, "j.json").unwrap();
        assert!(
            message(&err).starts_with("j.json, line 2: not valid JSON at column"),
            "{err}"
        );
        let fine = "{\"a\":1}\n{\"a\":\"x\"}\n";
        assert!(explain_failure(fine.as_bytes(), InputFormat::Ndjson, "f").is_none());
    }
}
