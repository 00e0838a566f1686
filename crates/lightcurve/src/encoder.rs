//! The one interface every light-curve encoder offers to the downstream experiments: padded
//! windows in, one representation per layer out. Astromer 1 and 2 implement it (crate
//! `astromer`); a new model (a contrastive encoder, a conformer, a dual-latent encoder) that
//! implements it gets the classification heads' pooled features (`classifier::PooledFeatures`),
//! the per-layer embeddings and silhouettes (`representation::block_embeddings`) unchanged.
//! Without any tensor library in the signature, an encoder can run on anything.

use crate::window::PaddedWindow;

/// A trained (or untrained) light-curve encoder, as the probes see it.
pub trait WindowEncoder {
    /// Representations per window: the input embedding first, then one per block (Astromer:
    /// `n_blocks + 1`, the inputs of the paper's `skip` head).
    fn n_representations(&self) -> usize;
    /// Width of every representation.
    fn width(&self) -> usize;
    /// The representations of a batch of windows of one padded length, in inference mode.
    /// Steps at or beyond a window's `n_valid` are padding: their values are unspecified and
    /// every consumer ignores them.
    fn encode_windows(&self, windows: &[PaddedWindow]) -> Result<LayerOutputs, EncodeError>;
}

/// Per-layer outputs of a batch: `layers[r]` holds windows × steps × width values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerOutputs {
    pub steps: usize,
    pub width: usize,
    pub layers: Vec<Vec<f32>>,
}

impl LayerOutputs {
    /// Checks the layout against the encoder's declared sizes and the batch.
    pub fn check(&self, encoder: &(impl WindowEncoder + ?Sized), windows: &[PaddedWindow]) -> Result<(), EncodeError> {
        let expected = windows.len() * self.steps * self.width;
        if self.layers.len() != encoder.n_representations() || self.width != encoder.width() {
            return Err(EncodeError(format!(
                "encoder declared {} representations of width {}, returned {} of width {}",
                encoder.n_representations(),
                encoder.width(),
                self.layers.len(),
                self.width
            )));
        }
        if let Some((r, l)) = self.layers.iter().enumerate().find(|(_, l)| l.len() != expected) {
            return Err(EncodeError(format!(
                "representation {r} holds {} values, expected {} windows × {} steps × {} = {expected}",
                l.len(),
                windows.len(),
                self.steps,
                self.width
            )));
        }
        if let Some(w) = windows.iter().find(|w| w.n_valid > self.steps) {
            return Err(EncodeError(format!(
                "object {}: {} valid steps but the encoder returned {} steps",
                w.object_index, w.n_valid, self.steps
            )));
        }
        Ok(())
    }

    /// Steps × width values of window `b` in representation `r`.
    pub fn window(&self, r: usize, b: usize) -> &[f32] {
        let n = self.steps * self.width;
        &self.layers[r][b * n..(b + 1) * n]
    }
}

/// An encoder failed on a batch (its own message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("encoder: {0}")]
pub struct EncodeError(pub String);
