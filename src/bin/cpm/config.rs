//! Settings from a file and the environment. `cpm.toml` in the working
//! folder (or `--config FILE`, or `CPM_CONFIG`) and `CPM_<OPTION>`
//! variables give any option of any subcommand a default: the command line
//! wins over the environment, the environment over the file, the file over
//! the built-in defaults. They become the clap arguments' defaults and
//! environment variables before the command line is parsed, so every
//! subcommand sees one set of arguments wherever a value came from.

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches, ValueHint};
use toml::de::{DeTable, DeValue};

use crate::cli::Cli;

/// The subcommands a file may have a section for.
const SECTIONS: [&str; 6] = ["ingest", "facts", "segment", "value", "allocate", "report"];

/// Options no file or variable sets: what picks the file, help and version.
const NOT_SETTABLE: [&str; 4] = ["help", "version", "config", "no-config"];

/// Repeatable options of `KEY=VALUE` or `METRIC>=GOAL` values: the command
/// line's value replaces the file's value of the same key, the file's other
/// keys stay.
const KEYED: [&str; 3] = ["map", "engine-conf", "target"];

/// `--rules` values that name a built-in table, not a file.
const BUILT_IN_RULES: [&str; 2] = ["default", "rfm-r"];

/// The settings file in use and its entries.
pub struct Settings {
    file: Option<SettingsFile>,
    /// Why there is none: `--no-config`, or none found.
    none_because: &'static str,
}

/// A settings file read and checked.
struct SettingsFile {
    path: PathBuf,
    found_by: &'static str,
    entries: Vec<Entry>,
}

/// One option's value in the file.
struct Entry {
    /// The subcommand of its section; None at the top of the file, where
    /// it applies to every subcommand that takes the option.
    section: Option<&'static str>,
    /// The option's long name.
    long: String,
    /// Its values, as they would be typed on the command line.
    values: Vec<String>,
    /// The line of each value (a table's keys have lines of their own).
    lines: Vec<usize>,
    line: usize,
}

impl Entry {
    /// Where it is, for messages: `cpm.toml:12`.
    fn place(&self, file: &Path) -> String {
        format!("{}:{}", file.display(), self.line)
    }
}

/// One option's value in effect, and where it comes from.
pub struct Effective {
    /// The subcommand, or `*` for the options of every subcommand.
    pub command: String,
    /// The option: `--margin`.
    pub option: String,
    /// Its value, as typed on the command line.
    pub value: String,
    /// `cpm.toml:12`, `CPM_MARGIN` or `built-in`.
    pub from: String,
}

impl Settings {
    /// The file in use and why, in a sentence.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(file) => format!(
                "settings file: {} (from {})",
                file.path.display(),
                file.found_by
            ),
            None => format!("no settings file ({})", self.none_because),
        }
    }

    /// The value in effect of every option that has one, of the subcommand
    /// `only` or of all: the environment's, else the file's, else the
    /// built-in default.
    pub fn effective(&self, only: Option<&str>) -> Vec<Effective> {
        let mut command = with_environment(Cli::command());
        command.build();
        let mut rows = Vec::new();
        let global = |long: &str| find_arg(&Cli::command(), long).is_some();
        let shown = |arg: &&Arg| {
            !arg.is_hide_set() && arg.get_long().is_some_and(|l| !NOT_SETTABLE.contains(&l))
        };
        for arg in command.get_arguments().filter(shown) {
            rows.extend(self.effective_of("*", arg));
        }
        for sub in command.get_subcommands() {
            let name = sub.get_name();
            if !SECTIONS.contains(&name) || only.is_some_and(|o| o != name) {
                continue;
            }
            for arg in sub.get_arguments().filter(shown) {
                if !global(arg.get_long().unwrap_or_default()) {
                    rows.extend(self.effective_of(name, arg));
                }
            }
        }
        rows
    }

    /// The value in effect of `arg` of `command`, if it has one.
    fn effective_of(&self, command: &str, arg: &Arg) -> Option<Effective> {
        let long = arg.get_long()?;
        let from_env = (arg.get_env())
            .and_then(|name| Some((name, std::env::var_os(name)?)))
            .map(|(name, value)| {
                let value = value.to_string_lossy().to_string();
                (value, name.to_string_lossy().to_string())
            });
        let from_file = || {
            let file = self.file.as_ref()?;
            let entry = if command == "*" {
                file.entries
                    .iter()
                    .find(|e| e.long == long && e.section.is_none())
            } else {
                file.entry(command, long)
            }?;
            Some((entry.values.join(" "), entry.place(&file.path)))
        };
        let built_in = || {
            let values: Vec<String> = (arg.get_default_values().iter())
                .map(|v| v.to_string_lossy().to_string())
                .collect();
            let unset = values.is_empty() || values == ["false"];
            (!unset).then(|| (values.join(","), "built-in".to_string()))
        };
        let (value, from) = from_env.or_else(from_file).or_else(built_in)?;
        Some(Effective {
            command: command.to_string(),
            option: format!("--{long}"),
            value,
            from,
        })
    }
}

