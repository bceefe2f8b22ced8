//! Where input comes from: paths, globs and stdin; transparent gzip/zstd
//! decompression; and format detection (magic bytes, then extension, then
//! content).

use std::fs::File;
use std::io::{self, BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::error::{InputError, usage};
use crate::io::atomic::TempFile;

/// The name under which standard input appears in messages and reports.
pub const STDIN_NAME: &str = "<stdin>";

/// A file format cpm reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Delimited text (comma, semicolon, tab or pipe).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file (`ARROW1` magic).
    IpcFile,
    /// Arrow IPC stream (what `cpm --format ipc` writes).
    IpcStream,
    /// Newline-delimited JSON objects.
    Ndjson,
    /// One JSON array of objects.
    Json,
    /// An Excel workbook (.xlsx, .xls, .xlsb) or OpenDocument sheet (.ods).
    Excel,
}

impl InputFormat {
    /// Whether the format stores typed columns (so positions are rows, not lines).
    pub fn is_text(self) -> bool {
        matches!(self, InputFormat::Csv | InputFormat::Ndjson)
    }

    /// Whether the format stores columns apart, so that some of them, or the
    /// first rows, can be read alone.
    pub fn is_columnar(self) -> bool {
        matches!(
            self,
            InputFormat::Parquet | InputFormat::IpcFile | InputFormat::IpcStream
        )
    }
}

/// A compression wrapper around an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

/// One named input, before it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file on disk.
    Path(PathBuf),
    /// Stdin, a FIFO or a compressed file, its bytes copied (decompressed)
    /// to a temporary file by [`spill`], so that it is read a batch at a
    /// time and again when a read needs it whole.
    Spilled(Arc<Spilled>),
}

impl Input {
    /// The name used in messages: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => STDIN_NAME.to_string(),
            Input::Path(p) => p.display().to_string(),
            Input::Spilled(spilled) => spilled.name.clone(),
        }
    }

    /// The file on disk it names (the original of a spilled file; stdin
    /// has none).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin => None,
            Input::Path(p) => Some(p),
            Input::Spilled(spilled) => spilled.original.as_deref(),
        }
    }

    /// Its size in bytes on disk (after decompression when spilled), when
    /// known.
    pub fn size(&self) -> Option<u64> {
        let path = match self {
            Input::Stdin => return None,
            Input::Path(path) => path.as_path(),
            Input::Spilled(spilled) => spilled.file.path(),
        };
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    /// Whether it can be opened more than once: a regular file, or one
    /// spilled to a temporary file.
    pub fn can_reopen(&self) -> bool {
        match self {
            Input::Stdin => false,
            Input::Path(p) => p.is_file(),
            Input::Spilled(_) => true,
        }
    }
}

/// An input whose bytes come once (stdin, a FIFO) or need decompressing,
/// copied as plain bytes to a temporary file.
pub struct Spilled {
    name: String,
    original: Option<PathBuf>,
    compression: Compression,
    file: TempFile,
}

impl std::fmt::Debug for Spilled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (spilled to {})",
            self.name,
            self.file.path().display()
        )
    }
}

impl PartialEq for Spilled {
    fn eq(&self, other: &Spilled) -> bool {
        self.file.path() == other.file.path()
    }
}

impl Eq for Spilled {}

/// `inputs` with stdin, FIFOs and gzip/zstd files copied, decompressed,
/// to temporary files ([`Input::Spilled`]): what comes once or packed is
/// then read like any file, a batch at a time, in bounded memory, and
/// again when a read turns out to need it whole. Plain regular files are
/// left as they are; spilled inputs stay spilled.
pub fn spill(inputs: &[Input]) -> Result<Vec<Input>> {
    inputs.iter().map(spilled).collect()
}

