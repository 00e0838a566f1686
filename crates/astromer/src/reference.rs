//! Reference predictors for masked reconstruction: what a model scores without learning anything
//! about variable stars. They see exactly what the encoder sees — the times of every real
//! position and the input magnitudes of the *visible* ones (unprobed, `Same`, and `Random` with its
//! replaced value) — and never a masked magnitude, so they cannot leak. A reconstruction R² is
//! only worth something above them; a model well above [`ReferencePredictor::Neighbours`] has
//! learned more than local interpolation (a period, a shape) or found a leak.

use crate::mask::MaskedBatch;

/// A leak-free predictor of every position of a window from its visible positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReferencePredictor {
    /// The mean of the window's visible input magnitudes, everywhere.
    VisibleMean,
    /// Visible positions: their own input magnitude (right for `Same`, wrong for `Random`, which
    /// the encoder cannot tell apart either); hidden positions: the visible mean. What an encoder
    /// scores by copying its input through a residual path and learning nothing else.
    CopyVisible,
    /// Visible positions copied as in `CopyVisible`; hidden positions: linear interpolation in time
    /// between the nearest visible neighbours before and after (the nearest one at the edges).
    Neighbours,
}

impl ReferencePredictor {
    pub const ALL: [ReferencePredictor; 3] =
        [ReferencePredictor::VisibleMean, ReferencePredictor::CopyVisible, ReferencePredictor::Neighbours];

