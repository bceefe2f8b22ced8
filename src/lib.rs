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
//! - [`report`] computes the portfolio summary's figures (in progress).
//!
//! Nothing here parses command lines, prints, or exits: that is the binary's
//! job.
#![warn(missing_docs)]

pub mod allocate;
pub mod error;
pub mod hashing;
pub mod ingest;
pub mod io;
pub mod report;
pub mod schema;
pub mod segment;
pub mod summary;
pub mod value;
