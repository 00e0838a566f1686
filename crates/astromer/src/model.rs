//! The Astromer encoder and reconstruction head (spec §4–§6.1), generic over the dfdx device.

use dfdx::prelude::*;
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{AttentionMaskMode, EncoderConfig};
use crate::error::ModelError;
use crate::kernels::BiasRef;
use crate::layers::{
    cached_tensor,
    Dense, Dropout, LayerNorm, NamedParams, NamedParamsMut, ParamMut, ParamRef, Tensor1, Tensor2,
    Tensor3, Tensor4,
};
use crate::mask::{MaskedBatch, Visibility};
use crate::train::Parameters;

/// Value added to the logits of hidden keys in [`AttentionMaskMode::KeyHidden`] (official m_alpha).
pub const KEY_MASK_LOGIT: f32 = -1e9;

/// Host gradients by parameter name, in `Astromer::params()` order.
pub type HostGradients = Vec<(String, Vec<f32>)>;

/// How the loss weights the squared errors of scored positions (spec §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossWeighting {
    /// Σ m·w·r / Σ m with w = the window's loss weights (what `disttrain.py` ran).
    Weighted,
    /// Σ m·r / Σ m (single-GPU scripts, reported test numbers).
    Unweighted,
}

/// Additive attention-logit bias built from the positions' [`Visibility`].
pub enum AttentionBias<D: Device<f32>> {
    /// (B, L_key): broadcast over heads and query rows (A2 key mask).
    Key(Tensor2<D>),
    /// (B, L_query, L_key): broadcast over heads (released A1 "+1 where Q or K hidden").
    Full(Tensor3<D>),
}

impl<D: Device<f32>> AttentionBias<D> {
    fn apply<T: Tape<f32, D> + 'static>(&self, logits: Tensor4<D, T>) -> Tensor4<D, T> {
        let s = *logits.shape();
        match self {
            AttentionBias::Key(k) => logits + k.clone().broadcast_like::<_, Axes2<1, 2>>(&s),
            AttentionBias::Full(f) => logits + f.clone().broadcast_like::<_, Axis<1>>(&s),
        }
    }
}

/// Device tensors of one batch. **The only place** where the typed masks
/// ([`crate::mask::ProbeRole`] / [`Visibility`]) become f32 values.
pub struct BatchTensors<D: Device<f32>> {
    pub batch_size: usize,
    pub window_len: usize,
    /// Window-centred times, (B·L,).
    pub time: Tensor1<D>,
    /// Input magnitudes, (B·L, 1).
    pub mag: Tensor2<D>,
    /// 1 where the position is visible, else 0, (B·L, 1).
    pub visible: Tensor2<D>,
    /// 1 where the position is hidden, else 0, (B·L, 1).
    pub hidden: Tensor2<D>,
    /// Targets, (B, L).
    pub target: Tensor2<D>,
    /// m·w (weighted) or m (unweighted), (B, L); m = 1 on scored positions.
    pub score_weight: Tensor2<D>,
    /// max(1, Σ_l m) per window, (B,).
    pub score_count: Tensor1<D>,
    /// Attention logit bias.
    pub attention_bias: AttentionBias<D>,
}

