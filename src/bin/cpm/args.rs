//! The argument groups several subcommands share: the global options,
//! input, output, the time unit and the value tiers, with their value parsers. The subcommands
//! (cmd/) use them; cli.rs assembles the command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::builder::TypedValueParser;
use clap::{ArgAction, Args, ValueEnum};

/// Options every subcommand takes.
#[derive(Args)]
pub struct GlobalArgs {
    /// Print nothing on stderr but errors (no quality report, no progress).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Say more on stderr: detected formats, delimiters, encodings, date layouts.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// fsync output files (and their folder) before and after renaming them
    /// into place, so they survive a power loss; slower on large outputs.
    #[arg(long, global = true)]
    pub sync: bool,

    /// When to use colour on stderr. NO_COLOR in the environment means never.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,

    /// Settings file giving any option a default (default: CPM_CONFIG,
    /// else cpm.toml in the working folder). See cpm config --help.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Read no settings file, not even cpm.toml or CPM_CONFIG's.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
}

/// `--color`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// Colour when stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// `--as-of` of the commands that gather the facts (facts, segment, value,
/// allocate, report): declared once, parsed by clap.
#[derive(Args)]
pub struct AsOfArg {
    /// Analysis day (YYYY-MM-DD, 'today' or 'yesterday'); later transactions are excluded
    /// and counted. Default: the day after the latest transaction (the
    /// report's KPI period then ends on the latest transaction's day).
    #[arg(long, value_name = "DATE", value_parser = parse_day, help_heading = "Facts")]
    pub as_of: Option<chrono::NaiveDate>,
}

/// `--calibration-end` of value and report: declared once.
#[derive(Args)]
pub struct CalibrationArg {
    /// Fit the models on the transactions up to this day (YYYY-MM-DD), and
    /// compare their predictions for the days after it, up to the as-of
    /// day, with what happened (the holdout).
    #[arg(long, value_name = "DATE", value_parser = parse_day, help_heading = "Holdout")]
    pub calibration_end: Option<chrono::NaiveDate>,
}

/// A day as `--as-of` and `--calibration-end` take it: YYYY-MM-DD,
/// `today`, or `yesterday` (a Monday cron job's last complete week ends
/// on Sunday).
pub fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    let today = || chrono::Local::now().date_naive();
    if text.eq_ignore_ascii_case("today") {
        return Ok(today());
    }
    if text.eq_ignore_ascii_case("yesterday") {
        return today()
            .pred_opt()
            .ok_or_else(|| "no day before today".to_string());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| "expected YYYY-MM-DD, 'today' or 'yesterday'".to_string())
}

/// `--model`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelArg {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    Pnbd,
    /// MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    Mbgnbd,
    /// BG/BB (Fader, Hardie & Shang 2010), discrete opportunities: one
    /// --time-unit each.
    Bgbb,
    /// sBG (Fader & Hardie 2007), contractual: subscriptions (value only).
    Sbg,
    /// Every purchase model that fits, the best on the holdout (value
    /// with --calibration-end only).
    Auto,
}

impl ModelArg {
    /// The purchase model asked for; an error for sbg and auto, which
    /// only `value` takes.
    fn purchase(self) -> anyhow::Result<cpm::value::purchase::PurchaseModelKind> {
        use cpm::value::purchase::PurchaseModelKind as Kind;
        Ok(match self {
            ModelArg::Bgnbd => Kind::Bgnbd,
            ModelArg::Pnbd => Kind::Pnbd,
            ModelArg::Mbgnbd => Kind::Mbgnbd,
            ModelArg::Bgbb => Kind::Bgbb,
            ModelArg::Sbg | ModelArg::Auto => anyhow::bail!(cpm::error::usage(
                "--model sbg and --model auto are value's (subscriptions; the comparison on \
                 a holdout): score with the model they choose, or a --model-in file"
            )),
        })
    }
}

/// `--time-unit` of segment and value.
#[derive(Clone, Copy, ValueEnum)]
pub enum TimeUnitArg {
    /// Days.
    Day,
    /// Weeks (days / 7).
    Week,
    /// Months (365.25 / 12 days).
    Month,
    /// Years (365.25 days).
    Year,
}

