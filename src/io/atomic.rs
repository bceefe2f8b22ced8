//! Files written atomically: the data goes to a temporary file in the
//! target's folder, which is flushed (and, with `--sync`, fsynced) and
//! renamed over the target. A crash or an error leaves the old file or the
//! new one, never half of one; several outputs of a run are renamed only
//! when all were written. The temporary files of killed runs are swept.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use crate::error::usage;

/// An output written to its temporary file and not yet renamed into
/// place: several outputs of one run are all staged first and committed
/// only when every one was written ([`commit_all`]), so a failure (a full
/// disk for the second of two) leaves every previous file as it was.
/// Dropped uncommitted, the temporary file is removed.
pub struct Staged {
    /// The path as given, for messages.
    shown: PathBuf,
    /// The temporary file, the regular file it replaces (the end of the
    /// path's links), and its place in [`LIVE_TEMPS`]; None for what was
    /// written in place.
    temp: Option<(tempfile::NamedTempFile, PathBuf, Live)>,
}

/// Where an output's bytes go.
enum Target {
    /// Written where it is: a device, a FIFO, a socket, or a descriptor
    /// (`/dev/stdout`, `/proc/self/fd/N`) even when it leads to a regular
    /// file. Renaming over it would replace the device or the link.
    InPlace,
    /// A regular file, new or replaced atomically: the end of the path's
    /// symbolic links, so that a link is written through, never replaced.
    File(PathBuf),
}

/// Where `path` is written, or why it cannot be: a folder, a read-only
/// file.
fn target(path: &Path) -> Result<Target> {
    if through_descriptor(path) {
        return Ok(Target::InPlace);
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => bail!("cannot write {}: it is a directory", path.display()),
        Ok(meta) if !meta.is_file() => return Ok(Target::InPlace),
        Ok(meta) if meta.permissions().readonly() => bail!(
            "cannot write {}: the file is read-only (make it writable, or write elsewhere)",
            path.display()
        ),
        _ => {}
    }
    Ok(Target::File(end_of_links(path)))
}

/// The most links followed by hand (as the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Whether `path`, or a link on its way, is in a descriptor folder
/// (`/dev/fd`, `/proc/PID/fd`): such a path names an open descriptor, not
/// a file in a folder.
fn through_descriptor(path: &Path) -> bool {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let folder = parent_dir(&current).canonicalize();
        if folder.is_ok_and(|f| is_descriptor_folder(&f)) {
            return true;
        }
        match std::fs::read_link(&current) {
            Ok(next) => current = parent_dir(&current).join(next),
            Err(_) => return false,
        }
    }
    false
}

fn is_descriptor_folder(folder: &Path) -> bool {
    let parts: Vec<_> = folder.components().collect();
    folder == Path::new("/dev/fd")
        || (parts.len() == 4
            && folder.starts_with("/proc")
            && folder.file_name().is_some_and(|n| n == "fd"))
}

/// The path at the end of `path`'s symbolic links (`path` itself when it
/// is none), which may not exist yet (a dangling link is written through:
/// its target is created).
fn end_of_links(path: &Path) -> PathBuf {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::read_link(&current) {
            Ok(next) => current = parent_dir(&current).join(next),
            Err(_) => break,
        }
    }
    current
}

