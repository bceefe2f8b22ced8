//! The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005,
//! "RFM and CLV"; Fader & Hardie's note of 2013): fitted on repeat
//! customers' mean repeat-purchase value.

use anyhow::{Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::fit::{self, Runs};
use super::special::{digamma, ln_gamma};

/// The Gamma-Gamma parameters: a purchase's value ~ Gamma(p, ν) with
/// ν ~ Gamma(q, γ) across customers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of a purchase's value.
    pub p: f64,
    /// Shape of the customers' scale distribution.
    pub q: f64,
    /// Scale of the customers' scale distribution (in money).
    pub gamma: f64,
}

/// A fitted Gamma-Gamma model and what it was fitted on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GammaGammaFit {
    /// The parameters.
    #[serde(flatten)]
    pub params: GammaGamma,
    /// Total log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// Standard errors of p, q, γ from the Hessian (absent in model files
    /// written before they were).
    #[serde(default)]
    pub std_errors: [Option<f64>; 3],
    /// The parameters' asymptotic covariance (the inverse Hessian), for
    /// `--intervals`; absent in model files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<super::fit::Covariance>,
    /// Customers the model was fitted on (x > 0, mean value > 0).
    #[serde(skip)]
    pub customers: usize,
    /// Repeat customers left out for a mean value ≤ 0 (refunds only).
    #[serde(skip)]
    pub excluded: usize,
    /// Pearson correlation of x and mean value among the fitted customers;
    /// the model assumes they are independent.
    #[serde(skip)]
    pub correlation: f64,
}

