//! One module per subcommand: arguments → config → read → core → write.
//! This module holds the wiring they share: turning the common input and
//! output options into library options, reading inputs, writing results.

pub mod allocate;
pub mod config;
pub mod facts;
pub mod ingest;
pub mod meta;
pub mod report;
pub mod segment;
pub mod value;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cpm::ingest::{IngestConfig, MaxRejects};
use cpm::io::atomic::Staged;
use cpm::io::{Input, OutputFormat, ReadOptions, TableStyle};
use cpm::pipeline::LoadOptions;
use cpm::schema::MapOverride;
use cpm::schema::dates::DateFormat;
use cpm::select::{OutputShape, RowFilter};
use polars::prelude::DataFrame;

use crate::args::{EngineArgs, InputArgs, OutputArgs};
use crate::ui::Ui;

impl InputArgs {
    /// The reader options these arguments ask for.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            csv: cpm::io::CsvOptions {
                delimiter: self.delimiter,
                encoding: self.encoding,
                no_header: self.no_header,
                skip_rows: self.skip_rows,
                null_values: self.null_values.clone(),
                max_field_size: self.max_field_size,
                max_field_lines: self.max_field_lines,
                escape: self.escape,
            },
            format: None,
            sheet: self.sheet.clone(),
        }
    }

    /// `--map` overrides, parsed.
    pub fn map_overrides(&self) -> Result<Vec<MapOverride>> {
        self.map
            .iter()
            .map(|m| MapOverride::parse("--map", m))
            .collect()
    }

    /// `--date-format`, parsed and checked.
    pub fn date_format(&self) -> Result<Option<DateFormat>> {
        let format = self.date_format.as_deref().map(DateFormat::from_flag);
        if let Some(format) = &format {
            format.check("--date-format")?;
        }
        Ok(format)
    }

    /// Rows per batch of a CSV input read a batch at a time.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
            .map_or(cpm::pipeline::BATCH_ROWS, |rows| rows as usize)
    }

    /// How the front half of segment, value, allocate, facts and report
    /// reads, validates and filters the inputs.
    pub fn load_options(&self) -> Result<LoadOptions> {
        Ok(LoadOptions {
            read: self.read_options(),
            ingest: IngestConfig {
                map: self.map_overrides()?,
                date_format: self.date_format()?,
                decimal_comma: self.decimal_comma,
                // the facts of the kept rows come from the facts table
                kept_facts: false,
                batch_rows: self.batch_rows(),
                ..IngestConfig::default()
            },
            filter: self.row_filter()?,
            max_rejects: MaxRejects::parse(&self.max_rejects)?,
            stream_above: self.stream_above.unwrap_or(cpm::facts::STREAM_ABOVE),
        })
    }

    /// `--where`, parsed (a usage error before anything is read).
    pub fn row_filter(&self) -> Result<Option<RowFilter>> {
        self.filter
            .as_deref()
            .map(|text| RowFilter::parse("--where", text))
            .transpose()
    }
}

/// The paths among `inputs` (stdin has none).
pub fn input_paths(inputs: &[Input]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter_map(|i| i.path().map(Path::to_path_buf))
        .collect()
}

/// Resolves the inputs and the output, and checks, before anything is
/// read, that the output and the `side_outputs` (reports, models) can be
/// written and that none of them is an input or one of `other_inputs`.
pub fn inputs_and_output(
    input: &InputArgs,
    output: &OutputArgs,
    side_outputs: &[Option<&Path>],
    other_inputs: &[PathBuf],
    ui: &Ui,
) -> Result<(Vec<Input>, Output)> {
    input.row_filter()?;
    input.date_format()?;
    let inputs = resolve(&input.inputs, ui)?;
    let mut protected = input_paths(&inputs);
    protected.extend_from_slice(other_inputs);
    let output = checked_output(output, side_outputs, &protected, ui)?;
    Ok((cpm::io::source::spill(&inputs)?, output))
}

