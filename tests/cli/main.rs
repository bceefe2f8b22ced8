//! The one integration test binary (polars makes every extra test binary a
//! slow link). Every test runs the real `cpm` binary on files in testdata/.

mod allocate;
mod bad_input;
mod batches;
mod cli;
mod config;
mod crash;
mod docs;
mod engines;
mod facts;
mod filters;
mod formats;
mod ingest;
mod mapping;
mod report;
mod segment;
mod util;
mod value;
