//! The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005,
//! "Counting your customers the easy way"): its likelihood and gradient,
//! the maximum-likelihood fit, and the per-customer predictions.

use anyhow::{Result, bail};
use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fit::{self, Runs};
use super::special::{Hyp2f1, digamma, ln_gamma, ln_hyp2f1};

/// The four BG/NBD parameters: purchase rates λ ~ Gamma(r, α) (α in the
/// time unit of the data), dropout probabilities p ~ Beta(a, b).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Scale of the purchase-rate distribution, in time units.
    pub alpha: f64,
    /// First shape of the dropout distribution.
    pub a: f64,
    /// Second shape of the dropout distribution.
    pub b: f64,
}

/// Customers' histories grouped: each distinct (x, t_x, T) once, with the
/// number of customers who have it. The likelihood is summed over groups.
#[derive(Debug, Clone, Default)]
pub struct Histories {
    /// Repeat purchases.
    pub x: Vec<f64>,
    /// Time of the last purchase after the first.
    pub t_x: Vec<f64>,
    /// Time from the first purchase to the end of the period.
    pub t: Vec<f64>,
    /// Customers with this history.
    pub count: Vec<f64>,
    /// The distinct values of t_x and T (times come in whole days, so
    /// there are few), and each group's place in them: the likelihood
    /// takes ln(α + t) once per distinct time, not once per group.
    times: Vec<f64>,
    t_x_at: Vec<u32>,
    t_at: Vec<u32>,
    /// The runs of equal x (groups are sorted by x).
    x_runs: Runs,
}

