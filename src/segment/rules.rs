//! Named segments from RFM codes, and the playbook that goes with each.
//!
//! A rule table is a list of boxes (R, F and M score ranges) with a segment
//! name; the first box containing a code names it. The default table is a
//! partition of the 125 codes into eleven segments, so no customer is left
//! as "Others". `rfm-r` is the R `rfm` package's table (overlapping, first
//! match wins, the rest "Others"). A TOML file can define its own table;
//! it must cover every code exactly once.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// An inclusive score range.
pub type Range = [u8; 2];

/// One box of a rule table. An unknown key is an error naming it (a typo
/// such as `stratgy` would otherwise be lost in silence).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Segment name.
    #[serde(alias = "segment")]
    pub name: String,
    /// Recency scores, inclusive.
    pub r: Range,
    /// Frequency scores, inclusive.
    pub f: Range,
    /// Monetary scores, inclusive.
    pub m: Range,
    /// retain / grow / win back / nurture / deprioritise (default: the
    /// playbook's, for the standard names).
    #[serde(default)]
    pub strategy: Option<String>,
    /// What to do, in one line.
    #[serde(default)]
    pub action: Option<String>,
}

impl Rule {
    fn new(name: &str, r: Range, f: Range, m: Range) -> Rule {
        Rule {
            name: name.to_string(),
            r,
            f,
            m,
            strategy: None,
            action: None,
        }
    }

    /// Whether the code falls in this box.
    pub fn contains(&self, r: u8, f: u8, m: u8) -> bool {
        let inside = |v: u8, [lo, hi]: Range| lo <= v && v <= hi;
        inside(r, self.r) && inside(f, self.f) && inside(m, self.m)
    }

    /// The segment's playbook: the rule's own, else the standard one.
    pub fn play(&self) -> Play {
        let standard = playbook(&self.name);
        Play {
            strategy: self
                .strategy
                .clone()
                .unwrap_or(standard.strategy.to_string()),
            action: self.action.clone().unwrap_or(standard.action.to_string()),
        }
    }
}

/// The default table (see README): boxes that partition the 125 codes.
pub fn default_rules() -> Vec<Rule> {
    vec![
        Rule::new("Champions", [4, 5], [4, 5], [4, 5]),
        Rule::new("Loyal Customers", [4, 5], [4, 5], [1, 3]),
        Rule::new("Loyal Customers", [3, 3], [4, 5], [1, 5]),
        Rule::new("Potential Loyalist", [4, 5], [2, 3], [1, 5]),
        Rule::new("New Customers", [5, 5], [1, 1], [1, 5]),
        Rule::new("Promising", [4, 4], [1, 1], [1, 5]),
        Rule::new("Need Attention", [3, 3], [3, 3], [1, 5]),
        Rule::new("About To Sleep", [3, 3], [1, 2], [1, 5]),
        Rule::new("Can't Lose Them", [1, 2], [4, 5], [4, 5]),
        Rule::new("At Risk", [1, 2], [3, 3], [1, 5]),
        Rule::new("At Risk", [1, 2], [4, 5], [1, 3]),
        Rule::new("Hibernating", [2, 2], [1, 2], [1, 5]),
        Rule::new("Lost", [1, 1], [1, 2], [1, 5]),
    ]
}

/// The R `rfm` package's table (0.3.0): overlapping boxes, first match
/// wins, codes matching none are "Others".
pub fn rfm_r_rules() -> Vec<Rule> {
    vec![
        Rule::new("Champions", [5, 5], [5, 5], [5, 5]),
        Rule::new("Potential Loyalist", [3, 5], [3, 5], [2, 5]),
        Rule::new("Loyal Customers", [2, 4], [2, 4], [2, 4]),
        Rule::new("Promising", [3, 4], [1, 3], [3, 5]),
        Rule::new("New Customers", [4, 5], [1, 3], [1, 5]),
        Rule::new("Can't Lose Them", [1, 2], [3, 4], [4, 5]),
        Rule::new("At Risk", [1, 2], [2, 5], [4, 5]),
        Rule::new("Need Attention", [1, 3], [3, 5], [3, 5]),
        Rule::new("About To Sleep", [2, 3], [1, 3], [1, 4]),
        Rule::new("Lost", [1, 1], [1, 5], [1, 5]),
    ]
}

/// Reads a TOML rule table (`[[segment]]` entries with `name`, `r`, `f`,
/// `m` and optional `strategy`, `action`) and checks it covers every code
/// exactly once.
pub fn rules_from_toml(text: &str, file: &str) -> Result<Vec<Rule>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        segment: Vec<Rule>,
    }
    let table: Table = toml::from_str(text).with_context(|| format!("{file}: not a rule table"))?;
    for rule in &table.segment {
        for (dimension, [lo, hi]) in [("r", rule.r), ("f", rule.f), ("m", rule.m)] {
            if !(1 <= lo && lo <= hi && hi <= 5) {
                bail!(
                    "{file}: segment '{}': {dimension} = [{lo}, {hi}] is not a range within 1..5",
                    rule.name
                );
            }
        }
    }
    check_partition(&table.segment).with_context(|| format!("{file}: invalid rule table"))?;
    Ok(table.segment)
}