fn spilled(input: &Input) -> Result<Input> {
    let name = input.name();
    let (raw, original): (Box<dyn Read>, _) = match input {
        Input::Spilled(_) => return Ok(input.clone()),
        Input::Stdin => (Box::new(io::stdin()), None),
        Input::Path(path) => {
            if path.is_dir() {
                return Ok(input.clone());
            }
            let Ok(mut file) = File::open(path) else {
                // the error comes when the input is opened, with its reason
                return Ok(input.clone());
            };
            if !is_read_once(&file) {
                let mut head = [0u8; 4];
                let n =
                    read_up_to(&mut file, &mut head).with_context(|| format!("reading {name}"))?;
                if detect_compression(&head[..n]) == Compression::None {
                    return Ok(input.clone());
                }
                file = File::open(path).with_context(|| format!("reading {name}"))?;
            }
            (Box::new(file), Some(path.clone()))
        }
    };
    let mut raw = io::BufReader::with_capacity(1 << 20, raw);
    let compression = detect_compression(raw.fill_buf()?);
    let file = TempFile::new(".spilled")?;
    let mut out = io::BufWriter::with_capacity(
        1 << 20,
        File::create(file.path()).context("writing a temporary file")?,
    );
    let copied = match compression {
        Compression::None => io::copy(&mut raw, &mut out).map(|_| ()),
        Compression::Gzip => copy_gzip_members(raw, &mut out),
        Compression::Zstd => zstd::stream::read::Decoder::with_buffer(raw)
            .and_then(|mut decoder| io::copy(&mut decoder, &mut out).map(|_| ())),
    };
    copied.map_err(|e| {
        let reason = match compression {
            // a read error, or the temporary folder full: it is named
            Compression::None => {
                let folder = std::env::temp_dir();
                format!("cannot copy it to {}: {e}", folder.display())
            }
            _ => format!("cannot decompress ({compression:?}): {e}"),
        };
        InputError::file(&name, reason)
    })?;
    io::Write::flush(&mut out).context("writing a temporary file")?;
    Ok(Input::Spilled(Arc::new(Spilled {
        name,
        original,
        compression,
        file,
    })))
}

/// Turns the command line's input arguments into inputs: `-` is stdin, a
/// pattern with `*`, `?` or `[` that is not an existing file is a glob
/// (sorted), anything else a path. No argument means stdin, which must then
/// be a pipe or a file: a terminal is a usage error, never a hang.
pub fn resolve_inputs(args: &[String]) -> Result<Vec<Input>> {
    resolve_inputs_with(args, io::stdin().is_terminal())
}

/// [`resolve_inputs`] with the terminal test made explicit (for tests).
pub fn resolve_inputs_with(args: &[String], stdin_is_terminal: bool) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for arg in args {
        if arg == "-" {
            inputs.push(Input::Stdin);
        } else if arg.contains(['*', '?', '[']) && !Path::new(arg).exists() {
            let mut matched: Vec<PathBuf> = glob::glob(arg)
                .map_err(|e| usage(format!("invalid glob pattern '{arg}': {e}")))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("expanding '{arg}'"))?;
            if matched.is_empty() {
                bail!(InputError::file(arg, "no file matches this pattern"));
            }
            matched.sort();
            inputs.extend(matched.into_iter().map(Input::Path));
        } else {
            inputs.push(Input::Path(PathBuf::from(arg)));
        }
    }
    if inputs.is_empty() {
        if stdin_is_terminal {
            return Err(usage(
                "no input: give a file (or '-' for stdin), or pipe data in; see --help",
            ));
        }
        inputs.push(Input::Stdin);
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(usage("stdin ('-') can be given only once"));
    }
    Ok(inputs)
}

/// `inputs` with each file once, by its canonical path (overlapping
/// globs, `x.csv` and `./x.csv`, a link and its target), and the names of
/// the repeats left out: a file read twice would count twice.
pub fn without_repeats(inputs: Vec<Input>) -> (Vec<Input>, Vec<String>) {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut kept = Vec::with_capacity(inputs.len());
    let mut repeated = Vec::new();
    for input in inputs {
        if let Input::Path(path) = &input {
            let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            if seen.contains(&key) {
                repeated.push(input.name());
                continue;
            }
            seen.push(key);
        }
        kept.push(input);
    }
    (kept, repeated)
}

/// The bytes of an input, ready for a reader.
pub enum Payload {
    /// An uncompressed regular file, read (or scanned) in place.
    File(PathBuf),
    /// Stdin, a FIFO or a decompressed file, copied to a temporary file.
    Spilled(Arc<Spilled>),
    /// Bytes in memory (a library caller's).
    Bytes(Vec<u8>),
}