impl Histories {
    /// Groups per-customer histories. A history must satisfy
    /// 0 ≤ t_x ≤ T, x ≥ 0, x = 0 ⇔ t_x = 0; the first that does not is an
    /// error naming its position.
    pub fn new(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<Histories> {
        Ok(Histories::grouped(x, t_x, t)?.0)
    }

    /// [`Histories::new`], and the group of each customer.
    pub fn grouped(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<(Histories, Vec<u32>)> {
        Histories::weighted(x, t_x, t, None)
    }

    /// [`Histories::grouped`] where each row stands for `weights` customers
    /// (lifetimes' `weights`: a summary of identical histories counted), a
    /// number of 0 or more.
    pub fn weighted(
        x: &[f64],
        t_x: &[f64],
        t: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<(Histories, Vec<u32>)> {
        let n = x.len();
        let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
        if let Some(i) = (0..n).find(|&i| !(weight(i) >= 0.0 && weight(i).is_finite())) {
            bail!(
                "row {} has a weight of {}: a weight counts customers, 0 or more",
                i + 1,
                weight(i)
            );
        }
        if let Some(i) = (0..n).find(|&i| !possible(x[i], t_x[i], t[i])) {
            bail!(
                "customer {} has an impossible history: {} repeat purchases, last at {}, \
                 observed for {} (need 0 ≤ t_x ≤ T, and t_x = 0 when x = 0)",
                i + 1,
                x[i],
                t_x[i],
                t[i]
            );
        }
        // the distinct times, ascending (non-negative floats sort as their
        // bits; + 0.0 makes -0 +0), and each time's place among them
        let bits = |v: f64| (v + 0.0).to_bits();
        let distinct: HashSet<u64> = t_x
            .par_iter()
            .chain(t)
            .fold(HashSet::new, |mut set, &v| {
                set.insert(bits(v));
                set
            })
            .reduce(HashSet::new, |mut all, set| {
                all.extend(set);
                all
            });
        let mut times: Vec<u64> = distinct.into_iter().collect();
        times.sort_unstable();
        let place: HashMap<u64, u32> = times.iter().zip(0..).map(|(&v, k)| (v, k)).collect();
        // one u128 per customer: x, the places of t_x and T, the customer;
        // sorted, equal histories are adjacent, in the order of (x, t_x, T)
        let mut keys: Vec<u128> = (0..n)
            .into_par_iter()
            .map(|i| {
                let at = |v: f64| u128::from(place[&bits(v)]);
                (x[i] as u128) << 96 | at(t_x[i]) << 64 | at(t[i]) << 32 | i as u128
            })
            .collect();
        keys.par_sort_unstable();
        let times: Vec<f64> = times.into_iter().map(f64::from_bits).collect();
        let mut groups = Histories::default();
        let mut group_of = vec![0u32; n];
        for run in keys.chunk_by(|p, q| p >> 32 == q >> 32) {
            let key = run[0];
            for &customer in run {
                group_of[customer as u32 as usize] = groups.x.len() as u32;
            }
            let (t_x_at, t_at) = ((key >> 64) as u32, (key >> 32) as u32);
            groups.x.push((key >> 96) as f64);
            groups.t_x.push(times[t_x_at as usize]);
            groups.t.push(times[t_at as usize]);
            groups.t_x_at.push(t_x_at);
            groups.t_at.push(t_at);
            groups
                .count
                .push(run.iter().map(|&c| weight(c as u32 as usize)).sum());
        }
        groups.times = times;
        groups.x_runs = Runs::new(&groups.x);
        Ok((groups, group_of))
    }

    /// Σ over groups of customers × `term(x, t_x, T)` (a log-likelihood),
    /// computed in parallel and added in a fixed order.
    pub fn weighted_sum(&self, term: impl Fn(f64, f64, f64) -> f64 + Sync) -> f64 {
        let terms: Vec<f64> = (0..self.x.len())
            .into_par_iter()
            .map(|g| self.count[g] * term(self.x[g], self.t_x[g], self.t[g]))
            .collect();
        terms.iter().sum()
    }

    /// Customers in all groups.
    pub fn customers(&self) -> f64 {
        self.count.iter().sum()
    }

    /// An error naming `model` when no customer bought again: the
    /// purchase models need repeat purchases to learn anything.
    pub fn require_repeats(&self, model: &str) -> Result<()> {
        if self.customers() == 0.0 {
            bail!("no customers to fit the {model} model on");
        }
        if self.x.iter().all(|x| *x == 0.0) {
            bail!(
                "every customer bought once: {model} needs repeat purchases to learn how often \
                 customers buy and when they leave"
            );
        }
        Ok(())
    }

    /// A starting value for a rate's scale (α, β): mean T over mean x.
    pub fn scale_guess(&self) -> f64 {
        let n = self.customers();
        let mean = |v: &[f64]| v.iter().zip(&self.count).map(|(v, c)| v * c).sum::<f64>() / n;
        (mean(&self.t) / mean(&self.x).max(0.1)).max(1e-3)
    }
}

/// Whether (x, t_x, T) can be a customer's history: x a whole number of
/// repeat purchases (below 2^32), 0 ≤ t_x ≤ T, and t_x = 0 when x = 0.
fn possible(x: f64, t_x: f64, t: f64) -> bool {
    (0.0..4_294_967_296.0).contains(&x)
        && x.fract() == 0.0
        && t_x >= 0.0
        && t_x <= t
        && t.is_finite()
        && (x > 0.0 || t_x == 0.0)
}

/// The parts of a customer's log-likelihood that depend on x and the
/// parameters only: A1 + A2 and their gradient, and for x > 0 the
/// constant of A4, ln a − ln(b + x − 1), and its gradient.
#[derive(Clone, Copy)]
struct XTerms {
    a1a2: f64,
    d1d2: [f64; 4],
    a4: f64,
    d4: [f64; 4],
}

/// ln(α + t) and d/dα of it, 1 / (α + t), for a time t.
type TimeTerms = (f64, f64);

fn time_terms(alpha: f64, t: f64) -> TimeTerms {
    ((alpha + t).ln(), 1.0 / (alpha + t))
}

impl XTerms {
    fn new(model: &BgNbd, x: f64) -> XTerms {
        let BgNbd { r, alpha, a, b } = *model;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let (a4, d4) = if x > 0.0 {
            (
                a.ln() - (b + x - 1.0).ln(),
                [0.0, 0.0, 1.0 / a, -1.0 / (b + x - 1.0)],
            )
        } else {
            (0.0, [0.0; 4])
        };
        XTerms {
            a1a2: a1 + a2,
            d1d2: [
                digamma(r + x) - digamma(r) + alpha.ln(),
                r / alpha,
                digamma(a + b) - digamma(a + b + x),
                digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x),
            ],
            a4,
            d4,
        }
    }
}

/// How close to 1 `a` must be for the expectations' 0/0 to be avoided by
/// averaging either side.
const NEAR_ONE: f64 = 1e-4;

/// A fitted BG/NBD model and how the fit went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: BgNbd,
    /// Total log-likelihood at the parameters (without the penalty).
    pub log_likelihood: f64,
    /// Standard errors of r, alpha, a, b (null where the data do not
    /// identify the parameter).
    pub std_errors: [Option<f64>; 4],
    /// The parameters' asymptotic covariance (the inverse Hessian), for
    /// `--intervals`; absent in model files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<super::fit::Covariance>,
}

impl BgNbd {
    /// Fits the model by maximum likelihood. `penalty` adds
    /// `penalty × (r² + α² + a² + b²)` to the mean negative log-likelihood,
    /// as `lifetimes`' `penalizer_coef` does.
    pub fn fit(histories: &Histories, penalty: f64) -> Result<BgNbdFit> {
        histories.require_repeats("BG/NBD")?;
        let n = histories.customers();
        let alpha0 = histories.scale_guess();
        let objective = |logs: &[f64]| {
            let params = BgNbd {
                r: logs[0].exp(),
                alpha: logs[1].exp(),
                a: logs[2].exp(),
                b: logs[3].exp(),
            };
            let (ll, gradient) = params.total_log_likelihood(histories);
            let values = [params.r, params.alpha, params.a, params.b];
            let nll = -ll / n + penalty * values.iter().map(|p| p * p).sum::<f64>();
            // d/d ln p = p · d/dp
            let grad = (0..4)
                .map(|i| values[i] * (-gradient[i] / n + 2.0 * penalty * values[i]))
                .collect();
            (nll, grad)
        };
        let minimum = fit::minimize(
            &objective,
            &[1.0, alpha0, 1.0, 1.0],
            "BG/NBD",
            &["r", "alpha", "a", "b"],
        )?;
        let params = &minimum.params;
        let fitted = BgNbd {
            r: params[0],
            alpha: params[1],
            a: params[2],
            b: params[3],
        };
        let covariance = fit::covariance(&objective, &minimum, n);
        let std_errors = fit::standard_errors(covariance.as_ref(), 4);
        Ok(BgNbdFit {
            params: fitted,
            log_likelihood: fit::log_likelihood(&minimum, n, penalty),
            std_errors: [std_errors[0], std_errors[1], std_errors[2], std_errors[3]],
            covariance,
        })
    }

