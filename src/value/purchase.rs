//! The purchase models behind one interface: what `value`, the holdout
//! and CLV ask of a model of purchases and dropout (BG/NBD, Pareto/NBD),
//! which one was fitted, and its parameters for people and the model file.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::bgbb::{BgBb, BgBbFit};
use super::bgnbd::{BgNbd, BgNbdFit, Histories};
use super::mbgnbd::{MbgNbd, MbgNbdFit};
use super::pareto_nbd::{ParetoNbd, ParetoNbdFit};

/// The purchase models `--model` chooses from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PurchaseModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005): dropout after a purchase.
    #[default]
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): dropout at any
    /// time.
    Pnbd,
    /// MBG/NBD (Batislam, Denizel & Filiztekin 2007): dropout after a
    /// purchase, the first one included.
    Mbgnbd,
    /// BG/BB (Fader, Hardie & Shang 2010): a purchase or not at each
    /// discrete opportunity, dropout before one.
    Bgbb,
}

impl PurchaseModelKind {
    /// The model's name for people.
    pub fn name(self) -> &'static str {
        match self {
            PurchaseModelKind::Bgnbd => "BG/NBD",
            PurchaseModelKind::Pnbd => "Pareto/NBD",
            PurchaseModelKind::Mbgnbd => "MBG/NBD",
            PurchaseModelKind::Bgbb => "BG/BB",
        }
    }
}

/// What is asked of a purchase model, per customer with x repeat
/// purchases, the last at t_x, observed for T (the model's time unit).
pub trait PurchaseModel: Sync {
    /// P(alive) at T.
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64>;
    /// Purchases expected over the next `horizon`.
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64>;
    /// Purchases expected over each of `horizons` if still alive at T
    /// (they depend on x and T alone).
    fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>>;
    /// P(no purchase over the next `horizon`).
    fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64>;
    /// Purchases expected in the first `t` of a new customer's life.
    fn unconditional_expected_purchases(&self, t: f64) -> Result<f64>;
    /// P(no purchase over the next `horizon` | alive at T) when it depends
    /// on x and T alone and is costly (computed once per (x, T)); `None`:
    /// [`PurchaseModel::p_no_purchase`] per history.
    fn p_no_purchase_if_alive(&self, _horizon: f64, _x: f64, _t: f64) -> Option<f64> {
        None
    }
}

impl PurchaseModel for BgNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(BgNbd::p_alive(self, x, t_x, t))
    }
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        BgNbd::expected_purchases(self, horizon, x, t_x, t)
    }
    fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>> {
        BgNbd::expected_purchases_if_alive(self, horizons, x, t)
    }
    fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(BgNbd::p_no_purchase(self, horizon, x, t_x, t))
    }
    fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        BgNbd::unconditional_expected_purchases(self, t)
    }
}

impl PurchaseModel for ParetoNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        ParetoNbd::p_alive(self, x, t_x, t)
    }
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        ParetoNbd::expected_purchases(self, horizon, x, t_x, t)
    }
    fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>> {
        Ok((horizons.iter())
            .map(|h| self.expected_if_alive(*h, x, t))
            .collect())
    }
    fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        ParetoNbd::p_no_purchase(self, horizon, x, t_x, t)
    }
    fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        Ok(ParetoNbd::unconditional_expected_purchases(self, t))
    }
    fn p_no_purchase_if_alive(&self, horizon: f64, x: f64, t: f64) -> Option<f64> {
        Some(ParetoNbd::p_no_purchase_if_alive(self, horizon, x, t))
    }
}

impl PurchaseModel for MbgNbd {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(MbgNbd::p_alive(self, x, t_x, t))
    }
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        MbgNbd::expected_purchases(self, horizon, x, t_x, t)
    }
    fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>> {
        MbgNbd::expected_purchases_if_alive(self, horizons, x, t)
    }
    fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(MbgNbd::p_no_purchase(self, horizon, x, t_x, t))
    }
    fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        MbgNbd::unconditional_expected_purchases(self, t)
    }
}

impl PurchaseModel for BgBb {
    fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(BgBb::p_alive(self, x, t_x, t))
    }
    fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(BgBb::expected_purchases(self, horizon, x, t_x, t))
    }
    fn expected_purchases_if_alive(&self, horizons: &[f64], x: f64, t: f64) -> Result<Vec<f64>> {
        Ok(BgBb::expected_purchases_if_alive(self, horizons, x, t))
    }
    fn p_no_purchase(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Result<f64> {
        Ok(BgBb::p_no_purchase(self, horizon, x, t_x, t))
    }
    fn unconditional_expected_purchases(&self, t: f64) -> Result<f64> {
        Ok(BgBb::unconditional_expected_purchases(self, t))
    }
}

/// A fitted purchase model, saved under its key (`"bgnbd": {…}` or
/// `"pnbd": {…}`) in the model file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PurchaseFit {
    /// BG/NBD.
    #[serde(rename = "bgnbd")]
    BgNbd(BgNbdFit),
    /// Pareto/NBD.
    #[serde(rename = "pnbd")]
    ParetoNbd(ParetoNbdFit),
    /// MBG/NBD.
    #[serde(rename = "mbgnbd")]
    MbgNbd(MbgNbdFit),
    /// BG/BB.
    #[serde(rename = "bgbb")]
    BgBb(BgBbFit),
}

