//! The facts computed where the data lives: cpm renders the facts query
//! ([`crate::facts::sql`]) and runs it through the engine's own
//! command-line client (`duckdb`, `spark-sql`), which writes the small
//! facts table as Parquet where cpm reads it back; everything after the
//! facts stays local.

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
    /// Spark, through `spark-sql` (`$SPARK_HOME/bin/spark-sql` first).
    Spark,
}

impl Engine {
    fn dialect(self) -> Dialect {
        match self {
            Engine::DuckDb => Dialect::DuckDb,
            Engine::Spark => Dialect::Spark,
        }
    }
}

/// How the engine is reached.
pub struct EngineOptions {
    /// The engine.
    pub engine: Engine,
    /// Its client (`None`: `duckdb` on PATH; `$SPARK_HOME/bin/spark-sql`,
    /// else `spark-sql` on PATH).
    pub command: Option<PathBuf>,
    /// Settings passed through to the engine (Spark's `--conf KEY=VALUE`:
    /// `spark.master=yarn`, `spark.executor.memory=8g`).
    pub conf: Vec<(String, String)>,
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
    let (preamble, select) = render(&query(source, map, &[], false), dialect);
    format!("{preamble}{select};\n")
}

fn query<'a>(
    source: &'a Source,
    map: &'a ColumnMap,
    extras: &'a [String],
    count_after: bool,
) -> FactsQuery<'a> {
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
        count_after,
    }
}

/// The facts table of `source`, computed by the engine (DuckDB or Spark): its columns read
/// first (mapped as a local input's are), then the query run, its result
/// read back and checked against the facts schema; the rows after the
/// as-of day are told to `observer`, as a local read tells them.
pub fn facts(
    source: &Source,
    options: &EngineOptions,
    observer: &dyn crate::pipeline::Observer,
) -> Result<DataFrame> {
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
    let query = query(source, &map, &extras, true);
    let (preamble, select) = render(&query, options.engine.dialect());
    let folder = match &options.output {
        Some(dir) => Folder::Given(dir.clone()),
        None => Folder::Temporary(tempfile::tempdir().context("creating a temporary folder")?),
    };
    let out = folder.path().join("cpm-facts");
    let target = sql_string(&out.display().to_string());
    let script = match options.engine {
        Engine::DuckDb => format!("{preamble}COPY ({select}) TO {target} (FORMAT PARQUET);\n"),
        Engine::Spark => {
            format!("{preamble}INSERT OVERWRITE DIRECTORY {target} USING parquet\n{select};\n")
        }
    };
    client.run(&script)?;
    let mut frame = read_result(&out)?;
    let after = frame
        .column(crate::facts::sql::ROWS_AFTER)?
        .cast(&DataType::UInt64)?;
    let after = after.u64()?.get(0).unwrap_or(0);
    frame = frame.drop(crate::facts::sql::ROWS_AFTER)?;
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
    let facts = crate::facts::typed(&frame, &name)?;
    if after > 0 {
        let as_of = facts
            .column(crate::facts::AS_OF)?
            .get(0)?
            .str_value()
            .to_string();
        observer.warn(&format!("{after} transactions after {as_of} excluded"));
    }
    Ok(facts)
}

/// The result the engine wrote at `out`: one Parquet file (DuckDB), or a
/// folder of parts (Spark), sorted by customer as cpm sorts the facts.
fn read_result(out: &Path) -> Result<DataFrame> {
    let mut files: Vec<PathBuf> = match out.is_dir() {
        true => std::fs::read_dir(out)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
            .collect(),
        false => vec![out.to_path_buf()],
    };
    files.sort();
    let mut parts = Vec::with_capacity(files.len());
    for path in &files {
        let file = std::fs::File::open(path)
            .with_context(|| format!("the engine wrote no result to {}", out.display()))?;
        parts.push(ParquetReader::new(file).finish()?);
    }
    let mut parts = parts.into_iter();
    let Some(mut frame) = parts.next() else {
        bail!("the engine wrote no result to {}", out.display());
    };
    for part in parts {
        frame.vstack_mut(&part)?;
    }
    Ok(frame.sort([crate::schema::CUSTOMER_ID], SortMultipleOptions::default())?)
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
    engine: Engine,
    program: PathBuf,
    /// Its arguments before the script.
    args: Vec<String>,
}

