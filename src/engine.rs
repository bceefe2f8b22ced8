//! The facts computed where the data lives: cpm renders the facts query
//! ([`crate::facts::sql`]) and runs it through the engine's own
//! command-line client (`duckdb`), which writes the small facts table to a
//! Parquet file cpm reads back; everything after the facts stays local.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::error::usage;
use crate::facts::sql::{Dialect, FactsQuery, render};
use crate::schema::{ColumnMap, MapOverride};

/// An engine cpm runs the facts query in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB, through its `duckdb` client.
    DuckDb,
}

/// How the engine is reached.
pub struct EngineOptions {
    /// The engine.
    pub engine: Engine,
    /// Its client (`None`: `duckdb` on PATH).
    pub command: Option<PathBuf>,
    /// A folder both the engine and cpm reach, for the result (`None`: a
    /// temporary folder).
    pub output: Option<PathBuf>,
}

/// What the facts query reads.
pub struct Source<'a> {
    /// The transactions in the engine's own syntax (a table, a path).
    pub source: &'a str,
    /// `--map` overrides: the rest is found by the columns' names, as for
    /// a local input.
    pub overrides: &'a [MapOverride],
    /// The analysis day (`None`: the day after the latest row).
    pub as_of: Option<NaiveDate>,
    /// Ingest's duplicates rule.
    pub duplicates: crate::ingest::DuplicatePolicy,
}

/// The source columns of the canonical ones when the source's columns are
/// not known (the SQL printed for another engine): `overrides`, else the
/// canonical names of the required columns; `order_id` and `cost` only
/// when mapped.
pub fn assumed_map(overrides: &[MapOverride], source: &str) -> Result<ColumnMap> {
    let mut found: Vec<String> = [
        crate::schema::CUSTOMER_ID,
        crate::schema::ORDER_DATE,
        crate::schema::REVENUE,
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    for o in overrides {
        found.extend(o.source.split('*').map(|s| s.trim().to_string()));
    }
    crate::schema::map_columns(&found, overrides, source)
}

/// The facts query of `source` in `dialect`, with the columns mapped as
/// `map` says: the statements to run, ready to print.
pub fn facts_sql(source: &Source, map: &ColumnMap, dialect: Dialect) -> String {
    let (preamble, select) = render(&query(source, map, &[]), dialect);
    format!("{preamble}{select};\n")
}

fn query<'a>(source: &'a Source, map: &'a ColumnMap, extras: &'a [String]) -> FactsQuery<'a> {
    use crate::ingest::DuplicatePolicy;
    FactsQuery {
        source: source.source,
        map,
        as_of: source.as_of,
        remove_duplicates: match source.duplicates {
            DuplicatePolicy::Remove => true,
            DuplicatePolicy::Keep => false,
            DuplicatePolicy::Auto => map.order_id.is_some(),
        },
        extras,
    }
}

/// The facts table of `source`, computed by the engine: its columns read
/// first (mapped as a local input's are), then the query run, its result
/// read back and checked against the facts schema.
pub fn facts(source: &Source, options: &EngineOptions) -> Result<DataFrame> {
    let client = Client::new(options)?;
    let columns = client.columns(source.source)?;
    let map = crate::schema::map_columns(&columns, source.overrides, source.source)?;
    // the other columns pass through where constant per customer, as
    // locally
    let described = map.describe();
    let mapped: Vec<&str> = (described.values())
        .flat_map(|source| source.split('*'))
        .map(str::trim)
        .collect();
    let extras: Vec<String> = (columns.iter())
        .filter(|c| !mapped.contains(&c.as_str()))
        .cloned()
        .collect();
    let (preamble, select) = render(&query(source, &map, &extras), Dialect::DuckDb);
    let folder = match &options.output {
        Some(dir) => Folder::Given(dir.clone()),
        None => Folder::Temporary(tempfile::tempdir().context("creating a temporary folder")?),
    };
    let out = folder.path().join("cpm-facts.parquet");
    let script = format!(
        "{preamble}COPY ({select}) TO {} (FORMAT PARQUET);\n",
        sql_string(&out.display().to_string())
    );
    client.run(&script)?;
    let file = std::fs::File::open(&out)
        .with_context(|| format!("the engine wrote no result to {}", out.display()))?;
    let mut frame = ParquetReader::new(file).finish()?;
    for extra in &extras {
        let flag = crate::facts::sql::varies(extra);
        let varies = frame.column(&flag)?.cast(&DataType::Int32)?;
        let varies = varies.i32()?.iter().any(|v| v == Some(1));
        frame = frame.drop(&flag)?;
        if varies {
            frame = frame.drop(extra)?;
        }
    }
    let name = format!("the facts of {}", source.source);
    crate::facts::typed(&frame, &name)
}

/// Where the engine writes its result.
enum Folder {
    Given(PathBuf),
    Temporary(tempfile::TempDir),
}

impl Folder {
    fn path(&self) -> &Path {
        match self {
            Folder::Given(dir) => dir,
            Folder::Temporary(dir) => dir.path(),
        }
    }
}

/// An SQL string literal.
fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The engine's command-line client.
struct Client {
    program: PathBuf,
}

impl Client {
    fn new(options: &EngineOptions) -> Result<Client> {
        let program = match (&options.command, options.engine) {
            (Some(path), _) => path.clone(),
            (None, Engine::DuckDb) => PathBuf::from("duckdb"),
        };
        Ok(Client { program })
    }

    /// The names of the columns of `source`.
    fn columns(&self, source: &str) -> Result<Vec<String>> {
        let out = self.run(&format!("DESCRIBE SELECT * FROM {source};\n"))?;
        let described: Vec<serde_json::Value> = serde_json::from_str(&out)
            .with_context(|| format!("reading the columns {} described", self.name()))?;
        Ok(described
            .iter()
            .filter_map(|c| c["column_name"].as_str().map(str::to_string))
            .collect())
    }

    fn name(&self) -> String {
        self.program.display().to_string()
    }

    /// Runs `script` through the client (statements on its stdin, JSON
    /// results on its stdout); an engine that fails is an error with its
    /// own message and the command that was run.
    fn run(&self, script: &str) -> Result<String> {
        let command = format!("{} -json -bail", self.name());
        let mut child = Command::new(&self.program)
            .args(["-json", "-bail"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                usage(format!(
                    "cannot start the engine ({command}): {}; install DuckDB's client, or give \
                     its path",
                    crate::io::source::io_reason(&e)
                ))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, script.as_bytes())
                .with_context(|| format!("writing to {command}"))?;
        }
        let output = child
            .wait_with_output()
            .with_context(|| format!("running {command}"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() || stderr.contains("Error") {
            bail!(
                "the engine failed ({command}, {}): {}",
                output.status,
                stderr.trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
