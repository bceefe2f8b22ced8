//! Maximum likelihood: minimising a model's mean negative log-likelihood
//! over its log-parameters with L-BFGS (argmin) and an analytic gradient,
//! checking convergence, and standard errors from the Hessian.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Result, bail};
use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;

/// A model's mean negative log-likelihood and its gradient, both with
/// respect to the log of each parameter (which keeps parameters positive
/// without constraints).
pub type Objective<'a> = dyn Fn(&[f64]) -> (f64, Vec<f64>) + Sync + 'a;

/// Iterations L-BFGS may take.
const MAX_ITERATIONS: u64 = 2_000;

/// Evaluations of the objective a fit may use, line searches included:
/// argmin's line search has no cap of its own and can circle for ever
/// on a likelihood with no maximum.
const MAX_EVALUATIONS: usize = 5_000;

/// Largest gradient norm (of the mean log-likelihood, per log-parameter)
/// accepted as converged.
const GRADIENT_TOLERANCE: f64 = 1e-5;

/// Parameters beyond e^±15 (3e-7 .. 3.3e6) mean the optimiser ran off along
/// a flat ridge: the likelihood keeps improving as a parameter goes to 0 or
/// infinity (lifetimes then reports the huge number it stopped at).
const MAX_LN_PARAM: f64 = 15.0;

/// Σ over i < n of `term(i)` (a value and its gradient), on all cores but
/// in a fixed order: terms are added in chunks of fixed size and the chunks
/// in sequence, so the sum, and so the fitted parameters, are the same to
/// the last bit whatever the number of threads.
pub fn ordered_sum<const K: usize>(
    n: usize,
    term: impl Fn(usize) -> (f64, [f64; K]) + Sync,
) -> (f64, [f64; K]) {
    const CHUNK: usize = 4096;
    let add = |(l1, g1): (f64, [f64; K]), (l2, g2): (f64, [f64; K])| {
        let mut g = g1;
        for k in 0..K {
            g[k] += g2[k];
        }
        (l1 + l2, g)
    };
    let chunks: Vec<(f64, [f64; K])> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            (c * CHUNK..((c + 1) * CHUNK).min(n))
                .map(&term)
                .fold((0.0, [0.0; K]), add)
        })
        .collect();
    chunks.into_iter().fold((0.0, [0.0; K]), add)
}

/// The runs of equal keys in data where equal keys are adjacent (sorted
/// data): each run's key, and the run of each element. The likelihoods
/// compute their gamma-function terms, which depend on x alone, once per
/// run of x.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// The key of each run.
    pub keys: Vec<f64>,
    /// The run of each element.
    pub run_of: Vec<u32>,
}

impl Runs {
    /// The runs of `keys`.
    pub fn new(keys: &[f64]) -> Runs {
        let mut runs = Runs::default();
        runs.run_of.reserve(keys.len());
        for &key in keys {
            if runs.keys.last() != Some(&key) {
                runs.keys.push(key);
            }
            runs.run_of.push(runs.keys.len() as u32 - 1);
        }
        runs
    }
}

/// The optimum found.
#[derive(Debug, Clone)]
pub struct Minimum {
    /// The parameters (not their logs).
    pub params: Vec<f64>,
    /// The mean negative log-likelihood there (with the penalty).
    pub value: f64,
    /// Its gradient there, in the logs of the parameters.
    pub gradient: Vec<f64>,
    /// Iterations taken.
    pub iterations: u64,
    /// Norm of the gradient there.
    pub gradient_norm: f64,
}

/// Minimises `objective` from `start` (parameters, not logs, called
/// `names`). A search that stops without converging, or ends on
/// non-finite numbers, is an error naming `model`, the parameter that ran
/// off and what to try: numbers from a failed fit are never returned.
pub fn minimize(
    objective: &Objective,
    start: &[f64],
    model: &str,
    names: &[&str],
) -> Result<Minimum> {
    let problem = Problem {
        objective,
        last: Mutex::new(None),
        evaluations: AtomicUsize::new(0),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRADIENT_TOLERANCE * 1e-2)?
        .with_tolerance_cost(1e-14)?;
    let init: Vec<f64> = start.iter().map(|p| p.ln()).collect();
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(init).max_iters(MAX_ITERATIONS))
        .run();
    let advice = "try --penalty 0.001, another --time-unit (weeks suit most retail data) or \
                  another --model, or look for customers with implausible histories";
    let mut result = match result {
        Ok(result) => result,
        Err(e) => bail!("the {model} fit failed ({e}); {advice}"),
    };
    let iterations = result.state.get_iter();
    let reason = result.state.get_termination_reason().cloned();
    let Some(best) = result.state.take_best_param() else {
        bail!("the {model} fit found no parameters; {advice}");
    };
    // the last evaluation is usually at the best point: not repeated
    let last = result
        .problem
        .problem
        .as_ref()
        .and_then(|p| p.last.lock().ok().and_then(|last| last.clone()));
    let (value, gradient) = match last {
        Some((at, value, gradient)) if at == best => (value, gradient),
        _ => objective(&best),
    };
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let params: Vec<f64> = best.iter().map(|p| p.exp()).collect();
    if !value.is_finite() || params.iter().any(|p| !p.is_finite() || *p <= 0.0) {
        bail!("the {model} fit ended on non-finite numbers; {advice}");
    }
    let named: Vec<String> = (params.iter().enumerate())
        .map(|(i, p)| format!("{} = {p:.4e}", names.get(i).unwrap_or(&"?")))
        .collect();
    if let Some(i) = params.iter().position(|p| p.ln().abs() > MAX_LN_PARAM) {
        bail!(
            "the {model} fit did not converge: {} ran off to {:e} ({}), so the data do not pin \
             it down; {advice}",
            names.get(i).unwrap_or(&"a parameter"),
            params[i],
            named.join(", ")
        );
    }
    if gradient_norm > GRADIENT_TOLERANCE {
        let why = match reason {
            Some(TerminationReason::MaxItersReached) => {
                format!("{MAX_ITERATIONS} iterations were not enough")
            }
            _ => "the search stalled".to_string(),
        };
        bail!(
            "the {model} fit did not converge: {why}, gradient norm {gradient_norm:.2e} \
             (so far {}); {advice}",
            named.join(", ")
        );
    }
    Ok(Minimum {
        params,
        value,
        gradient,
        iterations,
        gradient_norm,
    })
}