/// The environment variable that sets the option `long`: `CPM_DATE_FORMAT`.
fn env_name(long: &str) -> String {
    format!("CPM_{}", long.replace('-', "_").to_uppercase())
}

/// The command line parsed with the settings applied, and the settings
/// (`cpm config show` lists them). The file's values are added to the
/// command line, right after the subcommand's name, for each option that
/// neither the command line nor the environment gives (nor an option that
/// conflicts with it): clap then checks them as it checks typed values,
/// and an option that needs another one finds it.
pub fn parse(argv: Vec<OsString>) -> Result<(Cli, Settings), ParseError> {
    let command = with_environment(Cli::command());
    // the file's values are checked without the environment's
    let settings = Settings::find(&argv, &Cli::command()).map_err(ParseError::Settings)?;
    let typed = command
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(&argv);
    if let Ok(typed) = &typed {
        check_environment(typed).map_err(ParseError::Settings)?;
    }
    let argv = match (&settings.file, typed) {
        (Some(file), Ok(typed)) => match file.tokens_for(&typed) {
            Some((name, tokens)) => insert_after_subcommand(argv, name, tokens),
            None => argv,
        },
        _ => argv,
    };
    let matches = command
        .try_get_matches_from(&argv)
        .map_err(ParseError::Clap)?;
    let cli = Cli::from_arg_matches(&matches).map_err(ParseError::Clap)?;
    Ok((cli, settings))
}

/// A usage error naming the variable when a `CPM_<OPTION>` variable
/// holds a value the running subcommand's option refuses (and the command
/// line does not give the option).
fn check_environment(typed: &clap::ArgMatches) -> Result<()> {
    let Some((name, given)) = typed.subcommand() else {
        return Ok(());
    };
    let mut plain = Cli::command();
    plain.build();
    let Some(sub) = plain.find_subcommand(name) else {
        return Ok(());
    };
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long().filter(|l| !NOT_SETTABLE.contains(l)) else {
            continue;
        };
        let typed_here =
            given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine);
        let variable = env_name(long);
        let Some(value) = std::env::var_os(&variable).filter(|_| !typed_here) else {
            continue;
        };
        if matches!(arg.get_action(), ArgAction::Append) {
            continue;
        }
        let value = value.to_string_lossy().to_string();
        let Ok(tokens) = tokens(arg, std::slice::from_ref(&value)) else {
            bail!(cpm::error::usage(format!(
                "{variable}={value}: --{long} is a switch: true or false"
            )));
        };
        if let Some(err) = rejection(sub, tokens) {
            bail!(cpm::error::usage(format!(
                "{variable}={value}: {} (cpm {name})",
                clap_said(&err)
            )));
        }
    }
    Ok(())
}