impl From<TimeUnitArg> for cpm::summary::TimeUnit {
    fn from(unit: TimeUnitArg) -> Self {
        match unit {
            TimeUnitArg::Day => cpm::summary::TimeUnit::Day,
            TimeUnitArg::Week => cpm::summary::TimeUnit::Week,
            TimeUnitArg::Month => cpm::summary::TimeUnit::Month,
            TimeUnitArg::Year => cpm::summary::TimeUnit::Year,
        }
    }
}

/// `--margin` of value and report: declared once, checked by clap.
#[derive(Args)]
pub struct MarginArg {
    /// Margin as a fraction of revenue (-1 to 1), for profit and CLV when
    /// the input has no cost (without either, both are in revenue).
    #[arg(long, value_name = "FRACTION", value_parser = parse_margin, help_heading = "Value")]
    pub margin: Option<f64>,
}

fn parse_margin(text: &str) -> Result<f64, String> {
    let margin: f64 = text.parse().map_err(|_| "expected a number".to_string())?;
    if !(-1.0..=1.0).contains(&margin) {
        return Err("must be a fraction of revenue (e.g. 0.3)".to_string());
    }
    Ok(margin)
}

/// The models' settings, one group for `value`, `allocate` and `report`:
/// the time unit, the horizon, the discount rate, the penalty, the
/// margin, and a saved model to score with.
#[derive(Args)]
#[command(next_help_heading = "Model")]
pub struct ModelArgs {
    /// The purchase model: bgnbd (BG/NBD, the default), pnbd (Pareto/NBD),
    /// mbgnbd (MBG/NBD) or bgbb (BG/BB); value also takes sbg
    /// (subscriptions) and auto (the best on the holdout); --model-in's is
    /// the file's.
    #[arg(long, value_enum, value_name = "MODEL")]
    pub model: Option<ModelArg>,

    /// Time unit of the models: day, week (the default), month or year
    /// (BG/BB's opportunity). Their parameters depend on it (it is stored
    /// with the model, so --model-in sets it); weeks suit most retail data.
    #[arg(long, value_enum)]
    pub time_unit: Option<TimeUnitArg>,

    /// Prediction and CLV horizon with its unit: 12m, 52w, 365d, 2y.
    #[arg(long, default_value = "12m", value_name = "SPAN")]
    pub horizon: cpm::value::clv::Horizon,

    /// Annual discount rate of the CLV (0.1 = 10%), applied monthly.
    #[arg(long, default_value_t = 0.1, value_name = "RATE", value_parser = parse_rate)]
    pub discount_rate: f64,

    #[command(flatten)]
    pub margin: MarginArg,

    /// L2 penalty on the model parameters (lifetimes' penalizer_coef), for
    /// fits that do not converge.
    #[arg(long, default_value_t = 0.0, value_name = "COEF", value_parser = parse_penalty)]
    pub penalty: f64,

    /// Score with saved models (cpm value --model-out) instead of fitting.
    #[arg(long, value_name = "FILE")]
    pub model_in: Option<PathBuf>,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.parse().map_err(|_| "expected a number".to_string())?;
    if !(0.0..=10.0).contains(&rate) {
        return Err("must be an annual rate between 0 and 10".to_string());
    }
    Ok(rate)
}

fn parse_penalty(text: &str) -> Result<f64, String> {
    let penalty: f64 = text.parse().map_err(|_| "expected a number".to_string())?;
    if !(penalty.is_finite() && penalty >= 0.0) {
        return Err("a finite number, 0 or more".to_string());
    }
    Ok(penalty)
}