/// The objective of a likelihood without an analytic gradient: `value`
/// (the mean negative log-likelihood at the parameters' logs) and its
/// gradient by central differences, step 1e-5 in each log (error about
/// 1e-10, far below the fit's gradient tolerance).
fn numeric_gradient(
    value: impl Fn(&[f64]) -> f64 + Sync,
) -> impl Fn(&[f64]) -> (f64, Vec<f64>) + Sync {
    move |logs: &[f64]| {
        let h = 1e-5;
        let gradient = (0..logs.len())
            .map(|k| {
                let mut up = logs.to_vec();
                let mut down = logs.to_vec();
                up[k] += h;
                down[k] -= h;
                (value(&up) - value(&down)) / (2.0 * h)
            })
            .collect();
        (value(logs), gradient)
    }
}

/// A maximum-likelihood fit of `K` parameters: the estimates, the
/// total log-likelihood (without the penalty), their standard errors and
/// covariance.
pub struct Estimates<const K: usize> {
    /// The parameters, in the order they were named.
    pub params: [f64; K],
    /// The total log-likelihood at them.
    pub log_likelihood: f64,
    /// Their standard errors (`None`: not identified).
    pub std_errors: [Option<f64>; K],
    /// Their covariance, the inverse Hessian.
    pub covariance: Option<Covariance>,
}

/// Maximises the total log-likelihood `total` (a function of the
/// parameters, NaN where it cannot be computed) of `n` customers from
/// `start`, with the gradient by central differences of the mean
/// negative log-likelihood plus `penalty` × Σ p²; errors name `model` and
/// the parameter (`names`) that ran off.
pub fn maximise<const K: usize>(
    total: impl Fn(&[f64; K]) -> f64 + Sync,
    start: [f64; K],
    n: f64,
    penalty: f64,
    model: &str,
    names: [&str; K],
) -> Result<Estimates<K>> {
    let objective = numeric_gradient(|logs: &[f64]| -> f64 {
        let params: [f64; K] = std::array::from_fn(|i| logs[i].exp());
        -total(&params) / n + penalty * params.iter().map(|p| p * p).sum::<f64>()
    });
    let minimum = minimize(&objective, &start, model, &names)?;
    let covariance = covariance(&objective, &minimum, n);
    let std_errors = standard_errors(covariance.as_ref(), K);
    Ok(Estimates {
        params: std::array::from_fn(|i| minimum.params[i]),
        log_likelihood: log_likelihood(&minimum, n, penalty),
        std_errors: std::array::from_fn(|i| std_errors[i]),
        covariance,
    })
}

/// The total log-likelihood at a minimum of the mean negative
/// log-likelihood of `n` customers plus `penalty` × Σ p².
pub fn log_likelihood(minimum: &Minimum, n: f64, penalty: f64) -> f64 {
    let penalty: f64 = penalty * minimum.params.iter().map(|p| p * p).sum::<f64>();
    -(minimum.value - penalty) * n
}

