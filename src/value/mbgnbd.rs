//! The MBG/NBD model (Batislam, Denizel & Filiztekin 2007): BG/NBD where a
//! customer may also drop out at the first purchase, so that one-time
//! buyers can be dead too (in BG/NBD they are alive for sure). Its
//! expectations are BG/NBD's with b + 1 in place of b (and, for a new
//! customer, × b / (a + b), the chance of surviving the first purchase).

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::bgnbd::{BgNbd, Histories};
use super::fit;
use super::special::ln_gamma;

/// The MBG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MbgNbd {
    /// Shape of the purchase rates' distribution.
    pub r: f64,
    /// Scale of the purchase rates' distribution (in the time unit).
    pub alpha: f64,
    /// First shape of the dropout probabilities' beta distribution.
    pub a: f64,
    /// Second shape of the dropout probabilities' beta distribution.
    pub b: f64,
}

/// A fitted MBG/NBD model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MbgNbdFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: MbgNbd,
    /// Total log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// Standard errors of r, α, a, b from the Hessian.
    pub std_errors: [Option<f64>; 4],
    /// The parameters' asymptotic covariance (the inverse Hessian), for
    /// `--intervals`; absent in model files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<super::fit::Covariance>,
}

impl MbgNbd {
    /// BG/NBD with b + 1: its expectations for a customer still alive are
    /// MBG/NBD's.
    fn shifted(&self) -> BgNbd {
        BgNbd {
            r: self.r,
            alpha: self.alpha,
            a: self.a,
            b: self.b + 1.0,
        }
    }

    /// ln of the odds of being dead against alive at T, for a history.
    fn ln_odds_dead(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        (a / (b + x)).ln() + (r + x) * ((alpha + t) / (alpha + t_x)).ln()
    }

