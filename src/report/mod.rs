//! `report`: how is the portfolio doing? The figures of the Monday
//! summary, computed from the customer table and, for the period KPIs and
//! the cohorts, the transactions. So far: the period KPIs ([`kpis`]),
//! composition, concentration and cohorts; the command and its formats
//! are still to come.

pub mod cohorts;
pub mod composition;
pub mod concentration;
pub mod kpis;