impl ModelArgs {
    /// The library's value settings for the purchase model `model` (by
    /// default `--model`'s), and the saved model to score with
    /// (`--model-in`), whose time unit `--time-unit` may not contradict.
    fn config(
        &self,
        model: Option<ModelArg>,
    ) -> anyhow::Result<(cpm::value::ValueConfig, Option<cpm::value::Model>)> {
        use cpm::summary::TimeUnit;
        let asked = model.map(ModelArg::purchase).transpose()?;
        let model_in = match &self.model_in {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the model {}", path.display()))?;
                Some(cpm::value::Model::from_json(
                    &text,
                    &path.display().to_string(),
                )?)
            }
            None => None,
        };
        let time_unit = match (&model_in, self.time_unit) {
            (Some(model), Some(unit)) if model.time_unit != unit.into() => {
                anyhow::bail!(cpm::error::usage(format!(
                    "--time-unit {} disagrees with the model, which was fitted in {}s: leave \
                     --time-unit out with --model-in",
                    TimeUnit::from(unit).name(),
                    model.time_unit.name()
                )))
            }
            (Some(model), _) => model.time_unit,
            (None, unit) => unit.map_or(TimeUnit::Week, Into::into),
        };
        let model = match (&model_in, asked) {
            (Some(saved), Some(asked)) if saved.purchase.kind() != asked => {
                anyhow::bail!(cpm::error::usage(format!(
                    "--model {} disagrees with the saved model, a {}: leave --model out with \
                     --model-in",
                    asked.name(),
                    saved.purchase.kind().name()
                )))
            }
            (Some(saved), _) => saved.purchase.kind(),
            (None, asked) => asked.unwrap_or_default(),
        };
        let config = cpm::value::ValueConfig {
            model,
            time_unit,
            horizon: self.horizon,
            discount_rate: self.discount_rate,
            margin: self.margin.margin,
            penalty: self.penalty,
            intervals: None,
        };
        Ok((config, model_in))
    }

    /// [`ModelArgs::config`] as the library's [`cpm::value::Valuation`];
    /// `--model auto` compares the purchase models (the caller checks
    /// that there is a holdout).
    pub fn valuation(&self) -> anyhow::Result<cpm::value::Valuation> {
        let compare = self.model == Some(ModelArg::Auto);
        if compare && self.model_in.is_some() {
            anyhow::bail!(cpm::error::usage(
                "--model auto fits and compares: not with --model-in"
            ));
        }
        let (config, model) = self.config(if compare { None } else { self.model })?;
        Ok(cpm::value::Valuation {
            config,
            model,
            compare,
        })
    }
}

/// `--intervals LEVEL` and `--seed N` of value and report: bounds for
/// the predictions from the parameters' sampling distribution.
#[derive(Args)]
#[command(next_help_heading = "Model")]
pub struct IntervalArgs {
    /// Per-customer lower and upper bounds of p_alive, expected_purchases
    /// and clv at this level (0.9: the 5th to the 95th percentile), from
    /// 200 draws of the parameters; the totals with their bounds.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level)]
    pub intervals: Option<f64>,

    /// The seed of --intervals' draws (the same seed, the same bounds).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "intervals")]
    pub seed: u64,
}

fn parse_level(text: &str) -> Result<f64, String> {
    let level: f64 = text.parse().map_err(|_| "expected a number".to_string())?;
    if !(level > 0.0 && level < 1.0) {
        return Err("a probability between 0 and 1, e.g. 0.9".to_string());
    }
    Ok(level)
}

impl IntervalArgs {
    /// The library's interval settings, when asked for.
    pub fn config(&self) -> Option<cpm::value::intervals::IntervalConfig> {
        self.intervals
            .map(|level| cpm::value::intervals::IntervalConfig {
                level,
                seed: self.seed,
            })
    }
}

/// Where the facts are computed: here, or where the data lives (an
/// engine's SQL printed, or run through its client).
#[derive(Args)]
#[command(next_help_heading = "Engines")]
pub struct EngineArgs {
    /// Where the facts are computed: here, in DuckDB (`duckdb` on PATH) or
    /// in Spark (`$SPARK_HOME/bin/spark-sql`, else `spark-sql` on PATH),
    /// or the client given by --engine-cmd; read back from the Parquet the
    /// engine writes.
    #[arg(long, value_enum, default_value_t = EngineArg::Local)]
    pub engine: EngineArg,

    /// The transactions where the engine reads them: a table name, or a
    /// path or URI in the engine's syntax ('tx/*.parquet', a view).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,

    /// The engine's client (default: duckdb on PATH).
    #[arg(long, value_name = "PATH")]
    pub engine_cmd: Option<PathBuf>,

    /// A folder both the engine and cpm reach, for the facts it writes
    /// (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub engine_output: Option<PathBuf>,

    /// A setting passed to the engine (repeatable): spark.master=yarn,
    /// spark.executor.memory=8g.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub engine_conf: Vec<(String, String)>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err("expected KEY=VALUE, e.g. spark.master=yarn".to_string()),
    }
}