/// Writes `fill` to a temporary file beside the file `path` names (a
/// device or descriptor directly).
pub fn stage(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<Staged> {
    let mut stage = Stage::open(path)?;
    fill(stage.writer()).with_context(|| format!("writing {}", path.display()))?;
    stage.finish()
}

/// An output being written: a temporary file beside the file its path
/// names (a device or descriptor directly), for a caller that writes it
/// bit by bit, with other outputs ([`stage`] takes one closure).
pub struct Stage {
    shown: PathBuf,
    writer: StageWriter,
}

enum StageWriter {
    InPlace(BufWriter<std::fs::File>),
    Temp {
        writer: BufWriter<tempfile::NamedTempFile>,
        file: PathBuf,
        live: Live,
    },
}

impl Stage {
    /// Starts writing the output `path`.
    pub fn open(path: &Path) -> Result<Stage> {
        let file = match target(path)? {
            Target::File(file) => file,
            Target::InPlace => {
                // appended, so that `>> log` keeps what it had
                let device = std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                return Ok(Stage {
                    shown: path.to_path_buf(),
                    writer: StageWriter::InPlace(BufWriter::new(device)),
                });
            }
        };
        let dir = parent_dir(&file);
        remove_stale_temps(&dir);
        let mut builder = temp_builder();
        // A new file gets the usual 0666 less the umask (tempfile's 0600 would
        // surprise whoever reads the output); a replaced file keeps its mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(match std::fs::metadata(&file) {
                Ok(meta) => meta.permissions(),
                Err(_) => std::fs::Permissions::from_mode(0o666),
            });
        }
        let temp = builder
            .tempfile_in(&dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let live = Live::track(temp.path());
        Ok(Stage {
            shown: path.to_path_buf(),
            writer: StageWriter::Temp {
                writer: BufWriter::new(temp),
                file,
                live,
            },
        })
    }

    /// Where the bytes go.
    pub fn writer(&mut self) -> &mut dyn Write {
        match &mut self.writer {
            StageWriter::InPlace(writer) => writer,
            StageWriter::Temp { writer, .. } => writer,
        }
    }

    /// The output written, ready to be put in place.
    pub fn finish(self) -> Result<Staged> {
        let shown = self.shown;
        let writing = || format!("writing {}", shown.display());
        match self.writer {
            StageWriter::InPlace(mut writer) => {
                writer.flush().with_context(writing)?;
                Ok(Staged { shown, temp: None })
            }
            StageWriter::Temp { writer, file, live } => {
                let temp = writer
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(writing)?;
                Ok(Staged {
                    shown,
                    temp: Some((temp, file, live)),
                })
            }
        }
    }
}