impl<D: Device<f32>> BatchTensors<D> {
    pub fn new(
        batch: &MaskedBatch,
        mode: AttentionMaskMode,
        weighting: LossWeighting,
        dev: &D,
    ) -> Result<Self, ModelError> {
        let (b, l) = (batch.batch_size, batch.window_len);
        let n = b * l;
        if b == 0 || l == 0 {
            return Err(ModelError::EmptyBatch);
        }
        for (name, len) in [
            ("time", batch.time.len()),
            ("input_mag", batch.input_mag.len()),
            ("target", batch.target.len()),
            ("loss_weight", batch.loss_weight.len()),
            ("roles", batch.roles.len()),
        ] {
            if len != n {
                return Err(ModelError::InconsistentWindow {
                    index: 0,
                    reason: format!("MaskedBatch.{name} has {len} values, expected {b}×{l}"),
                });
            }
        }
        let hidden: Vec<bool> = batch
            .roles
            .iter()
            .map(|r| r.visibility() == Visibility::Hidden)
            .collect();
        let hidden_f: Vec<f32> = hidden.iter().map(|&h| if h { 1.0 } else { 0.0 }).collect();
        let visible_f: Vec<f32> = hidden.iter().map(|&h| if h { 0.0 } else { 1.0 }).collect();
        let scored: Vec<f32> = batch
            .roles
            .iter()
            .map(|r| if r.is_scored() { 1.0 } else { 0.0 })
            .collect();
        let score_weight: Vec<f32> = match weighting {
            LossWeighting::Weighted => scored
                .iter()
                .zip(&batch.loss_weight)
                .map(|(m, w)| m * w)
                .collect(),
            LossWeighting::Unweighted => scored.clone(),
        };
        let score_count: Vec<f32> = scored
            .chunks(l)
            .map(|c| c.iter().sum::<f32>().max(1.0))
            .collect();
        let attention_bias = match mode {
            AttentionMaskMode::KeyHidden => {
                let v: Vec<f32> = hidden
                    .iter()
                    .map(|&h| if h { KEY_MASK_LOGIT } else { 0.0 })
                    .collect();
                AttentionBias::Key(cached_tensor(dev, &v, (b, l)))
            }
            AttentionMaskMode::A1QueryOrKeyPlusOne => {
                let mut v = vec![0.0f32; b * l * l];
                for bi in 0..b {
                    let h = &hidden[bi * l..(bi + 1) * l];
                    for q in 0..l {
                        let row = &mut v[(bi * l + q) * l..(bi * l + q + 1) * l];
                        for (k, x) in row.iter_mut().enumerate() {
                            if h[q] || h[k] {
                                *x = 1.0;
                            }
                        }
                    }
                }
                AttentionBias::Full(cached_tensor(dev, &v, (b, l, l)))
            }
        };
        Ok(Self {
            batch_size: b,
            window_len: l,
            time: cached_tensor(dev, &batch.time, (n,)),
            mag: cached_tensor(dev, &batch.input_mag, (n, 1)),
            visible: cached_tensor(dev, &visible_f, (n, 1)),
            hidden: cached_tensor(dev, &hidden_f, (n, 1)),
            target: cached_tensor(dev, &batch.target, (b, l)),
            score_weight: cached_tensor(dev, &score_weight, (b, l)),
            score_count: cached_tensor(dev, &score_count, (b,)),
            attention_bias,
        })
    }
}

/// Input embedding: interleaved sinusoidal time encoding + Dense(1→d) of the magnitude
/// (optionally replaced by the mask token at hidden positions), spec §4.
#[derive(Clone, Debug)]
pub struct InputEmbedding<D: Device<f32>> {
    /// Dense(1 → d) with bias.
    pub magnitude: Dense<D>,
    /// Scalar mask token, shape (1,), when the config has one.
    pub mask_token: Option<Tensor1<D>>,
    /// Whether the token replaces hidden magnitudes (`MaskTokenMode::Applied`).
    pub token_applied: bool,
    /// Per-dimension angular frequency base^(−2j/d).
    frequencies: Vec<f32>,
    /// 0 for even j (sin), π/2 for odd j (cos = sin(· + π/2)).
    phases: Vec<f32>,
}

impl<D: Device<f32>> InputEmbedding<D> {
    fn new(cfg: &EncoderConfig, dev: &D, rng: &mut ChaCha8Rng) -> Self {
        let d = cfg.d_model;
        let frequencies = (0..d)
            .map(|j| cfg.pe_base.powf(-2.0 * j as f64 / d as f64) as f32)
            .collect();
        let phases = (0..d)
            .map(|j| {
                if j % 2 == 0 {
                    0.0
                } else {
                    std::f32::consts::FRAC_PI_2
                }
            })
            .collect();
        Self {
            magnitude: Dense::new(dev, 1, d, rng),
            mask_token: cfg
                .mask_token
                .has_parameter()
                .then(|| crate::layers::filled(dev, 1, 0.0)),
            token_applied: cfg.mask_token.is_applied(),
            frequencies,
            phases,
        }
    }

