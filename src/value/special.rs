//! Special functions the models need: log-gamma with its sign, digamma,
//! and the Gauss hypergeometric function 2F1, which no well-kept crate
//! provides.

use anyhow::{Result, bail};

/// ln |Γ(x)| and the sign of Γ(x) (libm's `lgamma_r`).
pub fn ln_gamma_signed(x: f64) -> (f64, f64) {
    let (value, sign) = libm::lgamma_r(x);
    (value, if sign < 0 { -1.0 } else { 1.0 })
}

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b), for a, b > 0.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(e^u + e^v), without overflow.
pub fn ln_sum(u: f64, v: f64) -> f64 {
    let (high, low) = if u >= v { (u, v) } else { (v, u) };
    if low == f64::NEG_INFINITY {
        return high;
    }
    high + (low - high).exp().ln_1p()
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for x > 0: the recurrence
/// ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series.
pub fn digamma(mut x: f64) -> f64 {
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Bernoulli-number terms: 1/12, 1/120, 1/252, 1/240, 1/132, 691/32760
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32760.0)))));
    shift + x.ln() - 0.5 * inv - series
}

/// Terms a series may take before 2F1 gives up.
const MAX_TERMS: usize = 100_000;

/// The natural log of 2F1(a, b; c; z) for 0 ≤ z < 1 with a, b, c > 0, the
/// case of the BG/NBD expectation and of Pareto/NBD's likelihood (where
/// 2F1 is positive).
///
/// The power series converges slowly as z → 1, so above z = 0.5 the
/// 1 − z transformation (Abramowitz & Stegun 15.3.6) is used: two series in
/// 1 − z, weighted by gamma functions. Near-integer c − a − b makes those
/// weights cancel; the direct series is used then. The result is the
/// logarithm, and sums are rescaled as they grow, so large parameters do
/// not overflow; a series that has not converged after [`MAX_TERMS`] terms
/// is an error, never a number.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64> {
    Hyp2f1::new(a, b, c).ln_at(z)
}

/// 2F1(a, b; c; ·) ready to be evaluated at many z: the gamma-function
/// weights of the 1 − z transformation are computed once.
pub struct Hyp2f1 {
    a: f64,
    b: f64,
    c: f64,
    /// ln |weight| and sign of the two transformed series, when the
    /// transformation applies (c − a − b not an integer).
    weights: Option<[(f64, f64); 2]>,
}

impl Hyp2f1 {
    /// Prepares 2F1(a, b; c; ·).
    pub fn new(a: f64, b: f64, c: f64) -> Hyp2f1 {
        let s = c - a - b;
        let weights = ((s - s.round()).abs() >= 1e-6).then(|| {
            // A = Γ(c)Γ(c−a−b) / (Γ(c−a)Γ(c−b)), B = Γ(c)Γ(a+b−c) / (Γ(a)Γ(b))
            let (lg_c, _) = ln_gamma_signed(c);
            let ln_weight = |num: f64, den1: f64, den2: f64| {
                let (n, sn) = ln_gamma_signed(num);
                let (d1, s1) = ln_gamma_signed(den1);
                let (d2, s2) = ln_gamma_signed(den2);
                (lg_c + n - d1 - d2, sn * s1 * s2)
            };
            [ln_weight(s, c - a, c - b), ln_weight(-s, a, b)]
        });
        Hyp2f1 { a, b, c, weights }
    }

    /// ln 2F1(a, b; c; z) (see [`ln_hyp2f1`]).
    pub fn ln_at(&self, z: f64) -> Result<f64> {
        Ok(self.ln_at_each(&[z])?[0])
    }