/// `--engine`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Here, by cpm.
    Local,
    /// DuckDB.
    Duckdb,
    /// Spark.
    Spark,
}

impl EngineArgs {
    /// The facts computed by the engine asked for with `--engine`, or
    /// `None` (local).
    pub fn facts(
        &self,
        input: &InputArgs,
        as_of: Option<chrono::NaiveDate>,
        observer: &dyn cpm::pipeline::Observer,
    ) -> anyhow::Result<Option<polars::prelude::DataFrame>> {
        match self.remote(input, as_of)? {
            Some((source, options)) => cpm::engine::facts(source, options, observer).map(Some),
            None => Ok(None),
        }
    }

    /// The source and the engine asked for with `--engine`, or `None`
    /// (local).
    pub fn remote(
        &self,
        input: &InputArgs,
        as_of: Option<chrono::NaiveDate>,
    ) -> anyhow::Result<Option<(cpm::engine::Source, cpm::engine::EngineOptions)>> {
        let engine = match self.engine {
            EngineArg::Local => return Ok(None),
            EngineArg::Duckdb => cpm::engine::Engine::DuckDb,
            EngineArg::Spark => cpm::engine::Engine::Spark,
        };
        let source = cpm::engine::Source {
            source: self.source_for("--engine", input)?.to_string(),
            overrides: input.map_overrides()?,
            as_of,
            date_format: input.date_format()?,
            max_rejects: input.load_options()?.max_rejects,
            duplicates: Default::default(),
        };
        let options = cpm::engine::EngineOptions {
            engine,
            command: self.engine_cmd.clone(),
            conf: self.engine_conf.clone(),
            output: self.engine_output.clone(),
        };
        Ok(Some((source, options)))
    }

    /// With `--engine`: `--source` given instead of input files, and the
    /// options that need the rows here refused (`--where`,
    /// `--calibration-end`).
    pub fn check_remote(
        &self,
        input: &InputArgs,
        calibration_end: Option<chrono::NaiveDate>,
    ) -> anyhow::Result<()> {
        if !self.is_remote() {
            return Ok(());
        }
        self.source_for("--engine", input)?;
        if input.filter.is_some() {
            anyhow::bail!(cpm::error::usage(
                "--where filters the rows here: with --engine they stay in the engine (filter \
                 them in --source, e.g. a view)"
            ));
        }
        if calibration_end.is_some() {
            anyhow::bail!(cpm::error::usage(
                "--calibration-end needs the transactions here: it does not go with --engine yet"
            ));
        }
        Ok(())
    }

    /// Whether the facts come from an engine, not from input files.
    pub fn is_remote(&self) -> bool {
        self.engine != EngineArg::Local
    }

    /// `--source`, required by `flag`, which reads no input files.
    pub fn source_for(&self, flag: &str, input: &InputArgs) -> anyhow::Result<&str> {
        if !input.inputs.is_empty() {
            anyhow::bail!(cpm::error::usage(format!(
                "{flag} reads --source, not input files: give the transactions as the engine \
                 reads them"
            )));
        }
        match &self.source {
            Some(source) => Ok(source),
            None => anyhow::bail!(cpm::error::usage(format!(
                "{flag} needs --source: a table, or a path the engine reads"
            ))),
        }
    }
}

/// How tiers and the value/risk matrix are placed; shared by `segment`,
/// which places them, and `value`, which places them afresh on clv and
/// p_alive when its input has them.
#[derive(Args)]
#[command(next_help_heading = "Tiers and matrix")]
pub struct TierArgs {
    /// Value column for tiers and the matrix (default: clv, else margin, else revenue).
    #[arg(long, value_name = "COLUMN")]
    pub tier_by: Option<String>,

    /// Cumulative percentages of customers in platinum, gold and silver.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,5,20",
        value_name = "P,P,P"
    )]
    pub tier_cuts: Vec<f64>,

    /// Value that splits high from low value in the matrix (default: the median).
    #[arg(long, value_name = "VALUE")]
    pub value_split: Option<f64>,

    /// Churn risk is high when 1 - p_alive > 0.5 (after `value`), else when
    /// days since the last purchase exceed this many expected gaps between
    /// purchases.
    #[arg(long, default_value_t = 2.0, value_name = "RATIO")]
    pub risk_ratio: f64,
}

