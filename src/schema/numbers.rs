//! Amounts as exports write them: `1234.5`, `1,234.50`, `$12.00`, and with
//! `--decimal-comma` `1.234,50`. A comma is never silently a decimal point
//! or a thousands separator: `1,234.00` is 1234 only because its grouping is
//! valid, and `12,5` without `--decimal-comma` does not parse.

/// Parses an amount. `None` means "not a number"; NaN and infinities
/// (including overflow like `1e309`) come back as such for the caller to
/// reject.
pub fn parse_amount(text: &str, decimal_comma: bool) -> Option<f64> {
    // the common case, a plain number, without the work below
    if !decimal_comma && let Ok(value) = text.parse::<f64>() {
        return Some(value);
    }
    let mut s = text.trim();
    s = s
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches(['$', '€', '£'])
        .trim();
    let (negative, body) = match s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, s),
    };
    let (group, decimal) = if decimal_comma {
        ('.', ',')
    } else {
        (',', '.')
    };
    let cleaned: String;
    let body = if body.contains(group) {
        if !valid_grouping(body, group, decimal) {
            return None;
        }
        cleaned = body.replace(group, "");
        cleaned.as_str()
    } else {
        body
    };
    let body = if decimal_comma && body.contains(',') {
        &body.replace(',', ".")
    } else {
        body
    };
    let value: f64 = body.parse().ok()?;
    Some(if negative { -value } else { value })
}

/// `1,234,567.89`: groups of three digits after a first group of one to
/// three, then at most one decimal mark followed by digits only (so
/// `1.234,50` is no grouping of `,`: it is the other convention).
fn valid_grouping(text: &str, group: char, decimal: char) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (integer, fraction) = text.split_once(decimal).unwrap_or((text, ""));
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut parts = integer.split(group);
    let first = parts.next().unwrap_or("");
    (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && parts.all(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_grouped_and_currency_amounts() {
        assert_eq!(parse_amount("11.77", false), Some(11.77));
        assert_eq!(parse_amount(" -3.5 ", false), Some(-3.5));
        assert_eq!(parse_amount("1,234.00", false), Some(1234.0));
        assert_eq!(parse_amount("$12.00", false), Some(12.0));
        assert_eq!(parse_amount("(7.25)", false), Some(-7.25));
        assert_eq!(parse_amount("abc", false), None);
    }

    #[test]
    fn commas_are_never_guessed() {
        assert_eq!(parse_amount("12,5", false), None);
        assert_eq!(parse_amount("1,23.00", false), None);
        assert_eq!(parse_amount("12,5", true), Some(12.5));
        assert_eq!(parse_amount("1.234,00", true), Some(1234.0));
        assert_eq!(parse_amount("1.234", true), Some(1234.0));
        // the other convention never parses as this one
        assert_eq!(parse_amount("1.234,50", false), None);
        assert_eq!(parse_amount("1.234,00", false), None);
        assert_eq!(parse_amount("1,234.50", true), None);
        assert_eq!(parse_amount("1,234.5,0", false), None);
    }

    #[test]
    fn non_finite_values_come_back_as_such() {
        assert!(parse_amount("NaN", false).unwrap().is_nan());
        assert!(parse_amount("inf", false).unwrap().is_infinite());
        assert!(parse_amount("1e309", false).unwrap().is_infinite());
    }
}
