//! `allocate`: where should the next budget go? Each group of customers
//! (a segment, a tier, a matrix cell, any column) answers spend with a
//! concave expected return ([`Response`]); a budget is split across the
//! groups optimally (equal marginal returns), in proportion to their value,
//! or equally ([`Method`]), within each group's bounds. [`targets`] turns
//! an allocation into the list of customers to contact.

pub mod plan;
pub mod response;
pub mod table;
pub mod targets;

use anyhow::{Result, bail};
use polars::prelude::DataFrame;

use crate::value::Filled;

/// How a group's expected incremental value answers spend s:
/// V(s) = U · (1 − e^(−s / k)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Response {
    /// U, the value at stake: what unlimited spend would add.
    pub uplift_value: f64,
    /// k, the saturation spend: a spend of k gets 63% of U.
    pub saturation: f64,
    /// The least the group may get.
    pub min: f64,
    /// The most the group may get (infinite: no bound).
    pub max: f64,
}

impl Response {
    /// A response without bounds (min 0, no max).
    pub fn unbounded(uplift_value: f64, saturation: f64) -> Response {
        Response {
            uplift_value,
            saturation,
            min: 0.0,
            max: f64::INFINITY,
        }
    }

    /// V(s): the expected return of spending `spend`.
    pub fn expected_return(&self, spend: f64) -> f64 {
        self.uplift_value * -(-spend / self.saturation).exp_m1()
    }

    /// V'(s): what the next unit of money spent returns.
    pub fn marginal_return(&self, spend: f64) -> f64 {
        self.uplift_value / self.saturation * (-spend / self.saturation).exp()
    }
}

/// How a budget is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The largest total expected return: marginal returns equal across
    /// the groups inside their bounds.
    Optimal,
    /// In proportion to each group's value (its `weights`).
    Proportional,
    /// The same to every group.
    Equal,
}

impl Method {
    /// The three methods, in the order `--compare` shows them.
    pub const ALL: [Method; 3] = [Method::Optimal, Method::Proportional, Method::Equal];

    /// The method's name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Method::Optimal => "optimal",
            Method::Proportional => "proportional",
            Method::Equal => "equal",
        }
    }
}

/// Checks that `budget` is a finite amount of 0 or more (a usage error).
pub fn check_budget(budget: f64) -> Result<()> {
    if !(budget.is_finite() && budget >= 0.0) {
        bail!(crate::error::usage(format!(
            "--budget {budget}: a budget is a finite amount of 0 or more"
        )));
    }
    Ok(())
}

/// Checks that the groups' bounds admit `budget`: a usage error naming the
/// group (`names`, in the order of `responses`) and the numbers when a
/// group's bounds or response are not valid, when the minimums exceed the
/// budget, or when the maximums cannot take it.
pub fn check_feasible(responses: &[Response], names: &[String], budget: f64) -> Result<()> {
    check_budget(budget)?;
    if responses.is_empty() {
        bail!("no groups to allocate the budget to");
    }
    for (r, name) in responses.iter().zip(names) {
        if !(r.min >= 0.0 && r.min <= r.max && r.min.is_finite()) || r.max.is_nan() {
            bail!(crate::error::usage(format!(
                "group '{name}': bounds min {} and max {}: need 0 ≤ min ≤ max",
                r.min, r.max
            )));
        }
        // a normal (not subnormal) saturation, and U / k a finite number:
        // the splits divide by k and take ln(U / k)
        let positive = r.saturation > 0.0 && r.saturation.is_normal();
        let at_stake = r.uplift_value >= 0.0 && r.uplift_value.is_finite();
        if !(positive && at_stake && (r.uplift_value / r.saturation).is_finite()) {
            bail!(crate::error::usage(format!(
                "group '{name}': the response has uplift value {:?} and saturation {:?}: \
                 need an uplift value ≥ 0 and a saturation > 0 that it divides into a \
                 finite number",
                r.uplift_value, r.saturation
            )));
        }
    }
    let least: f64 = responses.iter().map(|r| r.min).sum();
    let most: f64 = responses.iter().map(|r| r.max).sum();
    if least > budget * (1.0 + 1e-12) {
        bail!(crate::error::usage(format!(
            "infeasible bounds: the groups' minimums add up to {least:.2}, more than the \
             budget of {budget:.2}"
        )));
    }
    if most < budget * (1.0 - 1e-12) {
        bail!(crate::error::usage(format!(
            "infeasible bounds: every group at its maximum takes {most:.2}, less than the \
             budget of {budget:.2}"
        )));
    }
    Ok(())
}