impl Client {
    fn new(options: &EngineOptions) -> Result<Client> {
        let program = match (&options.command, options.engine) {
            (Some(path), _) => path.clone(),
            (None, Engine::DuckDb) => PathBuf::from("duckdb"),
            (None, Engine::Spark) => match std::env::var_os("SPARK_HOME") {
                Some(home) => PathBuf::from(home).join("bin").join("spark-sql"),
                None => PathBuf::from("spark-sql"),
            },
        };
        let mut args: Vec<String> = match options.engine {
            Engine::DuckDb => vec!["-json".into(), "-bail".into()],
            Engine::Spark => vec!["--master".into(), "local[*]".into()],
        };
        for (key, value) in &options.conf {
            match (options.engine, key.as_str()) {
                (Engine::Spark, "spark.master") => args[1] = value.clone(),
                (Engine::Spark, _) => args.extend(["--conf".into(), format!("{key}={value}")]),
                (Engine::DuckDb, _) => bail!(usage(format!(
                    "--engine-conf {key}: DuckDB takes its settings in SQL; none pass through"
                ))),
            }
        }
        Ok(Client {
            engine: options.engine,
            program,
            args,
        })
    }

    /// The names of the columns of `source`.
    fn columns(&self, source: &str) -> Result<Vec<String>> {
        let described = format!("{self} describing {source}");
        Ok(match self.engine {
            Engine::DuckDb => {
                let out = self.run(&format!("DESCRIBE SELECT * FROM {source};\n"))?;
                let columns: Vec<serde_json::Value> =
                    serde_json::from_str(&out).with_context(|| described.clone())?;
                (columns.iter())
                    .filter_map(|c| c["column_name"].as_str().map(str::to_string))
                    .collect()
            }
            Engine::Spark => {
                let out = self.run(&format!("DESCRIBE QUERY SELECT * FROM {source};\n"))?;
                // one line a column: name, type, comment, tab-separated
                (out.lines())
                    .filter_map(|line| line.split('\t').next())
                    .map(|name| name.trim().to_string())
                    .filter(|name| !name.is_empty() && !name.starts_with('#'))
                    .collect()
            }
        })
    }

    /// Runs `script` through the client (a file of statements; results
    /// on its stdout); an engine that fails is an error with its own
    /// message and the command that was run.
    fn run(&self, script: &str) -> Result<String> {
        let file = crate::io::atomic::TempFile::new(".sql")?;
        std::fs::write(file.path(), script).context("writing the engine's script")?;
        let script_args: Vec<String> = match self.engine {
            // DuckDB reads the statements on its stdin
            Engine::DuckDb => Vec::new(),
            Engine::Spark => vec!["-f".into(), file.path().display().to_string()],
        };
        let command = format!("{self} {}", script_args.join(" "));
        let stdin = match self.engine {
            Engine::DuckDb => std::fs::File::open(file.path())?.into(),
            Engine::Spark => Stdio::null(),
        };
        let child = Command::new(&self.program)
            .args(&self.args)
            .args(&script_args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                usage(format!(
                    "cannot start the engine ({command}): {}; install its client, or give its \
                     path with --engine-cmd",
                    crate::io::source::io_reason(&e)
                ))
            })?;
        let output = child
            .wait_with_output()
            .with_context(|| format!("running {command}"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // DuckDB says "Error"; Spark's log is long: its errors' lines
        let failed = !output.status.success()
            || match self.engine {
                Engine::DuckDb => stderr.contains("Error"),
                Engine::Spark => stderr.contains("[PARSE_SYNTAX_ERROR]"),
            };
        if failed {
            let said: Vec<&str> = match self.engine {
                Engine::DuckDb => stderr.lines().collect(),
                Engine::Spark => (stderr.lines())
                    .filter(|line| line.contains("Error") || line.contains("Exception"))
                    .take(5)
                    .collect(),
            };
            bail!(
                "the engine failed ({command}, {}): {}",
                output.status,
                said.join("\n").trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.program.display(), self.args.join(" "))
    }
}
