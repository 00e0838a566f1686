//! Cutting light curves into fixed-length windows, exactly as the official pipeline (spec §2.2–2.5).

use rand::Rng;

use crate::set::{LightCurve, LightCurveSet};
use crate::window::{PaddedWindow, WindowMeans};

/// How windows are cut from a curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPolicy {
    /// One window of `len` contiguous observations with a uniform random start in 0..=n−len
    /// (the whole curve when n ≤ len). Used for pretraining.
    Random,
    /// Starts 0, len, 2·len, …, len·⌊n/len⌋, each clamped to n−len, so the last window is
    /// right-aligned and overlaps the previous one (and duplicates it when n is a multiple of len,
    /// as the official code does). Used for finetuning, classification and testing.
    Sequential,
}

/// Start of a random window.
pub fn random_window_start<R: Rng + ?Sized>(n: usize, len: usize, rng: &mut R) -> usize {
    if n <= len {
        0
    } else {
        rng.gen_range(0..=n - len)
    }
}

/// Starts of the sequential windows.
pub fn sequential_window_starts(n: usize, len: usize) -> Vec<usize> {
    assert!(len > 0, "window length must be positive");
    (0..=n / len)
        .map(|k| (k * len).min(n.saturating_sub(len)))
        .collect()
}

/// Cuts the window starting at `start` (at most `len` observations), centres time, magnitude and
/// error on their window means (spec §2.4), right-pads with zeros to `len` and computes the loss
/// weights of spec §2.5.
pub fn make_window(curve: &LightCurve<'_>, object_index: usize, start: usize, len: usize) -> PaddedWindow {
    let end = (start + len).min(curve.len());
    let start = start.min(end);
    let n_valid = end - start;
    let mean = |x: &[f64]| {
        if x.is_empty() {
            0.0
        } else {
            x.iter().sum::<f64>() / x.len() as f64
        }
    };
    let means = WindowMeans {
        time: mean(&curve.time[start..end]),
        mag: mean(&curve.mag[start..end]),
        err: mean(&curve.err[start..end]),
    };
    let centred = |x: &[f64], m: f64| -> Vec<f32> {
        let mut v: Vec<f32> = x[start..end].iter().map(|&a| (a - m) as f32).collect();
        v.resize(len, 0.0);
        v
    };
    let time = centred(curve.time, means.time);
    let mag = centred(curve.mag, means.mag);
    let err = centred(curve.err, means.err);
    let loss_weight = loss_weights(&err, means.err);
    PaddedWindow {
        object_index,
        start,
        time,
        mag,
        err,
        loss_weight,
        n_valid,
        means,
    }
}

/// Loss weights as the official `create_loss_weigths` (spec §2.5): recover the errors by adding the
/// window mean back (so padded steps get the mean error), w = 1/e (0 where e = 0), min–max normalise
/// over all positions of the window, add 0.001. Equal errors give 0.001 everywhere.
pub fn loss_weights(centred_err: &[f32], mean_err: f64) -> Vec<f32> {
    let inv: Vec<f64> = centred_err
        .iter()
        .map(|&e| {
            let e = e as f64 + mean_err;
            if e == 0.0 {
                0.0
            } else {
                1.0 / e
            }
        })
        .collect();
    let lo = inv.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = inv.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = hi - lo;
    inv.iter()
        .map(|&w| {
            let scaled = if range > 0.0 { (w - lo) / range } else { 0.0 };
            (scaled + 0.001) as f32
        })
        .collect()
}

/// All windows of a curve under a policy.
pub fn windows_of<R: Rng + ?Sized>(
    curve: &LightCurve<'_>,
    object_index: usize,
    len: usize,
    policy: WindowPolicy,
    rng: &mut R,
) -> Vec<PaddedWindow> {
    match policy {
        WindowPolicy::Random => {
            let s = random_window_start(curve.len(), len, rng);
            vec![make_window(curve, object_index, s, len)]
        }
        WindowPolicy::Sequential => sequential_windows(curve, object_index, len),
    }
}

/// The sequential windows of a curve (deterministic: every observation in exactly one window).
pub fn sequential_windows(curve: &LightCurve<'_>, object_index: usize, len: usize) -> Vec<PaddedWindow> {
    sequential_window_starts(curve.len(), len)
        .into_iter()
        .map(|s| make_window(curve, object_index, s, len))
        .collect()
}