impl GammaGamma {
    /// Fits the model on the customers with x > 0 repeat purchases and a
    /// positive mean repeat-purchase value `m`; the others are skipped (and
    /// repeat customers with m ≤ 0 counted).
    pub fn fit(x: &[f64], m: &[f64], penalty: f64) -> Result<GammaGammaFit> {
        let repeat: Vec<(f64, f64)> = x
            .iter()
            .zip(m)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, m)| (*x, *m))
            .collect();
        let mut used: Vec<(f64, f64)> = repeat.iter().copied().filter(|(_, m)| *m > 0.0).collect();
        // by x, so that the terms of each x are computed once
        used.par_sort_by(|p, q| p.0.total_cmp(&q.0));
        let excluded = repeat.len() - used.len();
        if used.len() < 2 {
            bail!(
                "the Gamma-Gamma spend model needs at least two repeat customers with a \
                 positive mean repeat-purchase value ({} found, {excluded} with refunds only)",
                used.len()
            );
        }
        let n = used.len() as f64;
        let spenders: Vec<Spender> = used
            .iter()
            .map(|&(x, m)| Spender {
                x,
                xm: x * m,
                ln_m: m.ln(),
                ln_xm: (x * m).ln(),
            })
            .collect();
        let x_runs = Runs::new(&used.iter().map(|(x, _)| *x).collect::<Vec<f64>>());
        let objective = |logs: &[f64]| {
            let params = GammaGamma {
                p: logs[0].exp(),
                q: logs[1].exp(),
                gamma: logs[2].exp(),
            };
            let (ll, g) = params.total_log_likelihood(&spenders, &x_runs);
            let values = [params.p, params.q, params.gamma];
            let nll = -ll / n + penalty * values.iter().map(|v| v * v).sum::<f64>();
            let grad = (0..3)
                .map(|i| values[i] * (-g[i] / n + 2.0 * penalty * values[i]))
                .collect();
            (nll, grad)
        };
        let mean_m = used.iter().map(|(_, m)| m).sum::<f64>() / n;
        let minimum = fit::minimize(
            &objective,
            &[1.0, 1.0, mean_m.max(1e-6)],
            "Gamma-Gamma",
            &["p", "q", "gamma"],
        )?;
        let covariance = fit::covariance(&objective, &minimum, n);
        let std_errors = fit::standard_errors(covariance.as_ref(), 3);
        let params = &minimum.params;
        let fitted = GammaGamma {
            p: params[0],
            q: params[1],
            gamma: params[2],
        };
        Ok(GammaGammaFit {
            params: fitted,
            log_likelihood: fit::log_likelihood(&minimum, n, penalty),
            std_errors: [std_errors[0], std_errors[1], std_errors[2]],
            covariance,
            customers: used.len(),
            excluded,
            correlation: correlation(&used),
        })
    }

    /// Log-likelihood over the repeat customers, and its gradient in
    /// (p, q, γ). `data` sorted by x, whose runs are `x_runs`: the
    /// gamma-function terms are computed once per distinct x.
    fn total_log_likelihood(&self, data: &[Spender], x_runs: &Runs) -> (f64, [f64; 3]) {
        let GammaGamma { p, q, gamma } = *self;
        // per x: lnΓ(px+q) − lnΓ(px) − lnΓ(q), ψ(px+q) − ψ(px), ψ(px+q) − ψ(q)
        let levels: Vec<[f64; 3]> = x_runs
            .keys
            .iter()
            .map(|&x| {
                let px = p * x;
                [
                    ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q),
                    digamma(px + q) - digamma(px),
                    digamma(px + q) - digamma(q),
                ]
            })
            .collect();
        let ln_gamma_scale = gamma.ln();
        super::fit::ordered_sum(data.len(), |i| {
            let Spender { x, xm, ln_m, ln_xm } = data[i];
            let [gammas, dp_gammas, dq_gammas] = levels[x_runs.run_of[i] as usize];
            let px = p * x;
            // ln of the customers' scale at the data: ln(γ + x·m)
            let ln_scale = (xm + gamma).ln();
            let ll = gammas + q * ln_gamma_scale - ln_m + px * ln_xm - (px + q) * ln_scale;
            let dp = x * (dp_gammas + ln_xm - ln_scale);
            let dq = dq_gammas + ln_gamma_scale - ln_scale;
            let dg = q / gamma - (px + q) / (xm + gamma);
            (ll, [dp, dq, dg])
        })
    }

    /// The expected value of a customer's next purchases given x repeat
    /// purchases with mean value m: a weighted mean of the population mean
    /// and the customer's own. `None` when q ≤ 1 (the mean does not exist).
    pub fn expected_order_value(&self, x: f64, m: f64) -> Option<f64> {
        let GammaGamma { p, q, gamma } = *self;
        if q <= 1.0 {
            return None;
        }
        let population = gamma * p / (q - 1.0);
        if x <= 0.0 {
            return Some(population);
        }
        let weight = p * x / (p * x + q - 1.0);
        Some((1.0 - weight) * population + weight * m)
    }
}

/// A repeat customer as the likelihood reads it: x repeat purchases of
/// mean value m, with the logs that do not depend on the parameters.
#[derive(Clone, Copy)]
struct Spender {
    x: f64,
    xm: f64,
    ln_m: f64,
    ln_xm: f64,
}

/// Pearson correlation of the pairs' two values.
fn correlation(data: &[(f64, f64)]) -> f64 {
    let n = data.len() as f64;
    let (mx, my) = (
        data.iter().map(|d| d.0).sum::<f64>() / n,
        data.iter().map(|d| d.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in data {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_customers_with_refunds_only_are_counted_and_refused() {
        let err = GammaGamma::fit(&[0.0, 1.0, 2.0, 1.0], &[0.0, -5.0, 0.0, 12.0], 0.0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("(1 found, 2 with refunds only)"), "{err}");
    }

    #[test]
    fn expected_order_value_shrinks_towards_the_population_mean() {
        let model = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let population = model.expected_order_value(0.0, 0.0).unwrap();
        assert!((population - 15.44 * 6.25 / 2.74).abs() < 1e-12);
        let one = model.expected_order_value(1.0, 100.0).unwrap();
        let many = model.expected_order_value(20.0, 100.0).unwrap();
        assert!(population < one && one < many && many < 100.0);
        assert!(
            GammaGamma { q: 0.9, ..model }
                .expected_order_value(1.0, 5.0)
                .is_none()
        );
    }
}
