//! Panics: a bug in cpm is reported in one line with a hint to report it,
//! and a dependency's panic on malformed bytes (a reader of a truncated
//! Parquet file, say) becomes an error about the input, not a crash.

use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, anyhow};

/// Guarded sections running now, on any thread: a dependency may panic on
/// one of its own worker threads, and the panic reaches the guard through
/// the join.
static GUARDED: AtomicUsize = AtomicUsize::new(0);

/// Installs the panic hook: a panic inside [`guard`] is left to the guard,
/// silently; any other prints one line on stderr (what, where, and where
/// to report it), then calls `end` (the binary exits with 101; a fuzz
/// target aborts, so the fuzzer records the crash).
pub fn install_hook(end: fn() -> !) {
    std::panic::set_hook(Box::new(move |info: &PanicHookInfo| {
        if GUARDED.load(Ordering::SeqCst) > 0 {
            return;
        }
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "cpm: internal error (a bug, not your data): {}{location}; please report it with the \
             command line and, if you can, the input",
            message(info.payload())
        );
        end()
    }));
}

/// Runs `read`, turning a panic inside it into an error that says `what`
/// failed on this input.
pub fn guard<T>(what: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(read));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    match outcome {
        Ok(result) => result,
        Err(payload) => Err(anyhow!(
            "{what} failed on malformed data ({})",
            message(payload.as_ref())
        )),
    }
}

/// The text of a panic's payload.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "no message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_panic_is_an_error() {
        let result: Result<u32> = guard("the reader", || panic!("index out of bounds"));
        let error = result.unwrap_err().to_string();
        assert!(error.contains("the reader failed"), "{error}");
        assert!(error.contains("index out of bounds"), "{error}");
        assert_eq!(guard("the reader", || Ok(7)).unwrap(), 7);
        assert_eq!(GUARDED.load(Ordering::SeqCst), 0);
    }

    /// The child of [`an_unguarded_panic_is_one_line_and_exit_101`]: panics
    /// under the hook when run by it.
    #[test]
    fn panicking_child() {
        if std::env::var_os("CPM_PANIC_CHILD").is_some() {
            install_hook(|| std::process::exit(101));
            let guarded: Result<()> = guard("a reader", || panic!("caught"));
            assert!(guarded.is_err());
            panic!("a bug");
        }
    }

    #[test]
    fn an_unguarded_panic_is_one_line_and_exit_101() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "panic::tests::panicking_child", "--nocapture"])
            .env("CPM_PANIC_CHILD", "1")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(101));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reports: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("cpm: internal error"))
            .collect();
        assert_eq!(reports.len(), 1, "{stderr}");
        assert!(reports[0].contains("a bug") && reports[0].contains("src/panic.rs"));
        assert!(
            !stderr.contains("caught"),
            "the guarded panic is silent: {stderr}"
        );
    }
}