/// The parameters' asymptotic covariance: the inverse of the Hessian of
/// the total negative log-likelihood (`n` × the mean), by forward
/// differences of the gradient. `None` where the Hessian is singular.
pub fn covariance(objective: &Objective, minimum: &Minimum, n: f64) -> Option<Covariance> {
    let params = &minimum.params;
    let k = params.len();
    // gradient with respect to the parameters themselves: d/dp = d/dlnp / p
    let in_params =
        |g: &[f64], p: &[f64]| -> Vec<f64> { g.iter().zip(p).map(|(g, p)| g / p * n).collect() };
    let gradient = |p: &[f64]| -> Vec<f64> {
        let logs: Vec<f64> = p.iter().map(|v| v.ln()).collect();
        in_params(&objective(&logs).1, p)
    };
    // forward differences from the gradient at the minimum: k evaluations
    // of the likelihood over all the data rather than 2k; their error,
    // about 1e-5 relative, is far below what a standard error needs
    let at = in_params(&minimum.gradient, params);
    let mut hessian = vec![vec![0.0; k]; k];
    for j in 0..k {
        let h = params[j] * 1e-5;
        let mut up = params.to_vec();
        up[j] += h;
        let gu = gradient(&up);
        for i in 0..k {
            hessian[i][j] = (gu[i] - at[i]) / h;
        }
    }
    // symmetrise, then invert
    let symmetric: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| (hessian[i][j] + hessian[j][i]) / 2.0)
                .collect()
        })
        .collect();
    invert(symmetric)
}

/// A covariance matrix of parameters, row by row.
pub type Covariance = Vec<Vec<f64>>;

/// Standard errors of `k` parameters from their `covariance`: `None`
/// where a variance is not positive (the Hessian is not positive definite
/// there: the parameter is not identified by the data).
pub fn standard_errors(covariance: Option<&Covariance>, k: usize) -> Vec<Option<f64>> {
    match covariance {
        Some(inverse) => (0..k)
            .map(|i| {
                let variance = inverse[i][i];
                (variance > 0.0 && variance.is_finite()).then(|| variance.sqrt())
            })
            .collect(),
        None => vec![None; k],
    }
}

/// The inverse of a small square matrix by Gauss-Jordan elimination with
/// partial pivoting; `None` when it is singular.
fn invert(mut m: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let scale = m[col][col];
        for j in 0..n {
            m[col][j] /= scale;
            inv[col][j] /= scale;
        }
        for row in 0..n {
            if row != col {
                let factor = m[row][col];
                for j in 0..n {
                    m[row][j] -= factor * m[col][j];
                    inv[row][j] -= factor * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

/// The objective as argmin sees it; cost and gradient come from one
/// evaluation, cached for the call that follows.
struct Problem<'a> {
    objective: &'a Objective<'a>,
    last: Mutex<Option<Evaluation>>,
    evaluations: AtomicUsize,
}

/// Parameters, and the objective's value and gradient there.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

impl Problem<'_> {
    /// The objective at `param`; an error (which stops argmin) once the
    /// evaluation budget is spent or the value is not a number.
    fn evaluate(&self, param: &[f64]) -> Result<(f64, Vec<f64>), argmin::core::Error> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((p, value, gradient)) = last.as_ref()
            && p.as_slice() == param
        {
            return Ok((*value, gradient.clone()));
        }
        if self.evaluations.fetch_add(1, Ordering::Relaxed) >= MAX_EVALUATIONS {
            return Err(anyhow::anyhow!(
                "no optimum after {MAX_EVALUATIONS} evaluations of the likelihood"
            ));
        }
        let (value, gradient) = (self.objective)(param);
        if value.is_nan() || gradient.iter().any(|g| g.is_nan()) {
            return Err(anyhow::anyhow!(
                "the likelihood is not a number at {param:?}"
            ));
        }
        *last = Some((param.to_vec(), value, gradient.clone()));
        Ok((value, gradient))
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, param: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.evaluate(param)?.0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, param: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(param)?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_a_bowl_in_log_space_with_standard_errors() {
        // mean NLL of a normal sample with known sd, in terms of ln(mu):
        // f(m) = (m - 3)^2 / 2, so the minimum is at 3 with curvature 1
        let objective = |logs: &[f64]| {
            let m = logs[0].exp();
            ((m - 3.0).powi(2) / 2.0, vec![(m - 3.0) * m])
        };
        let min = minimize(&objective, &[1.0], "test", &["x"]).unwrap();
        assert!((min.params[0] - 3.0).abs() < 1e-6, "{min:?}");
        // total NLL over n = 100: curvature 100, so the SE is 0.1
        let se = standard_errors(covariance(&objective, &min, 100.0).as_ref(), 1);
        assert!((se[0].unwrap() - 0.1).abs() < 1e-6, "{se:?}");
    }

    #[test]
    fn a_fit_without_a_minimum_is_an_error_not_numbers() {
        // flattens out as the parameter grows: the gradient vanishes at
        // infinity, where lifetimes would report a huge number
        let objective = |logs: &[f64]| ((-logs[0]).exp(), vec![-(-logs[0]).exp()]);
        let err = minimize(&objective, &[1.0], "test", &["x"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("the test fit"), "{err}");
    }

    #[test]
    fn inverts_and_refuses_singular_matrices() {
        let inv = invert(vec![vec![4.0, 7.0], vec![2.0, 6.0]]).unwrap();
        assert!((inv[0][0] - 0.6).abs() < 1e-12 && (inv[0][1] + 0.7).abs() < 1e-12);
        assert!(invert(vec![vec![1.0, 2.0], vec![2.0, 4.0]]).is_none());
    }
}