/// [`inputs_and_output`], or, when the facts come from an engine
/// (`--engine`), no inputs and the output checked alone: the transactions
/// stay where the engine reads them.
pub fn inputs_or_engine(
    input: &InputArgs,
    engine: &EngineArgs,
    output: &OutputArgs,
    side_outputs: &[Option<&Path>],
    other_inputs: &[PathBuf],
    ui: &Ui,
) -> Result<(Vec<Input>, Output)> {
    if !engine.is_remote() {
        return inputs_and_output(input, output, side_outputs, other_inputs, ui);
    }
    engine.check_remote(input, None)?;
    let output = checked_output(output, side_outputs, other_inputs, ui)?;
    Ok((Vec::new(), output))
}

/// The output, checked before anything is read: it and the
/// `side_outputs` (reports, models) can be written, are distinct, and
/// none is one of the `protected` inputs.
fn checked_output(
    output: &OutputArgs,
    side_outputs: &[Option<&Path>],
    protected: &[PathBuf],
    ui: &Ui,
) -> Result<Output> {
    let mut outputs: Vec<&Path> = output.output.as_deref().into_iter().collect();
    outputs.extend(side_outputs.iter().flatten());
    check_distinct_outputs(&outputs)?;
    if let Some(warning) = cpm::io::write::format_mismatch(output.output.as_deref(), output.format)
    {
        ui.warn(&warning);
    }
    let output = Output::new(output, ui.durable())?;
    for path in std::iter::once(output.path())
        .chain(side_outputs.iter().copied())
        .flatten()
    {
        check_output(path, protected)?;
    }
    Ok(output)
}

/// The customer table as `summary` says: derived from the facts an engine
/// computed (`--engine`), else read from `inputs` through the pipeline.
pub fn customers(
    inputs: &[Input],
    input: &InputArgs,
    engine: &EngineArgs,
    summary: &cpm::summary::SummaryConfig,
    is_table: fn(&polars::prelude::DataFrame) -> bool,
    ui: &Ui,
) -> Result<cpm::pipeline::Customers> {
    match engine.facts(input, summary.as_of, ui)? {
        Some(facts) => {
            ui.step("facts in the engine");
            cpm::pipeline::derive(facts, summary, ui)
        }
        None => cpm::pipeline::customers(inputs, &input.load_options()?, summary, is_table, ui),
    }
}

/// The inputs the arguments name, each file once: a repeat (overlapping
/// globs, `x.csv` and `./x.csv`) is left out with a warning.
pub fn resolve(args: &[String], ui: &Ui) -> Result<Vec<Input>> {
    let (inputs, repeated) = cpm::io::without_repeats(cpm::io::resolve_inputs(args)?);
    for name in repeated {
        ui.warn(&format!("{name} is named twice: read once"));
    }
    Ok(inputs)
}

/// A usage error when two outputs of one run name the same file (`-o
/// x.csv --rejects x.csv`): the last written would silently replace the
/// other.
pub fn check_distinct_outputs(outputs: &[&Path]) -> Result<()> {
    let key = |p: &Path| {
        let parent = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let folder = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        folder.join(p.file_name().unwrap_or_default())
    };
    for (i, a) in outputs.iter().enumerate() {
        if a.as_os_str() == "-" || a.starts_with("/dev") {
            continue;
        }
        if let Some(b) = outputs[..i].iter().find(|b| key(b) == key(a)) {
            bail!(cpm::error::usage(format!(
                "{} and {} are the same file: give each output its own",
                b.display(),
                a.display()
            )));
        }
    }
    Ok(())
}

/// Checks, before anything is read, that `output` can be written and is not
/// one of the inputs.
pub fn check_output(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    cpm::io::atomic::refuse_overwriting_inputs(output, inputs)?;
    cpm::io::atomic::check_writable_target(output)
}

/// The chosen output: where, in which format, laid out how, with which
/// rows and columns.
pub struct Output {
    path: Option<PathBuf>,
    format: OutputFormat,
    style: TableStyle,
    shape: OutputShape,
    /// `--excel-safe` (true) or `--no-excel-safe` (false); None: the
    /// output's own default.
    excel_safe: Option<bool>,
    /// `--sync`: files are fsynced as they are put in place.
    durable: bool,
}