/// Splits `budget` across the groups (`names` for messages) by `method`;
/// `weights` (the groups' values) drive [`Method::Proportional`]. The
/// spends add up to the budget and respect every group's bounds.
pub fn allocate(
    responses: &[Response],
    names: &[String],
    weights: &[f64],
    budget: f64,
    method: Method,
) -> Result<Vec<f64>> {
    check_feasible(responses, names, budget)?;
    // every method gives group g the spend clamp(a_g + b_g·t, min, max) for
    // the t at which the spends add up to the budget
    let lines: Vec<(f64, f64)> = match method {
        // optimal: V'(s) = λ gives s = k·ln(U / k) + k·t with t = −ln λ
        Method::Optimal => responses
            .iter()
            .map(|r| {
                if r.uplift_value > 0.0 {
                    let k = r.saturation;
                    (k * (r.uplift_value / k).ln(), k)
                } else {
                    (0.0, 0.0)
                }
            })
            .collect(),
        Method::Proportional => {
            let positive: Vec<f64> = weights.iter().map(|w| w.max(0.0)).collect();
            if positive.iter().all(|w| *w == 0.0) {
                vec![(0.0, 1.0); responses.len()]
            } else {
                positive.into_iter().map(|w| (0.0, w)).collect()
            }
        }
        Method::Equal => vec![(0.0, 1.0); responses.len()],
    };
    let mut spends = fill(responses, &lines, budget);
    let left = budget - spends.iter().sum::<f64>();
    if left > budget * 1e-12 {
        // the groups that respond are all at their maximum: the rest goes,
        // equally within bounds, to those that do not
        let idle: Vec<(f64, f64)> = lines
            .iter()
            .zip(&spends)
            .map(|(&(_, slope), &s)| (s, if slope == 0.0 { 1.0 } else { 0.0 }))
            .collect();
        let bounded: Vec<Response> = responses
            .iter()
            .zip(&spends)
            .map(|(r, &s)| Response { min: s, ..*r })
            .collect();
        spends = fill(&bounded, &idle, budget);
    }
    Ok(spends)
}

/// The spends clamp(a_g + b_g·t, min_g, max_g) at the t where they add up
/// to `budget`, found exactly: their sum is piecewise linear and
/// non-decreasing in t, so it is evaluated at the points where a group
/// reaches a bound, and solved on the piece that holds the budget. When no
/// t reaches the budget (every group with b_g > 0 at its maximum), the
/// spends at t = +∞.
fn fill(responses: &[Response], lines: &[(f64, f64)], budget: f64) -> Vec<f64> {
    let at = |t: f64| -> Vec<f64> {
        responses
            .iter()
            .zip(lines)
            .map(|(r, &(a, b))| {
                if b > 0.0 {
                    (a + b * t).clamp(r.min, r.max)
                } else {
                    r.min
                }
            })
            .collect()
    };
    let total = |t: f64| at(t).iter().sum::<f64>();
    let mut knots: Vec<f64> = responses
        .iter()
        .zip(lines)
        .filter(|(_, (_, b))| *b > 0.0)
        .flat_map(|(r, &(a, b))| [(r.min - a) / b, (r.max - a) / b])
        .filter(|t| t.is_finite())
        .collect();
    knots.sort_by(f64::total_cmp);
    knots.dedup();
    // the last knot at or below the budget, and the piece after it
    let below = knots.partition_point(|&t| total(t) <= budget);
    if below == knots.len() {
        // past the last knot only the unbounded groups grow (every group's
        // minimum knot is behind)
        let from = knots.last().copied().unwrap_or(0.0);
        let slope: f64 = responses
            .iter()
            .zip(lines)
            .filter(|(r, (_, b))| *b > 0.0 && r.max.is_infinite())
            .map(|(_, (_, b))| b)
            .sum();
        if slope == 0.0 {
            return at(f64::INFINITY);
        }
        return at(from + (budget - total(from)) / slope);
    }
    if below == 0 {
        // the budget is below every group's first knot: all at their minimum
        return at(f64::NEG_INFINITY);
    }
    let (t0, t1) = (knots[below - 1], knots[below]);
    let (s0, s1) = (total(t0), total(t1));
    let t = if s1 > s0 {
        t0 + (t1 - t0) * (budget - s0) / (s1 - s0)
    } else {
        t0
    };
    at(t)
}

