//! One module per subcommand: arguments → config → read → core → write.
//! This module holds the wiring they share: turning the common input and
//! output options into library options, reading inputs, writing results.

pub mod allocate;
pub mod customers;
pub mod facts;
pub mod ingest;
pub mod meta;
pub mod report;
pub mod segment;
pub mod value;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use cpm::ingest::{MaxRejects, QualityReport, Reject};
use cpm::io::atomic::Staged;
use cpm::io::{ColumnChoice, Input, OutputFormat, RawTable, ReadOptions, TableStyle};
use cpm::schema::MapOverride;
use cpm::schema::dates::DateFormat;
use cpm::select::{OutputShape, RowFilter};
use polars::prelude::DataFrame;

use crate::args::{InputArgs, OutputArgs};
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
        self.map.iter().map(|m| MapOverride::parse(m)).collect()
    }

    /// `--date-format`, parsed and checked.
    pub fn date_format(&self) -> Result<Option<DateFormat>> {
        let format = self.date_format.as_deref().map(DateFormat::from_flag);
        if let Some(format) = &format {
            format.check()?;
        }
        Ok(format)
    }

    /// Rows per batch of a CSV input read a batch at a time.
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
            .map_or(cpm::pipeline::BATCH_ROWS, |rows| rows as usize)
    }

    /// `--where`, parsed (a usage error before anything is read).
    pub fn row_filter(&self) -> Result<Option<RowFilter>> {
        self.filter
            .as_deref()
            .map(|text| RowFilter::parse("--where", text))
            .transpose()
    }
}

/// Fails when more rows were rejected than `--max-rejects` allows (one
/// policy for every command that reads transactions), naming the first
/// reject and what may help; `listed` says whether a rejects file has
/// been written.
pub fn check_rejects(
    report: &QualityReport,
    rejects: &[Reject],
    args: &InputArgs,
    listed: bool,
) -> Result<()> {
    let max_rejects = MaxRejects::parse(&args.max_rejects)?;
    if !max_rejects.exceeded(report.rows_rejected, report.rows_read) {
        return Ok(());
    }
    let first = rejects.first().map(describe_reject).unwrap_or_default();
    let decimal_comma = !args.decimal_comma
        && rejects
            .iter()
            .any(|r| r.reason.starts_with("non-numeric") && has_decimal_comma(&r.raw));
    bail!(
        "{} of {} rows rejected, more than --max-rejects allows ({max_rejects}); no output \
         written. First: {first}{}{}",
        cpm::io::human::count(report.rows_rejected),
        cpm::io::human::count(report.rows_read),
        if decimal_comma {
            ". Amounts like 20,00 use a decimal comma: try --decimal-comma"
        } else {
            ""
        },
        if listed {
            ""
        } else {
            ". See them all with cpm ingest --rejects FILE"
        }
    );
}

/// Whether a raw row holds a number with a decimal comma: a digit, a
/// comma, then one or two digits that end the field.
fn has_decimal_comma(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    (1..bytes.len()).any(|i| {
        bytes[i] == b',' && bytes[i - 1].is_ascii_digit() && {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let end = bytes.get(i + 1 + digits);
            (1..=2).contains(&digits) && end.is_none_or(|b| matches!(b, b';' | b'\t' | b'|' | b'"'))
        }
    })
}

fn describe_reject(r: &Reject) -> String {
    format!("{}, line {}: {} ({})", r.source, r.line, r.reason, r.raw)
}

/// The paths among `inputs` (stdin has none).
pub fn input_paths(inputs: &[Input]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => Some(p.clone()),
            Input::Stdin => None,
        })
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
    let mut outputs: Vec<&Path> = output.output.as_deref().into_iter().collect();
    outputs.extend(side_outputs.iter().flatten());
    check_distinct_outputs(&outputs)?;
    if let Some(warning) = cpm::io::write::format_mismatch(output.output.as_deref(), output.format)
    {
        ui.warn(&warning);
    }
    let output = Output::new(output, ui.durable())?;
    let mut protected = input_paths(&inputs);
    protected.extend_from_slice(other_inputs);
    for path in std::iter::once(output.path())
        .chain(side_outputs.iter().copied())
        .flatten()
    {
        check_output(path, &protected)?;
    }
    Ok((inputs, output))
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

/// Reads every input, with a progress bar over their total size.
pub fn read_all(inputs: &[Input], options: &ReadOptions, ui: &Ui) -> Result<Vec<RawTable>> {
    read_all_projected(inputs, options, ui, &|_| Ok(None))
}

/// Reads every input, keeping the columns `choose` picks for each.
pub fn read_all_projected(
    inputs: &[Input],
    options: &ReadOptions,
    ui: &Ui,
    choose: ColumnChoice,
) -> Result<Vec<RawTable>> {
    let total: u64 = input_paths(inputs)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ui.progress(total, "reading");
    let mut tables = Vec::with_capacity(inputs.len());
    for input in inputs {
        let table = cpm::io::read_input_projected(input, options, &|n| bar.inc(n), choose)?;
        ui.info(&format!(
            "{}: {}{}{}, {} rows, columns: {}",
            table.name,
            cpm::io::read::format_name(table.format),
            table
                .delimiter
                .map(|d| format!(", delimiter '{}'", cpm::ingest::report::delimiter_name(d)))
                .unwrap_or_default(),
            table
                .encoding
                .as_ref()
                .map(|e| format!(", encoding {e}"))
                .unwrap_or_default(),
            table.rows_read(),
            table.columns().join(", "),
        ));
        tables.push(table);
    }
    bar.finish_and_clear();
    Ok(tables)
}

/// The inputs, opened, when every one is read a batch at a time
/// ([`cpm::pipeline::reads_in_batches`]; `raw_only`: not a canonical
/// Parquet file): regular files, which can be opened again when the
/// batches turn out to need a whole read, and, when there are several,
/// not compressed (each would be decompressed into memory at once).
/// `None`: read them whole.
pub fn opened_for_batches(
    inputs: &[Input],
    options: &ReadOptions,
    raw_only: bool,
) -> Result<Option<Vec<cpm::io::source::Opened>>> {
    let mut opened = Vec::with_capacity(inputs.len());
    for input in inputs {
        if !matches!(input, Input::Path(path) if path.is_file()) {
            return Ok(None);
        }
        let one = cpm::io::source::open(input, options.format)?;
        let in_memory = matches!(one.payload, cpm::io::source::Payload::Bytes(_));
        if (in_memory && inputs.len() > 1) || !cpm::pipeline::reads_in_batches(&one, raw_only)? {
            return Ok(None);
        }
        opened.push(one);
    }
    Ok((!opened.is_empty()).then_some(opened))
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
    /// time: a file, its rows not shaped (sorted, limited...), in a format
    /// written in batches ([`cpm::io::batch_writer::BatchWriter`]).
    pub fn batch_format(&self) -> Option<OutputFormat> {
        let batched = matches!(
            self.format,
            OutputFormat::Csv | OutputFormat::Tsv | OutputFormat::Parquet
        );
        (self.path.is_some() && !self.shape.is_set() && batched).then_some(self.format)
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
