//! Input and output shared by every subcommand: finding and opening inputs,
//! reading every supported format, writing outputs atomically, and tables
//! for people.

pub mod atomic;
pub mod batch_writer;
pub mod batches;
pub mod csv;
pub mod excel;
pub mod human;
pub mod json;
pub mod read;
pub mod source;
pub mod spreadsheet;
pub mod table;
pub mod write;

pub use self::csv::{
    CsvOptions, DEFAULT_MAX_FIELD_LINES, DEFAULT_MAX_FIELD_SIZE, LINE_COLUMN, LineBreaks,
    RawReject, TextEncoding,
};
pub use self::read::{ColumnChoice, RawTable, ReadOptions, read_input, read_input_projected};
pub use self::source::{Input, InputFormat, resolve_inputs, without_repeats};
pub use self::table::TableStyle;
pub use self::write::{OutputFormat, choose_format, write_frame, write_stdout};