/// clap's message of `err`, on one line, without its "error: ".
fn clap_said(err: &clap::Error) -> String {
    let message = err.to_string();
    let said: Vec<&str> = (message.lines())
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim().trim_start_matches("error: "))
        .collect();
    said.join(" ")
}

/// Why the command line could not be parsed.
pub enum ParseError {
    /// clap's own error (usage, --help, --version).
    Clap(clap::Error),
    /// The settings file or a variable is wrong.
    Settings(anyhow::Error),
}

/// Every settable option of `command`'s subcommands (and the global ones)
/// read from `CPM_<OPTION>` when the command line lacks it. Repeatable
/// options are left out: one variable cannot hold a list safely.
fn with_environment(command: Command) -> Command {
    let settable = |arg: &Arg| {
        arg.get_long().is_some_and(|l| !NOT_SETTABLE.contains(&l))
            && arg.get_env().is_none()
            && !matches!(arg.get_action(), ArgAction::Append)
    };
    let add = |arg: Arg| match arg.get_long() {
        Some(long) if settable(&arg) => {
            let name = env_name(long);
            arg.env(name).hide_env(true)
        }
        _ => arg,
    };
    let mut command = command.mut_args(add);
    for name in SECTIONS {
        command = command.mut_subcommand(name, |sub| sub.mut_args(add));
    }
    command
}

/// The option `long` of `command` (not of its subcommands).
fn find_arg<'c>(command: &'c Command, long: &str) -> Option<&'c Arg> {
    command.get_arguments().find(|a| a.get_long() == Some(long))
}

/// `argv` with `tokens` right after the subcommand's name.
fn insert_after_subcommand(
    mut argv: Vec<OsString>,
    name: &str,
    tokens: Vec<String>,
) -> Vec<OsString> {
    let mut at = 1;
    while at < argv.len() && argv[at] != name {
        // the values of the global options before the subcommand
        at += if argv[at] == "--config" || argv[at] == "--color" {
            2
        } else {
            1
        };
    }
    let at = (at + 1).min(argv.len());
    argv.splice(at..at, tokens.into_iter().map(OsString::from));
    argv
}

