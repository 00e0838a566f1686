//! Mask conventions (as types) and the pretraining masking procedure (spec §3).
//!
//! The official code carries two 0/1 float masks whose meanings are easy to flip (`mask_in` = 1
//! means *hidden*, `mask_out` = 1 means *scored*). Here every position carries a [`ProbeRole`];
//! attention only sees its [`Visibility`]. The only place where these become f32 tensors is
//! `model::BatchTensors::new`.

use lightcurve::PaddedWindow;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::ModelError;

/// Whether a position may be attended to (as a key) — `mask_in` of the official code, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Real observation whose (possibly replaced) magnitude the model may see.
    Visible,
    /// Masked or padding position: its key column is masked out of attention and, with the mask
    /// token applied, its magnitude is replaced by the token.
    Hidden,
}

impl Visibility {
    pub fn is_hidden(self) -> bool {
        matches!(self, Visibility::Hidden)
    }
}

/// What the pretraining mask did with one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeRole {
    /// Real observation, visible, not scored.
    Unprobed,
    /// Probed, left unchanged and visible ("same"); scored.
    Same,
    /// Probed, magnitude replaced by another magnitude of the same window, visible; scored.
    Random,
    /// Probed and hidden (the model must reconstruct it); scored.
    Masked,
    /// Zero padding after the real observations: hidden, never scored.
    Padding,
}

impl ProbeRole {
    /// Hidden positions: `Masked` and `Padding` (official `mask_in = 1`).
    pub fn is_hidden(self) -> bool {
        matches!(self, ProbeRole::Masked | ProbeRole::Padding)
    }
    /// Scored positions: every probed position (official `mask_out = 1`).
    pub fn is_scored(self) -> bool {
        matches!(
            self,
            ProbeRole::Same | ProbeRole::Random | ProbeRole::Masked
        )
    }
    /// Whether this is a real observation.
    pub fn is_real(self) -> bool {
        !matches!(self, ProbeRole::Padding)
    }
    pub fn visibility(self) -> Visibility {
        if self.is_hidden() {
            Visibility::Hidden
        } else {
            Visibility::Visible
        }
    }
}

/// The nested masking fractions of spec §3.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskFractions {
    /// Fraction of the real observations that is probed (floor).
    pub probed: f64,
    /// Fraction of the probed positions left unchanged and visible (ceil).
    pub same: f64,
    /// Fraction of the *remaining* probed positions replaced by a random magnitude (ceil).
    pub random: f64,
}

impl Default for MaskFractions {
    fn default() -> Self {
        Self::official()
    }
}

impl MaskFractions {
    /// As the official code runs (0.5 / 0.2 / 0.2 nested): 10 % same, 8 % random, 32 % masked of a
    /// full window.
    pub fn official() -> Self {
        Self {
            probed: 0.5,
            same: 0.2,
            random: 0.2,
        }
    }

    /// The paper's stated split of the window (Fig. 1, Sect. 2.3): 10 % same, 10 % random, 30 %
    /// masked. With the nested procedure that is 0.5 / 0.2 / 0.25.
    pub fn paper() -> Self {
        Self {
            probed: 0.5,
            same: 0.2,
            random: 0.25,
        }
    }

    /// Counts (same, random, masked) for a window of `n_valid` real observations.
    pub fn counts(&self, n_valid: usize) -> (usize, usize, usize) {
        // Tolerance so that e.g. 0.2 × 80 = 16.000000000000004 does not ceil to 17.
        let ceil = |x: f64| (x - 1e-9).ceil().max(0.0) as usize;
        let floor = |x: f64| (x + 1e-9).floor().max(0.0) as usize;
        let probed = floor(self.probed * n_valid as f64).min(n_valid);
        let same = ceil(self.same * probed as f64).min(probed);
        let remaining = probed - same;
        let random = ceil(self.random * remaining as f64).min(remaining);
        (same, random, remaining - random)
    }
}

/// One batch of windows with its masking, on the host. Row-major (window, position).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskedBatch {
    pub batch_size: usize,
    pub window_len: usize,
    /// Window-centred times.
    pub time: Vec<f32>,
    /// Model-input magnitudes: the centred magnitudes with the `Random` replacements applied.
    /// Masked positions still hold their true value here; padding holds 0.
    pub input_mag: Vec<f32>,
    /// Regression targets: the true centred magnitudes.
    pub target: Vec<f32>,
    /// Per-position loss weights (spec §2.5).
    pub loss_weight: Vec<f32>,
    /// Role of every position.
    pub roles: Vec<ProbeRole>,
}

fn check_lengths(windows: &[PaddedWindow]) -> Result<usize, ModelError> {
    let first = windows.first().ok_or(ModelError::EmptyBatch)?;
    let l = first.len();
    for (i, w) in windows.iter().enumerate() {
        if w.len() != l
            || w.mag.len() != l
            || w.err.len() != l
            || w.loss_weight.len() != l
            || w.n_valid > l
        {
            return Err(ModelError::InconsistentWindow {
                index: i,
                reason: format!(
                    "lengths time {} mag {} err {} weight {} n_valid {} vs window length {l}",
                    w.time.len(),
                    w.mag.len(),
                    w.err.len(),
                    w.loss_weight.len(),
                    w.n_valid
                ),
            });
        }
    }
    Ok(l)
}