impl TierArgs {
    /// The library's tier and matrix settings.
    pub fn config(&self) -> cpm::segment::TierConfig {
        cpm::segment::TierConfig {
            tier_by: self.tier_by.clone(),
            tier_cuts: self.tier_cuts.clone(),
            value_split: self.value_split,
            risk_ratio: self.risk_ratio,
        }
    }
}

/// Where input comes from and how to read it; shared by every subcommand.
#[derive(Args)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Input files: paths, globs (quote them: 'exports/*.csv'), or '-' for stdin.
    /// Formats (CSV, TSV, Parquet, Arrow IPC file or stream, NDJSON, JSON) are
    /// detected from magic bytes, the extension, then the content; gzip and
    /// zstd are decompressed. With no input, a piped stdin is read.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// CSV field delimiter: ',' ';' '|' or 'tab'. Sniffed when absent.
    #[arg(long, short = 'd', value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,

    /// Amounts use a decimal comma and '.' groups thousands (1.234,50).
    #[arg(long)]
    pub decimal_comma: bool,

    /// Text encoding: utf-8, latin1, windows-1252, utf-16. UTF-8 and UTF-16
    /// with a BOM are recognised without it.
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<cpm::io::TextEncoding>,

    /// The sheet of an Excel workbook to read (default: the first).
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,

    /// The first line is data; columns are named column_1, column_2, ...
    #[arg(long)]
    pub no_header: bool,

    /// Skip this many lines before the header (a preamble).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub skip_rows: usize,

    /// Extra values read as missing, comma-separated (empty fields always are).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub null_values: Vec<String>,

    /// Most bytes one CSV field may hold (e.g. 4MiB). A quoted field past it
    /// is an error naming the lines where it opens and closes: a stray quote
    /// pair would otherwise make one value of every row between.
    #[arg(long, default_value = "1MiB", value_parser = parse_size, value_name = "SIZE")]
    pub max_field_size: usize,

    /// The character that escapes a quote inside a quoted CSV field, for
    /// files that write \" instead of "" (MySQL, some PHP exports): '\'.
    #[arg(long, value_parser = parse_escape, value_name = "CHAR")]
    pub escape: Option<u8>,

    /// Most lines one quoted CSV field may span (ditto).
    #[arg(long, default_value_t = cpm::io::DEFAULT_MAX_FIELD_LINES, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_field_lines: u64,

    /// Date layout: iso, ymd (YYYYMMDD), mdy (M/D/YYYY), dmy (D/M/YYYY),
    /// dmy. (D.M.YYYY), or a chrono format such as '%d/%m/%Y %H:%M'.
    /// Detected when absent; a day/month ambiguity is an error, never a guess.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,

    /// Map a canonical column to a source column, e.g. customer_id=Kunde or
    /// revenue=Qty*UnitPrice. Repeatable; wins over the automatic aliases.
    #[arg(long = "map", value_name = "CANONICAL=SOURCE")]
    pub map: Vec<String>,

    /// Most rows of an export that may be rejected (bad dates, amounts, ids):
    /// a count (5) or a share of the rows read (0.5%). Within it, rejected
    /// rows are left out with a warning that counts them; above it, the
    /// command fails and writes nothing (ingest still writes its quality
    /// report and rejects file).
    #[arg(long, default_value = "1%", value_name = "N|P%")]
    pub max_rejects: String,

    /// Rows of a canonical Parquet input above which it is read a batch at
    /// a time (tests set 1 to read small files so).
    #[arg(long, hide = true, env = "CPM_STREAM_ABOVE", value_name = "ROWS")]
    pub stream_above: Option<usize>,

    /// Rows per batch of a CSV input read a batch at a time (tests set a
    /// handful, to prove that batches change nothing).
    #[arg(long, hide = true, env = "CPM_BATCH_ROWS", value_name = "ROWS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_rows: Option<u64>,

    /// Keep only the input rows for which this SQL expression is true,
    /// before anything else, e.g. "Country = 'United Kingdom' AND revenue >
    /// 0". Transactions are filtered on their canonical and passed-through
    /// columns; a customer table filters customers.
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
}

