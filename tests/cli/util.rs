//! A small harness that runs the real `cpm` binary with a clean environment
//! and, when an assertion fails, shows the command, its exit code, stdout
//! and stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Path of a file under testdata/.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// testdata path as a string argument.
pub fn data(name: &str) -> String {
    testdata(name).display().to_string()
}

/// A cpm invocation being built.
pub struct Cpm {
    command: Command,
    shown: String,
    stdin: Option<Vec<u8>>,
}

/// Starts a cpm invocation with `args`.
pub fn cpm<S: AsRef<str>>(args: &[S]) -> Cpm {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpm"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.env("NO_COLOR", "1");
    let args: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
    command.args(&args);
    Cpm {
        command,
        shown: format!("cpm {}", args.join(" ")),
        stdin: None,
    }
}

impl Cpm {
    /// Feeds these bytes on stdin (otherwise stdin is empty, not a terminal).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Runs in the folder `dir` (otherwise in the crate's folder).
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Runs to completion.
    pub fn run(mut self) -> Run {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("cpm binary starts");
        let input = self.stdin.take().unwrap_or_default();
        let mut stdin = child.stdin.take().expect("stdin piped");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("cpm runs");
        let _ = writer.join();
        Run {
            shown: self.shown,
            output,
        }
    }
}

/// A finished run.
pub struct Run {
    shown: String,
    output: Output,
}

impl Run {
    /// Exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    /// stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// stdout bytes.
    pub fn stdout_bytes(&self) -> &[u8] {
        &self.output.stdout
    }

    /// stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn describe(&self) -> String {
        format!(
            "\n$ {}\nexit code: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.shown,
            self.code(),
            truncate(&self.stdout()),
            self.stderr()
        )
    }

    /// Asserts exit code 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code(), 0, "expected success{}", self.describe());
        self
    }

    /// Asserts the exit code.
    pub fn code_is(self, code: i32) -> Self {
        assert_eq!(self.code(), code, "unexpected exit code{}", self.describe());
        self
    }

    /// Asserts stderr contains every fragment.
    pub fn stderr_has(self, fragments: &[&str]) -> Self {
        let stderr = self.stderr();
        for f in fragments {
            assert!(stderr.contains(f), "stderr lacks {f:?}{}", self.describe());
        }
        self
    }

    /// Parses stdout as CSV records (header first).
    pub fn csv(&self) -> Vec<Vec<String>> {
        parse_csv(self.stdout_bytes())
    }
}

fn truncate(text: &str) -> String {
    if text.len() > 3000 {
        format!("{}... ({} bytes)", &text[..3000], text.len())
    } else {
        text.to_string()
    }
}

/// Parses CSV bytes into records, header included.
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

/// The values of one named column of parsed CSV records.
pub fn column(records: &[Vec<String>], name: &str) -> Vec<String> {
    let i = records[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", records[0]));
    records[1..].iter().map(|r| r[i].clone()).collect()
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("file exists")).expect("valid JSON")
}

/// The CDNOW sample ingested into a canonical Parquet file in `dir`.
pub fn canonical_sample(dir: &Path) -> String {
    let parquet = dir.join("canonical.parquet").display().to_string();
    cpm(&["ingest", &data("cdnow_sample.csv"), "-q", "-o", &parquet])
        .run()
        .ok();
    parquet
}
