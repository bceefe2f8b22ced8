//! `--intervals LEVEL`: per-customer bounds for P(alive), expected
//! purchases and CLV, and the portfolio's totals with theirs, from the
//! parameters' sampling distribution: draws from the asymptotic normal
//! of the maximum-likelihood estimates, in the parameters' logs (so that
//! every draw is positive), deterministic with `--seed`.
//!
//! The generator is SplitMix64 with Box–Muller normals, written here
//! rather than taken from `rand`: a seed must give the same intervals in
//! every future version, which `rand` does not promise across releases.

use anyhow::{Result, anyhow, bail};
use hashbrown::HashMap;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fit::Covariance;
use super::gamma_gamma::GammaGamma;
use super::purchase::PurchaseFit;
use super::{Model, ModelInputs, ValueConfig, clv};

/// Parameter draws behind every interval.
pub const DRAWS: usize = 200;

/// How the intervals are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntervalConfig {
    /// The central probability of each interval (0.9: from the 5th to the
    /// 95th percentile).
    pub level: f64,
    /// The seed of the draws.
    pub seed: u64,
}

/// The portfolio's totals with their intervals.
#[derive(Debug, Clone, Serialize)]
pub struct IntervalTotals {
    /// The level of the intervals.
    pub level: f64,
    /// Parameter draws.
    pub draws: usize,
    /// The seed.
    pub seed: u64,
    /// Purchases expected over the horizon, all customers.
    pub expected_purchases: Total,
    /// CLV, all customers (absent without a spend model).
    pub clv: Option<Total>,
}

/// A portfolio total: the estimate (at the fitted parameters) and its
/// interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Total {
    /// At the fitted parameters.
    pub estimate: f64,
    /// The interval's lower bound.
    pub lower: f64,
    /// The interval's upper bound.
    pub upper: f64,
}

impl Total {
    fn new(estimate: f64, [lower, upper]: [f64; 2]) -> Total {
        Total {
            estimate,
            lower,
            upper,
        }
    }
}

/// The interval columns and the totals.
pub struct Intervals {
    /// `p_alive_lower`, `p_alive_upper`, `expected_purchases_lower`,
    /// `expected_purchases_upper` and, with spend, `clv_lower`,
    /// `clv_upper`.
    pub columns: Vec<Column>,
    /// The portfolio's totals.
    pub totals: IntervalTotals,
}

/// SplitMix64: a 64-bit generator whose stream a seed fixes for good.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal number (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `count` draws of parameters `at` whose covariance is `covariance`,
/// drawn normal in their logs (the delta method's covariance of the
/// logs) and kept when `keep` accepts them; an error naming `model` when
/// the covariance is missing or not positive definite.
fn draw(
    at: &[f64],
    covariance: Option<&Covariance>,
    model: &str,
    rng: &mut SplitMix64,
    keep: impl Fn(&[f64]) -> bool,
) -> Result<Vec<Vec<f64>>> {
    let covariance = covariance.ok_or_else(|| {
        anyhow!(
            "no covariance of the {model} parameters (a model file written before cpm kept it): \
             fit again for --intervals"
        )
    })?;
    let k = at.len();
    let logs: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| covariance[i][j] / (at[i] * at[j])).collect())
        .collect();
    let lower = cholesky(&logs).ok_or_else(|| {
        anyhow!(
            "the {model} parameters' covariance is not positive definite (a parameter the data \
             do not pin down): no intervals; try --penalty 0.001 or another --model"
        )
    })?;
    let mut draws = Vec::with_capacity(DRAWS);
    let mut tries = 0;
    while draws.len() < DRAWS {
        tries += 1;
        if tries > 100 * DRAWS {
            bail!("the {model} parameter draws kept falling outside the model's range");
        }
        let z: Vec<f64> = (0..k).map(|_| rng.normal()).collect();
        let values: Vec<f64> = (0..k)
            .map(|i| (at[i].ln() + (0..=i).map(|j| lower[i][j] * z[j]).sum::<f64>()).exp())
            .collect();
        if keep(&values) {
            draws.push(values);
        }
    }
    Ok(draws)
}

