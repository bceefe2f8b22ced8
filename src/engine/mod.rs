//! The facts computed where the data lives: cpm renders the facts query
//! ([`crate::facts::sql`]) and runs it through the engine's own
//! command-line client (`duckdb`, `spark-sql`), which writes the small
//! facts table as Parquet where cpm reads it back; everything after the
//! facts stays local.

mod client;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use polars::prelude::*;

use crate::facts::sql::{COUNTS, Dialect, FactsQuery, counts, render};
use crate::ingest::report::MaxRejects;
use crate::pipeline::Observer;
use crate::schema::dates::DateFormat;
use crate::schema::{ColumnMap, MapOverride};
use client::{Client, sql_string};

/// An engine cpm runs the facts query in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB, through its `duckdb` client.
    DuckDb,
    /// Spark, through `spark-sql` (`$SPARK_HOME/bin/spark-sql` first).
    Spark,
}

impl Engine {
    /// The dialect of its SQL.
    pub fn dialect(self) -> Dialect {
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
pub struct Source {
    /// The transactions in the engine's own syntax (a table, a path).
    pub source: String,
    /// `--map` overrides: the rest is found by the columns' names, as for
    /// a local input.
    pub overrides: Vec<MapOverride>,
    /// The analysis day (`None`: the day after the latest row).
    pub as_of: Option<NaiveDate>,
    /// How the order dates are written, when they are text (`--date-format`).
    pub date_format: Option<DateFormat>,
    /// The rows the engine may leave out (unreadable, as ingest's
    /// rejects) before it is an error.
    pub max_rejects: MaxRejects,
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
pub fn facts_sql(source: &Source, map: &ColumnMap, dialect: Dialect) -> Result<String> {
    let query = FactsQuery {
        source: &source.source,
        map,
        date_format: source.date_format.as_ref(),
        as_of: source.as_of,
        remove_duplicates: source.removes_duplicates(map),
        extras: &[],
    };
    let (preamble, select) = render(&query, dialect)?;
    Ok(format!("{preamble}{select};\n"))
}

impl Source {
    /// Ingest's duplicates rule on rows mapped as `map` says.
    fn removes_duplicates(&self, map: &ColumnMap) -> bool {
        use crate::ingest::DuplicatePolicy;
        match self.duplicates {
            DuplicatePolicy::Remove => true,
            DuplicatePolicy::Keep => false,
            DuplicatePolicy::Auto => map.order_id.is_some(),
        }
    }
}

/// The facts table of `source`, computed by the engine (DuckDB or Spark):
/// [`Session::open`], then [`Session::facts`] as of the source's day.
pub fn facts(source: Source, options: EngineOptions, observer: &dyn Observer) -> Result<DataFrame> {
    let as_of = source.as_of;
    Session::open(source, options)?.facts(as_of, observer)
}

/// A source in an engine, its columns read and mapped as a local input's
/// are: the queries cpm runs there.
pub struct Session {
    client: Client,
    source: Source,
    options: EngineOptions,
    map: ColumnMap,
    /// The source's other columns, passed through where constant per
    /// customer, as locally.
    extras: Vec<String>,
    /// Where the engine writes its results.
    folder: Folder,
}

impl Session {
    /// Reaches the engine and asks for the source's columns (one run of
    /// its client).
    pub fn open(source: Source, options: EngineOptions) -> Result<Session> {
        let client = Client::new(&options)?;
        let columns = client.columns(&source.source)?;
        let map = crate::schema::map_columns(&columns, &source.overrides, &source.source)?;
        let described = map.describe();
        let mapped: Vec<&str> = (described.values())
            .flat_map(|source| source.split('*'))
            .map(str::trim)
            .collect();
        let extras: Vec<String> = (columns.iter())
            .filter(|c| !mapped.contains(&c.as_str()))
            .cloned()
            .collect();
        let folder = match &options.output {
            Some(dir) => Folder::Given(dir.clone()),
            None => Folder::Temporary(tempfile::tempdir().context("creating a temporary folder")?),
        };
        Ok(Session {
            client,
            source,
            options,
            map,
            extras,
            folder,
        })
    }

    /// The engine's dialect.
    pub fn dialect(&self) -> Dialect {
        self.options.engine.dialect()
    }

    /// The query on the source's rows as of `as_of` (`None`: the day after
    /// the latest row).
    pub fn query(&self, as_of: Option<NaiveDate>) -> FactsQuery<'_> {
        FactsQuery {
            source: &self.source.source,
            map: &self.map,
            date_format: self.source.date_format.as_ref(),
            as_of,
            remove_duplicates: self.source.removes_duplicates(&self.map),
            extras: &self.extras,
        }
    }

    /// Whether the source has a cost column.
    pub fn has_cost(&self) -> bool {
        self.map.cost.is_some()
    }

    /// The facts table as of `as_of` (`None`: the day after the latest
    /// row), with its rows told ([`Session::told`]).
    pub fn facts(&self, as_of: Option<NaiveDate>, observer: &dyn Observer) -> Result<DataFrame> {
        let [facts, counts] = self.run(self.facts_and_counts(as_of)?)?;
        self.told(&counts, observer)?;
        self.facts_of(facts)
    }

    /// The SELECTs of the facts table as of `as_of` and of its rows'
    /// counts.
    pub fn facts_and_counts(&self, as_of: Option<NaiveDate>) -> Result<[String; 2]> {
        let query = self.query(as_of);
        Ok([
            render(&query, self.dialect())?.1,
            counts(&query, self.dialect())?,
        ])
    }

    /// Tells `observer` what became of the source's rows (`counts`, from
    /// [`crate::facts::sql::counts`]), as a local read tells it: the rows
    /// the engine could not read are left out, an error past
    /// `--max-rejects` (nothing else is computed); the rows after the as-of
    /// day are excluded.
    pub fn told(&self, counts: &DataFrame, observer: &dyn Observer) -> Result<()> {
        let number = |name: &str| -> Result<u64> {
            let values = counts.column(name)?.cast(&DataType::UInt64)?;
            Ok(values.u64()?.get(0).unwrap_or(0))
        };
        let [read, distinct, kept, after] = COUNTS;
        let (read, distinct, kept, after) = (
            number(read)?,
            number(distinct)?,
            number(kept)?,
            number(after)?,
        );
        let left_out = distinct.saturating_sub(kept);
        let source = &self.source.source;
        observer.info(&format!(
            "{source}: {} rows read, {} exact duplicates removed, {} left out, {} kept",
            crate::io::human::count(read),
            crate::io::human::count(read.saturating_sub(distinct)),
            crate::io::human::count(left_out),
            crate::io::human::count(kept),
        ));
        let why = "without a customer id, a date or a revenue the engine could read (text dates \
                   other than ISO need --date-format)";
        if self.source.max_rejects.exceeded(left_out, read) {
            bail!(
                "{source}: {} of {} rows {why}: more than --max-rejects allows ({}); nothing \
                 computed",
                crate::io::human::count(left_out),
                crate::io::human::count(read),
                self.source.max_rejects,
            );
        }
        if left_out > 0 {
            observer.warn(&format!(
                "{} of {} rows of {source} left out: {why}",
                crate::io::human::count(left_out),
                crate::io::human::count(read),
            ));
        }
        if after > 0 {
            let as_of = counts.column("as_of")?.get(0)?.str_value().to_string();
            observer.warn(&format!("{after} transactions after {as_of} excluded"));
        }
        Ok(())
    }

    /// The facts table of what [`render`]'s SELECT returned: each extra
    /// kept where constant per customer, checked against the facts schema.
    pub fn facts_of(&self, mut frame: DataFrame) -> Result<DataFrame> {
        for extra in &self.extras {
            let flag = crate::facts::sql::varies(extra);
            let varies = frame.column(&flag)?.cast(&DataType::Int32)?;
            let varies = varies.i32()?.iter().any(|v| v == Some(1));
            frame = frame.drop(&flag)?;
            if varies {
                frame = frame.drop(extra)?;
            }
        }
        let frame = frame.sort([crate::schema::CUSTOMER_ID], SortMultipleOptions::default())?;
        let name = format!("the facts of {}", self.source.source);
        crate::facts::typed(&frame, &name)
    }

    /// Runs the `selects` (each a `SELECT` from [`crate::facts::sql`]'s
    /// rows, without its semicolon) in one run of the engine's client, each
    /// result written as Parquet and read back.
    pub fn run<const N: usize>(&self, selects: [String; N]) -> Result<[DataFrame; N]> {
        let preamble = self.dialect().preamble();
        let mut script = preamble.to_string();
        let outputs: Vec<PathBuf> = (0..N)
            .map(|i| self.folder.path().join(format!("cpm-result-{i}")))
            .collect();
        for (select, out) in selects.iter().zip(&outputs) {
            let target = sql_string(&out.display().to_string());
            script.push_str(&match self.options.engine {
                Engine::DuckDb => format!("COPY ({select}) TO {target} (FORMAT PARQUET);\n"),
                Engine::Spark => {
                    format!("INSERT OVERWRITE DIRECTORY {target} USING parquet\n{select};\n")
                }
            });
        }
        self.client.run(&script)?;
        let frames = (outputs.iter())
            .map(|out| read_result(out))
            .collect::<Result<Vec<_>>>()?;
        frames
            .try_into()
            .map_err(|_| anyhow::anyhow!("the engine returned fewer results than asked"))
    }
}

/// The result the engine wrote at `out`: one Parquet file (DuckDB), or a
/// folder of parts (Spark).
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
    Ok(frame)
}

/// Where the engine writes its results.
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