impl SettingsFile {
    /// The command-line tokens that add the file's values to what was
    /// typed (`typed`, parsed leniently) for the subcommand that runs: an
    /// option typed or in the environment keeps its value, and so does one
    /// that conflicts with it; of `--map`, `--target` and `--engine-conf`
    /// the file's keys not typed are added. None for no subcommand or no
    /// token.
    fn tokens_for(&self, typed: &clap::ArgMatches) -> Option<(&'static str, Vec<String>)> {
        let (name, given) = typed.subcommand()?;
        let name = SECTIONS.into_iter().find(|s| *s == name)?;
        let mut command = with_environment(Cli::command());
        command.build();
        let sub = command.find_subcommand(name)?;
        let set = |arg: &Arg| {
            let source = given.value_source(arg.get_id().as_str());
            matches!(
                source,
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let mut tokens = Vec::new();
        for arg in sub.get_arguments() {
            let Some(entry) = arg.get_long().and_then(|long| self.entry(name, long)) else {
                continue;
            };
            if sub.get_arg_conflicts_with(arg).into_iter().any(set) {
                continue;
            }
            let negation = (entry.values == ["false"])
                .then(|| find_arg(sub, &format!("no-{}", entry.long)))
                .flatten();
            if let (Some(no), false) = (negation, set(arg)) {
                tokens.push(format!("--{}", no.get_long().unwrap_or_default()));
            } else if !set(arg) {
                tokens.extend(self::tokens(arg, &entry.values).ok()?);
            } else if KEYED.contains(&entry.long.as_str()) {
                let id = arg.get_id().as_str();
                let typed: Vec<String> = (given.get_raw(id).into_iter().flatten())
                    .map(|v| key_of(&v.to_string_lossy()))
                    .collect();
                let untyped: Vec<String> = (entry.values.iter())
                    .filter(|v| !typed.contains(&key_of(v)))
                    .cloned()
                    .collect();
                tokens.extend(self::tokens(arg, &untyped).ok()?);
            }
        }
        (!tokens.is_empty()).then_some((name, tokens))
    }

    /// The entry that sets `long` of `command`: its section's, else the
    /// top of the file's.
    fn entry(&self, command: &str, long: &str) -> Option<&Entry> {
        let of_section = self
            .entries
            .iter()
            .find(|e| e.long == long && e.section == Some(command));
        of_section.or_else(|| (self.entries.iter()).find(|e| e.long == long && e.section.is_none()))
    }
}

impl Settings {
    /// Finds and reads the settings file: `--config FILE` (unless
    /// `--no-config`), else `CPM_CONFIG`, else `cpm.toml` in the working
    /// folder when there is one.
    fn find(argv: &[OsString], command: &Command) -> Result<Settings> {
        let mut given = None;
        let mut args = argv.iter().skip(1);
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy();
            if text == "--" {
                break;
            } else if text == "--no-config" {
                return Ok(Settings {
                    file: None,
                    none_because: "--no-config",
                });
            } else if text == "--config" {
                given = args.next().map(PathBuf::from);
            } else if let Some(path) = text.strip_prefix("--config=") {
                given = Some(PathBuf::from(path));
            }
        }
        let (path, found_by) = match (given, std::env::var_os("CPM_CONFIG")) {
            (Some(path), _) => (path, "--config"),
            (None, Some(path)) if !path.is_empty() => (PathBuf::from(path), "CPM_CONFIG"),
            _ if Path::new("cpm.toml").is_file() => (PathBuf::from("cpm.toml"), "working folder"),
            _ => {
                return Ok(Settings {
                    file: None,
                    none_because: "no --config, no CPM_CONFIG, no cpm.toml in the working folder",
                });
            }
        };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read the settings file {} (named by {found_by})",
                path.display()
            )
        })?;
        let entries = read_entries(&text, &path, command)?;
        Ok(Settings {
            file: Some(SettingsFile {
                path,
                found_by,
                entries,
            }),
            none_because: "",
        })
    }
}

/// The key of a keyed option's value: `customer_id` of
/// `customer_id=Kunde`; of a target its figure by its full name
/// (`churned_customers` of `churned<=300`).
fn key_of(value: &str) -> String {
    if let Ok(target) = value.parse::<cpm::report::targets::Target>() {
        return target.metric;
    }
    let end = value.find(['=', '<', '>']).unwrap_or(value.len());
    value[..end].trim().to_string()
}

/// The line of the byte `span` starts at.
fn line_of(text: &str, span: Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

/// The file's entries, each checked against the option it sets.
fn read_entries(text: &str, path: &Path, command: &Command) -> Result<Vec<Entry>> {
    let shown = path.display();
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s));
        cpm::error::usage(format!("{shown}:{line}: not TOML: {}", e.message()))
    })?;
    let mut built = command.clone();
    built.build();
    let mut entries = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        let line = line_of(text, key.span());
        match SECTIONS.iter().find(|s| **s == name) {
            Some(section) => {
                let DeValue::Table(options) = value.get_ref() else {
                    bail!(cpm::error::usage(format!(
                        "{shown}:{line}: '{name}' is a subcommand: write its settings under \
                         [{name}]"
                    )));
                };
                for (key, value) in options {
                    let line = line_of(text, key.span());
                    let entry =
                        read_entry(text, key.get_ref(), value.get_ref(), Some(section), line)
                            .map_err(|e| usage_at(path, line, key.get_ref(), e))?;
                    entries.push(entry);
                }
            }
            None => {
                let entry = read_entry(text, name, value.get_ref(), None, line)
                    .map_err(|e| usage_at(path, line, name, e))?;
                entries.push(entry);
            }
        }
    }
    for entry in &entries {
        check_entry(entry, &built).map_err(|(line, e)| usage_at(path, line, &entry.long, e))?;
    }
    Ok(entries
        .into_iter()
        .map(|e| relative_to(e, path, &built))
        .collect())
}

