//! Fixed-length model inputs cut from a light curve.

/// One model input: `len()` positions, the first `n_valid` of which are real observations
/// (per-window zero-mean in time, magnitude and error, spec §2.4); the rest is right zero-padding
/// (spec §2.3). Padding is a position property, not a value: consumers must use `n_valid`,
/// never test for zeros.
#[derive(Debug, Clone, PartialEq)]
pub struct PaddedWindow {
    /// Index of the source light curve in its set (for per-object aggregation).
    pub object_index: usize,
    /// Index of the first observation of this window within the source curve.
    pub start: usize,
    /// Window-centred times (days); 0 at padding.
    pub time: Vec<f32>,
    /// Window-centred magnitudes; 0 at padding. Also the regression targets.
    pub mag: Vec<f32>,
    /// Window-centred errors, as the official code feeds them; 0 at padding.
    pub err: Vec<f32>,
    /// Loss weights of spec §2.5 (min-max normalised 1/e + 0.001) at every position, padding included
    /// (padding is excluded from the loss by the probe mask, not by the weight).
    pub loss_weight: Vec<f32>,
    /// Number of real observations (≤ `time.len()`).
    pub n_valid: usize,
    /// The means subtracted from time, magnitude and error (to undo the centring).
    pub means: WindowMeans,
}

/// The per-window means removed by zero-mean normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowMeans {
    pub time: f64,
    pub mag: f64,
    pub err: f64,
}

impl PaddedWindow {
    /// Window length L (real + padded positions).
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Whether position `i` holds a real observation.
    pub fn is_valid(&self, i: usize) -> bool {
        i < self.n_valid
    }
}