/// The lower-triangular L with L Lᵀ = `m`; `None` when `m` is not
/// positive definite.
fn cholesky(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = m.len();
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|p| l[i][p] * l[j][p]).sum();
            if i == j {
                let d = m[i][i] - sum;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (m[i][j] - sum) / l[j][j];
            }
        }
    }
    Some(l)
}

/// The `level` interval of `values` (sorted here): the (1 − level) / 2
/// and (1 + level) / 2 quantiles, interpolated.
fn bounds(values: &mut [f64], level: f64) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let position = q * (values.len() - 1) as f64;
        let (low, high) = (position.floor() as usize, position.ceil() as usize);
        values[low] + (values[high] - values[low]) * (position - low as f64)
    };
    [at((1.0 - level) / 2.0), at((1.0 + level) / 2.0)]
}

/// Per distinct history: the bounds of P(alive) and expected purchases,
/// and each draw's P(alive) × discounted purchases (CLV before spend;
/// empty without a spend model), as f32 to halve the memory.
struct HistoryDraws {
    p_alive: [f64; 2],
    expected: [f64; 2],
    discounted: Vec<f32>,
}

/// One customer's bounds (its place in the table, to put them back in
/// order after the parallel pass).
struct CustomerBounds {
    customer: usize,
    p_alive: [f64; 2],
    expected: [f64; 2],
    clv: Option<[f64; 2]>,
}