/// Where output goes and in what format; shared by every subcommand.
#[derive(Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Write to FILE (atomically) instead of stdout; the extension picks the
    /// format (.csv .tsv .parquet .arrow .json .ndjson .md).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Output format: csv, tsv, parquet, ipc, json, ndjson, table, markdown.
    /// Default: from -o's extension; else a table on a terminal, CSV on a pipe.
    #[arg(long, short = 'f', value_parser = format_parser(), value_name = "FORMAT")]
    pub format: Option<cpm::io::OutputFormat>,

    /// Width of tables in characters (default: the terminal's).
    #[arg(long, value_name = "N")]
    pub width: Option<u16>,

    /// In CSV and TSV data outputs, put an apostrophe before text a
    /// spreadsheet would run as a formula (= + - @ tab CR at the start; and
    /// before a leading apostrophe, so that it stays distinguishable).
    /// Contact lists and rejects files get it without asking.
    #[arg(long, conflicts_with = "no_excel_safe")]
    pub excel_safe: bool,

    /// Write contact lists and rejects files exactly, without the
    /// apostrophes of --excel-safe.
    #[arg(long)]
    pub no_excel_safe: bool,

    /// Keep only the output rows for which this SQL expression is true,
    /// e.g. "segment IN ('Champions', 'At Risk')".
    #[arg(long, value_name = "EXPR")]
    pub keep: Option<String>,

    /// Sort the output rows: COLUMN[:asc|:desc], comma-separated, the first
    /// key most significant (e.g. clv:desc).
    #[arg(long, value_delimiter = ',', value_name = "KEYS")]
    pub sort: Vec<String>,

    /// At most N output rows (after --keep and --sort).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Only these output columns, in this order (e.g. customer_id,clv).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub columns: Vec<String>,
}

impl OutputArgs {
    /// The output shape `--keep`, `--sort`, `--limit` and `--columns` ask for.
    pub fn shape(&self) -> anyhow::Result<cpm::select::OutputShape> {
        Ok(cpm::select::OutputShape {
            keep: self
                .keep
                .as_deref()
                .map(|text| cpm::select::RowFilter::parse("--keep", text))
                .transpose()?,
            sort: self
                .sort
                .iter()
                .map(|key| cpm::select::SortKey::parse(key))
                .collect::<anyhow::Result<_>>()?,
            limit: self.limit,
            columns: self.columns.iter().map(|c| c.trim().to_string()).collect(),
        })
    }
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "comma" => Ok(b','),
        "semicolon" => Ok(b';'),
        "pipe" => Ok(b'|'),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        _ => Err("expected one ASCII character, or tab".to_string()),
    }
}

/// A size in bytes: `1048576`, `512KiB`, `4MiB`, `1GiB` (K, M, G and KB,
/// MB, GB are read as powers of 1024 too).
fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || "expected a size such as 1048576, 512KiB, 4MiB or 1GiB".to_string();
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number.parse().map_err(|_| bad())?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    match number.checked_mul(scale) {
        Some(0) | None => Err(bad()),
        Some(size) => Ok(size),
    }
}

fn parse_escape(text: &str) -> Result<u8, String> {
    match text.as_bytes() {
        [b'"'] => Err("a quote cannot escape itself here: doubled quotes are always read".into()),
        [c] if c.is_ascii_punctuation() => Ok(*c),
        _ => Err("expected one ASCII punctuation character, such as '\\'".to_string()),
    }
}

fn parse_encoding(text: &str) -> Result<cpm::io::TextEncoding, String> {
    cpm::io::TextEncoding::parse(text)
        .ok_or_else(|| "expected utf-8, latin1, windows-1252 or utf-16".to_string())
}

/// `--format`: the output formats by name, so that completions offer them
/// (md, arrows, feather and jsonl accepted too).
fn format_parser() -> impl clap::builder::TypedValueParser<Value = cpm::io::OutputFormat> {
    let aliases = |name: &str| -> &'static [&'static str] {
        match name {
            "markdown" => &["md"],
            "ipc" => &["arrows"],
            "arrow" => &["feather"],
            "ndjson" => &["jsonl"],
            _ => &[],
        }
    };
    let values = cpm::io::OutputFormat::ALL.map(|format| {
        clap::builder::PossibleValue::new(format.name()).aliases(aliases(format.name()))
    });
    clap::builder::PossibleValuesParser::new(values)
        .map(|name| cpm::io::OutputFormat::parse(&name).unwrap_or(cpm::io::OutputFormat::Csv))
}