    /// Positional encoding of the times, (N, d), no gradient.
    pub fn positional_encoding(&self, time: &Tensor1<D>) -> Tensor2<D> {
        let dev = time.device().clone();
        let n = time.shape().0;
        let d = self.frequencies.len();
        let f = cached_tensor(&dev, &self.frequencies, (d,));
        let p = cached_tensor(&dev, &self.phases, (d,));
        let angles = time.clone().broadcast_like::<_, Axis<1>>(&(n, d))
            * f.broadcast_like::<_, Axis<0>>(&(n, d));
        (angles + p.broadcast_like::<_, Axis<0>>(&(n, d))).sin()
    }

    /// mag: (N, 1) input magnitudes carrying the tape → (N, d) embedding (before dropout).
    fn forward<T: Tape<f32, D> + 'static>(
        &self,
        mag: Tensor2<D, T>,
        bt: &BatchTensors<D>,
    ) -> Tensor2<D, T> {
        let n = mag.shape().0;
        let mag_in = match (&self.mask_token, self.token_applied) {
            (Some(token), true) => {
                let tok =
                    token.retaped::<T>().broadcast_like::<_, Axis<0>>(&(n, 1)) * bt.hidden.clone();
                mag * bt.visible.clone() + tok
            }
            _ => mag,
        };
        self.magnitude.forward(mag_in) + self.positional_encoding(&bt.time)
    }

    fn params<'a>(&'a self, out: &mut NamedParams<'a, D>) {
        self.magnitude.params("embedding.magnitude", out);
        if let Some(t) = &self.mask_token {
            out.push(("embedding.mask_token".into(), ParamRef::R1(t)));
        }
    }

    fn params_mut<'a>(&'a mut self, out: &mut NamedParamsMut<'a, D>) {
        self.magnitude.params_mut("embedding.magnitude", out);
        if let Some(t) = &mut self.mask_token {
            out.push(("embedding.mask_token".into(), ParamMut::R1(t)));
        }
    }
}

/// Multi-head self-attention (Q, K, V, merge: Dense d→d).
#[derive(Clone, Debug)]
pub struct MultiHeadAttention<D: Device<f32>> {
    pub query: Dense<D>,
    pub key: Dense<D>,
    pub value: Dense<D>,
    pub merge: Dense<D>,
    pub n_heads: usize,
}

impl<D: Device<f32>> MultiHeadAttention<D> {
    /// Q, K, V and merge layers d → d, Glorot-uniform (Keras defaults), `n_heads` heads.
    pub fn new(dev: &D, d: usize, n_heads: usize, rng: &mut impl rand::Rng) -> Self {
        Self {
            query: Dense::new(dev, d, d, rng),
            key: Dense::new(dev, d, d, rng),
            value: Dense::new(dev, d, d, rng),
            merge: Dense::new(dev, d, d, rng),
            n_heads,
        }
    }

    /// x: (B·L, d) → (B·L, d); `bias` masks attention logits (all zeros: every position sees
    /// every other).
    pub fn forward<T: Tape<f32, D> + 'static>(
        &self,
        x: Tensor2<D, T>,
        bias: &AttentionBias<D>,
        b: usize,
        l: usize,
    ) -> Tensor2<D, T> {
        let d = x.shape().1;
        let h = self.n_heads;
        let hd = d / h;
        let (x, tape) = x.split_tape();
        let q = self.query.forward(x.clone().put_tape(tape));
        let k = self.key.forward(x.retaped::<T>());
        let v = self.value.forward(x.retaped::<T>());
        // CPU: fused attention straight from the (B·L, d) activations (see `kernels`).
        let bias_ref = match bias {
            AttentionBias::Key(t) => BiasRef::Key(t),
            AttentionBias::Full(t) => BiasRef::Full(t),
        };
        let (q, k, v) = match crate::kernels::attention((q, k, v), bias_ref, (b, l, h)) {
            Ok(o) => return self.merge.forward(o),
            Err(qkv) => qkv,
        };
        // (B·L, d) → (B, L, H, hd) → (B, H, L, hd); K → (B, H, hd, L).
        let q = q
            .reshape_like(&(b, l, h, hd))
            .permute::<_, Axes4<0, 2, 1, 3>>();
        let k = k
            .reshape_like(&(b, l, h, hd))
            .permute::<_, Axes4<0, 2, 3, 1>>();
        let v = v
            .reshape_like(&(b, l, h, hd))
            .permute::<_, Axes4<0, 2, 1, 3>>();
        let scale = 1.0 / (hd as f32).sqrt();
        let logits = q.matmul(k) * scale;
        let weights = bias.apply(logits).softmax::<Axis<3>>();
        let o = weights.matmul(v); // (B, H, L, hd)
        let o = o
            .permute::<_, Axes4<0, 2, 1, 3>>()
            .reshape_like(&(b * l, d));
        self.merge.forward(o)
    }
}

