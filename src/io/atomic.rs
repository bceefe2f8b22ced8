//! Files written atomically: the data goes to a temporary file in the
//! target's folder, which is flushed (and, with `--sync`, fsynced) and
//! renamed over the target. A crash or an error leaves the old file or the
//! new one, never half of one; several outputs of a run are renamed only
//! when all were written. The temporary files of killed runs are swept.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};

use crate::error::usage;

/// Whether [`write_atomically`] also makes files durable (see [`set_durable`]).
static DURABLE: AtomicBool = AtomicBool::new(false);

/// Makes [`write_atomically`] fsync each file before renaming it into place,
/// and its folder after, so that the new file survives a power loss, not
/// only a crash of cpm. Off by default: flushing a 300 MB output to disk
/// takes longer than computing it.
pub fn set_durable(durable: bool) {
    DURABLE.store(durable, Ordering::Relaxed);
}

/// Creates or replaces `path` atomically with what `fill` writes: a reader
/// sees the old file or the complete new one, never a part, even when cpm
/// is killed. A path that is not a regular file (`/dev/stdout`, a named
/// pipe) is written in place: renaming over it would replace the device.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    stage(path, fill)?.commit()
}

/// An output written to its temporary file and not yet renamed into
/// place: several outputs of one run are all staged first and committed
/// only when every one was written ([`commit_all`]), so a failure (a full
/// disk for the second of two) leaves every previous file as it was.
/// Dropped uncommitted, the temporary file is removed.
pub struct Staged {
    path: PathBuf,
    /// None for a device, which was written directly.
    temp: Option<tempfile::NamedTempFile>,
}

/// Writes `fill` to a temporary file beside `path` (a device directly).
pub fn stage(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<Staged> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let device = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut writer = BufWriter::new(device);
        fill(&mut writer).with_context(|| format!("writing {}", path.display()))?;
        writer
            .flush()
            .with_context(|| format!("writing {}", path.display()))?;
        return Ok(Staged {
            path: path.to_path_buf(),
            temp: None,
        });
    }
    let dir = parent_dir(path);
    remove_stale_temps(&dir);
    let mut builder = temp_builder();
    // A new file gets the usual 0666 less the umask (tempfile's 0600 would
    // surprise whoever reads the output); a replaced file keeps its mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(match std::fs::metadata(path) {
            Ok(meta) => meta.permissions(),
            Err(_) => std::fs::Permissions::from_mode(0o666),
        });
    }
    let temp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut writer = BufWriter::new(temp);
    fill(&mut writer).with_context(|| format!("writing {}", path.display()))?;
    let temp = writer
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    if DURABLE.load(Ordering::Relaxed) {
        temp.as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
    }
    Ok(Staged {
        path: path.to_path_buf(),
        temp: Some(temp),
    })
}

impl Staged {
    /// Renames the temporary file over the output.
    pub fn commit(self) -> Result<()> {
        let Some(temp) = self.temp else {
            return Ok(());
        };
        let path = &self.path;
        temp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        if DURABLE.load(Ordering::Relaxed) {
            // make the rename itself durable
            if let Ok(d) = File::open(parent_dir(path)) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Commits every staged output, in order.
pub fn commit_all(staged: Vec<Staged>) -> Result<()> {
    staged.into_iter().try_for_each(Staged::commit)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses an output that would overwrite one of the inputs, before anything
/// is read. Paths are compared after resolving links and `..`.
pub fn refuse_overwriting_inputs(output: &Path, inputs: &[PathBuf]) -> Result<()> {
    let Some(out) = resolve(output) else {
        return Ok(());
    };
    for input in inputs {
        if resolve(input).as_deref() == Some(out.as_path()) {
            return Err(usage(format!(
                "output {} is also an input: refusing to overwrite it (write elsewhere, then rename)",
                output.display()
            )));
        }
    }
    Ok(())
}

fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    Some(parent_dir(path).canonicalize().ok()?.join(name))
}

/// Fails unless `path`'s folder exists, so a bad `-o` is reported before
/// any work is done.
pub fn check_writable_target(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        // a device or pipe is written in place
        return Ok(());
    }
    // the folder must take the temporary file the output is written to:
    // find out now, not after the work (a read-only folder, a full disk)
    temp_builder().tempfile_in(&dir).map(drop).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {}: {}",
            path.display(),
            crate::io::source::io_reason(&e)
        )
    })
}

/// The prefix of cpm's temporary files: `.cpm-PID-` and a random part, so
/// a later run can tell the files of a run that was killed.
fn temp_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| format!(".cpm-{}-", std::process::id()))
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(temp_prefix()).suffix(".tmp");
    builder
}

/// Removes the temporary files that runs killed before they could rename
/// them left in `dir`: `.cpm-PID-*.tmp` whose process is gone (on systems
/// without /proc, older than a day).
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let procfs = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".cpm-"))
            .filter(|n| n.ends_with(".tmp"))
            .and_then(|n| n.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let dead = if procfs {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 86_400))
        };
        if dead {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn pipes_and_devices_are_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomically(&fifo, |w| Ok(w.write_all(b"through the pipe")?)).unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }

    #[test]
    fn atomic_write_leaves_old_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, "old").unwrap();
        let failed = write_atomically(&target, |w| {
            w.write_all(b"half")?;
            bail!("boom")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        write_atomically(&target, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }
}
