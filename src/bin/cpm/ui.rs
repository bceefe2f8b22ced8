//! What the binary says on stderr: errors, warnings, -v details, progress.

use std::cell::{Cell, RefCell};
use std::io::{IsTerminal, Write};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{ColorWhen, GlobalArgs};

/// stderr, as the global options allow.
pub struct Ui {
    quiet: bool,
    verbose: u8,
    color: bool,
    terminal: bool,
    durable: bool,
    /// When the step under way started (-vv times the steps).
    step_started: Cell<Instant>,
    /// The progress bar of the input being read.
    reading: RefCell<Option<ProgressBar>>,
}

impl Ui {
    /// From the global options and the environment.
    pub fn new(global: &GlobalArgs) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match global.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => terminal && !no_color,
        };
        Ui {
            quiet: global.quiet,
            verbose: global.verbose,
            color,
            terminal,
            durable: global.sync,
            step_started: Cell::new(Instant::now()),
            reading: RefCell::new(None),
        }
    }

    /// Before the command line is parsed: the defaults of the global options.
    pub fn plain() -> Self {
        Ui::new(&GlobalArgs {
            quiet: false,
            verbose: 0,
            sync: false,
            color: ColorWhen::Auto,
            config: None,
            no_config: false,
        })
    }

    /// Whether outputs are fsynced as they are put in place (`--sync`).
    pub fn durable(&self) -> bool {
        self.durable
    }

    /// Prints the error with its causes, once; control characters from the
    /// data (a terminal's escape sequences) are written out.
    pub fn error(&self, err: &anyhow::Error) {
        let prefix = if self.color {
            "\x1b[1;31mcpm:\x1b[0m"
        } else {
            "cpm:"
        };
        let message = cpm::io::human::printable_lines(&format!("{err:#}"));
        let _ = writeln!(std::io::stderr(), "{prefix} {message}");
    }

    /// A warning (silenced by -q), control characters written out.
    pub fn warn(&self, message: &str) {
        if !self.quiet {
            let prefix = if self.color {
                "\x1b[33mwarning:\x1b[0m"
            } else {
                "warning:"
            };
            let message = cpm::io::human::printable_lines(message);
            let _ = writeln!(std::io::stderr(), "{prefix} {message}");
        }
    }

    /// A detail shown with -v.
    pub fn info(&self, message: &str) {
        if self.verbose > 0 && !self.quiet {
            let message = cpm::io::human::printable_lines(message);
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }

    /// With -vv, how long the step that ends now took since the previous
    /// one ended.
    pub fn step(&self, step: &str) {
        let started = self.step_started.replace(Instant::now());
        if self.verbose > 1 && !self.quiet {
            let _ = writeln!(
                std::io::stderr(),
                "time: {step} {:.3} s",
                started.elapsed().as_secs_f64()
            );
        }
    }

    /// Text for stderr (reports), unless -q; control characters from the
    /// data are written out.
    pub fn print(&self, text: &str) {
        if !self.quiet {
            let text = cpm::io::human::printable_lines(text);
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    }

    /// A byte progress bar, drawn only when stderr is a terminal and not -q.
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        if self.quiet || !self.terminal || total < (32 << 20) {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        bar.set_message(what.to_string());
        bar
    }
}

/// The library's observer: details with -v, warnings, step times with
/// -vv, a progress bar while the inputs are read.
impl cpm::pipeline::Observer for Ui {
    fn info(&self, message: &str) {
        Ui::info(self, message);
    }

    fn warn(&self, message: &str) {
        Ui::warn(self, message);
    }

    fn step(&self, name: &str) {
        Ui::step(self, name);
    }

    fn reading(&self, total_bytes: u64) {
        *self.reading.borrow_mut() = Some(self.progress(total_bytes, "reading"));
    }

    fn read(&self, bytes: u64) {
        if let Some(bar) = &*self.reading.borrow() {
            bar.inc(bytes);
        }
    }

    fn done_reading(&self) {
        if let Some(bar) = self.reading.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}