/// One post-LN attention block (spec §5).
#[derive(Clone, Debug)]
pub struct AttentionBlock<D: Device<f32>> {
    pub attention: MultiHeadAttention<D>,
    /// R1: learned Dense(d→d) "leak" residual of the attention sub-layer (A2), absent in A1.
    pub attention_residual: Option<Dense<D>>,
    pub attention_norm: LayerNorm<D>,
    /// FFN Dense(d→ffn), tanh.
    pub ffn_inner: Dense<D>,
    /// FFN Dense(ffn→d).
    pub ffn_outer: Dense<D>,
    /// R2: learned Dense(d→d) residual of the FFN sub-layer (A2), absent in A1.
    pub ffn_residual: Option<Dense<D>>,
    pub ffn_norm: LayerNorm<D>,
}

impl<D: Device<f32>> AttentionBlock<D> {
    fn new(cfg: &EncoderConfig, dev: &D, rng: &mut ChaCha8Rng) -> Self {
        let d = cfg.d_model;
        let attention = MultiHeadAttention::new(dev, d, cfg.n_heads, rng);
        let attention_residual = cfg.residual_projections.then(|| Dense::new(dev, d, d, rng));
        let ffn_inner = Dense::new(dev, d, cfg.ffn_width, rng);
        let ffn_outer = Dense::new(dev, cfg.ffn_width, d, rng);
        let ffn_residual = cfg.residual_projections.then(|| Dense::new(dev, d, d, rng));
        Self {
            attention,
            attention_residual,
            attention_norm: LayerNorm::new(dev, d, cfg.layer_norm_eps),
            ffn_inner,
            ffn_outer,
            ffn_residual,
            ffn_norm: LayerNorm::new(dev, d, cfg.layer_norm_eps),
        }
    }

    fn forward<T: Tape<f32, D> + 'static>(
        &self,
        x: Tensor2<D, T>,
        bt: &BatchTensors<D>,
        dropout: &mut Dropout<'_>,
    ) -> Tensor2<D, T> {
        let (b, l) = (bt.batch_size, bt.window_len);
        // Attention sub-layer: h = LN(R1(x) + Dropout(MHA(x))) or LN(Dropout(MHA(x))).
        let (x, tape) = x.split_tape();
        let r1 = self
            .attention_residual
            .as_ref()
            .map(|r| r.forward(x.retaped::<T>()));
        let a = self
            .attention
            .forward(x.put_tape(tape), &bt.attention_bias, b, l);
        let a = dropout.apply(a);
        let h = match r1 {
            Some(r) => self.attention_norm.forward_residual(r, a),
            None => self.attention_norm.forward(a),
        };
        // FFN sub-layer: out = LN(R2(h) + Dropout(FFN(h))) or LN(Dropout(FFN(h))).
        let (h, tape) = h.split_tape();
        let r2 = self
            .ffn_residual
            .as_ref()
            .map(|r| r.forward(h.retaped::<T>()));
        let inner = self.ffn_inner.forward(h.put_tape(tape));
        let f = self.ffn_outer.forward(crate::layers::tanh(inner));
        let f = dropout.apply(f);
        match r2 {
            Some(r) => self.ffn_norm.forward_residual(r, f),
            None => self.ffn_norm.forward(f),
        }
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        let a = &self.attention;
        a.query.params(&format!("{prefix}.attention.query"), out);
        a.key.params(&format!("{prefix}.attention.key"), out);
        a.value.params(&format!("{prefix}.attention.value"), out);
        a.merge.params(&format!("{prefix}.attention.merge"), out);
        if let Some(r) = &self.attention_residual {
            r.params(&format!("{prefix}.attention_residual"), out);
        }
        self.attention_norm
            .params(&format!("{prefix}.attention_norm"), out);
        self.ffn_inner.params(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer.params(&format!("{prefix}.ffn.outer"), out);
        if let Some(r) = &self.ffn_residual {
            r.params(&format!("{prefix}.ffn_residual"), out);
        }
        self.ffn_norm.params(&format!("{prefix}.ffn_norm"), out);
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        let a = &mut self.attention;
        a.query
            .params_mut(&format!("{prefix}.attention.query"), out);
        a.key.params_mut(&format!("{prefix}.attention.key"), out);
        a.value
            .params_mut(&format!("{prefix}.attention.value"), out);
        a.merge
            .params_mut(&format!("{prefix}.attention.merge"), out);
        if let Some(r) = &mut self.attention_residual {
            r.params_mut(&format!("{prefix}.attention_residual"), out);
        }
        self.attention_norm
            .params_mut(&format!("{prefix}.attention_norm"), out);
        self.ffn_inner
            .params_mut(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer
            .params_mut(&format!("{prefix}.ffn.outer"), out);
        if let Some(r) = &mut self.ffn_residual {
            r.params_mut(&format!("{prefix}.ffn_residual"), out);
        }
        self.ffn_norm.params_mut(&format!("{prefix}.ffn_norm"), out);
    }
}

/// Reconstruction head: LayerNorm + Dense(d→1) per time step (spec §6.1).
#[derive(Clone, Debug)]
pub struct ReconstructionHead<D: Device<f32>> {
    pub norm: LayerNorm<D>,
    pub output: Dense<D>,
}

impl<D: Device<f32>> ReconstructionHead<D> {
    /// (B·L, d) → (B, L).
    fn forward<T: Tape<f32, D> + 'static>(
        &self,
        z: Tensor2<D, T>,
        b: usize,
        l: usize,
    ) -> Tensor2<D, T> {
        self.output
            .forward(self.norm.forward(z))
            .reshape_like(&(b, l))
    }
}

