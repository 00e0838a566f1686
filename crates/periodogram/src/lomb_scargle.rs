//! Generalised (floating-mean) Lomb–Scargle periodogram, Zechmeister & Kürster (2009).
//!
//! With normalised weights `w_i` (`Σ w = 1`), centred magnitudes `y_i` (`Σ w y = 0`) and
//! `c_i = cos 2πf t_i`, `s_i = sin 2πf t_i`:
//!
//! ```text
//! YY = Σ w y²      YC = Σ w y c      YS = Σ w y s
//! CC = Σ w c² − C²   SS = Σ w s² − S²   CS = Σ w c s − C·S   (C = Σ w c, S = Σ w s)
//! p(f) = (SS·YC² + CC·YS² − 2·CS·YC·YS) / (YY · (CC·SS − CS²))
//! ```
//!
//! `p` is `1 − χ²(f)/χ²₀` of the weighted least-squares fit of `a cos + b sin + c`, hence in
//! `[0, 1]`; it is astropy's "standard" normalisation with `fit_mean=True`.

use crate::{validate, FrequencyGrid, PeriodogramError};

/// Frequencies between exact re-evaluations of the sines and cosines: the rotation recurrence
/// gains about one ulp per step, so after 512 steps the phases are still good to ~1e-13.
const RESEED: usize = 512;
/// Points accumulated in parallel lanes: independent partial sums let the compiler vectorise
/// and pipeline the inner loop (a single running sum is latency-bound).
const LANES: usize = 4;

/// Power on a frequency grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Periodogram {
    /// Frequencies in cycles per day.
    pub frequency: Vec<f64>,
    /// Normalised power in `[0, 1]`, parallel to `frequency`.
    pub power: Vec<f64>,
}

impl Periodogram {
    /// Frequency of the highest power (the first one on ties; NaN powers are ignored).
    /// NaN when the periodogram is empty.
    pub fn best_frequency(&self) -> f64 {
        let mut best: Option<(f64, f64)> = None;
        for (&f, &p) in self.frequency.iter().zip(&self.power) {
            if !p.is_nan() && best.is_none_or(|(_, bp)| p > bp) {
                best = Some((f, p));
            }
        }
        best.map_or(f64::NAN, |(f, _)| f)
    }

    /// `1 / best_frequency()` (days).
    pub fn best_period(&self) -> f64 {
        1.0 / self.best_frequency()
    }
}

/// Generalised Lomb–Scargle periodogram of `mag` sampled at `time` (days, sorted), weighted by
/// `1/err²` when `err` is given, on `grid` (see the module docs for the formula).
///
/// Errors: length mismatch, fewer than 3 points, non-finite values, unsorted times or all times
/// equal, an `err` that is not finite and positive, constant magnitudes (power undefined), an
/// invalid grid. Frequencies at which the model is degenerate (all phases equal, only possible
/// for regular sampling) get power 0.
pub fn lomb_scargle(
    time: &[f64],
    mag: &[f64],
    err: Option<&[f64]>,
    grid: &FrequencyGrid,
) -> Result<Periodogram, PeriodogramError> {
    validate::series(time, mag, err)?;
    grid.validate()?;
    let n = time.len();

    // Weights relative to the smallest error first, so 1/σ² cannot overflow; then Σ w = 1.
    let mut w: Vec<f64> = match err {
        Some(e) => {
            let smallest = e.iter().copied().fold(f64::INFINITY, f64::min);
            e.iter().map(|s| (smallest / s).powi(2)).collect()
        }
        None => vec![1.0; n],
    };
    let wsum: f64 = w.iter().sum();
    w.iter_mut().for_each(|x| *x /= wsum);

    // Centring the data (and the times, below) keeps the sums well conditioned; neither changes
    // the power, which is invariant to an offset in magnitude and a shift in time.
    let mean: f64 = w.iter().zip(mag).map(|(w, y)| w * y).sum();
    let wy: Vec<f64> = w.iter().zip(mag).map(|(w, y)| w * (y - mean)).collect();
    let yy: f64 = w.iter().zip(mag).map(|(w, y)| w * (y - mean).powi(2)).sum();
    if !(yy > 0.0) {
        return Err(PeriodogramError::ConstantMagnitude);
    }
    let mid = 0.5 * (time[0] + time[n - 1]);
    let t: Vec<f64> = time.iter().map(|t| t - mid).collect();

    let frequency = grid.frequencies();
    let tau = std::f64::consts::TAU;
    // Per-point rotation by one grid step.
    let (rot_s, rot_c): (Vec<f64>, Vec<f64>) =
        t.iter().map(|t| (tau * grid.step() * t).sin_cos()).unzip();
    let mut cos = vec![0.0; n];
    let mut sin = vec![0.0; n];
    let mut power = Vec::with_capacity(frequency.len());
    for (k, &f) in frequency.iter().enumerate() {
        if k % RESEED == 0 {
            for ((c, s), t) in cos.iter_mut().zip(sin.iter_mut()).zip(&t) {
                (*s, *c) = (tau * f * t).sin_cos();
            }
        }
        let sums = accumulate_and_rotate(&w, &wy, &mut cos, &mut sin, &rot_c, &rot_s);
        power.push(normalised_power(sums, yy));
    }
    Ok(Periodogram { frequency, power })
}