/// A usage error at a key of the file: `cpm.toml:12: margin: ...`.
fn usage_at(path: &Path, line: usize, key: &str, err: anyhow::Error) -> anyhow::Error {
    cpm::error::usage(format!("{}:{line}: {key}: {err:#}", path.display()))
}

/// One key and its TOML value as an entry: the option's long name
/// (`date_format` and `targets` mean `--date-format` and `--target`) and
/// its values as typed on the command line.
fn read_entry(
    text: &str,
    key: &str,
    value: &DeValue,
    section: Option<&'static str>,
    line: usize,
) -> Result<Entry> {
    let long = match key.replace('_', "-").as_str() {
        "targets" => "target".to_string(),
        other => other.to_string(),
    };
    let (values, lines) = match value {
        DeValue::Array(items) => (
            (items.iter())
                .map(|i| scalar(i.get_ref()))
                .collect::<Result<_>>()?,
            vec![line; items.len()],
        ),
        DeValue::Table(table) => {
            if !KEYED.contains(&long.as_str()) {
                bail!(
                    "a table is a subcommand's ({}) or map, engine_conf, targets; [{key}] is none \
                     of them",
                    SECTIONS.join(", ")
                );
            }
            let joiner = if long == "target" { " " } else { "=" };
            let values = (table.iter())
                .map(|(k, v)| Ok(format!("{}{joiner}{}", k.get_ref(), scalar(v.get_ref())?)))
                .collect::<Result<_>>()?;
            (
                values,
                table.keys().map(|k| line_of(text, k.span())).collect(),
            )
        }
        other => (vec![scalar(other)?], vec![line]),
    };
    Ok(Entry {
        section,
        long,
        values,
        lines,
        line,
    })
}

/// A TOML scalar as typed on the command line (`1_000` as `1000`, a date
/// as YYYY-MM-DD).
fn scalar(value: &DeValue) -> Result<String> {
    Ok(match value {
        DeValue::String(s) => s.to_string(),
        DeValue::Integer(i) if i.radix() == 10 => i.as_str().replace('_', ""),
        DeValue::Float(f) => f.as_str().replace('_', ""),
        DeValue::Boolean(b) => b.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        other => bail!("a {} is no value of an option", other.type_str()),
    })
}

/// Checks that the option exists where the entry sets it and that clap
/// (and, for `--map`, the column mapping) accepts its values; an error
/// comes with the line of the value at fault.
fn check_entry(entry: &Entry, built: &Command) -> Result<(), (usize, anyhow::Error)> {
    let long = entry.long.as_str();
    let at_key = |e: anyhow::Error| (entry.line, e);
    if NOT_SETTABLE.contains(&long) {
        return Err(at_key(anyhow::anyhow!(
            "--{long} is not set in a settings file"
        )));
    }
    if let (Some(section), Some(_)) = (entry.section, find_arg(built, long)) {
        return Err(at_key(anyhow::anyhow!(
            "--{long} is an option of every subcommand: set it at the top of the file, not \
             under [{section}]"
        )));
    }
    let takers: Vec<(&Command, &Arg)> = (built.get_subcommands())
        .filter(|c| entry.section.is_none_or(|s| s == c.get_name()))
        .filter(|c| SECTIONS.contains(&c.get_name()))
        .filter_map(|c| Some((c, find_arg(c, long)?)))
        .collect();
    if takers.is_empty() {
        return Err(at_key(anyhow::anyhow!(match entry.section {
            Some(section) => format!("cpm {section} has no option --{long}"),
            None => format!("no subcommand has an option --{long}"),
        })));
    }
    for (command, arg) in takers {
        // a list's values one at a time, to name the line of a bad one
        let groups: Vec<(&[String], usize)> = match arg.get_action() {
            ArgAction::Append => (entry.values.chunks(1))
                .zip(entry.lines.iter().copied())
                .collect(),
            _ => vec![(entry.values.as_slice(), entry.line)],
        };
        for (values, line) in groups {
            let at = |e: anyhow::Error| (line, e);
            let tokens = tokens(arg, values).map_err(at)?;
            if let Some(err) = rejection(command, tokens) {
                let whose = match entry.section {
                    None => format!(" (cpm {}{})", command.get_name(), accepted_by(entry, built)),
                    Some(_) => String::new(),
                };
                return Err(at(anyhow::anyhow!("{}{whose}", clap_said(&err))));
            }
            if long == "map" {
                for value in values {
                    cpm::schema::MapOverride::parse("map", value).map_err(at)?;
                }
            }
        }
    }
    Ok(())
}