    /// ln 2F1(a, b; c; z) at each of `zs` (see [`ln_hyp2f1`]). The series
    /// of all the z that take the same form are summed together, so each
    /// coefficient ratio (a division) is computed once for them all: the
    /// monthly steps of a CLV need 2F1 at thirteen z.
    pub fn ln_at_each(&self, zs: &[f64]) -> Result<Vec<f64>> {
        let Hyp2f1 { a, b, c, weights } = *self;
        if let Some(z) = zs.iter().find(|z| !(0.0..1.0).contains(*z)) {
            bail!("2F1({a}, {b}; {c}; {z}) is outside 0 ≤ z < 1");
        }
        if a <= 0.0 || b <= 0.0 || c <= 0.0 {
            bail!("2F1({a}, {b}; {c}; ·) needs positive parameters");
        }
        let mut out = vec![0.0; zs.len()];
        let (far, near): (Vec<usize>, Vec<usize>) =
            (0..zs.len()).partition(|&i| weights.is_some() && zs[i] > 0.5);
        let direct = |at: &[usize], out: &mut [f64]| -> Result<()> {
            let z: Vec<f64> = at.iter().map(|&i| zs[i]).collect();
            for (&i, (ln, _)) in at.iter().zip(series_each(a, b, c, &z)?) {
                out[i] = ln;
            }
            Ok(())
        };
        direct(&near, &mut out)?;
        let Some([first_weight, second_weight]) = weights else {
            return Ok(out);
        };
        // 2F1(a,b;c;z) = A · 2F1(a, b; a+b−c+1; 1−z)
        //              + (1−z)^(c−a−b) · B · 2F1(c−a, c−b; c−a−b+1; 1−z)
        let s = c - a - b;
        let w: Vec<f64> = far.iter().map(|&i| 1.0 - zs[i]).collect();
        let firsts = series_each(a, b, 1.0 - s, &w)?;
        let seconds = series_each(c - a, c - b, 1.0 + s, &w)?;
        let mut cancelled = Vec::new();
        for (k, &i) in far.iter().enumerate() {
            // each part as (ln |value|, sign)
            let (ln_f1, sign1) = firsts[k];
            let first = (first_weight.0 + ln_f1, first_weight.1 * sign1);
            let (ln_f2, sign2) = seconds[k];
            let second = (
                second_weight.0 + s * w[k].ln() + ln_f2,
                second_weight.1 * sign2,
            );
            let top = first.0.max(second.0);
            let sum = first.1 * (first.0 - top).exp() + second.1 * (second.0 - top).exp();
            if sum <= 0.0 || !sum.is_finite() {
                // the weights cancelled: the direct series instead
                cancelled.push(i);
            } else {
                out[i] = top + sum.ln();
            }
        }
        direct(&cancelled, &mut out)?;
        Ok(out)
    }
}

/// ln |Σ (a)_k (b)_k / ((c)_k k!) z^k| and the sign of the sum, for each of
/// `zs`: the power series summed together, each coefficient ratio computed
/// once. Sums are rescaled by 10^-280 whenever they grow past 10^280, so
/// no term needs a logarithm; a series that has not converged after
/// [`MAX_TERMS`] terms is an error, never a number.
fn series_each(a: f64, b: f64, c: f64, zs: &[f64]) -> Result<Vec<(f64, f64)>> {
    const SCALE: f64 = 1e280;
    let n = zs.len();
    let (mut term, mut sum, mut ln_scale) = (vec![1.0f64; n], vec![1.0f64; n], vec![0.0f64; n]);
    let mut done = vec![false; n];
    let mut left = n;
    for k in 0..MAX_TERMS {
        if left == 0 {
            break;
        }
        let k = k as f64;
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0));
        for j in 0..n {
            if done[j] {
                continue;
            }
            let step = ratio * zs[j];
            term[j] *= step;
            sum[j] += term[j];
            if sum[j].abs() > SCALE {
                term[j] /= SCALE;
                sum[j] /= SCALE;
                ln_scale[j] += SCALE.ln();
            }
            if step.abs() < 1.0 && term[j].abs() < 1e-17 * sum[j].abs() {
                done[j] = true;
                left -= 1;
            }
        }
    }
    (0..n)
        .map(|j| {
            if !done[j] {
                bail!(
                    "2F1({a}, {b}; {c}; {}) did not converge in {MAX_TERMS} terms",
                    zs[j]
                );
            }
            if sum[j] == 0.0 || !sum[j].is_finite() {
                bail!("2F1({a}, {b}; {c}; {}) is {}", zs[j], sum[j]);
            }
            Ok((sum[j].abs().ln() + ln_scale[j], sum[j].signum()))
        })
        .collect()
}

/// ∫ f over [a, b] by adaptive Simpson's rule, to about 1e-11 relative to
/// the integral (or absolute, below 1): for the smooth, monotone
/// integrands of the models' expectations that have no closed form.
pub fn integral(f: &impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let (fa, fm, fb) = (f(a), f((a + b) / 2.0), f(b));
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    let tolerance = 1e-11 * whole.abs().max(1.0);
    simpson(f, (a, fa), (b, fb), fm, whole, tolerance, 48)
}