impl Output {
    /// Resolves the output options (format from flag, extension or
    /// terminal); `-o -` is stdout, as CSV unless `--format` says otherwise.
    pub fn new(args: &OutputArgs, durable: bool) -> Result<Self> {
        let path = args.output.clone().filter(|p| p.as_os_str() != "-");
        let format = match (&args.output, args.format) {
            (Some(dash), None) if path.is_none() && dash.as_os_str() == "-" => {
                cpm::io::OutputFormat::Csv
            }
            _ => cpm::io::choose_format(
                path.as_deref(),
                args.format,
                std::io::stdout().is_terminal(),
            )?,
        };
        Ok(Output {
            path,
            format,
            style: TableStyle {
                width: args.width,
                ..TableStyle::default()
            },
            shape: args.shape()?,
            excel_safe: match (args.excel_safe, args.no_excel_safe) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            durable,
        })
    }

    /// Puts the `staged` side outputs in place, all of them (`--sync`
    /// as asked): for a run whose data output is a summary on the terminal.
    pub fn commit(&self, staged: Vec<Staged>) -> Result<()> {
        cpm::io::atomic::commit_all(staged, self.durable)
    }

    /// This output with formulas guarded unless the user said otherwise:
    /// for files people open in a spreadsheet or a mail tool (contact
    /// lists), where data outputs stay exact unless asked.
    pub fn opened_in_spreadsheets(mut self) -> Self {
        self.excel_safe.get_or_insert(true);
        self
    }

    /// Whether a side file opened in spreadsheets (a rejects file) is
    /// guarded: unless `--no-excel-safe`.
    pub fn guards_side_files(&self) -> bool {
        self.excel_safe != Some(false)
    }

    /// Whether the user asked for a table on the terminal: no file, no
    /// format, stdout a terminal, and no rows or columns chosen (which ask
    /// for the data itself).
    pub fn is_terminal_summary(&self, args: &OutputArgs) -> bool {
        args.output.is_none()
            && args.format.is_none()
            && !self.shape.is_set()
            && std::io::stdout().is_terminal()
    }

    /// The format of an output that can be written a batch of rows at a
    /// time: its rows not shaped (sorted, limited...), in a format written
    /// in batches ([`cpm::io::batch_writer::BatchWriter`]).
    pub fn batch_format(&self) -> Option<OutputFormat> {
        let batched = matches!(
            self.format,
            OutputFormat::Csv | OutputFormat::Tsv | OutputFormat::Parquet | OutputFormat::Ipc
        );
        (!self.shape.is_set() && batched).then_some(self.format)
    }

    /// Whether text written to the output gets its formulas guarded
    /// (`--excel-safe`, or the output's default).
    pub fn guards_formulas(&self) -> bool {
        matches!(self.format, OutputFormat::Csv | OutputFormat::Tsv)
            && self.excel_safe == Some(true)
    }

    /// The output file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the output is a table or Markdown, for people rather than
    /// programs.
    pub fn is_for_people(&self) -> bool {
        matches!(self.format, OutputFormat::Table | OutputFormat::Markdown)
    }

    /// Writes the frame, shaped by `--keep`, `--sort`, `--limit` and
    /// `--columns`: atomically to the file, or to stdout.
    pub fn write(&self, frame: &DataFrame) -> Result<()> {
        self.write_after(frame, Vec::new())
    }

    /// [`Output::write`], with the side outputs `staged` (reports, models,
    /// summaries) put in place only when the output was written too: all
    /// of them, or none. Stdout comes last, after every file.
    pub fn write_after(&self, frame: &DataFrame, mut staged: Vec<Staged>) -> Result<()> {
        let mut shaped = self.shape.apply(frame.clone())?;
        if self.guards_formulas() {
            shaped = cpm::io::spreadsheet::guard_formulas(&shaped)?;
        }
        let fill = |w: &mut dyn std::io::Write| {
            cpm::io::write_frame(&mut shaped, self.format, &self.style, w)
        };
        match &self.path {
            Some(path) => {
                staged.push(cpm::io::atomic::stage(path, fill)?);
                self.commit(staged)
            }
            None => {
                self.commit(staged)?;
                cpm::io::write_stdout(fill)
            }
        }
    }
}
