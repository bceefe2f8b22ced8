//! The models' predictions per customer, as columns: P(alive), expected
//! purchases, P(no purchase), expected order value, CLV and DERT, each
//! computed once per distinct history or (x, T) pair.

use anyhow::{Result, anyhow};
use hashbrown::HashMap;
use polars::prelude::*;
use rayon::prelude::*;

use super::purchase::PurchaseFit;
use super::{Model, ModelInputs, ValueConfig, clv};

/// The model's predictions per customer, as columns: `p_alive`,
/// `expected_purchases` and `p_no_purchase` over the horizon, and, with a
/// spend model, `expected_order_value` and `clv` (× `margin_rate`).
pub fn predict(
    inputs: &ModelInputs,
    model: &Model,
    config: &ValueConfig,
    margin_rate: f64,
) -> Result<Vec<Column>> {
    let params = model.purchase.model();
    let horizon = config.horizon.in_units(model.time_unit);
    let month = clv::month(model.time_unit);
    let discount = clv::monthly_rate(config.discount_rate);
    // everything but spend depends on the history alone, and what a
    // customer still active is expected to buy on (x, T) alone: each is
    // computed once per distinct history or (x, T)
    let histories = &inputs.histories;
    let mut pairs: HashMap<(u64, u64), u32> = HashMap::new();
    let pair_of: Vec<u32> = (0..histories.x.len())
        .map(|g| {
            let next = pairs.len() as u32;
            *pairs
                .entry((histories.x[g].to_bits(), histories.t[g].to_bits()))
                .or_insert(next)
        })
        .collect();
    let mut distinct = vec![(0.0, 0.0); pairs.len()];
    for ((x, t), k) in pairs {
        distinct[k as usize] = (f64::from_bits(x), f64::from_bits(t));
    }
    let if_alive: Vec<(f64, f64)> = (distinct.par_iter())
        .map(|x_t| clv::discounted_purchases_if_alive(params, *x_t, horizon, month, discount))
        .collect::<Result<_>>()?;
    let quiet_if_alive: Vec<Option<f64>> = (distinct.par_iter())
        .map(|(x, t)| params.p_no_purchase_if_alive(horizon, *x, *t))
        .collect();
    let per_history: Vec<Prediction> = (0..histories.x.len())
        .into_par_iter()
        .map(|g| {
            let (x, t_x, t) = (histories.x[g], histories.t_x[g], histories.t[g]);
            let p_alive = params.p_alive(x, t_x, t)?;
            let (discounted, expected) = if_alive[pair_of[g] as usize];
            Ok(Prediction {
                p_alive,
                expected_purchases: p_alive * expected,
                p_no_purchase: match quiet_if_alive[pair_of[g] as usize] {
                    Some(quiet) => 1.0 - p_alive + p_alive * quiet,
                    None => params.p_no_purchase(horizon, x, t_x, t)?,
                },
                expected_order_value: f64::NAN,
                clv: p_alive * discounted,
            })
        })
        .collect::<Result<_>>()?;
    let predictions: Vec<Prediction> = (0..inputs.x.len())
        .into_par_iter()
        .map(|i| -> Result<Prediction> {
            let mut prediction = per_history[inputs.history_of[i] as usize].clone();
            match (&model.gamma_gamma, &model.spend_fallback, &inputs.m) {
                (_, Some(fallback), Some(m)) => {
                    let value = fallback.expected_order_value(inputs.x[i], m[i]);
                    prediction.expected_order_value = value;
                    prediction.clv *= value * margin_rate;
                }
                (Some(gg), None, Some(m)) => {
                    let value = gg
                        .params
                        .expected_order_value(inputs.x[i], m[i].max(0.0))
                        .ok_or_else(|| {
                            anyhow!(
                                "the spend model has q ≤ 1: its mean order value does not exist"
                            )
                        })?;
                    prediction.expected_order_value = value;
                    prediction.clv *= value * margin_rate;
                }
                _ => prediction.clv = f64::NAN,
            }
            Ok(prediction)
        })
        .collect::<Result<_>>()?;
    let column = |name: &str, pick: fn(&Prediction) -> f64| {
        Column::new(
            name.into(),
            predictions.iter().map(pick).collect::<Vec<f64>>(),
        )
    };
    let mut columns = vec![
        column("p_alive", |p| p.p_alive),
        column("expected_purchases", |p| p.expected_purchases),
        column("p_no_purchase", |p| p.p_no_purchase),
    ];
    if (model.gamma_gamma.is_some() || model.spend_fallback.is_some()) && inputs.m.is_some() {
        columns.push(column("expected_order_value", |p| p.expected_order_value));
        columns.push(column("clv", |p| p.clv));
    }
    let per_year = model.time_unit.per_year();
    match &model.purchase {
        // at the continuous rate per time unit equal to the annual one
        PurchaseFit::ParetoNbd(fit) => {
            let delta = config.discount_rate.ln_1p() / per_year;
            // the lifetime part depends on T alone: once per distinct T
            let mut times: Vec<f64> = inputs.histories.t.clone();
            times.sort_by(f64::total_cmp);
            times.dedup();
            let lifetimes: HashMap<u64, f64> = (times.par_iter())
                .map(|t| (t.to_bits(), fit.params.discounted_lifetime(delta, *t)))
                .collect();
            columns.push(dert(inputs, |x, t_x, t| {
                fit.params.dert_with(lifetimes[&t.to_bits()], x, t_x, t)
            })?);
        }
        // at the rate per opportunity equal to the annual one
        PurchaseFit::BgBb(fit) => {
            let d = (config.discount_rate.ln_1p() / per_year).exp_m1();
            columns.push(dert(inputs, |x, t_x, n| fit.params.dert(d, x, t_x, n))?);
        }
        _ => {}
    }
    Ok(columns)
}

/// The discounted expected residual transactions per customer (`dert`)
/// by the model's `formula` of (x, t_x, T): each history once.
fn dert(
    inputs: &ModelInputs,
    formula: impl Fn(f64, f64, f64) -> Result<f64> + Sync,
) -> Result<Column> {
    let h = &inputs.histories;
    let per_history: Vec<f64> = (0..h.x.len())
        .into_par_iter()
        .map(|g| formula(h.x[g], h.t_x[g], h.t[g]))
        .collect::<Result<_>>()?;
    let values: Vec<f64> = (inputs.history_of.iter())
        .map(|&g| per_history[g as usize])
        .collect();
    Ok(Column::new("dert".into(), values))
}

/// One customer's predictions (per history, `clv` holds the discounted
/// purchases until the spend is known).
#[derive(Clone)]
struct Prediction {
    p_alive: f64,
    expected_purchases: f64,
    p_no_purchase: f64,
    expected_order_value: f64,
    clv: f64,
}
