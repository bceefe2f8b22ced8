//! The shifted-beta-geometric (sBG) model of contractual retention (Fader
//! & Hardie 2007, "How to project customer retention"): at each renewal a
//! subscriber leaves with probability θ, θ ~ Beta(α, β) across
//! subscribers. Retention rises with tenure because the likeliest to
//! leave leave first.
//!
//! A subscriber's history is (recency, T) in renewal periods: recency < T
//! means they left at renewal `recency` (paid `recency` periods); recency
//! = T, still active after T renewals.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::fit;
use super::special::ln_beta;

/// The sBG parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sbg {
    /// First shape of the churn probabilities' beta distribution.
    pub alpha: f64,
    /// Second shape of the churn probabilities' beta distribution.
    pub beta: f64,
}

/// A fitted sBG model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SbgFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: Sbg,
    /// Total log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// Standard errors of α and β from the Hessian.
    pub std_errors: [Option<f64>; 2],
    /// Subscribers fitted on.
    pub subscribers: u64,
}

impl Sbg {
    /// ln S(t), the chance of a subscriber renewing t times:
    /// B(α, β + t) / B(α, β).
    pub fn ln_survival(&self, t: f64) -> f64 {
        ln_beta(self.alpha, self.beta + t) - ln_beta(self.alpha, self.beta)
    }

    /// S(t), the share of a cohort still active after t renewals.
    pub fn survival(&self, t: f64) -> f64 {
        self.ln_survival(t).exp()
    }

    /// ln P(leaving at renewal t ≥ 1): B(α + 1, β + t − 1) / B(α, β).
    pub fn ln_left_at(&self, t: f64) -> f64 {
        ln_beta(self.alpha + 1.0, self.beta + t - 1.0) - ln_beta(self.alpha, self.beta)
    }

    /// The chance that a subscriber active after `t` renewals renews
    /// once more: (β + t) / (α + β + t).
    pub fn renewal_rate(&self, t: f64) -> f64 {
        (self.beta + t) / (self.alpha + self.beta + t)
    }

    /// Renewals expected over the next `periods` of a subscriber active
    /// after `t` renewals: Σ_{i=1..k} S(t + i) / S(t).
    pub fn expected_renewals(&self, periods: f64, t: f64) -> f64 {
        let k = super::bgbb::opportunities(periods) as u64;
        (1..=k)
            .map(|i| (self.ln_survival(t + i as f64) - self.ln_survival(t)).exp())
            .sum()
    }

    /// Discounted expected residual lifetime (Fader & Hardie 2010) of a
    /// subscriber about to make renewal n, at discount rate `d` per
    /// period: Σ_{t≥n} S(t) / S(n − 1) / (1 + d)^(t − n), the payment at
    /// renewal n undiscounted.
    pub fn derl(&self, d: f64, n: f64) -> Result<f64> {
        if d <= 0.0 {
            bail!("DERL needs a positive discount rate, not {d}");
        }
        let base = self.ln_survival(n - 1.0);
        let mut total = 0.0;
        for i in 0..10_000_000u64 {
            let i = i as f64;
            let term = (self.ln_survival(n + i) - base - i * d.ln_1p()).exp();
            total += term;
            if term <= total * 1e-15 {
                break;
            }
        }
        Ok(total)
    }

    /// Fits the model by maximum likelihood (`penalty` as for BG/NBD).
    pub fn fit(cohort: &Cohort, penalty: f64) -> Result<SbgFit> {
        let n = cohort.subscribers();
        if cohort.left_at.is_empty() {
            bail!(
                "no subscriber has left: the sBG model needs cancellations to learn how fast \
                 subscribers leave"
            );
        }
        let fit = fit::maximise(
            |&[alpha, beta]| Sbg { alpha, beta }.total_log_likelihood(cohort),
            [1.0, 1.0],
            n,
            penalty,
            "sBG",
            ["alpha", "beta"],
        )?;
        let [alpha, beta] = fit.params;
        Ok(SbgFit {
            params: Sbg { alpha, beta },
            log_likelihood: fit.log_likelihood,
            std_errors: fit.std_errors,
            subscribers: n as u64,
        })
    }

