//! Concentration of value over customers: how much of the revenue a few
//! customers make, and how unequal the portfolio is.

use serde::Serialize;

/// How concentrated value is, with the report's JSON keys. Shares are
/// fractions 0–1, of the total of the positive values (a customer whose
/// refunds exceed purchases holds no share); all are `None` when that total
/// is 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concentration {
    /// Share of the top 1% of customers (at least one customer).
    pub top_1pct_share: Option<f64>,
    /// Share of the top 10% of customers.
    pub top_10pct_share: Option<f64>,
    /// Share of the top 20% of customers.
    pub top_20pct_share: Option<f64>,
    /// Gini coefficient: 0 when everyone is worth the same, towards 1 when
    /// one customer is worth everything.
    pub gini: Option<f64>,
    /// Herfindahl-Hirschman index: the sum of the squared shares (1/n when
    /// equal, 1 for a single customer).
    pub hhi: Option<f64>,
    /// The fewest customers that make 80% of the value.
    pub customers_for_80pct: Option<u64>,
    /// The largest customer's share.
    pub largest_customer_share: Option<f64>,
}

/// The concentration of `values` (one per customer).
pub fn concentration(values: &[f64]) -> Concentration {
    let mut sorted: Vec<f64> = values
        .iter()
        .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
        .collect();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0.0 {
        return Concentration {
            top_1pct_share: None,
            top_10pct_share: None,
            top_20pct_share: None,
            gini: None,
            hhi: None,
            customers_for_80pct: None,
            largest_customer_share: None,
        };
    }
    let n = sorted.len();
    let top = |percent: f64| {
        let count = ((n as f64 * percent / 100.0).ceil() as usize).clamp(1, n);
        sorted[..count].iter().sum::<f64>() / total
    };
    // Gini over the values ascending: 2 Σ i·x_i / (n Σ x) − (n + 1) / n
    let weighted: f64 = sorted
        .iter()
        .rev()
        .enumerate()
        .map(|(i, x)| (i + 1) as f64 * x)
        .sum();
    let gini = 2.0 * weighted / (n as f64 * total) - (n as f64 + 1.0) / n as f64;
    let mut running = 0.0;
    let customers_for_80pct = sorted
        .iter()
        .position(|x| {
            running += x;
            running >= 0.8 * total * (1.0 - 1e-12)
        })
        .map(|i| i as u64 + 1);
    Concentration {
        top_1pct_share: Some(top(1.0)),
        top_10pct_share: Some(top(10.0)),
        top_20pct_share: Some(top(20.0)),
        gini: Some(gini),
        hhi: Some(sorted.iter().map(|x| (x / total).powi(2)).sum()),
        customers_for_80pct,
        largest_customer_share: Some(sorted[0] / total),
    }
}

/// The cumulative curve of `values` sorted from the largest down, at
/// `points` + 1 evenly spaced shares of the customers (0 to 1): each point
/// is (share of customers, their cumulative value / the total of all
/// values). On revenue clamped at 0 it is the Pareto (Lorenz) curve; on
/// profit the whale curve, which rises above 1 and falls back to it.
/// Empty when the total is 0.
pub fn cumulative_curve(values: &[f64], points: usize) -> Vec<(f64, f64)> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total == 0.0 || points == 0 {
        return Vec::new();
    }
    let mut running = Vec::with_capacity(sorted.len() + 1);
    running.push(0.0);
    for v in &sorted {
        running.push(running[running.len() - 1] + v);
    }
    let n = sorted.len();
    (0..=points)
        .map(|k| {
            let share = k as f64 / points as f64;
            let customers = ((share * n as f64).round() as usize).min(n);
            (share, running[customers] / total)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-12)
    }

    #[test]
    fn figures_by_hand() {
        // 50, 30, 10, 10 of 100: ascending Σ i·x = 10 + 20 + 90 + 200 = 320,
        // Gini = 640 / 400 − 5/4 = 0.35; HHI = .25 + .09 + .01 + .01
        let c = concentration(&[10.0, 50.0, 10.0, 30.0]);
        assert!(close(c.top_1pct_share, 0.5));
        assert!(close(c.top_20pct_share, 0.5));
        assert!(close(c.gini, 0.35));
        assert!(close(c.hhi, 0.36));
        assert_eq!(c.customers_for_80pct, Some(2));
        assert!(close(c.largest_customer_share, 0.5));
    }

    #[test]
    fn equal_customers_refunds_and_nothing() {
        let equal = concentration(&[5.0; 10]);
        assert!(close(equal.gini, 0.0));
        assert!(close(equal.hhi, 0.1));
        assert!(close(equal.top_10pct_share, 0.1));
        assert_eq!(equal.customers_for_80pct, Some(8));
        // a net refund holds no share
        let refund = concentration(&[-20.0, 10.0, 10.0]);
        assert!(close(refund.largest_customer_share, 0.5));
        let nothing = concentration(&[0.0, -1.0]);
        assert_eq!(nothing.gini, None);
        assert_eq!(concentration(&[]).customers_for_80pct, None);
    }

    #[test]
    fn curves_rise_to_one() {
        // 50, 30, 10, 10: the top quarter holds half, the top half 80%
        let curve = cumulative_curve(&[10.0, 50.0, 10.0, 30.0], 4);
        assert_eq!(
            curve,
            [(0.0, 0.0), (0.25, 0.5), (0.5, 0.8), (0.75, 0.9), (1.0, 1.0)]
        );
        // a whale curve peaks above 1
        let whale = cumulative_curve(&[30.0, -10.0], 2);
        assert_eq!(whale, [(0.0, 0.0), (0.5, 1.5), (1.0, 1.0)]);
        assert!(cumulative_curve(&[0.0], 10).is_empty());
    }

    #[test]
    fn the_json_keys_are_the_documented_ones() {
        let json = serde_json::to_value(concentration(&[1.0, 2.0])).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "customers_for_80pct",
                "gini",
                "hhi",
                "largest_customer_share",
                "top_10pct_share",
                "top_1pct_share",
                "top_20pct_share"
            ]
        );
    }
}
