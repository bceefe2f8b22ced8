//! `report`: how is the portfolio doing? The figures of the Monday
//! summary, computed from the customer table (and, for the period KPIs,
//! the transactions). So far: composition, concentration and the period
//! KPIs.

pub mod composition;
pub mod concentration;
pub mod kpis;