/// Every representation the encoder computes, (B, L, d) each, without gradient tape.
#[derive(Clone, Debug)]
pub struct EncoderOutput<D: Device<f32>> {
    /// Input embedding (magnitude projection + PE), before the input dropout: the first of the
    /// seven representations of the `skip` classifier (spec §8.2).
    pub embedding: Tensor3<D>,
    /// Output of every attention block, in order.
    pub blocks: Vec<Tensor3<D>>,
}

impl<D: Device<f32>> EncoderOutput<D> {
    /// The last block's output (the embedding if there are no blocks).
    pub fn last(&self) -> &Tensor3<D> {
        self.blocks.last().unwrap_or(&self.embedding)
    }
    /// Embedding followed by every block output.
    pub fn all(&self) -> Vec<&Tensor3<D>> {
        std::iter::once(&self.embedding)
            .chain(self.blocks.iter())
            .collect()
    }
}

/// Astromer: encoder + reconstruction head.
#[derive(Clone, Debug)]
pub struct Astromer<D: Device<f32>> {
    config: EncoderConfig,
    pub embedding: InputEmbedding<D>,
    pub blocks: Vec<AttentionBlock<D>>,
    pub head: ReconstructionHead<D>,
    device: D,
}

impl<D: Device<f32>> Astromer<D> {
    /// Builds the model with Keras initialisation, deterministically from `seed`
    /// (ChaCha8; parameters drawn in construction order).
    pub fn new(config: EncoderConfig, dev: &D, seed: u64) -> Result<Self, ModelError> {
        config.validate().map_err(ModelError::InvalidConfig)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let embedding = InputEmbedding::new(&config, dev, &mut rng);
        let blocks = (0..config.n_blocks)
            .map(|_| AttentionBlock::new(&config, dev, &mut rng))
            .collect();
        let head = ReconstructionHead {
            norm: LayerNorm::new(dev, config.d_model, config.layer_norm_eps),
            output: Dense::new(dev, config.d_model, 1, &mut rng),
        };
        Ok(Self {
            config,
            embedding,
            blocks,
            head,
            device: dev.clone(),
        })
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn device(&self) -> &D {
        &self.device
    }

    /// All parameters, by name, in a fixed order.
    pub fn params(&self) -> NamedParams<'_, D> {
        let mut out = Vec::new();
        self.embedding.params(&mut out);
        for (i, b) in self.blocks.iter().enumerate() {
            b.params(&format!("blocks.{i}"), &mut out);
        }
        self.head.norm.params("head.norm", &mut out);
        self.head.output.params("head.output", &mut out);
        out
    }

