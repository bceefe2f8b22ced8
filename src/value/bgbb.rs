//! The BG/BB model (Fader, Hardie & Shang 2010) of discrete opportunities
//! to buy (a donation drive a year, an event, a weekly draw): while alive
//! a customer buys at each opportunity with probability p ~ Beta(α, β) and
//! before each opportunity dies with probability θ ~ Beta(γ, δ).
//!
//! A history is (x, t_x, n): x purchases at the n opportunities after
//! the first purchase, the last at opportunity t_x. Times are whole
//! opportunities; a horizon is counted in whole opportunities too (a
//! purchase happens at an opportunity, not between two).

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::bgnbd::Histories;
use super::fit;
use super::special::{ln_beta, ln_sum};

/// The BG/BB parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgBb {
    /// First shape of the purchase probabilities' beta distribution.
    pub alpha: f64,
    /// Second shape of the purchase probabilities' beta distribution.
    pub beta: f64,
    /// First shape of the dropout probabilities' beta distribution.
    pub gamma: f64,
    /// Second shape of the dropout probabilities' beta distribution.
    pub delta: f64,
}

/// A fitted BG/BB model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BgBbFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: BgBb,
    /// Total log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// Standard errors of α, β, γ, δ from the Hessian.
    pub std_errors: [Option<f64>; 4],
    /// The parameters' asymptotic covariance (the inverse Hessian), for
    /// `--intervals`; absent in model files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<super::fit::Covariance>,
}

/// Whole opportunities in a span of `t` (a time a hair below a whole
/// number, from a division, counts as that number).
pub fn opportunities(t: f64) -> f64 {
    (t + 1e-9).floor().max(0.0)
}

impl BgBb {
    /// ln of B(α + x + a, β + m) / B(α, β) + B(γ + g, δ + k) / B(γ, δ):
    /// the chance of the purchase pattern times that of surviving.
    fn ln_term(&self, (a, x, m): (f64, f64, f64), (g, k): (f64, f64)) -> f64 {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        ln_beta(alpha + x + a, beta + m) - ln_beta(alpha, beta) + ln_beta(gamma + g, delta + k)
            - ln_beta(gamma, delta)
    }

    /// The log-likelihood of a history: alive through all n opportunities,
    /// or dead after opportunity t_x + i (i = 0 … n − t_x − 1).
    pub fn log_likelihood(&self, x: f64, t_x: f64, n: f64) -> f64 {
        let alive = self.ln_term((0.0, x, n - x), (0.0, n));
        let gone = (0..(n - t_x) as u64).map(|i| {
            let i = i as f64;
            self.ln_term((0.0, x, t_x - x + i), (1.0, t_x + i))
        });
        gone.fold(alive, ln_sum)
    }

    /// The log-likelihood of every history, weighted by its customers,
    /// added in a fixed order.
    pub fn total_log_likelihood(&self, h: &Histories) -> f64 {
        h.weighted_sum(|x, t_x, t| self.log_likelihood(x, t_x, t))
    }

    /// Fits the model by maximum likelihood on histories in whole
    /// opportunities (`penalty` as for BG/NBD), the gradient by central
    /// differences.
    pub fn fit(histories: &Histories, penalty: f64) -> Result<BgBbFit> {
        histories.require_repeats("BG/BB")?;
        if let Some(g) = (0..histories.x.len()).find(|&g| {
            let (x, t_x, n) = (histories.x[g], histories.t_x[g], histories.t[g]);
            [t_x, n].iter().any(|v| v.fract() != 0.0) || x > t_x
        }) {
            bail!(
                "BG/BB counts whole opportunities, and a history has {} purchases, the last at \
                 {}, of {} opportunities (need whole numbers and x ≤ t_x ≤ n)",
                histories.x[g],
                histories.t_x[g],
                histories.t[g]
            );
        }
        let model = |[alpha, beta, gamma, delta]: [f64; 4]| BgBb {
            alpha,
            beta,
            gamma,
            delta,
        };
        let fit = fit::maximise(
            |p| model(*p).total_log_likelihood(histories),
            [1.0; 4],
            histories.customers(),
            penalty,
            "BG/BB",
            ["alpha", "beta", "gamma", "delta"],
        )?;
        Ok(BgBbFit {
            params: model(fit.params),
            log_likelihood: fit.log_likelihood,
            std_errors: fit.std_errors,
            covariance: fit.covariance,
        })
    }