/// Best period (days) of the periodogram on `FrequencyGrid::auto(time, 10.0, max_frequency)`.
pub fn best_period(
    time: &[f64],
    mag: &[f64],
    err: Option<&[f64]>,
    max_frequency: Option<f64>,
) -> Result<f64, PeriodogramError> {
    validate::series(time, mag, err)?;
    let grid = FrequencyGrid::auto(time, 10.0, max_frequency)?;
    Ok(lomb_scargle(time, mag, err, &grid)?.best_period())
}

/// The six weighted sums at the current phases: `[C, S, YC, YS, Σwc², Σwcs]`.
type Sums = [f64; 6];

/// Sums at the current `(cos, sin)`, then advances every point by one frequency step.
fn accumulate_and_rotate(
    w: &[f64],
    wy: &[f64],
    cos: &mut [f64],
    sin: &mut [f64],
    rot_c: &[f64],
    rot_s: &[f64],
) -> Sums {
    let mut acc = [[0.0f64; LANES]; 6];
    let n = w.len();
    let body = n - n % LANES;
    for base in (0..body).step_by(LANES) {
        for l in 0..LANES {
            let i = base + l;
            step_point(
                &mut acc,
                l,
                w[i],
                wy[i],
                &mut cos[i],
                &mut sin[i],
                rot_c[i],
                rot_s[i],
            );
        }
    }
    for i in body..n {
        step_point(
            &mut acc,
            0,
            w[i],
            wy[i],
            &mut cos[i],
            &mut sin[i],
            rot_c[i],
            rot_s[i],
        );
    }
    acc.map(|lanes| lanes.iter().sum())
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_point(
    acc: &mut [[f64; LANES]; 6],
    lane: usize,
    w: f64,
    wy: f64,
    cos: &mut f64,
    sin: &mut f64,
    rot_c: f64,
    rot_s: f64,
) {
    let (c, s) = (*cos, *sin);
    let wc = w * c;
    acc[0][lane] += wc;
    acc[1][lane] += w * s;
    acc[2][lane] += wy * c;
    acc[3][lane] += wy * s;
    acc[4][lane] += wc * c;
    acc[5][lane] += wc * s;
    *cos = c * rot_c - s * rot_s;
    *sin = s * rot_c + c * rot_s;
}

fn normalised_power([c, s, yc, ys, wcc, wcs]: Sums, yy: f64) -> f64 {
    let cc = wcc - c * c;
    // Σ w s² = Σ w − Σ w c² = 1 − Σ w c².
    let ss = (1.0 - wcc) - s * s;
    let cs = wcs - c * s;
    let d = cc * ss - cs * cs;
    // D ≤ 1/4; far below rounding it means the three basis functions are collinear.
    if !(d > 1e-14) {
        return 0.0;
    }
    let p = (ss * yc * yc + cc * ys * ys - 2.0 * cs * yc * ys) / (yy * d);
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}