    /// All parameters, mutably, same order as [`Self::params`].
    pub fn params_mut(&mut self) -> NamedParamsMut<'_, D> {
        let mut out = Vec::new();
        self.embedding.params_mut(&mut out);
        for (i, b) in self.blocks.iter_mut().enumerate() {
            b.params_mut(&format!("blocks.{i}"), &mut out);
        }
        self.head.norm.params_mut("head.norm", &mut out);
        self.head.output.params_mut("head.output", &mut out);
        out
    }

    /// Number of scalar parameters, counted from the built tensors.
    pub fn parameter_count(&self) -> usize {
        self.params().iter().map(|(_, p)| p.numel()).sum()
    }

    /// (name, shape) of every parameter.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.params()
            .into_iter()
            .map(|(n, p)| (n, p.shape()))
            .collect()
    }

    /// Host copy of one parameter.
    pub fn parameter_values(&self, name: &str) -> Option<Vec<f32>> {
        self.params()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.to_vec())
    }

    /// Overwrites one parameter (row-major values of its shape).
    pub fn set_parameter_values(&mut self, name: &str, values: &[f32]) -> Result<(), ModelError> {
        let mut params = self.params_mut();
        let (_, p) = params
            .iter_mut()
            .find(|(n, _)| n == name)
            .ok_or_else(|| ModelError::UnknownParameter(name.to_string()))?;
        let expected: usize = p.shape().iter().product();
        if expected != values.len() {
            return Err(ModelError::ParameterSize {
                name: name.into(),
                expected,
                got: values.len(),
            });
        }
        p.set(values.to_vec());
        Ok(())
    }

    /// Builds the device tensors of a batch for this model's attention mode.
    pub fn batch_tensors(
        &self,
        batch: &MaskedBatch,
        weighting: LossWeighting,
    ) -> Result<BatchTensors<D>, ModelError> {
        BatchTensors::new(batch, self.config.attention_mask, weighting, &self.device)
    }

    /// Encoder forward. `mag` is `bt.mag`, possibly traced. Returns the last block output
    /// (B·L, d) and, when `collect`, untaped copies of the embedding and every block output.
    fn encoder_forward<T: Tape<f32, D> + 'static>(
        &self,
        mag: Tensor2<D, T>,
        bt: &BatchTensors<D>,
        dropout: &mut Dropout<'_>,
        collect: bool,
    ) -> (Tensor2<D, T>, Vec<Tensor2<D>>) {
        let mut kept = Vec::new();
        let emb = self.embedding.forward(mag, bt);
        if collect {
            kept.push(emb.retaped::<NoneTape>());
        }
        let mut x = dropout.apply(emb);
        for block in &self.blocks {
            x = block.forward(x, bt, dropout);
            if collect {
                kept.push(x.retaped::<NoneTape>());
            }
        }
        (x, kept)
    }

    fn encode_with(
        &self,
        batch: &MaskedBatch,
        mut dropout: Dropout<'_>,
    ) -> Result<EncoderOutput<D>, ModelError> {
        let bt = self.batch_tensors(batch, LossWeighting::Unweighted)?;
        let (b, l, d) = (bt.batch_size, bt.window_len, self.config.d_model);
        let (_, kept) = self.encoder_forward(bt.mag.clone(), &bt, &mut dropout, true);
        let mut it = kept.into_iter().map(|t| t.reshape_like(&(b, l, d)));
        let embedding = it.next().expect("embedding is always collected");
        Ok(EncoderOutput {
            embedding,
            blocks: it.collect(),
        })
    }

    /// Inference-mode encoding (no dropout): embedding + every block output, (B, L, d) each.
    pub fn encode(&self, batch: &MaskedBatch) -> Result<EncoderOutput<D>, ModelError> {
        self.encode_with(batch, Dropout::off())
    }

    /// Training-mode encoding (dropout active, masks from `rng`), e.g. a frozen encoder inside a
    /// classifier that Keras trained with `training=True` (spec §7.3). No gradients.
    pub fn encode_train(
        &self,
        batch: &MaskedBatch,
        rng: &mut dyn RngCore,
    ) -> Result<EncoderOutput<D>, ModelError> {
        let p = self.config.dropout;
        self.encode_with(batch, Dropout::new(Some(rng), p))
    }

    /// Full forward pass to reconstructions (B, L) with tape `T`.
    pub(crate) fn forward<T: Tape<f32, D> + 'static>(
        &self,
        mag: Tensor2<D, T>,
        bt: &BatchTensors<D>,
        dropout: &mut Dropout<'_>,
    ) -> Tensor2<D, T> {
        let (z, _) = self.encoder_forward(mag, bt, dropout, false);
        self.head.forward(z, bt.batch_size, bt.window_len)
    }

    /// Inference-mode reconstructions, row-major (B, L) on the host.
    pub fn predict(&self, batch: &MaskedBatch) -> Result<Vec<f32>, ModelError> {
        Ok(self.predict_tensor(batch)?.as_vec())
    }

    /// Inference-mode reconstructions (B, L) on the device.
    pub fn predict_tensor(&self, batch: &MaskedBatch) -> Result<Tensor2<D>, ModelError> {
        let bt = self.batch_tensors(batch, LossWeighting::Unweighted)?;
        Ok(self.forward(bt.mag.clone(), &bt, &mut Dropout::off()))
    }

    /// Loss and gradients, without dropout (for gradient checks and analysis). Gradients are
    /// returned on the host by parameter name.
    pub fn loss_and_gradients(
        &self,
        batch: &MaskedBatch,
        weighting: LossWeighting,
    ) -> Result<(f32, HostGradients), ModelError> {
        let bt = self.batch_tensors(batch, weighting)?;
        let (loss, _pred, grads) = self.backward(&bt, &mut Dropout::off());
        let out = self
            .params()
            .into_iter()
            .map(|(n, p)| {
                let g = match p {
                    ParamRef::R1(t) => grads.get(t).as_vec(),
                    ParamRef::R2(t) => grads.get(t).as_vec(),
                };
                (n, g)
            })
            .collect();
        Ok((loss, out))
    }

    /// Forward + loss + backward. Returns (loss value, predictions (B, L), gradients with an
    /// entry for every parameter — zero for parameters outside the graph).
    pub(crate) fn backward(
        &self,
        bt: &BatchTensors<D>,
        dropout: &mut Dropout<'_>,
    ) -> (f32, Tensor2<D>, Gradients<f32, D>) {
        // A zero gradient buffer for every parameter, also those outside the graph.
        let grads = Parameters::zero_gradients(self);
        let mag = bt.mag.clone().traced(grads);
        let pred = self.forward(mag, bt, dropout);
        let (pred, tape) = pred.split_tape();
        let loss = reconstruction_loss(pred.clone().put_tape(tape), bt);
        let value = loss.retaped::<NoneTape>().as_vec()[0];
        let grads = loss.backward();
        (value, pred, grads)
    }
}