/// One step of [`integral`]: the halves of [a, b] against the whole.
fn simpson(
    f: &impl Fn(f64) -> f64,
    (a, fa): (f64, f64),
    (b, fb): (f64, f64),
    fm: f64,
    whole: f64,
    tolerance: f64,
    depth: u32,
) -> f64 {
    let m = (a + b) / 2.0;
    let (lm, rm) = (f((a + m) / 2.0), f((m + b) / 2.0));
    let left = (m - a) / 6.0 * (fa + 4.0 * lm + fm);
    let right = (b - m) / 6.0 * (fm + 4.0 * rm + fb);
    let error = left + right - whole;
    if depth == 0 || error.abs() <= 15.0 * tolerance {
        return left + right + error / 15.0;
    }
    simpson(f, (a, fa), (m, fm), lm, left, tolerance / 2.0, depth - 1)
        + simpson(f, (m, fm), (b, fb), rm, right, tolerance / 2.0, depth - 1)
}

/// ∫ f over [0, ∞) for an f that vanishes at infinity, by [`integral`]
/// after u = w / (1 − w).
pub fn integral_to_infinity(f: &impl Fn(f64) -> f64) -> f64 {
    let mapped = |w: f64| {
        if w >= 1.0 {
            return 0.0;
        }
        let u = w / (1.0 - w);
        f(u) / ((1.0 - w) * (1.0 - w))
    };
    integral(&mapped, 0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: f64, y: f64, tol: f64) -> bool {
        (x - y).abs() <= tol * y.abs().max(1.0)
    }

    #[test]
    fn hyp2f1_matches_published_values() {
        // ../shared/REFERENCE.md
        let v = ln_hyp2f1(1.0, 2.0, 3.0, 0.5).unwrap().exp();
        assert!(close(v, 1.54517744447956, 1e-12), "{v}");
        let v = ln_hyp2f1(2.5, 3.2, 4.1, 0.9).unwrap().exp();
        assert!(close(v, 65.425664203718, 1e-10), "{v}");
    }

    #[test]
    fn hyp2f1_agrees_across_the_switch_to_1_minus_z() {
        for (a, b, c) in [(2.24, 3.43, 3.22), (0.5, 1.5, 4.7), (12.3, 7.1, 20.4)] {
            let below = series_each(a, b, c, &[0.7]).unwrap()[0].0;
            let above = ln_hyp2f1(a, b, c, 0.7).unwrap();
            assert!(
                close(below, above, 1e-10),
                "{a} {b} {c}: {below} vs {above}"
            );
        }
        // closed form: 2F1(1, 1; 2; z) = −ln(1 − z) / z
        let z = 0.999;
        let v = ln_hyp2f1(1.0, 1.0, 2.0, z).unwrap().exp();
        assert!(close(v, -(1.0 - z).ln() / z, 1e-10), "{v}");
        assert!(ln_hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        // many z at once: the same values as one at a time
        let hyp = Hyp2f1::new(2.24, 3.43, 3.22);
        let zs = [0.1, 0.5, 0.51, 0.9, 0.0];
        let each = hyp.ln_at_each(&zs).unwrap();
        for (z, v) in zs.iter().zip(&each) {
            assert_eq!(*v, hyp.ln_at(*z).unwrap(), "{z}");
        }
    }

    #[test]
    fn digamma_at_known_points() {
        let euler = 0.5772156649015329;
        assert!(close(digamma(1.0), -euler, 1e-13));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-13));
        assert!(close(digamma(10.0), 2.251752589066721, 1e-13));
        assert!(close(digamma(0.01), -100.56088545786867, 1e-13));
    }

    #[test]
    fn integrals_of_known_functions() {
        assert!(close(
            integral(&|x: f64| x.exp(), 0.0, 2.0),
            2f64.exp() - 1.0,
            1e-11
        ));
        assert!(close(
            integral(&|x: f64| 1.0 / (1.0 + x), 0.0, 9.0),
            10f64.ln(),
            1e-11
        ));
        // ∫ e^(−x) (1 + x)^(−0.6) dx over [0, ∞) = e Γ(0.4, 1)
        let v = integral_to_infinity(&|x: f64| (-x).exp() * (1.0 + x).powf(-0.6));
        assert!(close(v, 0.7203777394848533, 1e-9), "{v}");
    }
}