/// clap's error when `command` rejects these tokens (a missing required
/// argument aside: the command line gives it).
fn rejection(command: &Command, tokens: Vec<String>) -> Option<clap::Error> {
    let parsed = command
        .clone()
        .no_binary_name(true)
        .try_get_matches_from(tokens);
    parsed
        .err()
        .filter(|e| e.kind() != clap::error::ErrorKind::MissingRequiredArgument)
}

/// For a top-level entry some subcommand rejects: the subcommands that
/// take it, as advice ("; write it under [report] to set cpm report's
/// only").
fn accepted_by(entry: &Entry, built: &Command) -> String {
    let takers: Vec<&str> = (built.get_subcommands())
        .filter(|c| SECTIONS.contains(&c.get_name()))
        .filter(|c| {
            let Some(arg) = find_arg(c, &entry.long) else {
                return false;
            };
            let Ok(tokens) = tokens(arg, &entry.values) else {
                return false;
            };
            rejection(c, tokens).is_none()
        })
        .map(Command::get_name)
        .collect();
    match takers.as_slice() {
        [] => String::new(),
        [one] => format!("; write it under [{one}] to set cpm {one}'s only"),
        many => format!(
            "; write it under [{}] to set theirs only",
            many.join("], [")
        ),
    }
}

/// The command-line tokens that give `arg` these `values`.
fn tokens(arg: &Arg, values: &[String]) -> Result<Vec<String>> {
    let long = arg.get_long().unwrap_or_default();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => match values {
            [v] if v == "true" || v == "false" => Ok(if v == "true" {
                vec![format!("--{long}")]
            } else {
                Vec::new()
            }),
            _ => bail!("--{long} is a switch: true or false"),
        },
        ArgAction::Count => match values {
            [n] => {
                let n: usize = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("a count: 0, 1, 2, ..."))?;
                Ok(vec![format!("--{long}"); n])
            }
            _ => bail!("--{long} is a count: 0, 1, 2, ..."),
        },
        ArgAction::Append => Ok(values.iter().map(|v| format!("--{long}={v}")).collect()),
        _ => match values {
            [v] => Ok(vec![format!("--{long}={v}")]),
            _ => bail!("--{long} takes one value, not a list"),
        },
    }
}

/// The entry with a relative path made relative to the file's folder, so
/// that cron finds what the file names from any working folder.
fn relative_to(mut entry: Entry, file: &Path, built: &Command) -> Entry {
    let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) else {
        return entry;
    };
    let is_path = built.get_subcommands().any(|c| {
        find_arg(c, &entry.long).is_some_and(|a| {
            matches!(
                a.get_value_hint(),
                ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath
            )
        })
    }) || entry.long == "rules";
    if is_path {
        for value in &mut entry.values {
            let names_a_file = value != "-"
                && !(entry.long == "rules" && BUILT_IN_RULES.contains(&value.as_str()))
                && Path::new(value.as_str()).is_relative();
            if names_a_file {
                *value = folder.join(&*value).display().to_string();
            }
        }
    }
    entry
}
