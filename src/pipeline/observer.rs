//! What the pipeline tells while it works. The library prints nothing:
//! it hands details, warnings, progress and the end of each step to an
//! [`Observer`]; the binary shows them on stderr (with -v, -vv, a
//! progress bar), a library user may ignore them ([`Silent`]).

/// Receives what the pipeline has to say. Every method has a default that
/// does nothing, so an observer implements only what it shows.
pub trait Observer {
    /// A detail: what an input was taken for, how many rows a filter kept.
    fn info(&self, _message: &str) {}

    /// Something the user should act on: rows left out, a date past
    /// the as-of day.
    fn warn(&self, _message: &str) {}

    /// A step (`read`, `ingest`, `facts`, ...) ended now; the observer
    /// times it from the end of the previous one.
    fn step(&self, _name: &str) {}

    /// Reading starts: `total_bytes` of input to come.
    fn reading(&self, _total_bytes: u64) {}

    /// `bytes` more of the input read.
    fn read(&self, _bytes: u64) {}

    /// Reading ended.
    fn done_reading(&self) {}
}

/// An observer that keeps everything to itself.
pub struct Silent;

impl Observer for Silent {}