/// RMSE loss of spec §6.2 as a differentiable scalar: sqrt(mean_i Σ_l m·w·r / Σ_l m).
pub fn reconstruction_loss<D: Device<f32>, T: Tape<f32, D> + 'static>(
    pred: Tensor2<D, T>,
    bt: &BatchTensors<D>,
) -> Tensor<(), f32, D, T> {
    let r = (pred - bt.target.clone()).square() * bt.score_weight.clone();
    let per_window = r.sum::<(usize,), Axis<1>>() / bt.score_count.clone();
    per_window.mean::<(), Axis<0>>().sqrt()
}

/// Astromer as the probes see it: the input embedding and every block's output, inference mode.
impl<D: Device<f32>> lightcurve::WindowEncoder for Astromer<D> {
    fn n_representations(&self) -> usize {
        self.blocks.len() + 1
    }

    fn width(&self) -> usize {
        self.config().d_model
    }

    fn encode_windows(&self, windows: &[lightcurve::PaddedWindow]) -> Result<lightcurve::LayerOutputs, lightcurve::EncodeError> {
        let fail = |e: ModelError| lightcurve::EncodeError(e.to_string());
        let batch = MaskedBatch::evaluation(windows).map_err(fail)?;
        let encoded = self.encode(&batch).map_err(fail)?;
        Ok(lightcurve::LayerOutputs {
            steps: batch.window_len,
            width: self.config().d_model,
            layers: encoded.all().into_iter().map(|t| t.as_vec()).collect(),
        })
    }
}
