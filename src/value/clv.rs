//! Customer lifetime value over a horizon: expected purchases (BG/NBD) ×
//! expected value per purchase (Gamma-Gamma) × margin, discounted over
//! monthly steps the way `lifetimes`' `customer_lifetime_value` does, so
//! that the two can be compared.

use std::str::FromStr;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::purchase::PurchaseModel;
use crate::summary::TimeUnit;

/// A span of time with its unit always explicit: `12m`, `52w`, `365d`,
/// `2y`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    /// How many units.
    pub amount: f64,
    /// `y` (years of 12 months), `m` (months), `w` (weeks) or `d` (days).
    pub unit: char,
}

impl FromStr for Horizon {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Horizon> {
        let text = text.trim();
        let unit = text.chars().last().unwrap_or(' ').to_ascii_lowercase();
        let amount: Option<f64> = text[..text.len().saturating_sub(1)].trim().parse().ok();
        match (amount, unit) {
            (Some(amount), 'y' | 'm' | 'w' | 'd') if amount > 0.0 && amount.is_finite() => {
                Ok(Horizon { amount, unit })
            }
            _ => bail!(
                "horizon '{text}': a positive number and a unit, y (years), m (months), w \
                 (weeks) or d (days), e.g. 12m, 52w, 365d, 2y"
            ),
        }
    }
}

impl Horizon {
    /// The horizon in the model's time unit; a month is 30 days or 4.345
    /// weeks, as in `lifetimes`, a year 12 months.
    pub fn in_units(&self, unit: TimeUnit) -> f64 {
        let (amount, horizon_unit) = match self.unit {
            'y' => (self.amount * 12.0, 'm'),
            other => (self.amount, other),
        };
        match horizon_unit {
            'm' => amount * month(unit),
            'w' => amount * 7.0 / unit.days(),
            _ => amount / unit.days(),
        }
    }
}

/// Weeks per month in `lifetimes`' CLV.
pub const MONTH_IN_WEEKS: f64 = 4.345;

/// The length of a month in the model's time unit.
pub fn month(unit: TimeUnit) -> f64 {
    match unit {
        TimeUnit::Day => 30.0,
        TimeUnit::Week => MONTH_IN_WEEKS,
        TimeUnit::Month => 1.0,
        TimeUnit::Year => 1.0 / 12.0,
    }
}

/// The monthly discount rate equivalent to an annual one.
pub fn monthly_rate(annual: f64) -> f64 {
    (1.0 + annual).powf(1.0 / 12.0) - 1.0
}

/// The purchases over `horizon` time units of customers with x repeat
/// purchases, T time units after the first, if they are still active:
/// for each month step (the last one may be partial), the purchases
/// expected in it, discounted by (1 + `monthly_discount`) to the power of
/// the months elapsed; and the purchases expected over the whole horizon.
/// Both are × P(alive) for a customer, the first × the value of a purchase
/// is the CLV. They do not depend on t_x: customers who share x and T
/// share them.
pub fn discounted_purchases_if_alive(
    model: &dyn PurchaseModel,
    (x, t): (f64, f64),
    horizon: f64,
    month: f64,
    monthly_discount: f64,
) -> Result<(f64, f64)> {
    let mut steps = Vec::new();
    let mut step = 1.0;
    loop {
        let until = (step * month).min(horizon);
        steps.push(until);
        if until >= horizon {
            break;
        }
        step += 1.0;
    }
    let expected = model.expected_purchases_if_alive(&steps, x, t)?;
    let mut before = 0.0;
    let mut total = 0.0;
    for (until, expected) in steps.iter().zip(&expected) {
        total += (expected - before) / (1.0 + monthly_discount).powf(until / month);
        before = *expected;
    }
    Ok((total, before))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::bgnbd::BgNbd;

    #[test]
    fn horizons_need_a_unit_and_convert() {
        let h: Horizon = "12m".parse().unwrap();
        assert_eq!(h.in_units(TimeUnit::Week), 12.0 * MONTH_IN_WEEKS);
        assert_eq!(h.in_units(TimeUnit::Day), 360.0);
        let w: Horizon = "52w".parse().unwrap();
        assert_eq!(w.in_units(TimeUnit::Day), 364.0);
        assert!("12".parse::<Horizon>().is_err());
        assert!("-3m".parse::<Horizon>().is_err());
        assert!((monthly_rate(0.12682503013196977) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn undiscounted_purchases_add_up_to_the_expectation() {
        let model = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let horizon = 12.0 * MONTH_IN_WEEKS;
        let (plain, over_horizon) =
            discounted_purchases_if_alive(&model, (2.0, 38.86), horizon, MONTH_IN_WEEKS, 0.0)
                .unwrap();
        let alive = model.p_alive(2.0, 30.43, 38.86);
        let purchases = model
            .expected_purchases(horizon, 2.0, 30.43, 38.86)
            .unwrap();
        assert!(alive < 1.0);
        let (plain, over_horizon) = (alive * plain, alive * over_horizon);
        assert!((plain - purchases).abs() < 1e-9);
        assert!((over_horizon - purchases).abs() < 1e-12);
        let (discounted, _) =
            discounted_purchases_if_alive(&model, (2.0, 38.86), horizon, MONTH_IN_WEEKS, 0.01)
                .unwrap();
        let discounted = alive * discounted;
        assert!(discounted < plain && discounted > plain / 1.01f64.powi(12));
    }
}