/// Where a [`Payload`]'s bytes are read from.
pub enum Bytes<'a> {
    /// A file on disk.
    File(&'a Path),
    /// Memory.
    Memory(&'a [u8]),
}

impl Payload {
    /// Where its bytes are read from.
    pub fn bytes(&self) -> Bytes<'_> {
        match self {
            Payload::File(path) => Bytes::File(path),
            Payload::Spilled(spilled) => Bytes::File(spilled.file.path()),
            Payload::Bytes(bytes) => Bytes::Memory(bytes),
        }
    }

    /// The file the bytes are in (none for bytes in memory).
    pub fn path(&self) -> Option<&Path> {
        match self.bytes() {
            Bytes::File(path) => Some(path),
            Bytes::Memory(_) => None,
        }
    }
}

/// An opened input: its name, where its bytes are, and what they are.
pub struct Opened {
    /// The display name.
    pub name: String,
    /// The bytes.
    pub payload: Payload,
    /// Detected format.
    pub format: InputFormat,
    /// The compression that was removed.
    pub compression: Compression,
    /// Size in bytes of what the readers see (after decompression).
    pub size: u64,
}

impl Opened {
    /// A fresh reader over the (decompressed) bytes.
    pub fn reader(&self) -> Result<Box<dyn Read + Send + '_>> {
        Ok(match self.payload.bytes() {
            Bytes::File(path) => {
                Box::new(File::open(path).with_context(|| format!("cannot open {}", self.name))?)
            }
            Bytes::Memory(bytes) => Box::new(io::Cursor::new(bytes)),
        })
    }
}

/// Opens an input, removes gzip/zstd compression and detects the format.
/// Stdin, a FIFO and a compressed file are first copied, as plain bytes,
/// to a temporary file ([`spill`]). `forced` skips detection (e.g.
/// `--input-format`).
pub fn open(input: &Input, forced: Option<InputFormat>) -> Result<Opened> {
    let name = input.name();
    let input = spilled(input)?;
    let (payload, compression, path) = match &input {
        Input::Spilled(spilled) => (
            Payload::Spilled(spilled.clone()),
            spilled.compression,
            spilled.file.path(),
        ),
        Input::Path(path) => {
            if path.is_dir() {
                bail!(InputError::file(&name, "is a directory, not a file"));
            }
            (
                Payload::File(path.clone()),
                Compression::None,
                path.as_path(),
            )
        }
        Input::Stdin => unreachable!("stdin is spilled"),
    };
    let mut file = File::open(path)
        .map_err(|e| InputError::file(&name, format!("cannot open: {}", io_reason(&e))))?;
    // the first bytes tell the format
    let mut head = vec![0u8; 4096];
    let n = read_up_to(&mut file, &mut head).with_context(|| format!("reading {name}"))?;
    head.truncate(n);
    for (magic, what, tool) in [
        (&b"BZh"[..], "bzip2", "bunzip2"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00][..], "xz", "unxz"),
        (&[0x04, 0x22, 0x4d, 0x18][..], "lz4", "unlz4"),
    ] {
        if head.starts_with(magic) {
            bail!(InputError::file(
                &name,
                format!(
                    "{what}-compressed: not supported; decompress it first ({tool}), or use gzip or zstd"
                )
            ));
        }
    }
    let format = match forced {
        Some(format) => format,
        None => detect_format(&head, &input),
    };
    Ok(Opened {
        name,
        size: file.metadata()?.len(),
        payload,
        format,
        compression,
    })
}

/// Whether an opened input can be read only once (a pipe, a FIFO, a
/// character device, a socket): anything but a regular file, which cpm
/// may open again (to sniff, then to read).
fn is_read_once(file: &File) -> bool {
    file.metadata().map(|m| !m.is_file()).unwrap_or(true)
}

/// Decompresses every gzip member of `raw` (files joined with `cat` are
/// several) into `out`; bytes after the last member that start no
/// member are an error, never dropped in silence.
fn copy_gzip_members(raw: impl io::BufRead, out: &mut impl io::Write) -> io::Result<()> {
    let mut input = raw;
    loop {
        io::copy(&mut flate2::bufread::GzDecoder::new(&mut input), out)?;
        let rest = input.fill_buf()?;
        if rest.is_empty() {
            return Ok(());
        }
        if !rest.starts_with(&[0x1f, 0x8b]) {
            let shown =
                super::human::excerpt(&String::from_utf8_lossy(&rest[..rest.len().min(16)]));
            let trailing = io::copy(&mut input, &mut io::sink())?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{trailing} bytes after the end of the gzip data are not gzip (they start \
                     '{}'): the file was appended to or damaged; nothing was read",
                    super::human::printable(&shown)
                ),
            ));
        }
    }
}

