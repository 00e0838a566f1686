//! Model configuration: every architectural switch of the encoder, with the two reference presets.

use serde::{Deserialize, Serialize};

/// What happens to the trainable mask token (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaskTokenMode {
    /// One trainable scalar (initialised to 0) replaces the magnitude at every hidden position
    /// (masked and padding) *before* the magnitude projection. The paper's intent; A2 default.
    Applied,
    /// The token parameter exists (+1 parameter, it is saved and counted) but is **not** applied,
    /// exactly like the official Keras graph, where the token layer falls out of the model: the
    /// true magnitude of a masked position enters its own embedding and, through A2's learned
    /// residual projections, reaches its own output (spec §4.3).
    OfficialGraph,
    /// No token at all (Astromer 1).
    Absent,
}

impl MaskTokenMode {
    /// Whether the model owns a `embedding.mask_token` parameter.
    pub fn has_parameter(self) -> bool {
        !matches!(self, MaskTokenMode::Absent)
    }
    /// Whether hidden magnitudes are replaced by the token in the forward pass.
    pub fn is_applied(self) -> bool {
        matches!(self, MaskTokenMode::Applied)
    }
}

/// How hidden positions enter the attention logits (spec §3 and §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttentionMaskMode {
    /// A2 (`mask_format = 'K'`): −1e9 is added to the logits of every hidden **key** column
    /// (masked and padding), for every query row and head. Hidden positions still act as queries.
    KeyHidden,
    /// Released A1 (`mask_format = 'QK'`, coefficient +1): +1 is *added* to the logit wherever the
    /// query **or** the key is hidden. This is not a real mask; it reproduces the released model.
    A1QueryOrKeyPlusOne,
}

/// Architecture of the encoder. All sizes are runtime values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Number of attention blocks.
    pub n_blocks: usize,
    /// Model width d (= n_heads × head size).
    pub d_model: usize,
    /// Number of attention heads; `d_model` must be divisible by it.
    pub n_heads: usize,
    /// Hidden width of the position-wise FFN (tanh inside).
    pub ffn_width: usize,
    /// A2's learned "leak" residual projections R1/R2 (Dense d→d). `false` = A1: no residual at
    /// all (the block's LayerNorms see only the sub-layer output).
    pub residual_projections: bool,
    /// Base of the interleaved sinusoidal time encoding (10000 in both released models).
    pub pe_base: f64,
    /// Mask token behaviour.
    pub mask_token: MaskTokenMode,
    /// Attention-mask behaviour.
    pub attention_mask: AttentionMaskMode,
    /// Dropout rate (input embedding, after attention, after the FFN).
    pub dropout: f32,
    /// LayerNorm epsilon (Keras layers in the official code use 1e-6).
    pub layer_norm_eps: f32,
}

impl EncoderConfig {
    /// Astromer 1 as released: 2 blocks, 4 heads × 64, FFN 128 (tanh), no residuals, no mask
    /// token, the +1 "QK" attention mask, PE base 10000, dropout 0.1. 661,505 parameters.
    pub fn astromer1() -> Self {
        Self {
            n_blocks: 2,
            d_model: 256,
            n_heads: 4,
            ffn_width: 128,
            residual_projections: false,
            pe_base: 10000.0,
            mask_token: MaskTokenMode::Absent,
            attention_mask: AttentionMaskMode::A1QueryOrKeyPlusOne,
            dropout: 0.1,
            layer_norm_eps: 1e-6,
        }
    }

    /// Astromer 2 (paper intent): 6 blocks, 4 heads × 64, FFN 512 (tanh), learned residual
    /// projections, key mask (−1e9), mask token applied, PE base 10000, dropout 0.1.
    /// 3,953,410 parameters (3,953,409 + the scalar token).
    pub fn astromer2() -> Self {
        Self {
            n_blocks: 6,
            d_model: 256,
            n_heads: 4,
            ffn_width: 512,
            residual_projections: true,
            pe_base: 10000.0,
            mask_token: MaskTokenMode::Applied,
            attention_mask: AttentionMaskMode::KeyHidden,
            dropout: 0.1,
            layer_norm_eps: 1e-6,
        }
    }

    /// Astromer 2 exactly as the official Keras graph runs (mask token present but unused).
    pub fn astromer2_official_graph() -> Self {
        Self {
            mask_token: MaskTokenMode::OfficialGraph,
            ..Self::astromer2()
        }
    }

    /// Per-head size d / n_heads.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// Checks the sizes; returns a human-readable reason when they are inconsistent.
    pub fn validate(&self) -> Result<(), String> {
        if self.d_model == 0 || self.n_heads == 0 || self.ffn_width == 0 {
            return Err("d_model, n_heads and ffn_width must be positive".into());
        }
        #[allow(clippy::manual_is_multiple_of)] // workspace MSRV 1.85
        if self.d_model % self.n_heads != 0 {
            return Err(format!(
                "d_model ({}) must be divisible by n_heads ({})",
                self.d_model, self.n_heads
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if self.pe_base.is_nan() || self.pe_base <= 0.0 {
            return Err(format!("pe_base must be positive, got {}", self.pe_base));
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return Err(format!(
                "layer_norm_eps must be positive, got {}",
                self.layer_norm_eps
            ));
        }
        Ok(())
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("EncoderConfig is always serialisable")
    }

    /// Parses from TOML.
    pub fn from_toml(s: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip() {
        for c in [
            EncoderConfig::astromer1(),
            EncoderConfig::astromer2(),
            EncoderConfig::astromer2_official_graph(),
        ] {
            let s = c.to_toml();
            let back = EncoderConfig::from_toml(&s).unwrap();
            assert_eq!(c, back, "{s}");
        }
        let s = EncoderConfig::astromer2().to_toml();
        assert!(s.contains("mask_token = \"applied\""), "{s}");
        assert!(s.contains("attention_mask = \"key-hidden\""), "{s}");
    }

    #[test]
    fn validate_rejects_bad_heads() {
        let mut c = EncoderConfig::astromer2();
        c.n_heads = 3;
        assert!(c.validate().is_err());
        assert!(EncoderConfig::astromer1().validate().is_ok());
    }
}