/// Fails, naming the codes, unless every code 111..555 is in exactly one box.
pub fn check_partition(rules: &[Rule]) -> Result<()> {
    let (mut gaps, mut overlaps) = (Vec::new(), Vec::new());
    for r in 1..=5 {
        for f in 1..=5 {
            for m in 1..=5 {
                let names: Vec<&str> = rules
                    .iter()
                    .filter(|x| x.contains(r, f, m))
                    .map(|x| x.name.as_str())
                    .collect();
                match names.len() {
                    0 => gaps.push(format!("{r}{f}{m}")),
                    1 => {}
                    _ => overlaps.push(format!("{r}{f}{m} ({})", names.join(", "))),
                }
            }
        }
    }
    let mut problems = Vec::new();
    if !gaps.is_empty() {
        problems.push(format!(
            "{} codes in no segment: {}",
            gaps.len(),
            gaps.join(", ")
        ));
    }
    if !overlaps.is_empty() {
        problems.push(format!(
            "{} codes in more than one segment: {}",
            overlaps.len(),
            overlaps.join("; ")
        ));
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    Ok(())
}

/// Segment names in the order summaries list them (best first).
pub const SEGMENT_ORDER: [&str; 12] = [
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
    "Others",
];

/// What to do with a segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Play {
    /// retain / grow / win back / nurture / deprioritise.
    pub strategy: String,
    /// One line: what to do.
    pub action: String,
}

/// The standard playbook of a segment name.
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
        _ => (
            "nurture",
            "No rule matched: look at these customers, then extend the rule table",
        ),
    };
    Play {
        strategy: strategy.to_string(),
        action: action.to_string(),
    }
}

/// The index of the first rule containing the code (first match wins).
pub fn rule_index(rules: &[Rule], r: u8, f: u8, m: u8) -> Option<usize> {
    rules.iter().position(|rule| rule.contains(r, f, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_exactly_one_segment_of_the_default_table() {
        check_partition(&default_rules()).unwrap();
        let rules = default_rules();
        let name = |r, f, m| rules[rule_index(&rules, r, f, m).unwrap()].name.clone();
        assert_eq!(name(5, 5, 5), "Champions");
        assert_eq!(name(5, 1, 3), "New Customers");
        assert_eq!(name(1, 5, 5), "Can't Lose Them");
        assert_eq!(name(1, 1, 1), "Lost");
    }

    #[test]
    fn the_r_table_overlaps_and_leaves_others() {
        let rules = rfm_r_rules();
        assert!(check_partition(&rules).is_err());
        // first match wins: 555 is a Champion though Potential Loyalist holds it too
        let name = |r, f, m| rule_index(&rules, r, f, m).map(|i| rules[i].name.as_str());
        assert_eq!(name(5, 5, 5), Some("Champions"));
        assert_eq!(name(4, 4, 4), Some("Potential Loyalist"));
        assert_eq!(name(2, 2, 2), Some("Loyal Customers"));
        assert_eq!(name(5, 1, 1), Some("New Customers"));
        assert_eq!(name(2, 1, 5), None, "Others");
    }

    #[test]
    fn toml_tables_are_checked_for_gaps_and_overlaps() {
        let two = "[[segment]]\nname = \"Good\"\nr = [3, 5]\nf = [1, 5]\nm = [1, 5]\n\
                   strategy = \"retain\"\naction = \"Keep them\"\n\
                   [[segment]]\nname = \"Bad\"\nr = [1, 2]\nf = [1, 5]\nm = [1, 5]\n";
        let rules = rules_from_toml(two, "two.toml").unwrap();
        assert_eq!(rules[0].play().action, "Keep them");
        let gap = two.replace("r = [1, 2]", "r = [1, 1]");
        let err = format!("{:#}", rules_from_toml(&gap, "gap.toml").unwrap_err());
        assert!(err.contains("25 codes in no segment: 211, 212"), "{err}");
        let overlap = two.replace("r = [1, 2]", "r = [1, 3]");
        let err = format!("{:#}", rules_from_toml(&overlap, "o.toml").unwrap_err());
        assert!(
            err.contains("codes in more than one segment: 311 (Good, Bad)"),
            "{err}"
        );
        assert!(rules_from_toml(&two.replace("[3, 5]", "[0, 5]"), "x").is_err());
    }

    #[test]
    fn every_segment_has_a_play() {
        for segment in &SEGMENT_ORDER[..11] {
            let play = playbook(segment);
            assert!(
                ["retain", "grow", "win back", "nurture", "deprioritise"]
                    .contains(&play.strategy.as_str())
            );
            assert!(!play.action.starts_with("No rule matched"), "{segment}");
        }
    }
}
