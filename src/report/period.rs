//! The reporting period: a week, a month or a quarter ending on a day.

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The length of a reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Seven days.
    Week,
    /// A calendar month's length (the same day of the month before).
    Month,
    /// Three months.
    Quarter,
}

impl Period {
    /// The period's name: week, month or quarter.
    pub fn name(self) -> &'static str {
        match self {
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
        }
    }

    /// The first day of the period that ends on `end` (inclusive): seven
    /// days for a week; for a month or quarter ending on the last day of a
    /// month, the calendar month or the three calendar months, otherwise
    /// from the day after the same day one or three months before.
    pub fn start(self, end: NaiveDate) -> NaiveDate {
        let months = match self {
            Period::Week => {
                return end.checked_sub_days(Days::new(6)).unwrap_or(NaiveDate::MIN);
            }
            Period::Month => 1,
            Period::Quarter => 3,
        };
        let month_end = end.succ_opt().is_none_or(|next| next.day() == 1);
        if month_end {
            let first = end.with_day(1).unwrap_or(end);
            return first
                .checked_sub_months(Months::new(months - 1))
                .unwrap_or(NaiveDate::MIN);
        }
        end.checked_sub_months(Months::new(months))
            .map_or(NaiveDate::MIN, |d| d + Days::new(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_end_on_the_as_of_day() {
        let end = date("2024-03-31");
        assert_eq!(Period::Month.start(end), date("2024-03-01"));
        assert_eq!(Period::Week.start(end), date("2024-03-25"));
        assert_eq!(Period::Quarter.start(end), date("2024-01-01"));
        // month ends give calendar months
        assert_eq!(Period::Month.start(date("2024-02-29")), date("2024-02-01"));
        assert_eq!(
            Period::Quarter.start(date("2024-06-30")),
            date("2024-04-01")
        );
        // other days: from the day after the same day a month before
        assert_eq!(Period::Month.start(date("2024-03-15")), date("2024-02-16"));
        assert_eq!(Period::Month.start(date("2024-03-30")), date("2024-03-01"));
        assert_eq!(Period::Week.start(date("2024-03-04")), date("2024-02-27"));
    }
}
