//! Numbers and text for people, the one format of terminal tables,
//! messages and reports: grouped thousands, a fixed number of decimals,
//! shares as percentages, control characters written out. Data outputs
//! (CSV, Parquet, JSON) keep the exact values.

/// A fraction as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    if share.is_finite() {
        format!("{}%", fixed(100.0 * share, 1))
    } else {
        "–".to_string()
    }
}

/// Money with grouped thousands and two decimals.
pub fn money(value: f64) -> String {
    fixed(value, 2)
}

/// A formatted number with its whole part's thousands grouped.
pub fn grouped(number: &str) -> String {
    match number.split_once('.') {
        Some((whole, decimals)) => format!("{}.{decimals}", group_thousands(whole)),
        None => group_thousands(number),
    }
}

/// A whole number as a count, else money.
pub fn money_or_count(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        group_thousands(&format!("{value:.0}"))
    } else {
        money(value)
    }
}

/// "1234567" → "1,234,567" (a leading minus kept).
pub fn group_thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// `text` with control characters (escape sequences that would drive a
/// terminal, line breaks) written out as escapes, e.g. `\u{1b}`.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` fit for XML and HTML: control characters other than tab and
/// line ends, and the noncharacters U+FFFE and U+FFFF, which XML 1.0
/// forbids, are written out (`\u{1}`, `\u{fffe}`); everything else stays.
pub fn printable_in_markup(text: &str) -> String {
    let forbidden = |c: char| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
    };
    if !text.chars().any(forbidden) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if forbidden(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`printable`], keeping line breaks: for messages of several lines.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Characters of a row or value quoted in a message or a rejects file.
pub const EXCERPT_CHARS: usize = 200;

/// `text` as quoted in a message or a rejects file: whole up to
/// [`EXCERPT_CHARS`] characters, else its start and its length, so a
/// gigabyte line makes no gigabyte message.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_string(),
        Some((end, _)) => format!(
            "{}… ({} characters)",
            &text[..end],
            count(text.chars().count() as u64)
        ),
    }
}

/// A count with grouped thousands.
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// `text` broken between words into lines of at most `width` characters
/// (a longer word has a line of its own), the later ones after `indent`;
/// each line ends in a newline.
pub fn wrap(text: &str, width: u16, indent: &str) -> String {
    let width = usize::from(width.max(20));
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let length = line.chars().count();
        if length > 0 && length + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
        } else if length > 0 {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// `n` things, grouped: "1 customer", "2,999 customers".
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A number with `decimals` decimals and grouped thousands.
pub fn fixed(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        grouped(&format!("{value:.decimals$}"))
    } else {
        "–".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_break_between_words() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        assert_eq!(
            wrap(text, 20, "  "),
            "one two three four\n  five six seven\n  eight nine ten\n  eleven twelve\n"
        );
        assert_eq!(wrap("short", 20, ""), "short\n");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(money(1234567.891), "1,234,567.89");
        assert_eq!(money(-1234.5), "-1,234.50");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(999), "999");
        assert_eq!(percent(0.4213), "42.1%");
        assert_eq!(percent(40.25), "4,025.0%");
        assert_eq!(fixed(0.123456, 4), "0.1235");
        assert_eq!(fixed(-98765.4, 1), "-98,765.4");
        assert_eq!(money_or_count(12.0), "12");
        assert_eq!(percent(f64::NAN), "–");
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(1000);
        let quoted = excerpt(&long);
        assert!(quoted.starts_with(&"é".repeat(200)) && quoted.ends_with("… (1,000 characters)"));
        assert_eq!(
            printable_lines("a\u{1b}]0;x\u{7}\nb"),
            "a\\u{1b}]0;x\\u{7}\nb"
        );
    }
}
