//! Named segments from RFM codes, and the playbook that goes with each.
//!
//! The default table is a partition of the 125 codes (R, F, M in 1..=5)
//! into eleven segments: every code falls in exactly one box, so no customer
//! is left as "Others".

use serde::Serialize;

/// An inclusive score range.
pub type Range = (u8, u8);

/// One box of a rule table: a segment for the codes in these ranges.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Segment name.
    pub segment: &'static str,
    /// Recency scores.
    pub r: Range,
    /// Frequency scores.
    pub f: Range,
    /// Monetary scores.
    pub m: Range,
}

const fn rule(segment: &'static str, r: Range, f: Range, m: Range) -> Rule {
    Rule { segment, r, f, m }
}

/// The default table (see README): boxes that partition the 125 codes.
pub const DEFAULT_RULES: [Rule; 13] = [
    rule("Champions", (4, 5), (4, 5), (4, 5)),
    rule("Loyal Customers", (4, 5), (4, 5), (1, 3)),
    rule("Loyal Customers", (3, 3), (4, 5), (1, 5)),
    rule("Potential Loyalist", (4, 5), (2, 3), (1, 5)),
    rule("New Customers", (5, 5), (1, 1), (1, 5)),
    rule("Promising", (4, 4), (1, 1), (1, 5)),
    rule("Need Attention", (3, 3), (3, 3), (1, 5)),
    rule("About To Sleep", (3, 3), (1, 2), (1, 5)),
    rule("Can't Lose Them", (1, 2), (4, 5), (4, 5)),
    rule("At Risk", (1, 2), (3, 3), (1, 5)),
    rule("At Risk", (1, 2), (4, 5), (1, 3)),
    rule("Hibernating", (2, 2), (1, 2), (1, 5)),
    rule("Lost", (1, 1), (1, 2), (1, 5)),
];

/// Segments in the order summaries list them (best first).
pub const SEGMENT_ORDER: [&str; 11] = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
];

/// What to do with a segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Play {
    /// retain / grow / win back / nurture / deprioritise.
    pub strategy: &'static str,
    /// One line: what to do.
    pub action: &'static str,
}

/// The playbook of a segment.
pub fn playbook(segment: &str) -> Play {
    let (strategy, action) = match segment {
        "Champions" => (
            "retain",
            "Reward them: early access, loyalty perks; ask for reviews and referrals",
        ),
        "Loyal Customers" => (
            "grow",
            "Upsell higher-value products; invite them into the loyalty programme",
        ),
        "Potential Loyalist" => (
            "grow",
            "Offer membership or a loyalty programme; recommend related products",
        ),
        "New Customers" => (
            "nurture",
            "Onboard well: welcome series and an incentive for the second order",
        ),
        "Promising" => (
            "nurture",
            "Build the relationship: targeted offers, free shipping on the next order",
        ),
        "Need Attention" => (
            "grow",
            "Limited-time offers based on past purchases, before they slip",
        ),
        "About To Sleep" => (
            "win back",
            "Reconnect: popular products and a renewal discount",
        ),
        "At Risk" => (
            "win back",
            "Personal win-back campaign; ask what went wrong",
        ),
        "Can't Lose Them" => (
            "win back",
            "Call or write personally; win them back with new products or renewals",
        ),
        "Hibernating" => (
            "deprioritise",
            "Low-cost reactivation only: relevant offers, no heavy discounts",
        ),
        "Lost" => (
            "deprioritise",
            "One revival campaign at most; otherwise spend elsewhere",
        ),
        _ => ("nurture", "Review this segment's rule"),
    };
    Play { strategy, action }
}

/// The segment of a code under `rules`, first matching box wins.
pub fn segment_of(rules: &[Rule], r: u8, f: u8, m: u8) -> Option<&'static str> {
    let inside = |v: u8, (lo, hi): Range| lo <= v && v <= hi;
    rules
        .iter()
        .find(|rule| inside(r, rule.r) && inside(f, rule.f) && inside(m, rule.m))
        .map(|rule| rule.segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_exactly_one_segment_of_the_default_table() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let inside = |v: u8, (lo, hi): Range| lo <= v && v <= hi;
                    let matches = DEFAULT_RULES
                        .iter()
                        .filter(|x| inside(r, x.r) && inside(f, x.f) && inside(m, x.m))
                        .count();
                    assert_eq!(matches, 1, "code {r}{f}{m}");
                }
            }
        }
        assert_eq!(segment_of(&DEFAULT_RULES, 5, 5, 5), Some("Champions"));
        assert_eq!(segment_of(&DEFAULT_RULES, 5, 1, 3), Some("New Customers"));
        assert_eq!(segment_of(&DEFAULT_RULES, 1, 5, 5), Some("Can't Lose Them"));
        assert_eq!(segment_of(&DEFAULT_RULES, 1, 1, 1), Some("Lost"));
    }

    #[test]
    fn every_segment_has_a_play() {
        for segment in SEGMENT_ORDER {
            let play = playbook(segment);
            assert!(
                ["retain", "grow", "win back", "nurture", "deprioritise"].contains(&play.strategy)
            );
            assert_ne!(play.action, "Review this segment's rule", "{segment}");
        }
    }
}
