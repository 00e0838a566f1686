//! Host-side reconstruction metrics (spec §6.2–6.3), computed in f64.

use crate::mask::ProbeRole;

/// RMSE over scored positions: sqrt( mean_i [ Σ_l m·w·(y−ŷ)² / Σ_l m ] ), where m = 1 on scored
/// positions, w = `weights` (or 1 when `None`). Windows with no scored position contribute 0 and
/// still count in the mean (the device loss clamps Σ m ≥ 1 the same way; the official code would
/// give NaN there; such windows never occur for n ≥ 2).
pub fn masked_rmse(
    pred: &[f32],
    target: &[f32],
    roles: &[ProbeRole],
    weights: Option<&[f32]>,
    window_len: usize,
) -> f64 {
    assert_eq!(pred.len(), target.len());
    assert_eq!(pred.len(), roles.len());
    assert!(window_len > 0 && pred.len() / window_len * window_len == pred.len());
    let n_windows = pred.len() / window_len;
    let mut total = 0.0f64;
    for i in 0..n_windows {
        let (mut num, mut cnt) = (0.0f64, 0.0f64);
        for j in i * window_len..(i + 1) * window_len {
            if roles[j].is_scored() {
                let r = (target[j] as f64 - pred[j] as f64).powi(2);
                let w = weights.map_or(1.0, |w| w[j] as f64);
                num += w * r;
                cnt += 1.0;
            }
        }
        total += num / cnt.max(1.0);
    }
    (total / n_windows as f64).sqrt()
}

/// R² of spec §6.3 over one batch: 1 − Σ m(y−ŷ)² / Σ m(y−ȳ_i)², with ȳ_i the mean of window i's
/// targets over its scored positions. NaN when the denominator is 0.
pub fn masked_r2(pred: &[f32], target: &[f32], roles: &[ProbeRole], window_len: usize) -> f64 {
    assert_eq!(pred.len(), target.len());
    assert_eq!(pred.len(), roles.len());
    assert!(window_len > 0 && pred.len() / window_len * window_len == pred.len());
    let n_windows = pred.len() / window_len;
    let (mut ss_res, mut ss_tot) = (0.0f64, 0.0f64);
    for i in 0..n_windows {
        let range = i * window_len..(i + 1) * window_len;
        let (mut sum, mut cnt) = (0.0f64, 0.0f64);
        for j in range.clone() {
            if roles[j].is_scored() {
                sum += target[j] as f64;
                cnt += 1.0;
            }
        }
        if cnt == 0.0 {
            continue;
        }
        let mean = sum / cnt;
        for j in range {
            if roles[j].is_scored() {
                ss_res += (target[j] as f64 - pred[j] as f64).powi(2);
                ss_tot += (target[j] as f64 - mean).powi(2);
            }
        }
    }
    if ss_tot == 0.0 {
        f64::NAN
    } else {
        1.0 - ss_res / ss_tot
    }
}
