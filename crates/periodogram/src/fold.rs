//! Phase folding.

/// Phase in `[0, 1)` of each time for `period` (> 0) and reference epoch `t0`:
/// `frac((t - t0) / period)`.
///
/// A phase closer to a whole cycle than the rounding error of `(t - t0) / period` itself is
/// returned as exactly 0, so `fold(&[t0 + k·P], P, t0)` is `[0.0]` rather than `0.99999…`.
/// Times (or `t0`) that are not finite, or a `period` that is not finite and positive, give NaN
/// (this function has no error channel and must not panic).
pub fn fold(time: &[f64], period: f64, t0: f64) -> Vec<f64> {
    if !(period.is_finite() && period > 0.0) || !t0.is_finite() {
        return vec![f64::NAN; time.len()];
    }
    time.iter().map(|&t| phase(t, period, t0)).collect()
}

fn phase(t: f64, period: f64, t0: f64) -> f64 {
    let cycles = (t - t0) / period;
    if !cycles.is_finite() {
        return f64::NAN;
    }
    // Rounding of t - t0 (a few ulp of the larger operand) and of the division, in cycles.
    let tol = 8.0 * f64::EPSILON * ((t.abs() + t0.abs()) / period + cycles.abs() + 1.0);
    let frac = cycles - cycles.floor();
    if frac <= tol || 1.0 - frac <= tol {
        0.0
    } else {
        frac
    }
}
