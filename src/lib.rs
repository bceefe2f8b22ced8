//! cpm: customer portfolio management.
//!
//! The library behind the `cpm` command. Data flows through it as polars
//! frames:
//!
//! - [`io`] finds, opens, sniffs and reads inputs, and writes outputs
//!   atomically;
//! - [`schema`] maps export columns to the canonical transaction columns and
//!   types them (dates, amounts);
//! - [`ingest`] validates, rejects with reasons, deduplicates, joins customer
//!   attributes and reports data quality;
//! - [`summary`] turns transactions into one row of facts per customer;
//! - [`segment`] scores, names and places customers (RFM, tiers, matrix);
//! - [`value`] fits the BG/NBD and Gamma-Gamma models and values customers;
//! - [`allocate`] splits a budget across groups of customers and lists whom
//!   to contact;
//! - [`crosssell`] finds what to sell next from the items customers bought;
//! - [`report`] computes the portfolio summary and renders it (terminal,
//!   Markdown, JSON, HTML with charts, CSV tables);
//! - [`panic`] turns a dependency's panic on malformed input into an error,
//!   and any other panic into a one-line bug report.
//!
//! Nothing here parses command lines, prints, or exits: that is the binary's
//! job.
#![warn(missing_docs)]
// input never panics cpm: no unwrap or expect outside tests (an exception
// carries an allow with the reason beside it)
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod allocate;
pub mod crosssell;
pub mod engine;
pub mod error;
pub mod facts;
pub mod groups;
pub mod hashing;
pub mod ingest;
pub mod io;
pub mod panic;
pub mod pipeline;
pub mod present;
pub mod report;
pub mod schema;
pub mod segment;
pub mod select;
pub mod summary;
pub mod value;
