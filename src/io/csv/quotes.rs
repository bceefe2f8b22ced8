//! The strict quote checker, run when a CSV input's quote count is odd.

use std::io::BufRead;

use anyhow::Result;

use super::blocks::State;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