impl Staged {
    /// Renames the temporary file over the output. `durable` (`--sync`)
    /// fsyncs the file before and its folder after, so that the new file
    /// survives a power loss, not only a crash of cpm; off by default, as
    /// flushing a large output to disk takes longer than computing it.
    pub fn commit(self, durable: bool) -> Result<()> {
        let Some((temp, file, _live)) = self.temp else {
            return Ok(());
        };
        if durable {
            temp.as_file()
                .sync_all()
                .with_context(|| format!("syncing {}", self.shown.display()))?;
        }
        temp.persist(&file)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot replace {}", self.shown.display()))?;
        if durable {
            // make the rename itself durable
            if let Ok(d) = File::open(parent_dir(&file)) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// The temporary files of this run not yet renamed into place: what a
/// signal that stops the run must remove ([`remove_live_temps`]).
static LIVE_TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary file listed in [`LIVE_TEMPS`] while this guard lives.
struct Live(PathBuf);

impl Live {
    fn track(path: &Path) -> Live {
        if let Ok(mut live) = LIVE_TEMPS.lock() {
            live.push(path.to_path_buf());
        }
        Live(path.to_path_buf())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE_TEMPS.lock() {
            live.retain(|p| *p != self.0);
        }
    }
}

/// A temporary file of this run in the system's temporary folder (not an
/// output: data a command reads again), removed when dropped or when a
/// signal stops the run.
pub struct TempFile {
    path: tempfile::TempPath,
    _live: Live,
}

impl TempFile {
    /// A new, empty temporary file whose name ends in `suffix`.
    pub fn new(suffix: &str) -> Result<TempFile> {
        let path = tempfile::Builder::new()
            .prefix(".cpm-")
            .suffix(suffix)
            .tempfile()
            .context("creating a temporary file")?
            .into_temp_path();
        let live = Live::track(&path);
        Ok(TempFile { path, _live: live })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the temporary files of the outputs being written: called when
/// a signal (SIGINT, SIGTERM, SIGHUP) stops the run, so that it leaves
/// the old outputs and nothing else.
pub fn remove_live_temps() {
    if let Ok(live) = LIVE_TEMPS.lock() {
        for path in live.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Commits every staged output, in order ([`Staged::commit`]).
pub fn commit_all(staged: Vec<Staged>, durable: bool) -> Result<()> {
    staged.into_iter().try_for_each(|s| s.commit(durable))
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

/// Fails unless `path` can be written: its folder exists and takes a
/// temporary file, and it is no folder and no read-only file; so that a
/// bad `-o` is reported before any work is done.
pub fn check_writable_target(path: &Path) -> Result<()> {
    let Target::File(file) = target(path)? else {
        return Ok(());
    };
    let dir = parent_dir(&file);
    if !dir.is_dir() {
        bail!(
            "cannot write {}: folder {} does not exist",
            path.display(),
            dir.display()
        );
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

/// The prefix of cpm's temporary files: `.cpm-PID-MARK-` and then a random
/// part, where MARK is a checksum of the PID, so that a later run tells
/// the files of a run that was killed from anybody else's.
fn temp_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let pid = std::process::id();
        format!(".cpm-{pid}-{}-", temp_mark(pid))
    })
}

/// The checksum of a PID in cpm's temporary file names.
fn temp_mark(pid: u32) -> String {
    let hash = xxhash_rust::xxh3::xxh3_64(format!("cpm temporary file of {pid}").as_bytes());
    format!("{:08x}", hash as u32)
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(temp_prefix()).suffix(".tmp");
    builder
}

/// The PID of the run that made `name`, when it is the name of one of
/// cpm's temporary files (`.cpm-PID-MARK-RANDOM.tmp`, MARK checking PID).
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".cpm-")?.strip_suffix(".tmp")?;
    let mut parts = rest.splitn(3, '-');
    let pid: u32 = parts.next()?.parse().ok()?;
    let mark = parts.next()?;
    let random = parts.next()?;
    (mark == temp_mark(pid) && !random.is_empty()).then_some(pid)
}

/// Removes the temporary files that runs killed before they could rename
/// them left in `dir`: regular files named as cpm names its own
/// ([`temp_owner`]), of this user, whose process is gone (on systems
/// without /proc, older than a day). Anything else is left alone.
fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let procfs = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(temp_owner) else {
            continue;
        };
        // DirEntry::metadata does not follow a link: a link is not ours
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() || !same_owner_as_this_process(&meta) {
            continue;
        }
        let dead = if procfs {
            pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            meta.modified()
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 86_400))
        };
        if dead {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a file belongs to the user this process runs as (where that can
/// be told: through /proc on Unix).
fn same_owner_as_this_process(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(me) = std::fs::metadata("/proc/self") {
            return me.uid() == meta.uid();
        }
    }
    let _ = meta;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates or replaces `path` with what `fill` writes, as a run does.
    fn write_atomically(
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        stage(path, fill)?.commit(false)
    }

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
    fn only_cpm_s_own_temporary_files_of_dead_runs_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        // a PID no process has (above the kernel's pid_max of 2^22)
        let dead = 4_194_400;
        let ours = format!(".cpm-{dead}-{}-AbC123.tmp", temp_mark(dead));
        assert_eq!(temp_owner(&ours), Some(dead));
        let strangers = [
            format!(".cpm-{dead}-AbC123.tmp"), // the old layout, or a person's
            format!(".cpm-{dead}-00000000-AbC123.tmp"), // a wrong mark
            format!(".cpm-{dead}-{}-.tmp", temp_mark(dead)), // no random part
            "notes.tmp".to_string(),
        ];
        for name in strangers.iter().chain([&ours]) {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // a link named as ours is not ours either
        let link = format!(".cpm-{dead}-{}-Link00.tmp", temp_mark(dead));
        #[cfg(unix)]
        std::os::unix::fs::symlink("notes.tmp", dir.path().join(&link)).unwrap();
        remove_stale_temps(dir.path());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut expected = strangers.to_vec();
        #[cfg(unix)]
        expected.push(link);
        expected.sort();
        assert_eq!(left, expected);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_written_through_and_read_only_files_refused() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.csv");
        symlink("real.csv", &link).unwrap();
        write_atomically(&link, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        // a dangling link: its target is created
        let dangling = dir.path().join("dangling.csv");
        symlink("made.csv", &dangling).unwrap();
        write_atomically(&dangling, |w| Ok(w.write_all(b"made")?)).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("made.csv")).unwrap(),
            "made"
        );
        assert!(std::fs::symlink_metadata(&dangling).unwrap().is_symlink());
        // a read-only file stays as it is
        let mut read_only = std::fs::metadata(&real).unwrap().permissions();
        read_only.set_readonly(true);
        std::fs::set_permissions(&real, read_only).unwrap();
        let refused = check_writable_target(&link).unwrap_err();
        assert!(format!("{refused}").contains("read-only"), "{refused}");
        assert!(write_atomically(&real, |w| Ok(w.write_all(b"x")?)).is_err());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn a_descriptor_is_written_in_place_even_to_a_regular_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held.txt");
        let held = File::create(&path).unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        let descriptor = PathBuf::from(format!("/proc/self/fd/{}", {
            use std::os::fd::AsRawFd;
            held.as_raw_fd()
        }));
        if !descriptor.exists() {
            return; // no procfs here
        }
        write_atomically(&descriptor, |w| Ok(w.write_all(b"in place")?)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "in place");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
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