    /// The log-likelihood summed over the groups (weighted by their
    /// counts), and its gradient in (r, α, a, b); in parallel.
    pub fn total_log_likelihood(&self, h: &Histories) -> (f64, [f64; 4]) {
        // the gamma-function terms depend on x alone: once per distinct x
        // (groups are sorted by x); the logs of α + t once per distinct t
        let levels: Vec<XTerms> = h
            .x_runs
            .keys
            .iter()
            .map(|&x| XTerms::new(self, x))
            .collect();
        let times: Vec<TimeTerms> = h
            .times
            .par_iter()
            .map(|&t| time_terms(self.alpha, t))
            .collect();
        super::fit::ordered_sum(h.x.len(), |i| {
            let terms = &levels[h.x_runs.run_of[i] as usize];
            let (t_x, t) = (times[h.t_x_at[i] as usize], times[h.t_at[i] as usize]);
            let (ll, g) = self.log_likelihood_with(terms, h.x[i], t_x, t);
            let c = h.count[i];
            (ll * c, g.map(|g| g * c))
        })
    }

    /// One customer's log-likelihood and its gradient in (r, α, a, b).
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> (f64, [f64; 4]) {
        let times = (time_terms(self.alpha, t_x), time_terms(self.alpha, t));
        self.log_likelihood_with(&XTerms::new(self, x), x, times.0, times.1)
    }

    fn log_likelihood_with(
        &self,
        terms: &XTerms,
        x: f64,
        (ln_t_x, inv_t_x): TimeTerms,
        (ln_t, inv_t): TimeTerms,
    ) -> (f64, [f64; 4]) {
        let r_x = self.r + x;
        let XTerms { a1a2, d1d2, a4, d4 } = *terms;
        let a3 = -r_x * ln_t;
        let d3 = [-ln_t, -r_x * inv_t, 0.0, 0.0];
        let (tail, d_tail) = if x > 0.0 {
            let a4 = a4 - r_x * ln_t_x;
            let d4 = [-ln_t_x, -r_x * inv_t_x, d4[2], d4[3]];
            // ln(e^A3 + e^A4), from the larger of the two
            let (top, low, d_top, d_low) = if a3 >= a4 {
                (a3, a4, d3, d4)
            } else {
                (a4, a3, d4, d3)
            };
            let w = (low - top).exp();
            let share = w / (1.0 + w);
            let d = [0, 1, 2, 3].map(|k| d_top[k] + share * (d_low[k] - d_top[k]));
            (top + (1.0 + w).ln(), d)
        } else {
            (a3, d3)
        };
        let gradient = [0, 1, 2, 3].map(|k| d1d2[k] + d_tail[k]);
        (a1a2 + tail, gradient)
    }

