//! The Pareto/NBD model of purchases and dropout (Schmittlein, Morrison &
//! Colombo 1987; Fader, Hardie & Lee 2005): while alive a customer buys
//! at a Poisson rate λ ~ Gamma(r, α) and dies after an exponential
//! lifetime of rate μ ~ Gamma(s, β), at any time, not only after a
//! purchase as in BG/NBD.
//!
//! The likelihood needs A0, a difference of two Gauss hypergeometric
//! terms, whose form depends on whether α ≥ β; computed naively it
//! overflows for large x and cancels when t_x is close to T (lifetimes
//! issue 445, Hardie's note 027). Here every term is a logarithm: each
//! 2F1 by [`super::special::ln_hyp2f1`], the difference as
//! u + ln(1 − e^(v − u)), and the likelihood's two parts added with
//! log-sum-exp.

use anyhow::Result;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bgnbd::Histories;
use super::fit;
use super::special::{integral, integral_to_infinity, ln_gamma, ln_hyp2f1, ln_sum};

/// The Pareto/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    /// Shape of the purchase rates' distribution.
    pub r: f64,
    /// Scale of the purchase rates' distribution (in the time unit).
    pub alpha: f64,
    /// Shape of the dropout rates' distribution.
    pub s: f64,
    /// Scale of the dropout rates' distribution (in the time unit).
    pub beta: f64,
}

/// A fitted Pareto/NBD model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParetoNbdFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: ParetoNbd,
    /// Total log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// Standard errors of r, α, s, β from the Hessian (`None` where it is
    /// not positive definite).
    pub std_errors: [Option<f64>; 4],
    /// The parameters' asymptotic covariance (the inverse Hessian), for
    /// `--intervals`; absent in model files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<super::fit::Covariance>,
}

/// ln(e^u − e^v) for u ≥ v (−∞ when they are equal).
fn ln_difference(u: f64, v: f64) -> f64 {
    if v >= u {
        return f64::NEG_INFINITY;
    }
    u + (-(v - u).exp_m1()).ln()
}

impl ParetoNbd {
    /// ln A0 of Fader, Hardie & Lee's likelihood for a customer with x
    /// repeat purchases, the last at t_x, observed for T:
    /// [2F1(r+s+x, b; r+s+x+1; z(t_x)) / (m+t_x)^(r+s+x) − the same at T],
    /// with m = max(α, β), b = s + 1 when α ≥ β (else r + x) and
    /// z(t) = |α − β| / (m + t).
    fn ln_a0(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (high, b) = if alpha >= beta {
            (alpha, s + 1.0)
        } else {
            (beta, r + x)
        };
        let gap = (alpha - beta).abs();
        let rsx = r + s + x;
        let term = |time: f64| -> Result<f64> {
            let q = high + time;
            Ok(ln_hyp2f1(rsx, b, rsx + 1.0, gap / q)? - rsx * q.ln())
        };
        Ok(ln_difference(term(t_x)?, term(t)?))
    }