    /// P(alive at the next opportunity, n + 1), the paper's P(alive in
    /// period n + 1).
    pub fn p_alive(&self, x: f64, t_x: f64, n: f64) -> f64 {
        let alive = self.ln_term((0.0, x, n - x), (0.0, n + 1.0));
        (alive - self.log_likelihood(x, t_x, n)).exp()
    }

    /// Purchases expected at the next `horizons` (each counted in whole
    /// opportunities) of a customer alive at opportunity n + 1:
    /// (α + x) / (α + β + n) × Σ_{i=1..k} B(γ, δ + n + i) / B(γ, δ + n + 1).
    pub fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, n: f64) -> Vec<f64> {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let buys = (alpha + x) / (alpha + beta + n);
        let most = horizons
            .iter()
            .map(|h| opportunities(*h))
            .fold(0.0, f64::max) as u64;
        // cumulative survival to n + i, given alive at n + 1
        let mut cumulative = Vec::with_capacity(most as usize + 1);
        let mut total = 0.0;
        cumulative.push(0.0);
        let base = ln_beta(gamma, delta + n + 1.0);
        for i in 1..=most {
            total += (ln_beta(gamma, delta + n + i as f64) - base).exp();
            cumulative.push(total);
        }
        (horizons.iter())
            .map(|h| buys * cumulative[opportunities(*h) as usize])
            .collect()
    }

    /// Purchases expected over the next `horizon` opportunities, the
    /// paper's E[X(n, n + n*) | x, t_x, n].
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, n: f64) -> f64 {
        self.p_alive(x, t_x, n) * self.expected_purchases_if_alive(&[horizon], x, n)[0]
    }

    /// P(no purchase at the next `horizon` opportunities): dead already,
    /// or alive and dying after j quiet opportunities (j < k), or alive
    /// and quiet throughout.
    pub fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, n: f64) -> f64 {
        let k = opportunities(horizon) as u64;
        let ll = self.log_likelihood(x, t_x, n);
        let alive = self.ln_term((0.0, x, n - x), (0.0, n));
        let quiet = (0..k)
            .map(|j| self.ln_term((0.0, x, n - x + j as f64), (1.0, n + j as f64)))
            .fold(
                self.ln_term((0.0, x, n - x + k as f64), (0.0, n + k as f64)),
                ln_sum,
            );
        1.0 - (alive - ll).exp() + (quiet - ll).exp()
    }

    /// Purchases expected at the first `n` opportunities of a new
    /// customer: α / (α + β) × Σ_{i=1..n} B(γ, δ + i) / B(γ, δ).
    pub fn unconditional_expected_purchases(&self, n: f64) -> f64 {
        let BgBb {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let survive: f64 = (1..=opportunities(n) as u64)
            .map(|i| (ln_beta(gamma, delta + i as f64) - ln_beta(gamma, delta)).exp())
            .sum();
        alpha / (alpha + beta) * survive
    }

    /// Discounted expected residual transactions at a discount rate `d`
    /// per opportunity: Σ_{i≥1} E[purchase at n + i] / (1 + d)^i.
    pub fn dert(&self, d: f64, x: f64, t_x: f64, n: f64) -> Result<f64> {
        if d <= 0.0 {
            bail!("DERT needs a positive discount rate, not {d}");
        }
        let ll = self.log_likelihood(x, t_x, n);
        let mut total = 0.0;
        for i in 1..1_000_000u64 {
            let i = i as f64;
            let term = (self.ln_term((1.0, x, n - x), (0.0, n + i)) - ll - i * d.ln_1p()).exp();
            total += term;
            if term <= total * 1e-15 {
                break;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BTYD's estimates on the donations data (../shared/REFERENCE.md).
    const BTYD: BgBb = BgBb {
        alpha: 1.203507081,
        beta: 0.7497666778,
        gamma: 0.6567568171,
        delta: 2.783887325,
    };

    /// The donations data: 11,104 donors' histories over 6 opportunities.
    fn donations() -> Histories {
        let rows: Vec<Vec<f64>> = include_str!("../../testdata/donations.csv")
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
            .collect();
        let column = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
        let weights = column(3);
        Histories::weighted(&column(0), &column(1), &column(2), Some(&weights))
            .unwrap()
            .0
    }

    #[test]
    fn the_fit_is_the_published_one() {
        let h = donations();
        assert_eq!(h.customers(), 11_104.0);
        let fit = BgBb::fit(&h, 0.0).unwrap();
        let p = fit.params;
        for (got, want) in [
            (p.alpha, BTYD.alpha),
            (p.beta, BTYD.beta),
            (p.gamma, BTYD.gamma),
            (p.delta, BTYD.delta),
        ] {
            assert!((got / want - 1.0).abs() < 1e-3, "{p:?}");
        }
        assert!(
            (fit.log_likelihood + 33_225.58).abs() < 0.01,
            "{}",
            fit.log_likelihood
        );
        assert!(fit.std_errors.iter().all(|s| s.is_some_and(|s| s > 0.0)));
    }

    #[test]
    fn predictions_are_the_published_ones() {
        let close = |got: f64, want: f64, tolerance: f64| {
            assert!((got - want).abs() < tolerance, "{got} vs {want}");
        };
        // lifetimes' figures, from its own estimates: within 1e-4
        close(BTYD.unconditional_expected_purchases(10.0), 3.179805, 1e-4);
        close(
            BTYD.expected_purchases(10.0, 0.0, 0.0, 6.0),
            0.1302169,
            1e-4,
        );
        close(BTYD.expected_purchases(10.0, 4.0, 5.0, 6.0), 3.627858, 1e-4);
        close(BTYD.p_alive(0.0, 0.0, 6.0), 0.108, 5e-4);
        close(BTYD.p_alive(2.0, 4.0, 6.0), 0.590, 5e-4);
        close(BTYD.p_alive(6.0, 6.0, 6.0), 0.930, 5e-4);
        close(BTYD.dert(0.1, 6.0, 6.0, 6.0).unwrap(), 5.909805275, 1e-6);
        close(BTYD.dert(0.1, 0.0, 0.0, 6.0).unwrap(), 0.1147666991, 1e-6);
    }

    #[test]
    fn no_purchase_matches_a_simulation() {
        // customers drawn from the model, kept when their first 6
        // opportunities give the history (2, 4, 6): the share quiet at the
        // next 3 is the model's P(no purchase). Whole shapes, so that
        // Beta(a, b) is exactly the a-th smallest of a + b − 1 uniforms.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        fn beta_draw(a: usize, b: usize, uniform: &mut impl FnMut() -> f64) -> f64 {
            let mut draws: Vec<f64> = (0..a + b - 1).map(|_| uniform()).collect();
            draws.sort_by(f64::total_cmp);
            draws[a - 1]
        }
        let model = BgBb {
            alpha: 2.0,
            beta: 3.0,
            gamma: 1.0,
            delta: 4.0,
        };
        let (mut kept, mut quiet) = (0u64, 0u64);
        while kept < 40_000 {
            let p = beta_draw(2, 3, &mut uniform);
            let theta = beta_draw(1, 4, &mut uniform);
            let mut alive = true;
            let mut bought = [false; 9];
            for b in &mut bought {
                alive = alive && uniform() >= theta;
                *b = alive && uniform() < p;
            }
            let x = bought[..6].iter().filter(|b| **b).count();
            let t_x = bought[..6].iter().rposition(|b| *b).map_or(0, |i| i + 1);
            if (x, t_x) == (2, 4) {
                kept += 1;
                quiet += u64::from(!bought[6..].iter().any(|b| *b));
            }
        }
        let simulated = quiet as f64 / kept as f64;
        let model_says = model.p_no_purchase(3.0, 2.0, 4.0, 6.0);
        assert!(
            (simulated - model_says).abs() < 0.01,
            "{simulated} vs {model_says}"
        );
    }
}
