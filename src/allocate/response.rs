//! The response model of each group: the defaults from the group's value
//! and size, and the overrides of a `--response` file (CSV or TOML).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::Response;

/// One group's overrides, as a `--response` file gives them: every field
/// but `group` may be left out (then the default stays).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// The group's name, as in the group column.
    pub group: String,
    /// U, the value at stake.
    pub uplift_value: Option<f64>,
    /// k, the saturation spend.
    pub saturation: Option<f64>,
    /// The least the group may get.
    pub min: Option<f64>,
    /// The most the group may get.
    pub max: Option<f64>,
    /// What to do with the group (replaces the playbook's).
    pub action: Option<String>,
}

/// How the default responses are made.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// U = `uplift` × the group's total value (0 when that is negative).
    pub uplift: f64,
    /// k = the group's customers × `cost_per_customer`.
    pub cost_per_customer: f64,
}

impl Defaults {
    /// The default response of a group of `customers` worth `value`.
    pub fn response(&self, customers: u64, value: f64) -> Response {
        Response::unbounded(
            self.uplift * value.max(0.0),
            customers as f64 * self.cost_per_customer,
        )
    }
}

/// Reads a `--response` file: CSV with a header (columns group,
/// uplift_value, saturation, min, max, action; all but group optional), or
/// TOML with `[[response]]` tables of the same keys. A group named twice
/// is an error.
pub fn read_overrides(text: &str, file: &str) -> Result<Vec<Override>> {
    let overrides = if file.to_ascii_lowercase().ends_with(".toml") {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            response: Vec<Override>,
        }
        toml::from_str::<Table>(text)
            .with_context(|| format!("{file}: not a response table ([[response]] entries)"))?
            .response
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = reader.headers()?.clone();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.with_context(|| format!("{file}: not a CSV response table"))?;
            let line = record.position().map_or(0, |p| p.line());
            let row: CsvRow = record.deserialize(Some(&headers)).map_err(|e| {
                // the column and value of a value that is not a number
                let field = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.field(),
                    _ => None,
                };
                match field.and_then(|f| Some((headers.get(f as usize)?, record.get(f as usize)?)))
                {
                    Some((column, value)) => anyhow::anyhow!(
                        "{file}: line {line}, group '{}', column '{column}': '{value}' is not a \
                         number",
                        headers
                            .iter()
                            .position(|h| h == "group")
                            .and_then(|g| record.get(g))
                            .unwrap_or_default()
                    ),
                    None => anyhow::anyhow!("{file}: line {line}: {e}"),
                }
            })?;
            rows.push(row.into_override());
        }
        rows
    };
    let mut seen = BTreeMap::new();
    for o in &overrides {
        if seen.insert(o.group.as_str(), ()).is_some() {
            bail!("{file}: group '{}' is given twice", o.group);
        }
    }
    Ok(overrides)
}

/// A CSV row: empty cells are left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    group: String,
    uplift_value: Option<f64>,
    saturation: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    #[serde(default)]
    action: Option<String>,
}

impl CsvRow {
    fn into_override(self) -> Override {
        Override {
            group: self.group,
            uplift_value: self.uplift_value,
            saturation: self.saturation,
            min: self.min,
            max: self.max,
            action: self.action.filter(|a| !a.is_empty()),
        }
    }
}

/// The groups' responses with `overrides` applied, and their actions. A
/// group in the file that is not among `names` is an error naming it.
pub fn apply(
    names: &[String],
    mut responses: Vec<Response>,
    overrides: &[Override],
    file: &str,
) -> Result<(Vec<Response>, Vec<Option<String>>)> {
    let unknown: Vec<&str> = overrides
        .iter()
        .filter(|o| !names.contains(&o.group))
        .map(|o| o.group.as_str())
        .collect();
    if !unknown.is_empty() {
        bail!(crate::error::usage(format!(
            "{file}: no such group: '{}' (the groups are: {})",
            unknown.join("', '"),
            names.join(", ")
        )));
    }
    let mut actions = vec![None; names.len()];
    for o in overrides {
        let g = names.iter().position(|n| *n == o.group).unwrap_or_default();
        let r = &mut responses[g];
        r.uplift_value = o.uplift_value.unwrap_or(r.uplift_value);
        r.saturation = o.saturation.unwrap_or(r.saturation);
        r.min = o.min.unwrap_or(r.min);
        r.max = o.max.unwrap_or(r.max);
        actions[g] = o.action.clone();
    }
    Ok((responses, actions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_toml_give_the_same_overrides() {
        let csv = "group,uplift_value,saturation,min,max,action\n\
                   Champions,5000,,100,,Call them\n\
                   Lost,,,,0,\n";
        let toml = "[[response]]\ngroup = \"Champions\"\nuplift_value = 5000\nmin = 100\n\
                    action = \"Call them\"\n\n[[response]]\ngroup = \"Lost\"\nmax = 0\n";
        let a = read_overrides(csv, "r.csv").unwrap();
        let b = read_overrides(toml, "r.toml").unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].uplift_value, Some(5000.0));
        assert_eq!(a[1].max, Some(0.0));
    }

    #[test]
    fn unknown_and_repeated_groups_are_errors() {
        let names = vec!["Champions".to_string(), "Lost".to_string()];
        let defaults = Defaults {
            uplift: 0.1,
            cost_per_customer: 1.0,
        };
        let responses = vec![defaults.response(10, 1000.0), defaults.response(5, -3.0)];
        assert_eq!(responses[0].uplift_value, 100.0);
        assert_eq!(responses[1].uplift_value, 0.0);
        let o = read_overrides("group,max\nChampoins,10\nLots,1\n", "r.csv").unwrap();
        let err = apply(&names, responses.clone(), &o, "r.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'Champoins', 'Lots'"), "{err}");
        let err = read_overrides("group,max\nLost,1\nLost,2\n", "r.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("'Lost' is given twice"), "{err}");
        let o = read_overrides("group,max\nLost,1\n", "r.csv").unwrap();
        let (applied, _) = apply(&names, responses, &o, "r.csv").unwrap();
        assert_eq!(applied[1].max, 1.0);
        assert!(read_overrides("group,budget\nLost,1\n", "r.csv").is_err());
    }
}