impl MaskedBatch {
    fn from_windows_with(
        windows: &[PaddedWindow],
        mut roles_for: impl FnMut(&PaddedWindow, &mut [ProbeRole], &mut [f32]),
    ) -> Result<Self, ModelError> {
        let l = check_lengths(windows)?;
        let b = windows.len();
        let mut out = MaskedBatch {
            batch_size: b,
            window_len: l,
            time: Vec::with_capacity(b * l),
            input_mag: Vec::with_capacity(b * l),
            target: Vec::with_capacity(b * l),
            loss_weight: Vec::with_capacity(b * l),
            roles: Vec::with_capacity(b * l),
        };
        for w in windows {
            let mut roles: Vec<ProbeRole> = (0..l)
                .map(|i| {
                    if w.is_valid(i) {
                        ProbeRole::Unprobed
                    } else {
                        ProbeRole::Padding
                    }
                })
                .collect();
            let mut mag: Vec<f32> = (0..l)
                .map(|i| if w.is_valid(i) { w.mag[i] } else { 0.0 })
                .collect();
            roles_for(w, &mut roles, &mut mag);
            out.time
                .extend((0..l).map(|i| if w.is_valid(i) { w.time[i] } else { 0.0 }));
            out.target
                .extend((0..l).map(|i| if w.is_valid(i) { w.mag[i] } else { 0.0 }));
            out.loss_weight.extend_from_slice(&w.loss_weight);
            out.input_mag.extend_from_slice(&mag);
            out.roles.extend_from_slice(&roles);
        }
        Ok(out)
    }

    /// Pretraining / finetuning masking (spec §3): per window, floor(probed·n) probed positions,
    /// ceil(same·probed) of them `Same`, ceil(random·remaining) of the rest `Random` (magnitude
    /// taken at the same index of a random permutation of the window's own real magnitudes), the
    /// rest `Masked`. Padding is never probed.
    pub fn pretraining<R: Rng + ?Sized>(
        windows: &[PaddedWindow],
        fractions: &MaskFractions,
        rng: &mut R,
    ) -> Result<Self, ModelError> {
        Self::from_windows_with(windows, |w, roles, mag| {
            let n = w.n_valid;
            let (n_same, n_random, n_masked) = fractions.counts(n);
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(rng);
            let (same, rest) = order.split_at(n_same);
            let (random, rest) = rest.split_at(n_random);
            let masked = &rest[..n_masked];
            let mut perm: Vec<usize> = (0..n).collect();
            perm.shuffle(rng);
            for &i in same {
                roles[i] = ProbeRole::Same;
            }
            for &i in random {
                roles[i] = ProbeRole::Random;
                mag[i] = w.mag[perm[i]];
            }
            for &i in masked {
                roles[i] = ProbeRole::Masked;
            }
        })
    }

    /// Evaluation / classification input (spec §3, "probed = 1, rs = same = 0"): every real
    /// observation is visible and scored (`Same`); only padding is hidden.
    pub fn evaluation(windows: &[PaddedWindow]) -> Result<Self, ModelError> {
        Self::from_windows_with(windows, |w, roles, _| {
            for r in roles.iter_mut().take(w.n_valid) {
                *r = ProbeRole::Same;
            }
        })
    }

    /// Builds a batch from explicit roles (tests, custom masking). `input_mag` starts as the true
    /// magnitudes; `Random` positions keep their true value unless the caller edits `input_mag`.
    pub fn with_roles(
        windows: &[PaddedWindow],
        roles: &[Vec<ProbeRole>],
    ) -> Result<Self, ModelError> {
        let l = check_lengths(windows)?;
        if roles.len() != windows.len() || roles.iter().any(|r| r.len() != l) {
            return Err(ModelError::InconsistentWindow {
                index: 0,
                reason: format!("need {} role vectors of length {l}", windows.len()),
            });
        }
        let mut k = 0usize;
        let out = Self::from_windows_with(windows, |w, r, _| {
            let given = &roles[k];
            k += 1;
            for i in 0..r.len() {
                r[i] = if w.is_valid(i) {
                    given[i]
                } else {
                    ProbeRole::Padding
                };
            }
        })?;
        Ok(out)
    }

    /// Number of positions (batch × window length).
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    /// Visibility of flat position `i`.
    pub fn visibility(&self, i: usize) -> Visibility {
        self.roles[i].visibility()
    }

    /// Counts of each role over the batch: (unprobed, same, random, masked, padding).
    pub fn role_counts(&self) -> [usize; 5] {
        let mut c = [0usize; 5];
        for r in &self.roles {
            c[match r {
                ProbeRole::Unprobed => 0,
                ProbeRole::Same => 1,
                ProbeRole::Random => 2,
                ProbeRole::Masked => 3,
                ProbeRole::Padding => 4,
            }] += 1;
        }
        c
    }
}