    /// The log-likelihood of one customer's history (x, t_x, T).
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x + 1.0) - ln_gamma(b) - ln_gamma(a + b + x + 1.0);
        let a3 = -(r + x) * (alpha + t).ln();
        // ln(1 + e^odds), without overflow
        let odds = self.ln_odds_dead(x, t_x, t);
        a1 + a2 + a3 + odds.max(0.0) + (-odds.abs()).exp().ln_1p()
    }

    /// The log-likelihood of every history, weighted by its customers,
    /// added in a fixed order.
    pub fn total_log_likelihood(&self, h: &Histories) -> f64 {
        h.weighted_sum(|x, t_x, t| self.log_likelihood(x, t_x, t))
    }

    /// Fits the model by maximum likelihood (`penalty` as for BG/NBD),
    /// the gradient by central differences.
    pub fn fit(histories: &Histories, penalty: f64) -> Result<MbgNbdFit> {
        histories.require_repeats("MBG/NBD")?;
        let model = |[r, alpha, a, b]: [f64; 4]| MbgNbd { r, alpha, a, b };
        let fit = fit::maximise(
            |p| model(*p).total_log_likelihood(histories),
            [1.0, histories.scale_guess(), 1.0, 1.0],
            histories.customers(),
            penalty,
            "MBG/NBD",
            ["r", "alpha", "a", "b"],
        )?;
        Ok(MbgNbdFit {
            params: model(fit.params),
            log_likelihood: fit.log_likelihood,
            std_errors: fit.std_errors,
            covariance: fit.covariance,
        })
    }

    /// P(alive) at T: 1 / (1 + a / (b + x) × ((α + T) / (α + t_x))^(r + x)),
    /// below 1 for one-time buyers too.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        1.0 / (1.0 + self.ln_odds_dead(x, t_x, t).exp())
    }

    /// Purchases expected over each of `horizons` of a customer still
    /// alive at T.
    pub fn expected_purchases_if_alive(
        &self,
        horizons: &[f64],
        x: f64,
        t: f64,
    ) -> Result<Vec<f64>> {
        self.shifted().expected_purchases_if_alive(horizons, x, t)
    }

    /// Purchases expected over the next `horizon` of a customer with
    /// history (x, t_x, T).
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        let if_alive = self.expected_purchases_if_alive(&[horizon], x, t)?[0];
        Ok(self.p_alive(x, t_x, t) * if_alive)
    }

    /// P(no purchase over the next `horizon`): dead, or alive and no
    /// purchase (alive, a customer leaves only at a purchase).
    pub fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> f64 {
        let alive = self.p_alive(x, t_x, t);
        let quiet = ((self.alpha + t) / (self.alpha + t + horizon)).powf(self.r + x);
        1.0 - alive + alive * quiet
    }

    /// Repeat purchases expected in the first `t` of a new customer's
    /// life: b / (a − 1) × [1 − 2F1(r, b + 1; a + b; t / (α + t)) (α / (α +
    /// t))^r], BG/NBD's with b + 1 times b / (a + b).
    pub fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        let survives = self.b / (self.a + self.b);
        Ok(survives * self.shifted().unconditional_expected_purchases(t)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::value::testing::cdnow_histories as cdnow;

    #[test]
    fn the_fit_reproduces_lifetimes() {
        // ../shared/REFERENCE.md: r 0.525, alpha 6.183, a 0.891, b 1.614,
        // LL -9582.1327
        let fit = MbgNbd::fit(&cdnow(), 0.0).unwrap();
        let p = fit.params;
        for (got, want) in [(p.r, 0.525), (p.alpha, 6.183), (p.a, 0.891), (p.b, 1.614)] {
            assert!((got - want).abs() < 1e-3, "{p:?}");
        }
        assert!(
            (fit.log_likelihood - -9582.1327).abs() < 1e-2,
            "{}",
            fit.log_likelihood
        );
        assert!(fit.std_errors.iter().all(|s| s.is_some_and(|s| s > 0.0)));
    }

    #[test]
    fn the_formulas_match_lifetimes_and_the_model() {
        let model = MbgNbd {
            r: 0.525,
            alpha: 6.183,
            a: 0.891,
            b: 1.614,
        };
        // one-time buyers can be dead: P(alive) = 1 / (1 + a / b × ((α +
        // T) / α)^r) at x = 0, below 1
        let p = model.p_alive(0.0, 0.0, 38.86);
        let odds = 0.891 / 1.614 * ((6.183f64 + 38.86) / 6.183).powf(0.525);
        assert!((p - 1.0 / (1.0 + odds)).abs() < 1e-12 && p < 1.0, "{p}");
        // the conditional expectation is lifetimes' closed form
        let (x, t_x, t, h): (f64, f64, f64, f64) = (2.0, 30.43, 38.86, 39.0);
        let hyp = crate::value::special::ln_hyp2f1(
            model.r + x,
            model.b + x + 1.0,
            model.a + model.b + x,
            h / (model.alpha + t + h),
        )
        .unwrap()
        .exp();
        let numerator = (model.a + model.b + x) / (model.a - 1.0)
            * (1.0 - hyp * ((model.alpha + t) / (model.alpha + t + h)).powf(model.r + x));
        let denominator = 1.0
            + model.a / (model.b + x) * ((model.alpha + t) / (model.alpha + t_x)).powf(model.r + x);
        let e = model.expected_purchases(h, x, t_x, t).unwrap();
        assert!((e - numerator / denominator).abs() < 1e-10, "{e}");
        // a new customer: lifetimes' b / (a − 1) [1 − 2F1 (α / (α + t))^r]
        let hyp = crate::value::special::ln_hyp2f1(
            model.r,
            model.b + 1.0,
            model.a + model.b,
            52.0 / (model.alpha + 52.0),
        )
        .unwrap()
        .exp();
        let want = model.b / (model.a - 1.0)
            * (1.0 - hyp * (model.alpha / (model.alpha + 52.0)).powf(model.r));
        let got = model.unconditional_expected_purchases(52.0).unwrap();
        assert!((got - want).abs() < 1e-10, "{got} against {want}");
    }
}