impl PurchaseFit {
    /// Fits the model of `kind` on `histories`, with an L2 `penalty`.
    pub fn fit(kind: PurchaseModelKind, histories: &Histories, penalty: f64) -> Result<Self> {
        Ok(match kind {
            PurchaseModelKind::Bgnbd => PurchaseFit::BgNbd(BgNbd::fit(histories, penalty)?),
            PurchaseModelKind::Pnbd => PurchaseFit::ParetoNbd(ParetoNbd::fit(histories, penalty)?),
            PurchaseModelKind::Mbgnbd => PurchaseFit::MbgNbd(MbgNbd::fit(histories, penalty)?),
            PurchaseModelKind::Bgbb => PurchaseFit::BgBb(BgBb::fit(histories, penalty)?),
        })
    }

    /// Which model it is.
    pub fn kind(&self) -> PurchaseModelKind {
        match self {
            PurchaseFit::BgNbd(_) => PurchaseModelKind::Bgnbd,
            PurchaseFit::ParetoNbd(_) => PurchaseModelKind::Pnbd,
            PurchaseFit::MbgNbd(_) => PurchaseModelKind::Mbgnbd,
            PurchaseFit::BgBb(_) => PurchaseModelKind::Bgbb,
        }
    }

    /// The model, to predict with.
    pub fn model(&self) -> &dyn PurchaseModel {
        match self {
            PurchaseFit::BgNbd(fit) => &fit.params,
            PurchaseFit::ParetoNbd(fit) => &fit.params,
            PurchaseFit::MbgNbd(fit) => &fit.params,
            PurchaseFit::BgBb(fit) => &fit.params,
        }
    }

    /// Each parameter's name, estimate and standard error.
    pub fn parameters(&self) -> Vec<(&'static str, f64, Option<f64>)> {
        let (names, values, se) = match self {
            PurchaseFit::BgNbd(f) => {
                let p = f.params;
                (
                    ["r", "alpha", "a", "b"],
                    [p.r, p.alpha, p.a, p.b],
                    f.std_errors,
                )
            }
            PurchaseFit::ParetoNbd(f) => {
                let p = f.params;
                (
                    ["r", "alpha", "s", "beta"],
                    [p.r, p.alpha, p.s, p.beta],
                    f.std_errors,
                )
            }
            PurchaseFit::MbgNbd(f) => {
                let p = f.params;
                (
                    ["r", "alpha", "a", "b"],
                    [p.r, p.alpha, p.a, p.b],
                    f.std_errors,
                )
            }
            PurchaseFit::BgBb(f) => {
                let p = f.params;
                let values = [p.alpha, p.beta, p.gamma, p.delta];
                (["alpha", "beta", "gamma", "delta"], values, f.std_errors)
            }
        };
        (names.into_iter().zip(values).zip(se))
            .map(|((name, value), se)| (name, value, se))
            .collect()
    }

    /// The same model with the parameters `values`, in the order of
    /// [`PurchaseFit::parameters`] (a draw of `--intervals`).
    pub fn with_parameters(&self, v: &[f64]) -> PurchaseFit {
        let mut fit = self.clone();
        match &mut fit {
            PurchaseFit::BgNbd(f) => {
                f.params = BgNbd {
                    r: v[0],
                    alpha: v[1],
                    a: v[2],
                    b: v[3],
                }
            }
            PurchaseFit::ParetoNbd(f) => {
                f.params = ParetoNbd {
                    r: v[0],
                    alpha: v[1],
                    s: v[2],
                    beta: v[3],
                }
            }
            PurchaseFit::MbgNbd(f) => {
                f.params = MbgNbd {
                    r: v[0],
                    alpha: v[1],
                    a: v[2],
                    b: v[3],
                }
            }
            PurchaseFit::BgBb(f) => {
                f.params = BgBb {
                    alpha: v[0],
                    beta: v[1],
                    gamma: v[2],
                    delta: v[3],
                }
            }
        }
        fit
    }

    /// The parameters' covariance, when the fit kept it.
    pub fn covariance(&self) -> Option<&super::fit::Covariance> {
        match self {
            PurchaseFit::BgNbd(f) => f.covariance.as_ref(),
            PurchaseFit::ParetoNbd(f) => f.covariance.as_ref(),
            PurchaseFit::MbgNbd(f) => f.covariance.as_ref(),
            PurchaseFit::BgBb(f) => f.covariance.as_ref(),
        }
    }

    /// The maximised log-likelihood.
    pub fn log_likelihood(&self) -> f64 {
        match self {
            PurchaseFit::BgNbd(f) => f.log_likelihood,
            PurchaseFit::ParetoNbd(f) => f.log_likelihood,
            PurchaseFit::MbgNbd(f) => f.log_likelihood,
            PurchaseFit::BgBb(f) => f.log_likelihood,
        }
    }
}