/// Checks that `spends` are optimal for `budget` (the Karush-Kuhn-Tucker
/// conditions): they add up to the budget within bounds, and the marginal
/// returns are equal (to λ, returned) across the groups strictly inside
/// their bounds, no higher at a minimum and no lower at a maximum; a group
/// held at both (min = max, max = 0) meets them whatever its marginal.
/// Messages name the group by `names`.
pub fn check_optimal(
    responses: &[Response],
    names: &[String],
    spends: &[f64],
    budget: f64,
) -> Result<f64> {
    const TOLERANCE: f64 = 1e-6;
    let total: f64 = spends.iter().sum();
    if (total - budget).abs() > TOLERANCE * budget.max(1.0) {
        bail!("the spends add up to {total}, not the budget of {budget}");
    }
    let inside = |r: &Response, s: f64| {
        s > r.min + TOLERANCE * r.saturation && s < r.max - TOLERANCE * r.saturation
    };
    let marginals: Vec<f64> = responses
        .iter()
        .zip(spends)
        .map(|(r, &s)| r.marginal_return(s))
        .collect();
    let interior: Vec<f64> = responses
        .iter()
        .zip(spends)
        .zip(&marginals)
        .filter(|((r, s), _)| inside(r, **s) && r.uplift_value > 0.0)
        .map(|(_, &m)| m)
        .collect();
    let lambda = match interior.first() {
        Some(&m) => m,
        // every group at a bound: any λ between the bounds' marginals
        None => return Ok(f64::NAN),
    };
    let close = |m: f64| (m - lambda).abs() <= TOLERANCE * lambda.max(1e-300);
    for (((r, &s), &m), name) in responses.iter().zip(spends).zip(&marginals).zip(names) {
        if s < r.min - TOLERANCE * r.saturation || s > r.max + TOLERANCE * r.saturation {
            bail!(
                "group '{name}': spend {s} outside its bounds [{}, {}]",
                r.min,
                r.max
            );
        }
        let at_min = s <= r.min + TOLERANCE * r.saturation;
        let at_max = s >= r.max - TOLERANCE * r.saturation;
        let ok = match (at_min, at_max) {
            _ if inside(r, s) && r.uplift_value > 0.0 => close(m),
            (true, true) => true,
            (true, false) => m <= lambda * (1.0 + TOLERANCE),
            _ => m >= lambda * (1.0 - TOLERANCE),
        };
        if !ok {
            bail!(
                "group '{name}': spend {s} has a marginal return of {m}, where the groups \
                 inside their bounds have {lambda}"
            );
        }
    }
    Ok(lambda)
}

/// The budget beyond which the optimal split's marginal return falls
/// below 1 (the next unit of money returns less than it costs): each
/// group's spend where V'(s) = 1, k·ln(U / k) (0 when U ≤ k), held within
/// its bounds, summed.
pub fn break_even_budget(responses: &[Response]) -> f64 {
    responses
        .iter()
        .map(|r| {
            let at_one = if r.uplift_value > r.saturation {
                r.saturation * (r.uplift_value / r.saturation).ln()
            } else {
                0.0
            };
            at_one.clamp(r.min, r.max.max(r.min))
        })
        .sum()
}

/// The customers with the column they are valued by, for groups and
/// contacts.
pub struct ValuedCustomers {
    /// The customer table (with the value models' columns when they were
    /// fitted here).
    pub table: DataFrame,
    /// The value column: the one asked for, else `clv`, else `revenue`.
    pub column: String,
    /// Why the customers are valued by revenue, when they are.
    pub caution: Option<String>,
}

