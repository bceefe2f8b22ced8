//! The report as a mail message (`-o weekly.eml`): MIME, with the
//! terminal page as the plain text, and the mail-safe HTML page whose
//! charts are PNG images attached to the message and shown where they
//! stand (`cid:`), which every mail client displays; cron hands it to
//! `sendmail`.

use anyhow::Result;
use base64::Engine;

use super::html::{self, Charts};
use crate::report::Report;
use crate::report::document::document;

/// Base64 lines of a MIME part are at most this long (RFC 2045).
const LINE: usize = 76;

/// The message of `report`: headers (a Subject; the recipients are
/// sendmail's arguments), the text and HTML alternatives, the charts.
pub fn render(report: &Report) -> Result<String> {
    let page = document(report);
    let mut images = Vec::new();
    let html = html::render(report, &page, Charts::Attached(&mut images))?;
    // the terminal page: plain text that escapes nothing (Markdown would
    // show its backslashes and entities to a plain-text reader)
    let text = crate::present::terminal::render(&page, crate::io::table::DEFAULT_WIDTH);
    // a boundary no part can hold: base64 never has '-', and the hash of
    // the page makes it the page's own (the same input, the same bytes)
    let hash = xxhash_rust::xxh3::xxh3_64(html.as_bytes());
    let (outer, inner) = (format!("cpm-{hash:016x}-a"), format!("cpm-{hash:016x}-r"));
    let mut subject = page.title.clone();
    if let Some(first) = page.subtitle.get(1).or(page.subtitle.first()) {
        subject.push_str(&format!(", {first}"));
    }
    let mut m = String::new();
    let mut line = |text: &str| {
        m.push_str(text);
        m.push_str("\r\n");
    };
    line("MIME-Version: 1.0");
    line(&format!("Subject: {}", header_text(&subject)));
    line(&format!(
        "Content-Type: multipart/alternative; boundary=\"{outer}\""
    ));
    line("");
    line(&format!("--{outer}"));
    part(
        &mut line,
        "text/plain; charset=utf-8",
        text.as_bytes(),
        None,
    );
    line(&format!("--{outer}"));
    line(&format!(
        "Content-Type: multipart/related; boundary=\"{inner}\""
    ));
    line("");
    line(&format!("--{inner}"));
    part(&mut line, "text/html; charset=utf-8", html.as_bytes(), None);
    for (n, png) in images.iter().enumerate() {
        line(&format!("--{inner}"));
        part(&mut line, "image/png", png, Some(n));
    }
    line(&format!("--{inner}--"));
    line(&format!("--{outer}--"));
    Ok(m)
}

/// One MIME part of `content`, base64; the `n`-th chart's headers when
/// it is one.
fn part(line: &mut impl FnMut(&str), kind: &str, content: &[u8], chart: Option<usize>) {
    line(&format!("Content-Type: {kind}"));
    line("Content-Transfer-Encoding: base64");
    if let Some(n) = chart {
        line(&format!("Content-ID: <{}>", html::content_id(n)));
        line(&format!(
            "Content-Disposition: inline; filename=\"chart-{n}.png\""
        ));
    }
    line("");
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    for chunk in encoded.as_bytes().chunks(LINE) {
        line(std::str::from_utf8(chunk).unwrap_or_default());
    }
}

/// A header's text: as it is when ASCII without control characters, else
/// an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return text.to_string();
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    format!("=?UTF-8?B?{encoded}?=")
}
