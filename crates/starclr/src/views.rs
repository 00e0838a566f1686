//! Positive pairs: two partially overlapping sub-sequences of the same light curve (the paper's
//! "partially overlapping sub-sequences"; their length and overlap are not published, so they are
//! settings), padded into batches with a validity mask.
//!
//! A view is `view_len` consecutive observations. The overlap of two views starting at s₁ and s₂
//! is `view_len − |s₁ − s₂|` observations; the sampler draws s₁ uniformly, then s₂ uniformly among
//! the starts whose overlap lies in [min_overlap, max_overlap] · view_len. A curve too short for the
//! smallest allowed shift gets its two most distant views (more overlap than asked: the curve
//! cannot give less), and a curve of at most `view_len` points gives the whole curve twice.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::StarClrError;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSettings {
    /// Observations per view.
    pub view_len: usize,
    /// Fractions of `view_len` the two views share, at least and at most.
    pub min_overlap: f64,
    pub max_overlap: f64,
}

impl ViewSettings {
    pub fn check(&self) -> Result<(), StarClrError> {
        if self.view_len == 0 || !(0.0..=1.0).contains(&self.min_overlap) || !(self.min_overlap..=1.0).contains(&self.max_overlap) {
            return Err(StarClrError::Settings(format!(
                "views: view_len {} must be ≥ 1 and 0 ≤ min_overlap {} ≤ max_overlap {} ≤ 1",
                self.view_len, self.min_overlap, self.max_overlap
            )));
        }
        Ok(())
    }

    /// The shifts |s₁ − s₂| whose overlap is allowed.
    fn shifts(&self) -> (usize, usize) {
        let l = self.view_len as f64;
        let most_overlap = (self.max_overlap * l).floor() as usize;
        let least_overlap = (self.min_overlap * l).ceil() as usize;
        (self.view_len - most_overlap.min(self.view_len), self.view_len - least_overlap.min(self.view_len))
    }
}

/// Starts of the two views of a curve of `n_points` observations.
pub fn sample_pair(n_points: usize, settings: &ViewSettings, rng: &mut impl Rng) -> (usize, usize) {
    let l = settings.view_len;
    if n_points <= l {
        return (0, 0);
    }
    let last = n_points - l;
    let (min_shift, max_shift) = settings.shifts();
    let first = rng.gen_range(0..=last);
    let candidates: Vec<usize> = (min_shift..=max_shift)
        .flat_map(|s| [first.checked_sub(s), Some(first + s).filter(|&v| v <= last)])
        .flatten()
        .filter(|&v| v != first || min_shift == 0)
        .collect();
    if candidates.is_empty() {
        // Too short for the smallest shift: the two views as far apart as the curve allows.
        return (0, last);
    }
    (first, candidates[rng.gen_range(0..candidates.len())])
}

/// Padded views, (B, L) row-major: times relative to each view's first observation, scaled flux,
/// and which positions hold an observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewBatch {
    pub batch_size: usize,
    pub view_len: usize,
    pub time: Vec<f32>,
    pub flux: Vec<f32>,
    pub valid: Vec<bool>,
}

impl ViewBatch {
    /// One row per `(time, flux, start)`: observations start .. start + view_len (fewer when the
    /// curve ends first), padded to `view_len`.
    pub fn new(view_len: usize, views: &[(&[f64], &[f64], usize)]) -> Result<Self, StarClrError> {
        let b = views.len();
        let (mut time, mut flux, mut valid) = (vec![0.0f32; b * view_len], vec![0.0f32; b * view_len], vec![false; b * view_len]);
        for (row, &(t, f, start)) in views.iter().enumerate() {
            if t.len() != f.len() || start >= t.len() {
                return Err(StarClrError::Settings(format!("view {row}: {} times, {} fluxes, start {start}", t.len(), f.len())));
            }
            let end = (start + view_len).min(t.len());
            let t0 = t[start];
            for (k, i) in (start..end).enumerate() {
                time[row * view_len + k] = (t[i] - t0) as f32;
                flux[row * view_len + k] = f[i] as f32;
                valid[row * view_len + k] = true;
            }
        }
        Ok(Self { batch_size: b, view_len, time, flux, valid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pairs_overlap_as_asked_stay_inside_the_curve_and_repeat_per_seed() {
        let settings = ViewSettings { view_len: 50, min_overlap: 0.25, max_overlap: 0.75 };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in [60usize, 120, 500] {
            for _ in 0..200 {
                let (a, b) = sample_pair(n, &settings, &mut rng);
                assert!(a + 50 <= n && b + 50 <= n, "n {n}: starts {a}, {b}");
                let overlap = 50 - a.abs_diff(b);
                if n - 50 >= 13 {
                    assert!((13..=37).contains(&overlap), "n {n}: overlap {overlap}");
                } else {
                    assert_eq!((a, b), (0, n - 50), "too short for the smallest shift: the most distant views");
                }
            }
        }
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20).map(|_| sample_pair(300, &settings, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(4), draw(4));
        assert_ne!(draw(4), draw(5));
        assert_eq!(sample_pair(40, &settings, &mut rng), (0, 0), "a short curve gives itself twice");
        assert!(ViewSettings { view_len: 50, min_overlap: 0.8, max_overlap: 0.5 }.check().is_err());
    }

    #[test]
    fn batches_pad_and_time_each_view_from_its_first_observation() {
        let t = [10.0, 11.0, 13.0, 16.0];
        let f = [0.1, 0.2, 0.3, 0.4];
        let batch = ViewBatch::new(3, &[(&t[..], &f[..], 1), (&t[..], &f[..], 2)]).unwrap();
        assert_eq!(batch.time, vec![0.0, 2.0, 5.0, 0.0, 3.0, 0.0]);
        assert_eq!(batch.flux, vec![0.2, 0.3, 0.4, 0.3, 0.4, 0.0]);
        assert_eq!(batch.valid, vec![true, true, true, true, true, false]);
        assert!(ViewBatch::new(3, &[(&t[..], &f[..], 4)]).is_err());
    }
}
