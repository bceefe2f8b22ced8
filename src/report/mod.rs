//! `report`: how is the portfolio doing? The figures of the Monday
//! summary, computed from the customer table (and, for the period KPIs,
//! the transactions). Only the concentration section exists so far.

pub mod concentration;