    /// The log-likelihood of one customer's history (x, t_x, T).
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln();
        let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
        let died = s.ln() - (r + s + x).ln() + self.ln_a0(x, t_x, t)?;
        Ok(a1 + ln_sum(alive, died))
    }

    /// The log-likelihood of every history, each weighted by its
    /// customers, added in a fixed order.
    pub fn total_log_likelihood(&self, h: &Histories) -> Result<f64> {
        let terms: Vec<f64> = (0..h.x.len())
            .into_par_iter()
            .map(|g| Ok(h.count[g] * self.log_likelihood(h.x[g], h.t_x[g], h.t[g])?))
            .collect::<Result<_>>()?;
        Ok(terms.iter().sum())
    }

    /// Fits the model by maximum likelihood; `penalty` adds
    /// `penalty × (r² + α² + s² + β²)` to the mean negative
    /// log-likelihood, as for BG/NBD. The gradient is taken by central
    /// differences in the parameters' logarithms (the tests hold it to
    /// the likelihood's curvature): A0's derivatives need 2F1's with
    /// respect to its parameters, which no closed form gives.
    pub fn fit(histories: &Histories, penalty: f64) -> Result<ParetoNbdFit> {
        histories.require_repeats("Pareto/NBD")?;
        let model = |[r, alpha, s, beta]: [f64; 4]| ParetoNbd { r, alpha, s, beta };
        let alpha0 = histories.scale_guess();
        let fit = fit::maximise(
            |p| (model(*p).total_log_likelihood(histories)).unwrap_or(f64::NAN),
            [1.0, alpha0, 1.0, alpha0],
            histories.customers(),
            penalty,
            "Pareto/NBD",
            ["r", "alpha", "s", "beta"],
        )?;
        Ok(ParetoNbdFit {
            params: model(fit.params),
            log_likelihood: fit.log_likelihood,
            std_errors: fit.std_errors,
            covariance: fit.covariance,
        })
    }

    /// P(alive) at T of a customer with history (x, t_x, T).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let ln_ratio = s.ln() - (r + s + x).ln()
            + (r + x) * (alpha + t).ln()
            + s * (beta + t).ln()
            + self.ln_a0(x, t_x, t)?;
        Ok(1.0 / (1.0 + ln_ratio.exp()))
    }

    /// Purchases expected over the next `horizon` of a customer still
    /// alive at T with x repeat purchases: E[λ] × E[1 − e^(−μ·horizon)] / E[μ]
    /// under the posterior, (r + x)(β + T) / ((α + T)(s − 1)) ×
    /// [1 − ((β + T) / (β + T + horizon))^(s − 1)] (its limit at s = 1).
    pub(super) fn expected_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let rate = (r + x) / (alpha + t);
        let b = beta + t;
        let ratio = (b / (b + horizon)).ln();
        let lifetime = if (s - 1.0).abs() < 1e-8 {
            -b * ratio
        } else {
            // b / (s − 1) × (1 − e^((s − 1) ln ratio)), without cancellation
            -b * ((s - 1.0) * ratio).exp_m1() / (s - 1.0)
        };
        rate * lifetime
    }

    /// Purchases expected over the next `horizon` of a customer with
    /// history (x, t_x, T).
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(self.p_alive(x, t_x, t)? * self.expected_if_alive(horizon, x, t))
    }

    /// P(no purchase in the next `horizon`) of a customer with history
    /// (x, t_x, T): dead already, or, alive with rates λ, μ drawn from
    /// their posteriors (Gamma(r + x, α + T), Gamma(s, β + T)), neither a
    /// purchase nor death before `horizon` (E[e^(−(λ+μ)τ)], closed) or
    /// death before any purchase (∫ E[μ e^(−μu)] E[e^(−λu)] du over
    /// [0, τ], by quadrature).
    pub fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let alive = self.p_alive(x, t_x, t)?;
        Ok((1.0 - alive) + alive * self.p_no_purchase_if_alive(horizon, x, t))
    }

    /// P(no purchase over the next `horizon` | alive at T): quiet until
    /// the end, or dead before the first purchase. It depends on x and T
    /// alone, so a caller computes it once per (x, T).
    pub fn p_no_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (a, b) = (alpha + t, beta + t);
        let survive = |u: f64| (r + x) * (a / (a + u)).ln() + s * (b / (b + u)).ln();
        let quiet = survive(horizon).exp();
        let dies_first = integral(&|u: f64| s / (b + u) * survive(u).exp(), 0.0, horizon);
        quiet + dies_first
    }

    /// Discounted expected residual transactions (Fader, Hardie & Lee 2005,
    /// "RFM and CLV") at a continuous discount rate `delta` per time unit:
    /// P(alive) × E[λ] × E[1 / (μ + δ)], the last as ∫ e^(−δu) E[e^(−μu)] du
    /// over [0, ∞).
    pub fn dert(&self, delta: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        self.dert_with(self.discounted_lifetime(delta, t), x, t_x, t)
    }

    /// E[1 / (μ + δ)] of a customer alive at T, the part of DERT that
    /// depends on T alone (a caller computes it once per T).
    pub fn discounted_lifetime(&self, delta: f64, t: f64) -> f64 {
        let ParetoNbd { s, beta, .. } = *self;
        let b = beta + t;
        integral_to_infinity(&|u: f64| (-delta * u + s * (b / (b + u)).ln()).exp())
    }

    /// DERT from T's [`ParetoNbd::discounted_lifetime`].
    pub fn dert_with(&self, lifetime: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(self.p_alive(x, t_x, t)? * (self.r + x) / (self.alpha + t) * lifetime)
    }

    /// Purchases expected in the first `t` of a new customer's life,
    /// E[X(t)] = rβ / (α(s − 1)) × [1 − (β / (β + t))^(s − 1)].
    pub fn unconditional_expected_purchases(&self, t: f64) -> f64 {
        self.expected_if_alive(t, 0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BTYD's estimates on the CDNOW sample (../shared/REFERENCE.md).
    const BTYD: ParetoNbd = ParetoNbd {
        r: 0.5533971433,
        alpha: 10.5801985435,
        s: 0.6060624971,
        beta: 11.6562236707,
    };

    use crate::value::testing::cdnow_histories as cdnow;

    #[test]
    fn the_likelihood_at_btyd_s_estimates_is_btyd_s() {
        // BTYD's -9594.976198 is on times to more digits than the shipped
        // summary's two decimals (30.43 for 30.428571): 0.0023 apart
        let ll = BTYD.total_log_likelihood(&cdnow()).unwrap();
        assert!((ll - -9594.976198).abs() < 5e-3, "{ll}");
    }

    #[test]
    fn the_fit_reproduces_the_published_estimates() {
        let fit = ParetoNbd::fit(&cdnow(), 0.0).unwrap();
        let p = fit.params;
        // r, alpha, s to about 3 digits; beta is poorly determined (its
        // standard error is about 6): the log-likelihood is the sharper test
        for (got, want) in [(p.r, 0.5534), (p.alpha, 10.58), (p.s, 0.6061)] {
            assert!((got / want - 1.0).abs() < 2e-3, "{p:?}");
        }
        assert!((p.beta / 11.656 - 1.0).abs() < 2e-2, "{p:?}");
        assert!(
            (fit.log_likelihood - -9594.976).abs() < 1e-2,
            "{}",
            fit.log_likelihood
        );
        // CLVTools' standard errors: 0.0476, 0.843, 0.187, 6.21
        let se: Vec<f64> = fit.std_errors.iter().map(|s| s.unwrap()).collect();
        for (got, want) in se.iter().zip([0.0476, 0.843, 0.187, 6.21]) {
            assert!((got / want - 1.0).abs() < 0.1, "{se:?}");
        }
    }

    #[test]
    fn predictions_are_the_published_ones() {
        // ../shared/REFERENCE.md, at BTYD's estimates
        let new = BTYD.unconditional_expected_purchases(52.0);
        assert!((new - 1.473112690).abs() < 1e-6, "{new}");
        let p = BTYD.p_alive(26.0, 30.85714, 31.0).unwrap();
        assert!((p - 0.9978733637).abs() < 1e-6, "{p}");
        let e = BTYD.expected_purchases(52.0, 26.0, 30.85714, 31.0).unwrap();
        assert!((e - 25.45418214).abs() < 1e-4, "{e}");
        let p = BTYD.p_alive(2.0, 30.43, 38.86).unwrap();
        assert!((p - 0.8691182051).abs() < 1e-6, "{p}");
        let e = BTYD.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap();
        assert!((e - 1.455120216).abs() < 1e-6, "{e}");
        let other = ParetoNbd {
            r: 0.55,
            alpha: 10.56,
            s: 0.61,
            beta: 11.64,
        };
        for (t, want) in [(1.0, 0.05077821), (2.0, 0.09916088), (3.0, 0.14542507)] {
            let e = other.unconditional_expected_purchases(t);
            assert!((e - want).abs() < 1e-7, "t {t}: {e}");
        }
    }

    #[test]
    fn dert_is_the_published_one() {
        // ../shared/REFERENCE.md: 15% a year, continuously, per week
        let delta = 1.15f64.ln() / 52.0;
        let reference = BTYD.dert(delta, 2.0, 30.43, 38.86).unwrap();
        assert!((reference - 6.500891843).abs() < 1e-6, "{reference}");
        let none = BTYD.dert(delta, 0.0, 0.0, 38.86).unwrap();
        assert!((none - 0.4781994109).abs() < 1e-6, "{none}");
    }

    #[test]
    fn p_no_purchase_matches_a_simulation() {
        // draw alive-or-dead from P(alive), then λ and μ from their
        // posteriors, then the next purchase and death times
        use rand::{Rng, SeedableRng};
        use rand_distr::{Distribution, Exp, Gamma};
        let (x, t_x, t, horizon): (f64, f64, f64, f64) = (2.0, 30.43, 38.86, 39.0);
        let alive = BTYD.p_alive(x, t_x, t).unwrap();
        let rates = Gamma::new(BTYD.r + x, 1.0 / (BTYD.alpha + t)).unwrap();
        let deaths = Gamma::new(BTYD.s, 1.0 / (BTYD.beta + t)).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let draws = 400_000;
        let quiet = (0..draws)
            .filter(|_| {
                if rng.random::<f64>() >= alive {
                    return true;
                }
                let (lambda, mu): (f64, f64) = (rates.sample(&mut rng), deaths.sample(&mut rng));
                let purchase = Exp::new(lambda).unwrap().sample(&mut rng);
                let death = Exp::new(mu).unwrap().sample(&mut rng);
                purchase > horizon.min(death)
            })
            .count() as f64
            / draws as f64;
        let p = BTYD.p_no_purchase(horizon, x, t_x, t).unwrap();
        assert!((p - quiet).abs() < 3e-3, "{p} against {quiet} simulated");
        // no time, no purchase; a long time, a purchase unless dead first
        assert!((BTYD.p_no_purchase(0.0, x, t_x, t).unwrap() - 1.0).abs() < 1e-12);
        assert!(BTYD.p_no_purchase(1e4, x, t_x, t).unwrap() > 1.0 - alive);
    }

    #[test]
    fn extreme_histories_give_finite_numbers() {
        // many purchases, the last just before T, and α < β: the naive
        // A0 overflows or cancels there
        let wide = ParetoNbd { beta: 80.0, ..BTYD };
        for model in [BTYD, wide] {
            for (x, t_x, t) in [
                (300.0, 38.85, 38.86),
                (0.0, 0.0, 0.001),
                (40.0, 38.86, 38.86),
            ] {
                let ll = model.log_likelihood(x, t_x, t).unwrap();
                let p = model.p_alive(x, t_x, t).unwrap();
                assert!(
                    ll.is_finite() && (0.0..=1.0).contains(&p),
                    "{x} {t_x} {t}: {ll} {p}"
                );
            }
        }
    }
}