    /// Stable name for results files.
    pub fn name(self) -> &'static str {
        match self {
            ReferencePredictor::VisibleMean => "visible_mean",
            ReferencePredictor::CopyVisible => "copy_visible",
            ReferencePredictor::Neighbours => "neighbours",
        }
    }

    /// Predictions for every position of `batch`, row-major (window, position) like
    /// [`crate::Astromer::predict`]. Padding gets 0; a window with no visible position gets 0
    /// (the centred mean) everywhere.
    pub fn predict(self, batch: &MaskedBatch) -> Vec<f32> {
        let l = batch.window_len;
        let mut out = vec![0.0f32; batch.batch_size * l];
        for w in 0..batch.batch_size {
            let range = w * l..(w + 1) * l;
            let roles = &batch.roles[range.clone()];
            let time = &batch.time[range.clone()];
            let mag = &batch.input_mag[range.clone()];
            let visible: Vec<usize> = (0..l).filter(|&i| roles[i].is_real() && !roles[i].is_hidden()).collect();
            if visible.is_empty() {
                continue;
            }
            let pred = &mut out[range];
            let mean = (visible.iter().map(|&i| mag[i] as f64).sum::<f64>() / visible.len() as f64) as f32;
            match self {
                ReferencePredictor::VisibleMean | ReferencePredictor::CopyVisible => {
                    for (i, p) in pred.iter_mut().enumerate() {
                        if roles[i].is_real() {
                            let copy = self == ReferencePredictor::CopyVisible && !roles[i].is_hidden();
                            *p = if copy { mag[i] } else { mean };
                        }
                    }
                }
                ReferencePredictor::Neighbours => {
                    // Positions are in time order within a window, so the visible list is too.
                    let mut next = 0usize; // index into `visible` of the first visible position ≥ i
                    for i in 0..l {
                        if !roles[i].is_real() {
                            continue;
                        }
                        while next < visible.len() && visible[next] < i {
                            next += 1;
                        }
                        if next < visible.len() && visible[next] == i {
                            pred[i] = mag[i];
                            continue;
                        }
                        pred[i] = match (next.checked_sub(1).map(|k| visible[k]), visible.get(next)) {
                            (Some(a), Some(&b)) => {
                                let span = time[b] as f64 - time[a] as f64;
                                let f = if span > 0.0 { (time[i] as f64 - time[a] as f64) / span } else { 0.5 };
                                (mag[a] as f64 + f * (mag[b] as f64 - mag[a] as f64)) as f32
                            }
                            (Some(a), None) => mag[a],
                            (None, Some(&b)) => mag[b],
                            (None, None) => unreachable!("`visible` is not empty"),
                        };
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::ProbeRole::{self, *};
    use crate::metrics::masked_r2;
    use lightcurve::PaddedWindow;

    fn batch(time: &[f32], mag: &[f32], roles: Vec<ProbeRole>) -> MaskedBatch {
        let l = roles.len();
        let n_valid = roles.iter().filter(|r| r.is_real()).count();
        let pad = |v: &[f32]| {
            let mut v = v.to_vec();
            v.resize(l, 0.0);
            v
        };
        let window = PaddedWindow {
            object_index: 0,
            start: 0,
            time: pad(time),
            mag: pad(mag),
            err: vec![0.01; l],
            loss_weight: vec![1.0; l],
            n_valid,
            means: Default::default(),
        };
        MaskedBatch::with_roles(&[window], &[roles]).unwrap()
    }

    #[test]
    fn neighbours_interpolates_hidden_points_of_a_line_exactly_and_copies_visible_ones() {
        // m = 2t − 3 on irregular times; hidden points inside and at both edges.
        let t = [0.0, 0.5, 2.0, 3.5, 4.0, 7.0];
        let m: Vec<f32> = t.iter().map(|t| 2.0 * t - 3.0).collect();
        let b = batch(&t, &m, vec![Masked, Unprobed, Masked, Same, Masked, Unprobed, Padding]);
        let p = ReferencePredictor::Neighbours.predict(&b);
        // Interior hidden points lie on the line; the first takes its right neighbour.
        assert_eq!(p[1], m[1]);
        assert!((p[2] - m[2]).abs() < 1e-6, "{p:?}");
        assert!((p[4] - m[4]).abs() < 1e-6, "{p:?}");
        assert_eq!(p[0], m[1], "left edge takes the nearest visible point");
        assert_eq!(p[3], m[3], "visible points are copied");
        assert_eq!(p[6], 0.0, "padding stays 0");
    }

    #[test]
    fn neighbours_never_reads_a_masked_magnitude() {
        let t = [0.0, 1.0, 2.0, 3.0];
        let roles = vec![Unprobed, Masked, Masked, Unprobed];
        let a = ReferencePredictor::Neighbours.predict(&batch(&t, &[1.0, 5.0, -7.0, 4.0], roles.clone()));
        let b = ReferencePredictor::Neighbours.predict(&batch(&t, &[1.0, 100.0, 100.0, 4.0], roles));
        assert_eq!(a, b);
        assert!((a[1] - 2.0).abs() < 1e-6 && (a[2] - 3.0).abs() < 1e-6, "{a:?}");
    }

    #[test]
    fn random_positions_are_predicted_from_their_replaced_value() {
        let t = [0.0, 1.0, 2.0];
        let mut b = batch(&t, &[0.0, 1.0, 2.0], vec![Unprobed, Random, Unprobed]);
        b.input_mag[1] = -9.0; // the replacement the encoder sees
        assert_eq!(ReferencePredictor::Neighbours.predict(&b)[1], -9.0);
        let mean = ReferencePredictor::VisibleMean.predict(&b);
        assert!((mean[1] - (0.0 - 9.0 + 2.0) / 3.0).abs() < 1e-6, "{mean:?}");
    }

    #[test]
    fn copy_visible_copies_visible_inputs_and_gives_hidden_points_the_visible_mean() {
        let t = [0.0, 1.0, 2.0, 3.0, 4.0];
        let mut b = batch(&t, &[3.0, 1.0, 8.0, -1.0, 0.0], vec![Same, Masked, Unprobed, Random, Padding]);
        b.input_mag[3] = 5.0;
        let p = ReferencePredictor::CopyVisible.predict(&b);
        assert_eq!(p, vec![3.0, (3.0 + 8.0 + 5.0) / 3.0, 8.0, 5.0, 0.0]);
    }

    #[test]
    fn visible_mean_has_zero_r2_on_a_window_whose_visible_mean_is_the_scored_mean() {
        // Scored targets 1 and −1 (mean 0), visible mean 0: R² = 1 − Σy²/Σy² = 0.
        let t = [0.0, 1.0, 2.0, 3.0];
        let b = batch(&t, &[1.0, 0.5, -1.0, -0.5], vec![Masked, Unprobed, Masked, Unprobed]);
        let p = ReferencePredictor::VisibleMean.predict(&b);
        assert_eq!(p[..4], [0.0; 4]);
        assert!(masked_r2(&p, &b.target, &b.roles, b.window_len).abs() < 1e-12);
    }
}