    /// The probability that a customer with history (x, t_x, T) is still
    /// active at T.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds = (r + x) * ((alpha + t) / (alpha + t_x)).ln() + (a / (b + x - 1.0)).ln();
        1.0 / (1.0 + ln_odds.exp())
    }

    /// Expected purchases in the next `horizon` time units of a customer
    /// with history (x, t_x, T): the conditional expectation of the paper's
    /// equation (10), which is P(alive) × the purchases expected of a
    /// customer still active ([`BgNbd::expected_purchases_if_alive`]).
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let if_alive = self.expected_purchases_if_alive(&[horizon], x, t)?[0];
        Ok(self.p_alive(x, t_x, t) * if_alive)
    }

    /// Expected purchases in the first `t` time units after the first
    /// purchase, for a customer the model knows nothing else about (the
    /// paper's equation (9)): what the tracking curve adds up.
    pub fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        if t <= 0.0 {
            return Ok(0.0);
        }
        self.around_a_of_one(|model| {
            let BgNbd { r, alpha, a, b } = *model;
            let ln_f = ln_hyp2f1(r, b, a + b - 1.0, t / (alpha + t))?;
            let expected =
                (a + b - 1.0) / (a - 1.0) * (1.0 - (r * (alpha / (alpha + t)).ln() + ln_f).exp());
            if !expected.is_finite() {
                bail!("expected purchases over {t} are not finite (parameters {model:?})");
            }
            Ok(expected.max(0.0))
        })
    }

    /// `formula` at these parameters; at a = 1, where the expectations are
    /// 0/0, the mean of `formula` just either side.
    fn around_a_of_one(&self, formula: impl Fn(&BgNbd) -> Result<f64>) -> Result<f64> {
        if (self.a - 1.0).abs() < NEAR_ONE {
            let at = |a: f64| formula(&BgNbd { a, ..*self });
            return Ok((at(1.0 - NEAR_ONE)? + at(1.0 + NEAR_ONE)?) / 2.0);
        }
        formula(self)
    }

    /// The purchases expected in the next `horizon` time units of a
    /// customer with x repeat purchases, T time units after the first, who
    /// is still active, for each of `horizons`: (a + b + x − 1) / (a − 1) ×
    /// [1 − ((α + T) / (α + T + h))^(r + x) · 2F1(r + x, b + x; a + b + x − 1;
    /// h / (α + T + h))]. It does not depend on t_x, so customers who share
    /// x and T share it; 2F1 is prepared once for all horizons. At a = 1
    /// the formula is 0/0: it is evaluated just either side and averaged.
    pub fn expected_purchases_if_alive(
        &self,
        horizons: &[f64],
        x: f64,
        t: f64,
    ) -> Result<Vec<f64>> {
        if (self.a - 1.0).abs() < NEAR_ONE {
            let at = |a: f64| BgNbd { a, ..*self }.if_alive(horizons, x, t);
            let (below, above) = (at(1.0 - NEAR_ONE)?, at(1.0 + NEAR_ONE)?);
            return Ok(below
                .iter()
                .zip(&above)
                .map(|(l, h)| (l + h) / 2.0)
                .collect());
        }
        self.if_alive(horizons, x, t)
    }

    /// [`BgNbd::expected_purchases_if_alive`] for a ≠ 1.
    fn if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>> {
        let BgNbd { r, alpha, a, b } = *self;
        let hyp = Hyp2f1::new(r + x, b + x, a + b + x - 1.0);
        let first = (a + b + x - 1.0) / (a - 1.0);
        // a horizon of 0 or less: no purchases (2F1 at z = 0 is 1)
        let horizons: Vec<f64> = horizons.iter().map(|h| h.max(0.0)).collect();
        let zs: Vec<f64> = horizons.iter().map(|h| h / (alpha + t + h)).collect();
        let ln_f = hyp.ln_at_each(&zs)?;
        horizons
            .iter()
            .zip(ln_f)
            .map(|(&horizon, ln_f)| {
                let ln_silent = (r + x) * ((alpha + t) / (alpha + t + horizon)).ln();
                let value = first * -(ln_f + ln_silent).exp_m1();
                if !value.is_finite() {
                    bail!(
                        "expected purchases are not finite for customers with x = {x}, T = {t} \
                         (parameters {self:?})"
                    );
                }
                Ok(value.max(0.0))
            })
            .collect()
    }

    /// The probability of no purchase in the next `horizon` time units:
    /// inactive already, or active (rate ~ Gamma(r + x, α + T)) and silent.
    pub fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        let alive = self.p_alive(x, t_x, t);
        let silent = ((self.alpha + t) / (self.alpha + t + horizon)).powf(self.r + x);
        1.0 - alive + alive * silent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paper's estimates on the CDNOW sample (BTYD's digits).
    const PAPER: BgNbd = BgNbd {
        r: 0.2425981523,
        alpha: 4.413684163,
        a: 0.7929898737,
        b: 2.426166696,
    };

    #[test]
    fn reference_customer_predictions() {
        // ../shared/REFERENCE.md: x = 2, t_x = 30.43, T = 38.86
        let p = PAPER.p_alive(2.0, 30.43, 38.86);
        assert!((p - 0.7266).abs() < 5e-5, "{p}");
        let e = PAPER.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap();
        assert!((e - 1.226).abs() < 5e-4, "{e}");
        let none = PAPER.p_no_purchase(39.0, 2.0, 30.43, 38.86);
        assert!(none > 1.0 - p && none < 1.0, "{none}");
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        for (x, t_x, t) in [(0.0, 0.0, 38.0), (3.0, 20.5, 38.0), (12.0, 37.0, 38.0)] {
            let (_, g) = PAPER.log_likelihood(x, t_x, t);
            let values = [PAPER.r, PAPER.alpha, PAPER.a, PAPER.b];
            for k in 0..4 {
                let h = values[k] * 1e-6;
                let shifted = |d: f64| {
                    let mut v = values;
                    v[k] += d;
                    BgNbd {
                        r: v[0],
                        alpha: v[1],
                        a: v[2],
                        b: v[3],
                    }
                    .log_likelihood(x, t_x, t)
                    .0
                };
                let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                assert!(
                    (numeric - g[k]).abs() < 1e-6 * numeric.abs().max(1.0),
                    "{k}: {numeric} vs {}",
                    g[k]
                );
            }
        }
    }

    #[test]
    fn unconditional_expectation_matches_the_paper() {
        // ../shared/REFERENCE.md: E[X(52)] for a new customer at the MLE
        // is 1.444004 (and 0 at the start)
        assert_eq!(PAPER.unconditional_expected_purchases(0.0).unwrap(), 0.0);
        let year = PAPER.unconditional_expected_purchases(52.0).unwrap();
        assert!((year - 1.444004).abs() < 1e-6, "{year}");
        let half = PAPER.unconditional_expected_purchases(26.0).unwrap();
        assert!(half > 0.0 && half < year, "{half} {year}");
    }

    #[test]
    fn a_near_one_gives_a_defined_expectation() {
        let near = BgNbd { a: 1.0, ..PAPER };
        let e = near.expected_purchases(10.0, 2.0, 30.0, 38.0).unwrap();
        let a_bit_off = BgNbd { a: 1.01, ..PAPER }
            .expected_purchases(10.0, 2.0, 30.0, 38.0)
            .unwrap();
        assert!(
            e.is_finite() && (e - a_bit_off).abs() < 0.01,
            "{e} vs {a_bit_off}"
        );
    }

    #[test]
    fn impossible_histories_and_one_time_buyers_are_errors() {
        assert!(Histories::new(&[1.0], &[5.0], &[3.0]).is_err());
        let all_once = Histories::new(&[0.0, 0.0], &[0.0, 0.0], &[5.0, 9.0]).unwrap();
        let err = BgNbd::fit(&all_once, 0.0).unwrap_err().to_string();
        assert!(err.contains("every customer bought once"), "{err}");
    }
}
