//! The engines' command-line clients: how cpm starts `duckdb` and
//! `spark-sql`, hands them a script and tells their failures.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::{Engine, EngineOptions};
use crate::error::usage;

/// Settings cpm gives spark-sql unless `--engine-conf` gives them.
const SPARK_DEFAULTS: [(&str, &str); 2] = [
    (
        "spark.hadoop.javax.jdo.option.ConnectionURL",
        "jdbc:derby:memory:cpm_metastore;create=true",
    ),
    (
        "spark.driver.extraJavaOptions",
        "-Dderby.stream.error.file=/dev/null",
    ),
];

/// An SQL string literal.
pub(super) fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The engine's command-line client.
pub(super) struct Client {
    engine: Engine,
    program: PathBuf,
    /// Its arguments before the script.
    args: Vec<String>,
}

impl Client {
    pub(super) fn new(options: &EngineOptions) -> Result<Client> {
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
        if options.engine == Engine::Spark {
            // spark-sql's Hive metastore in memory, its Derby log nowhere:
            // no metastore_db/ or derby.log left in the user's folder, and
            // no lock that keeps two runs from starting at once (a
            // cluster's own metastore, given with --engine-conf, wins)
            for (key, value) in SPARK_DEFAULTS {
                if !options.conf.iter().any(|(k, _)| k == key) {
                    args.extend(["--conf".into(), format!("{key}={value}")]);
                }
            }
        }
        Ok(Client {
            engine: options.engine,
            program,
            args,
        })
    }

    /// The names of the columns of `source`.
    pub(super) fn columns(&self, source: &str) -> Result<Vec<String>> {
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
    pub(super) fn run(&self, script: &str) -> Result<String> {
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