/// The intervals of every customer of `inputs` under `model`, with
/// `margin_rate` for CLV; `estimates` are the totals of expected
/// purchases and CLV at the fitted parameters.
pub fn intervals(
    inputs: &ModelInputs,
    model: &Model,
    config: &ValueConfig,
    margin_rate: f64,
    interval: IntervalConfig,
    estimates: (f64, Option<f64>),
) -> Result<Intervals> {
    let mut rng = SplitMix64(interval.seed);
    let purchase = &model.purchase;
    let at: Vec<f64> = purchase.parameters().iter().map(|p| p.1).collect();
    let name = purchase.kind().name();
    let fits: Vec<PurchaseFit> = draw(&at, purchase.covariance(), name, &mut rng, |_| true)?
        .iter()
        .map(|values| purchase.with_parameters(values))
        .collect();
    let spend = match (&model.gamma_gamma, &inputs.m) {
        (Some(gg), Some(_)) => {
            let g = gg.params;
            let draws = draw(
                &[g.p, g.q, g.gamma],
                gg.covariance.as_ref(),
                "Gamma-Gamma",
                &mut rng,
                |v| v[1] > 1.0,
            )?;
            Some(
                draws
                    .iter()
                    .map(|v| GammaGamma {
                        p: v[0],
                        q: v[1],
                        gamma: v[2],
                    })
                    .collect::<Vec<_>>(),
            )
        }
        _ => None,
    };
    let horizon = config.horizon.in_units(model.time_unit);
    let month = clv::month(model.time_unit);
    let discount = clv::monthly_rate(config.discount_rate);
    let h = &inputs.histories;
    let level = interval.level;
    let with_spend = spend.is_some() || model.spend_fallback.is_some();
    // what a customer still active buys depends on (x, T) alone: each
    // draw's discounted and total purchases once per distinct pair
    let mut pairs: HashMap<(u64, u64), u32> = HashMap::new();
    let pair_of: Vec<u32> = (0..h.x.len())
        .map(|g| {
            let next = pairs.len() as u32;
            *pairs
                .entry((h.x[g].to_bits(), h.t[g].to_bits()))
                .or_insert(next)
        })
        .collect();
    let mut distinct = vec![(0.0, 0.0); pairs.len()];
    for ((x, t), k) in pairs {
        distinct[k as usize] = (f64::from_bits(x), f64::from_bits(t));
    }
    let if_alive: Vec<Vec<(f32, f32)>> = distinct
        .into_par_iter()
        .map(|x_t| {
            (fits.iter())
                .map(|fit| {
                    let (discounted, expected) = clv::discounted_purchases_if_alive(
                        fit.model(),
                        x_t,
                        horizon,
                        month,
                        discount,
                    )?;
                    Ok((discounted as f32, expected as f32))
                })
                .collect()
        })
        .collect::<Result<_>>()?;
    // per history: the bounds, and each draw's expected purchases added
    // to the totals' (× the customers with the history)
    let (per_history, mut purchases) = (0..h.x.len())
        .into_par_iter()
        .map(|g| -> Result<(usize, HistoryDraws, Vec<f64>)> {
            let (x, t_x, t) = (h.x[g], h.t_x[g], h.t[g]);
            let pair = &if_alive[pair_of[g] as usize];
            let mut alive = Vec::with_capacity(DRAWS);
            for fit in &fits {
                alive.push(fit.model().p_alive(x, t_x, t)?);
            }
            let mut expected: Vec<f64> = (alive.iter().zip(pair))
                .map(|(a, (_, e))| a * f64::from(*e))
                .collect();
            let weighted: Vec<f64> = expected.iter().map(|e| e * h.count[g]).collect();
            let discounted = match with_spend {
                true => (alive.iter().zip(pair))
                    .map(|(a, (d, _))| (a * f64::from(*d)) as f32)
                    .collect(),
                false => Vec::new(),
            };
            let draws = HistoryDraws {
                p_alive: bounds(&mut alive, level),
                expected: bounds(&mut expected, level),
                discounted,
            };
            Ok((g, draws, weighted))
        })
        .try_fold(
            || (Vec::new(), vec![0.0; DRAWS]),
            |(mut all, mut totals), item| {
                let (g, draws, weighted) = item?;
                for (total, w) in totals.iter_mut().zip(&weighted) {
                    *total += w;
                }
                all.push((g, draws));
                Ok::<_, anyhow::Error>((all, totals))
            },
        )
        .try_reduce(
            || (Vec::new(), vec![0.0; DRAWS]),
            |mut a, b| {
                a.0.extend(b.0);
                for (total, w) in a.1.iter_mut().zip(&b.1) {
                    *total += w;
                }
                Ok(a)
            },
        )?;
    let mut ordered: Vec<Option<HistoryDraws>> = (0..h.x.len()).map(|_| None).collect();
    for (g, draws) in per_history {
        ordered[g] = Some(draws);
    }
    let per_history: Vec<HistoryDraws> = ordered.into_iter().flatten().collect();
    let n = inputs.x.len();
    // per customer: the CLV bounds, and its draws added to the totals'
    let (mut rows, mut values) = (0..n)
        .into_par_iter()
        .fold(
            || (Vec::new(), vec![0.0; DRAWS]),
            |(mut rows, mut values), i| {
                let draws = &per_history[inputs.history_of[i] as usize];
                let clv = with_spend.then(|| {
                    let mut clv: Vec<f64> = (0..DRAWS)
                        .map(|d| {
                            let order = match (&spend, &model.spend_fallback, &inputs.m) {
                                (Some(gg), _, Some(m)) => gg[d]
                                    .expected_order_value(inputs.x[i], m[i].max(0.0))
                                    .unwrap_or(f64::NAN),
                                (None, Some(fallback), Some(m)) => {
                                    fallback.expected_order_value(inputs.x[i], m[i])
                                }
                                _ => f64::NAN,
                            };
                            f64::from(draws.discounted[d]) * order * margin_rate
                        })
                        .collect();
                    for (total, v) in values.iter_mut().zip(&clv) {
                        *total += v;
                    }
                    bounds(&mut clv, level)
                });
                rows.push(CustomerBounds {
                    customer: i,
                    p_alive: draws.p_alive,
                    expected: draws.expected,
                    clv,
                });
                (rows, values)
            },
        )
        .reduce(
            || (Vec::new(), vec![0.0; DRAWS]),
            |mut a, b| {
                a.0.extend(b.0);
                for (total, v) in a.1.iter_mut().zip(&b.1) {
                    *total += v;
                }
                a
            },
        );
    rows.sort_by_key(|r| r.customer);
    let column = |name: &str, pick: &dyn Fn(&CustomerBounds) -> f64| {
        Column::new(name.into(), rows.iter().map(pick).collect::<Vec<f64>>())
    };
    let mut columns = vec![
        column("p_alive_lower", &|r| r.p_alive[0]),
        column("p_alive_upper", &|r| r.p_alive[1]),
        column("expected_purchases_lower", &|r| r.expected[0]),
        column("expected_purchases_upper", &|r| r.expected[1]),
    ];
    if with_spend {
        columns.push(column("clv_lower", &|r| r.clv.map_or(f64::NAN, |b| b[0])));
        columns.push(column("clv_upper", &|r| r.clv.map_or(f64::NAN, |b| b[1])));
    }
    Ok(Intervals {
        columns,
        totals: IntervalTotals {
            level,
            draws: DRAWS,
            seed: interval.seed,
            expected_purchases: Total::new(estimates.0, bounds(&mut purchases, level)),
            clv: (estimates.1)
                .filter(|_| with_spend)
                .map(|estimate| Total::new(estimate, bounds(&mut values, level))),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normals_have_the_right_moments_and_a_seed_fixes_them() {
        let mut rng = SplitMix64(42);
        let draws: Vec<f64> = (0..100_000).map(|_| rng.normal()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let variance = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((variance - 1.0).abs() < 0.01, "{variance}");
        let mut again = SplitMix64(42);
        assert_eq!(again.normal(), draws[0]);
    }

    #[test]
    fn draws_follow_the_covariance_in_the_logs() {
        // one parameter at 2 with standard error 0.2: its log has
        // standard deviation 0.1 (the delta method)
        let mut rng = SplitMix64(7);
        let draws = draw(&[2.0], Some(&vec![vec![0.04]]), "test", &mut rng, |_| true).unwrap();
        let logs: Vec<f64> = draws.iter().map(|d| d[0].ln()).collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let sd = (logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64).sqrt();
        assert!((mean - 2f64.ln()).abs() < 0.02, "{mean}");
        assert!((sd - 0.1).abs() < 0.015, "{sd}");
        assert!(draw(&[2.0], Some(&vec![vec![-1.0]]), "test", &mut rng, |_| true).is_err());
        assert!(draw(&[2.0], None, "test", &mut rng, |_| true).is_err());
    }

    #[test]
    fn bounds_are_interpolated_quantiles() {
        let mut values: Vec<f64> = (0..=100).rev().map(f64::from).collect();
        let [lower, upper] = bounds(&mut values, 0.9);
        assert!((lower - 5.0).abs() < 1e-9 && (upper - 95.0).abs() < 1e-9);
        let mut two = vec![1.0, 0.0];
        let [lower, upper] = bounds(&mut two, 0.5);
        assert!((lower - 0.25).abs() < 1e-12 && (upper - 0.75).abs() < 1e-12);
    }

    #[test]
    fn cholesky_factors_a_positive_definite_matrix() {
        let m = vec![vec![4.0, 2.0], vec![2.0, 3.0]];
        let l = cholesky(&m).unwrap();
        for i in 0..2 {
            for j in 0..2 {
                let product: f64 = (0..2).map(|p| l[i][p] * l[j][p]).sum();
                assert!((product - m[i][j]).abs() < 1e-12);
            }
        }
        assert!(cholesky(&[vec![1.0, 2.0], vec![2.0, 1.0]]).is_none());
    }
}
