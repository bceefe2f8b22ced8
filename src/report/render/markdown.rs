//! The report as GitHub-flavoured Markdown, for mail, chat and wikis.

use crate::present::Document;

/// The document as Markdown.
pub fn render(document: &Document) -> String {
    let mut out = format!("# {}\n\n", escape(&document.title));
    for line in &document.subtitle {
        out.push_str(&format!("{}  \n", escape(line)));
    }
    for section in &document.sections {
        out.push_str(&format!("\n## {}\n\n", escape(&section.title)));
        for alert in &section.alerts {
            out.push_str(&format!("> **Alert:** {}\n\n", escape(alert)));
        }
        for line in &section.lines {
            out.push_str(&format!("{}\n\n", escape(line)));
        }
        for table in &section.tables {
            if let Some(caption) = &table.caption {
                out.push_str(&format!("**{}**\n\n", escape(caption)));
            }
            let headers: Vec<String> = table.headers.iter().map(|h| escape(h)).collect();
            out.push_str(&format!("| {} |\n", headers.join(" | ")));
            let numeric: Vec<bool> = (0..table.headers.len())
                .map(|i| {
                    table
                        .rows
                        .iter()
                        .all(|row| row.get(i).is_none_or(|c| c.is_numeric()))
                })
                .collect();
            let rule: Vec<&str> = numeric
                .iter()
                .map(|&n| if n { "---:" } else { "---" })
                .collect();
            out.push_str(&format!("| {} |\n", rule.join(" | ")));
            for row in &table.rows {
                let cells: Vec<String> = row.iter().map(|c| escape(&c.display())).collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            out.push('\n');
        }
    }
    out
}

/// Text shown as it is in a Markdown table cell or line: Markdown's
/// punctuation escaped, HTML's `<`, `>` and `&` as entities, no autolinks
/// (`http://`, `www.`, `name@host`), control characters written out.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' | '@' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => out.push_str(&c.escape_debug().to_string()),
            c => out.push(c),
        }
    }
    out.replace("://", "\\://").replace("www.", "www\\.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("<script>"), "&lt;script&gt;");
        assert_eq!(escape("x\ny"), "x y");
        assert_eq!(escape("&lt;b&gt;"), "&amp;lt;b&amp;gt;");
        assert_eq!(
            escape("see https://x.io or www.x.io"),
            "see https\\://x.io or www\\.x.io"
        );
        assert_eq!(escape("a@b.c ~x~"), "a\\@b.c \\~x\\~");
    }
}