/// All windows of a set under a policy (one random window per curve, or all sequential ones);
/// `object_index` is the curve's index in the set.
pub fn set_windows<R: Rng + ?Sized>(set: &LightCurveSet, len: usize, policy: WindowPolicy, rng: &mut R) -> Vec<PaddedWindow> {
    set.curves().enumerate().flat_map(|(i, c)| windows_of(&c, i, len, policy, rng)).collect()
}

/// All sequential windows of a set, curve by curve (needs no random numbers).
pub fn set_sequential_windows(set: &LightCurveSet, len: usize) -> Vec<PaddedWindow> {
    set.curves().enumerate().flat_map(|(i, c)| sequential_windows(&c, i, len)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn lc<'a>(t: &'a [f64], m: &'a [f64], e: &'a [f64]) -> LightCurve<'a> {
        LightCurve {
            object_id: "x",
            band: "R",
            time: t,
            mag: m,
            err: e,
        }
    }

    #[test]
    fn sequential_windows_follow_the_official_clamping() {
        assert_eq!(sequential_window_starts(450, 200), vec![0, 200, 250]);
        assert_eq!(sequential_window_starts(150, 200), vec![0]);
        // Exact multiple: the last window duplicates the previous one, as the official code.
        assert_eq!(sequential_window_starts(400, 200), vec![0, 200, 200]);
        assert_eq!(sequential_window_starts(200, 200), vec![0, 0]);
        assert_eq!(sequential_window_starts(0, 200), vec![0]);
    }

    #[test]
    fn random_window_start_is_uniform_over_valid_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut seen = [0usize; 4];
        for _ in 0..4000 {
            let s = random_window_start(203, 200, &mut rng);
            seen[s] += 1;
        }
        assert!(seen.iter().all(|&c| c > 850), "{seen:?}");
        assert_eq!(random_window_start(10, 200, &mut rng), 0);
    }

    #[test]
    fn window_is_zero_mean_and_padded() {
        let t = [100.0, 101.0, 103.0, 106.0];
        let m = [15.0, 15.5, 14.5, 15.0];
        let e = [0.1, 0.2, 0.1, 0.2];
        let w = make_window(&lc(&t, &m, &e), 3, 0, 6);
        assert_eq!(w.len(), 6);
        assert_eq!(w.n_valid, 4);
        assert_eq!(w.object_index, 3);
        assert!((w.means.time - 102.5).abs() < 1e-12);
        let s: f32 = w.time[..4].iter().sum();
        assert!(s.abs() < 1e-5);
        assert_eq!(&w.time[4..], &[0.0, 0.0]);
        assert_eq!(&w.mag[4..], &[0.0, 0.0]);
        assert!((w.mag[1] - 0.5).abs() < 1e-6);
        assert!((w.err[0] + 0.05).abs() < 1e-6);
    }

    #[test]
    fn loss_weights_match_the_official_formula() {
        // errors 0.1, 0.2, padding (mean 0.15): 1/e = 10, 5, 6.667 -> minmax 1, 0, 0.3333 (+0.001)
        let t = [0.0, 1.0];
        let m = [1.0, 2.0];
        let e = [0.1, 0.2];
        let w = make_window(&lc(&t, &m, &e), 0, 0, 3);
        let expect = [1.001, 0.001, (1.0 / 0.15 - 5.0) / 5.0 + 0.001];
        for (a, b) in w.loss_weight.iter().zip(expect) {
            assert!((*a as f64 - b).abs() < 1e-5, "{:?} vs {expect:?}", w.loss_weight);
        }
        // All-equal errors: every weight is 0.001.
        let w = make_window(&lc(&t, &m, &[0.1, 0.1]), 0, 0, 2);
        assert_eq!(w.loss_weight, vec![0.001, 0.001]);
    }

    #[test]
    fn last_sequential_window_is_right_aligned() {
        let t: Vec<f64> = (0..7).map(f64::from).collect();
        let m = vec![1.0; 7];
        let e = vec![0.1; 7];
        let c = lc(&t, &m, &e);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let ws = windows_of(&c, 0, 3, WindowPolicy::Sequential, &mut rng);
        assert_eq!(ws.iter().map(|w| w.start).collect::<Vec<_>>(), vec![0, 3, 4]);
        assert!(ws.iter().all(|w| w.n_valid == 3));
        let ws = windows_of(&c, 0, 3, WindowPolicy::Random, &mut rng);
        assert_eq!(ws.len(), 1);
        assert!(ws[0].start <= 4);
    }
}