    /// The log-likelihood of a cohort.
    pub fn total_log_likelihood(&self, cohort: &Cohort) -> f64 {
        let left: f64 = (cohort.left_at.iter())
            .map(|(t, count)| count * self.ln_left_at(*t))
            .sum();
        let active: f64 = (cohort.active_after.iter())
            .map(|(t, count)| count * self.ln_survival(*t))
            .sum();
        left + active
    }
}

/// Subscribers' histories counted: how many left at each renewal, how
/// many are still active after each number of renewals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cohort {
    /// (renewal t ≥ 1 at which they left, subscribers), by t.
    pub left_at: Vec<(f64, f64)>,
    /// (renewals made T ≥ 0, subscribers still active), by T.
    pub active_after: Vec<(f64, f64)>,
}

impl Cohort {
    /// Counts histories in PyMC-Marketing's layout (recency, T), each
    /// with a weight (1 when `weights` is `None`): T is the period the
    /// subscriber is in, recency < T that they left at renewal `recency`
    /// (paid `recency` periods), recency = T that they are still active
    /// (made T − 1 renewals). Both are whole numbers, 1 ≤ recency ≤ T;
    /// the first row that is not is an error naming it.
    pub fn new(recency: &[f64], t: &[f64], weights: Option<&[f64]>) -> Result<Cohort> {
        let mut left = std::collections::BTreeMap::<u64, f64>::new();
        let mut active = std::collections::BTreeMap::<u64, f64>::new();
        for (i, (&r, &t)) in recency.iter().zip(t).enumerate() {
            let weight = weights.map_or(1.0, |w| w[i]);
            let whole = |v: f64| v.fract() == 0.0 && (1.0..1e9).contains(&v);
            if !(whole(r) && whole(t) && r <= t && weight >= 0.0 && weight.is_finite()) {
                bail!(
                    "row {}: recency {r}, T {t}, weight {weight}: the sBG model needs whole \
                     renewal periods, 1 ≤ recency < T for a subscriber who left (at renewal \
                     recency), recency = T for one still active in period T, and a weight of 0 \
                     or more",
                    i + 1
                );
            }
            if r < t {
                *left.entry(r as u64).or_default() += weight;
            } else {
                *active.entry(t as u64 - 1).or_default() += weight;
            }
        }
        let listed = |counts: std::collections::BTreeMap<u64, f64>| {
            counts.into_iter().map(|(t, n)| (t as f64, n)).collect()
        };
        Ok(Cohort {
            left_at: listed(left),
            active_after: listed(active),
        })
    }

    /// Subscribers in the cohort.
    pub fn subscribers(&self) -> f64 {
        (self.left_at.iter().chain(&self.active_after))
            .map(|(_, n)| n)
            .sum()
    }