/// The customers and their value column: `value` when given (it must hold
/// amounts), else `clv`, the value models scored or fitted as `models`
/// says when the table has none; when they cannot be, revenue, and why.
pub fn valued(
    table: DataFrame,
    value: Option<&str>,
    as_of: Option<chrono::NaiveDate>,
    models: &crate::value::Valuation,
) -> Result<ValuedCustomers> {
    let valued = |table, column: &str, caution| ValuedCustomers {
        table,
        column: column.to_string(),
        caution,
    };
    if let Some(name) = value {
        // a usage error for a column that is missing or holds no amounts
        crate::segment::value_numbers(&table, name, "--value")?;
        return Ok(valued(table, name, None));
    }
    let tiers = crate::segment::TierConfig::default();
    let filled = crate::value::fill_in(table, &models.config, &tiers, as_of, models.model.clone());
    Ok(match filled {
        Filled::AsItWas(table) => valued(table, "clv", None),
        Filled::Valued(table, ..) if table.column("clv").is_ok() => valued(table, "clv", None),
        Filled::Valued(table, ..) => valued(
            table,
            "revenue",
            Some("no spend model, so no CLV: customers are valued by revenue".to_string()),
        ),
        Filled::NotValued(table, why) => valued(
            table,
            "revenue",
            Some(format!("{why}: customers are valued by revenue")),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names for the groups' messages: "g0", "g1", ...
    pub(super) fn named(responses: &[Response]) -> Vec<String> {
        (0..responses.len()).map(|g| format!("g{g}")).collect()
    }

    fn open(uplift_value: f64, saturation: f64) -> Response {
        Response::unbounded(uplift_value, saturation)
    }

    fn total_return(responses: &[Response], spends: &[f64]) -> f64 {
        responses
            .iter()
            .zip(spends)
            .map(|(r, &s)| r.expected_return(s))
            .sum()
    }

    #[test]
    fn two_identical_groups_split_evenly() {
        let groups = [open(1000.0, 100.0), open(1000.0, 100.0)];
        let spends = allocate(
            &groups,
            &named(&groups),
            &[1.0, 1.0],
            300.0,
            Method::Optimal,
        )
        .unwrap();
        assert!((spends[0] - 150.0).abs() < 1e-9 && (spends[1] - 150.0).abs() < 1e-9);
        let lambda = check_optimal(&groups, &named(&groups), &spends, 300.0).unwrap();
        // V'(150) = 10 · e^-1.5
        assert!((lambda - 10.0 * (-1.5f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn the_optimum_by_hand() {
        // U/k = 20 and 5: the first group alone until its marginal return
        // falls to 5 (s = 100 ln 4 = 138.63), then both at equal marginals
        let groups = [open(2000.0, 100.0), open(500.0, 100.0)];
        let spends = allocate(
            &groups,
            &named(&groups),
            &[0.0, 0.0],
            100.0,
            Method::Optimal,
        )
        .unwrap();
        assert!((spends[0] - 100.0).abs() < 1e-9 && spends[1].abs() < 1e-9);
        let spends = allocate(
            &groups,
            &named(&groups),
            &[0.0, 0.0],
            338.63,
            Method::Optimal,
        )
        .unwrap();
        // s1 − s2 = 100 ln 4, s1 + s2 = 338.63
        let gap = 100.0 * 4f64.ln();
        assert!((spends[0] - (338.63 + gap) / 2.0).abs() < 1e-9);
        assert!((spends[1] - (338.63 - gap) / 2.0).abs() < 1e-9);
        check_optimal(&groups, &named(&groups), &spends, 338.63).unwrap();
    }

    #[test]
    fn a_group_is_held_at_its_maximum() {
        let groups = [
            Response {
                max: 50.0,
                ..open(5000.0, 100.0)
            },
            open(1000.0, 100.0),
        ];
        let spends = allocate(
            &groups,
            &named(&groups),
            &[1.0, 1.0],
            200.0,
            Method::Optimal,
        )
        .unwrap();
        assert!((spends[0] - 50.0).abs() < 1e-9 && (spends[1] - 150.0).abs() < 1e-9);
        check_optimal(&groups, &named(&groups), &spends, 200.0).unwrap();
    }

    #[test]
    fn a_group_held_at_zero_or_at_min_equal_max_is_optimal() {
        // the first group would return most, but may get nothing; the
        // second is fixed at 30
        let groups = [
            Response {
                max: 0.0,
                ..open(5000.0, 100.0)
            },
            Response {
                min: 30.0,
                max: 30.0,
                ..open(5000.0, 100.0)
            },
            open(1000.0, 100.0),
        ];
        let spends = allocate(&groups, &named(&groups), &[1.0; 3], 200.0, Method::Optimal).unwrap();
        assert_eq!(spends, [0.0, 30.0, 170.0]);
        let lambda = check_optimal(&groups, &named(&groups), &spends, 200.0).unwrap();
        assert!((lambda - 10.0 * (-1.7f64).exp()).abs() < 1e-12);
        // a spend off its bound is still caught, by the group's name
        let names = ["Champions", "At Risk", "Lost"].map(String::from);
        let err = check_optimal(&groups, &names, &[0.0, 100.0, 100.0], 200.0).unwrap_err();
        assert!(err.to_string().contains("group 'At Risk'"), "{err}");
    }

    #[test]
    fn zero_budget_and_minimums() {
        let groups = [
            Response {
                min: 10.0,
                ..open(100.0, 10.0)
            },
            open(100.0, 10.0),
        ];
        assert!(allocate(&groups, &named(&groups), &[1.0, 1.0], 0.0, Method::Optimal).is_err());
        let free = [open(100.0, 10.0), open(100.0, 10.0)];
        for method in Method::ALL {
            let spends = allocate(&free, &named(&free), &[1.0, 1.0], 0.0, method).unwrap();
            assert!(spends.iter().all(|s| s.abs() < 1e-9), "{spends:?}");
        }
        let spends =
            allocate(&groups, &named(&groups), &[1.0, 1.0], 10.0, Method::Optimal).unwrap();
        assert!((spends[0] - 10.0).abs() < 1e-9 && spends[1].abs() < 1e-9);
    }

    #[test]
    fn a_budget_beyond_saturation_goes_where_it_still_fits() {
        // both responding groups capped: the rest goes to the group with
        // nothing at stake, returns stop growing
        let capped = |u| Response {
            max: 100.0,
            ..open(u, 50.0)
        };
        let groups = [capped(1000.0), capped(500.0), open(0.0, 50.0)];
        let spends = allocate(
            &groups,
            &named(&groups),
            &[3.0, 2.0, 0.0],
            1000.0,
            Method::Optimal,
        )
        .unwrap();
        assert_eq!(spends, [100.0, 100.0, 800.0]);
        check_optimal(&groups, &named(&groups), &spends, 1000.0).unwrap();
        // unbounded: a huge budget still adds up, returns approach Σ U
        let open_groups = [open(1000.0, 50.0), open(500.0, 50.0)];
        let spends = allocate(
            &open_groups,
            &named(&open_groups),
            &[1.0, 1.0],
            1e6,
            Method::Optimal,
        )
        .unwrap();
        assert!((spends.iter().sum::<f64>() - 1e6).abs() < 1e-6);
        assert!((total_return(&open_groups, &spends) - 1500.0).abs() < 1e-6);
    }

    #[test]
    fn infeasible_bounds_name_the_numbers() {
        let low = [
            Response {
                max: 10.0,
                ..open(100.0, 10.0)
            },
            Response {
                max: 20.0,
                ..open(100.0, 10.0)
            },
        ];
        let err = allocate(&low, &named(&low), &[1.0, 1.0], 100.0, Method::Optimal)
            .unwrap_err()
            .to_string();
        assert!(err.contains("30.00") && err.contains("100.00"), "{err}");
        let high = [
            Response {
                min: 80.0,
                ..open(100.0, 10.0)
            },
            Response {
                min: 40.0,
                ..open(100.0, 10.0)
            },
        ];
        let err = allocate(&high, &named(&high), &[1.0, 1.0], 100.0, Method::Optimal)
            .unwrap_err()
            .to_string();
        assert!(err.contains("120.00") && err.contains("100.00"), "{err}");
    }

    #[test]
    fn proportional_and_equal_respect_bounds() {
        let groups = [
            Response {
                max: 10.0,
                ..open(100.0, 10.0)
            },
            open(100.0, 10.0),
            open(100.0, 10.0),
        ];
        let spends = allocate(
            &groups,
            &named(&groups),
            &[8.0, 1.0, 1.0],
            100.0,
            Method::Proportional,
        )
        .unwrap();
        assert_eq!(spends, [10.0, 45.0, 45.0]);
        let spends = allocate(
            &groups,
            &named(&groups),
            &[8.0, 1.0, 1.0],
            90.0,
            Method::Equal,
        )
        .unwrap();
        assert_eq!(spends, [10.0, 40.0, 40.0]);
    }

    #[test]
    fn break_even_is_where_marginal_return_is_one() {
        let groups = [open(2000.0, 100.0), open(50.0, 100.0)];
        let budget = break_even_budget(&groups);
        assert!((budget - 100.0 * 20f64.ln()).abs() < 1e-9);
        let spends = allocate(
            &groups,
            &named(&groups),
            &[0.0, 0.0],
            budget,
            Method::Optimal,
        )
        .unwrap();
        assert!((groups[0].marginal_return(spends[0]) - 1.0).abs() < 1e-9);
        // a group held at 100 counts for 100; one held at 0 for nothing
        let bounded = [
            Response {
                max: 100.0,
                ..open(2000.0, 100.0)
            },
            Response {
                max: 0.0,
                ..open(2000.0, 10.0)
            },
        ];
        assert!((break_even_budget(&bounded) - 100.0).abs() < 1e-9);
    }

    mod properties {
        use super::super::*;
        use super::named;
        use proptest::prelude::*;

        /// Up to eight groups with bounds, and a budget their bounds admit.
        fn problems() -> impl Strategy<Value = (Vec<Response>, Vec<f64>, f64)> {
            let group = (
                0.0..10_000.0f64,
                1.0..1_000.0f64,
                prop_oneof![Just(0.0), 0.0..50.0f64],
                prop_oneof![Just(f64::INFINITY), 0.0..500.0f64],
                0.0..1_000.0f64,
            )
                .prop_map(|(u, k, min, room, weight)| {
                    (
                        Response {
                            uplift_value: u,
                            saturation: k,
                            min,
                            max: min + room,
                        },
                        weight,
                    )
                });
            (prop::collection::vec(group, 1..8), 0.0..1.0f64).prop_map(|(groups, at)| {
                let least: f64 = groups.iter().map(|(r, _)| r.min).sum();
                let most: f64 = groups.iter().map(|(r, _)| r.max).sum();
                let budget = least + at * (most.min(least + 5_000.0) - least);
                let (responses, weights) = groups.into_iter().unzip();
                (responses, weights, budget)
            })
        }

        fn total(responses: &[Response], spends: &[f64]) -> f64 {
            responses
                .iter()
                .zip(spends)
                .map(|(r, &s)| r.expected_return(s))
                .sum()
        }

        proptest! {
            #[test]
            fn spends_add_up_within_bounds((responses, weights, budget) in problems()) {
                for method in Method::ALL {
                    let spends = allocate(&responses, &named(&responses), &weights, budget, method).unwrap();
                    let sum: f64 = spends.iter().sum();
                    prop_assert!((sum - budget).abs() <= 1e-9 * budget.max(1.0), "{method:?}");
                    for (r, s) in responses.iter().zip(&spends) {
                        prop_assert!(*s >= r.min - 1e-9 && *s <= r.max + 1e-9);
                    }
                }
            }

            #[test]
            fn optimal_beats_the_usual_splits((responses, weights, budget) in problems()) {
                let best = total(&responses, &allocate(&responses, &named(&responses), &weights, budget, Method::Optimal).unwrap());
                for method in [Method::Proportional, Method::Equal] {
                    let other = total(&responses, &allocate(&responses, &named(&responses), &weights, budget, method).unwrap());
                    prop_assert!(best >= other - 1e-9 * best.abs().max(1.0), "{method:?}: {best} < {other}");
                }
            }

            #[test]
            fn optimal_spends_meet_the_kkt_conditions((responses, weights, budget) in problems()) {
                let spends = allocate(&responses, &named(&responses), &weights, budget, Method::Optimal).unwrap();
                prop_assert!(check_optimal(&responses, &named(&responses), &spends, budget).is_ok(),
                    "{:?}", check_optimal(&responses, &named(&responses), &spends, budget));
            }

            #[test]
            fn no_spend_falls_when_the_budget_rises(
                (responses, weights, budget) in problems(), more in 0.0..1.0f64
            ) {
                let most: f64 = responses.iter().map(|r| r.max).sum();
                let larger = budget + more * (most.min(budget + 1_000.0) - budget);
                let before = allocate(&responses, &named(&responses), &weights, budget, Method::Optimal).unwrap();
                let after = allocate(&responses, &named(&responses), &weights, larger, Method::Optimal).unwrap();
                for (b, a) in before.iter().zip(&after) {
                    prop_assert!(*a >= b - 1e-9 * larger.max(1.0), "{before:?} -> {after:?}");
                }
            }

            #[test]
            fn the_order_of_the_groups_does_not_matter(
                (responses, weights, budget) in problems(), turn in 0usize..8
            ) {
                let n = responses.len();
                let k = turn % n;
                let rotate = |v: &[f64]| [&v[k..], &v[..k]].concat();
                let turned: Vec<Response> = [&responses[k..], &responses[..k]].concat();
                for method in Method::ALL {
                    let spends = allocate(&responses, &named(&responses), &weights, budget, method).unwrap();
                    let again = allocate(&turned, &named(&turned), &rotate(&weights), budget, method).unwrap();
                    for (a, b) in rotate(&spends).iter().zip(&again) {
                        prop_assert!((a - b).abs() <= 1e-9 * budget.max(1.0), "{method:?}");
                    }
                }
            }
        }
    }
}