/// A short reason for an I/O error, without the OS error number.
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// gzip or zstd by magic bytes.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Format by magic bytes first, then the file extension (ignoring a
/// compression extension), then the content.
pub fn detect_format(head: &[u8], input: &Input) -> InputFormat {
    if head.starts_with(b"PAR1") {
        return InputFormat::Parquet;
    }
    if head.starts_with(b"ARROW1") {
        return InputFormat::IpcFile;
    }
    if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
        return InputFormat::IpcStream;
    }
    // a ZIP archive (.xlsx, .ods) or an OLE compound file (.xls)
    if head.starts_with(b"PK\x03\x04")
        || head.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])
    {
        return InputFormat::Excel;
    }
    if let Some(path) = input.path()
        && let Some(format) = format_from_extension(path)
    {
        return format;
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        Some(b'{') => InputFormat::Ndjson,
        Some(b'[') => InputFormat::Json,
        _ => InputFormat::Csv,
    }
}

fn format_from_extension(path: &Path) -> Option<InputFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .or_else(|| name.strip_suffix(".zstd"))
        .unwrap_or(&name);
    let ext = name.rsplit_once('.')?.1;
    Some(match ext {
        "csv" | "tsv" | "tab" | "txt" | "psv" => InputFormat::Csv,
        "parquet" | "pq" => InputFormat::Parquet,
        "arrow" | "feather" | "ipc" => InputFormat::IpcFile,
        "arrows" => InputFormat::IpcStream,
        "ndjson" | "jsonl" => InputFormat::Ndjson,
        "json" => InputFormat::Json,
        "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" => InputFormat::Excel,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Input {
        Input::Path(PathBuf::from(p))
    }

    #[test]
    fn magic_bytes_win_over_extension() {
        assert_eq!(
            detect_format(b"PAR1....", &path("a.csv")),
            InputFormat::Parquet
        );
        assert_eq!(
            detect_format(b"ARROW1\0\0", &path("a.csv")),
            InputFormat::IpcFile
        );
        assert_eq!(
            detect_format(&[0xff, 0xff, 0xff, 0xff, 1], &path("x")),
            InputFormat::IpcStream
        );
    }

    #[test]
    fn extension_then_content() {
        assert_eq!(detect_format(b"a,b", &path("a.tsv.gz")), InputFormat::Csv);
        assert_eq!(detect_format(b"a,b", &path("a.jsonl")), InputFormat::Ndjson);
        assert_eq!(
            detect_format(b"  {\"a\":1}", &Input::Stdin),
            InputFormat::Ndjson
        );
        assert_eq!(
            detect_format(b"[{\"a\":1}]", &Input::Stdin),
            InputFormat::Json
        );
        assert_eq!(detect_format(b"id;date", &Input::Stdin), InputFormat::Csv);
    }

    #[test]
    fn compression_magic() {
        assert_eq!(detect_compression(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            detect_compression(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(detect_compression(b"id,"), Compression::None);
    }

    #[test]
    fn no_input_on_a_terminal_is_a_usage_error() {
        let err = resolve_inputs_with(&[], true).unwrap_err();
        assert!(err.downcast_ref::<crate::error::UsageError>().is_some());
        assert_eq!(resolve_inputs_with(&[], false).unwrap(), vec![Input::Stdin]);
    }

    #[test]
    fn a_file_named_twice_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.csv");
        std::fs::write(&file, "a\n1\n").unwrap();
        let again = dir.path().join(".").join("x.csv");
        let other = dir.path().join("y.csv");
        std::fs::write(&other, "a\n1\n").unwrap();
        let inputs = [&file, &again, &other, &file].map(|p| Input::Path(p.clone()));
        let (kept, repeated) = without_repeats(inputs.to_vec());
        assert_eq!(kept, [Input::Path(file.clone()), Input::Path(other)]);
        assert_eq!(repeated.len(), 2);
    }
}