    /// The share still active after each of renewals 0..=`last`, by
    /// Kaplan–Meier: at renewal j, of those who reached it and were
    /// observed through it, the share who renewed; `None` from the first
    /// renewal nobody was observed through.
    pub fn observed_survival(&self, last: u64) -> Vec<Option<f64>> {
        let mut survival = Some(1.0);
        let mut out = vec![survival];
        for j in 1..=last {
            let j = j as f64;
            let left: f64 = (self.left_at.iter())
                .filter(|(t, _)| *t == j)
                .map(|(_, n)| n)
                .sum();
            let at_risk: f64 = (self.left_at.iter())
                .filter(|(t, _)| *t >= j)
                .chain(self.active_after.iter().filter(|(t, _)| *t >= j))
                .map(|(_, n)| n)
                .sum();
            survival = survival
                .filter(|_| at_risk > 0.0)
                .map(|s| s * (1.0 - left / at_risk));
            out.push(survival);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fader & Hardie (2007)'s two cohorts of 1,000: the share (%) still
    /// active after renewals 0..=12.
    const REGULAR: [f64; 13] = [
        100.0, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1, 22.3, 20.7, 19.4, 18.3, 17.3,
    ];
    const HIGH_END: [f64; 13] = [
        100.0, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1, 46.8, 44.5, 42.7, 40.9, 39.4,
    ];

    /// A cohort of 1,000 observed for `years` renewals, in period
    /// `years` + 1: those who left at each renewal, and those active.
    fn cohort(survival: &[f64], years: usize) -> Cohort {
        let mut recency = Vec::new();
        let mut weights = Vec::new();
        for t in 1..=years {
            recency.push(t as f64);
            weights.push(((survival[t - 1] - survival[t]) * 10.0).round());
        }
        recency.push(years as f64 + 1.0);
        weights.push((survival[years] * 10.0).round());
        let t = vec![years as f64 + 1.0; years + 1];
        Cohort::new(&recency, &t, Some(&weights)).unwrap()
    }

    #[test]
    fn the_fits_are_the_published_ones() {
        for (survival, (alpha, beta, ll)) in [
            (REGULAR, (0.7041, 1.1820, -1680.2652)),
            (HIGH_END, (0.6681, 3.8061, -1611.1581)),
        ] {
            let c = cohort(&survival, 7);
            assert_eq!(c.subscribers(), 1000.0);
            let fit = Sbg::fit(&c, 0.0).unwrap();
            let p = fit.params;
            assert!((p.alpha - alpha).abs() < 5e-4, "{p:?}");
            assert!((p.beta - beta).abs() < 5e-4, "{p:?}");
            assert!(
                (fit.log_likelihood - ll).abs() < 1e-3,
                "{}",
                fit.log_likelihood
            );
            assert!(fit.std_errors.iter().all(|s| s.is_some_and(|s| s > 0.0)));
        }
    }

    #[test]
    fn projections_are_the_published_ones() {
        for (params, published) in [
            ((0.7041, 1.1820), [22.0, 20.4, 19.1, 18.0, 17.0]),
            ((0.6681, 3.8061), [46.0, 43.6, 41.4, 39.5, 37.8]),
        ] {
            let model = Sbg {
                alpha: params.0,
                beta: params.1,
            };
            for (year, want) in (8..=12).zip(published) {
                let got = 100.0 * model.survival(year as f64);
                assert!((got - want).abs() < 0.05, "year {year}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn derl_is_the_published_one() {
        for ((alpha, beta), published, tolerance) in [
            ((3.80, 15.20), [3.31, 3.45, 3.59, 3.72, 3.84], 0.005),
            // the paper's rounded parameters: its figures came from finer ones
            ((0.067, 0.267), [7.68, 9.46, 9.86, 10.06, 10.19], 0.015),
        ] {
            let model = Sbg { alpha, beta };
            for (n, want) in (1..=5).zip(published) {
                let got = model.derl(0.1, n as f64).unwrap();
                assert!((got - want).abs() < tolerance, "n = {n}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn observed_survival_counts_only_those_seen_that_long() {
        let c = cohort(&REGULAR, 7);
        let observed = c.observed_survival(8);
        assert_eq!(observed[0], Some(1.0));
        assert!((observed[1].unwrap() - 0.631).abs() < 1e-9);
        assert!((observed[7].unwrap() - 0.241).abs() < 1e-9);
        // nobody was observed through renewal 8
        assert_eq!(observed[8], None);
        // censored: 100 active after 1 renewal, 100 who left at renewal 2,
        // 200 active after 3: at renewal 2, 300 at risk, 100 left
        let censored = Cohort::new(
            &[2.0, 2.0, 4.0],
            &[2.0, 4.0, 4.0],
            Some(&[100.0, 100.0, 200.0]),
        )
        .unwrap();
        let km = censored.observed_survival(3);
        assert_eq!(km[1], Some(1.0));
        assert!((km[2].unwrap() - 2.0 / 3.0).abs() < 1e-12, "{km:?}");
        assert!((km[3].unwrap() - 2.0 / 3.0).abs() < 1e-12, "{km:?}");
    }

    #[test]
    fn renewal_rates_rise_with_tenure() {
        let model = Sbg {
            alpha: 0.7041,
            beta: 1.1820,
        };
        let rates: Vec<f64> = (0..5).map(|t| model.renewal_rate(t as f64)).collect();
        assert!(rates.windows(2).all(|w| w[0] < w[1]), "{rates:?}");
        // S(t + 1) / S(t)
        assert!((rates[2] - model.survival(3.0) / model.survival(2.0)).abs() < 1e-12);
        let expected = model.expected_renewals(3.0, 2.0);
        let by_hand: f64 = (3..=5)
            .map(|k| model.survival(k as f64) / model.survival(2.0))
            .sum();
        assert!((expected - by_hand).abs() < 1e-12);
    }
}
