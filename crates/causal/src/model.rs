//! The dual-latent model in dfdx: two Conformer encoders with untied weights (star, instrument),
//! a product decoder, and SimCLR-style projection heads for the contrastive losses (issue 16).
//!
//! What the paper fixes: Conformer blocks with temporal self-attention, an LSTM recurrence and a
//! depthwise convolution, 4 blocks, 64-d, 4 heads, FFN 128; global pooling and a projection to a
//! 20-d latent per encoder; decoder MLPs mapping each latent to a shared hidden space, combined by
//! element-wise product, then mapped back to the T samples; projection heads used only by the
//! contrastive losses. What it leaves open, chosen here (docs/causal.md): the sub-layer order
//! (pre-LN residual sub-layers attention → LSTM → convolution → FFN, then a final LayerNorm), GELU
//! activations, convolution kernel 7 ("same" zero padding) followed by a pointwise Dense, mean
//! pooling, a sinusoidal encoding of the step index added to a Dense(1 → d) of the flux, decoder
//! and projection widths 64. The single-latent baseline is the same model without the instrument
//! encoder, its decoder branch and its projection head.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Dense, LayerNorm, NamedParams, NamedParamsMut, ParamMut, ParamRef, Tensor2, Tensor3};
use astromer::model::{AttentionBias, MultiHeadAttention};
use astromer::train::Parameters;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Architecture of the dual-latent model (and of its single-latent baseline).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalModelConfig {
    /// T: samples per light curve (the decoder's output width).
    pub n_steps: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub ffn_width: usize,
    pub n_blocks: usize,
    /// Width of z_star and z_instr.
    pub latent: usize,
    pub conv_kernel: usize,
    pub decoder_hidden: usize,
    pub projection_hidden: usize,
    pub layer_norm_eps: f32,
    /// false: the single-latent baseline (star encoder only).
    pub dual: bool,
}

impl CausalModelConfig {
    /// The paper's sizes (4 blocks, 64-d, 4 heads, FFN 128, latents of 20) for curves of `n_steps`.
    pub fn paper(n_steps: usize) -> Self {
        Self {
            n_steps,
            d_model: 64,
            n_heads: 4,
            ffn_width: 128,
            n_blocks: 4,
            latent: 20,
            conv_kernel: 7,
            decoder_hidden: 64,
            projection_hidden: 64,
            layer_norm_eps: 1e-5,
            dual: true,
        }
    }

    /// Why this configuration cannot be built, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("n_steps", self.n_steps),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("ffn_width", self.ffn_width),
            ("n_blocks", self.n_blocks),
            ("latent", self.latent),
            ("conv_kernel", self.conv_kernel),
            ("decoder_hidden", self.decoder_hidden),
            ("projection_hidden", self.projection_hidden),
        ] {
            if v == 0 {
                return Err(format!("`{name}` must be at least 1"));
            }
        }
        if self.d_model % self.n_heads != 0 {
            return Err(format!("d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads));
        }
        if self.d_model % 2 != 0 {
            return Err(format!("d_model {} must be even (sine and cosine pairs of the time encoding)", self.d_model));
        }
        Ok(())
    }
}

/// An LSTM over every step (Keras gate order i, f, c, o and `unit_forget_bias`: the forget gate's
/// bias starts at 1; Glorot-uniform kernels, where Keras makes the recurrent one orthogonal), all
/// hidden states returned. The curves of this model are regular and unpadded, so no mask:
/// c' = f ⊙ c + i ⊙ tanh(·), h' = o ⊙ tanh(c').
#[derive(Clone, Debug)]
pub struct Lstm<D: Device<f32>> {
    /// x W + b: kernel (in, 4U), bias (4U,).
    pub input: Dense<D>,
    /// h U: recurrent kernel (U, 4U), no bias (the input bias is the only one).
    pub recurrent: Tensor2<D>,
}

impl<D: Device<f32>> Lstm<D> {
    pub fn new(dev: &D, input: usize, units: usize, rng: &mut impl Rng) -> Self {
        let mut input = Dense::new(dev, input, 4 * units, rng);
        let bias: Vec<f32> = (0..4 * units).map(|j| if (units..2 * units).contains(&j) { 1.0 } else { 0.0 }).collect();
        input.bias = dev.tensor_from_vec(bias, (4 * units,));
        let recurrent = Dense::new(dev, units, 4 * units, rng).weight;
        Self { input, recurrent }
    }

    pub fn units(&self) -> usize {
        self.recurrent.shape().0
    }

    /// x: (B, L, in) → every step's hidden state, (B, L, U).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor3<D, T>) -> Tensor3<D, T> {
        let (b, l, i) = *x.shape();
        let u = self.units();
        let dev = x.device().clone();
        let projected = self.input.forward(x.reshape_like(&(b * l, i)));
        // The whole recurrence as one fused op on the CPU (analytic backward through time), else
        // the per-step ops below.
        let projected = match astromer::kernels::lstm_recurrence(projected, &self.recurrent, (b, l)) {
            Ok(h) => return h.reshape_like(&(b, l, u)),
            Err(p) => p.reshape_like(&(b, l, 4 * u)),
        };
        let (projected, tape) = projected.split_tape();
        // Each step's ops go on the tape of that step's output; the input projection's on the first.
        let mut projection_tape = Some(tape);
        let mut h_prev: Tensor2<D> = dev.zeros_like(&(b, u));
        let mut c_prev: Tensor2<D> = dev.zeros_like(&(b, u));
        let mut outputs: Vec<Tensor2<D, T>> = Vec::with_capacity(l);
        for t in 0..l {
            let source = match projection_tape.take() {
                Some(tape) => projected.clone().put_tape(tape),
                None => projected.clone().retaped::<T>(),
            };
            let x_t = source.slice((.., t..t + 1, ..)).reshape_like(&(b, 4 * u));
            let gates = x_t + h_prev.retaped::<T>().matmul(self.recurrent.retaped::<T>());
            let (gates, tape) = gates.split_tape();
            let input_gate = gates.clone().put_tape(tape).slice((.., 0..u)).sigmoid();
            let forget_gate = gates.clone().retaped::<T>().slice((.., u..2 * u)).sigmoid();
            let candidate = gates.clone().retaped::<T>().slice((.., 2 * u..3 * u)).tanh();
            let output_gate = gates.retaped::<T>().slice((.., 3 * u..)).sigmoid();
            let c = forget_gate * c_prev.retaped::<T>() + input_gate * candidate;
            let (c, c_tape) = c.split_tape();
            let h = output_gate * c.clone().put_tape(c_tape).tanh();
            let (h, h_tape) = h.split_tape();
            outputs.push(h.clone().put_tape(h_tape));
            (h_prev, c_prev) = (h, c);
        }
        outputs.stack().permute::<_, Axes3<1, 0, 2>>()
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        self.input.params(&format!("{prefix}.input"), out);
        out.push((format!("{prefix}.recurrent"), ParamRef::R2(&self.recurrent)));
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        self.input.params_mut(&format!("{prefix}.input"), out);
        out.push((format!("{prefix}.recurrent"), ParamMut::R2(&mut self.recurrent)));
    }
}

/// Depthwise 1-D convolution over time ("same" zero padding): y[t, c] = b_c + Σ_j w[j, c]·x[t + j − ⌊(k−1)/2⌋, c].
#[derive(Clone, Debug)]
pub struct DepthwiseConv<D: Device<f32>> {
    /// (kernel, channels).
    pub weight: Tensor2<D>,
    pub bias: astromer::layers::Tensor1<D>,
}

impl<D: Device<f32>> DepthwiseConv<D> {
    pub fn new(dev: &D, kernel: usize, channels: usize, rng: &mut impl Rng) -> Self {
        // Keras's depthwise Glorot: fan_in = kernel, fan_out = kernel (one filter per channel).
        let limit = (6.0 / (2 * kernel) as f64).sqrt() as f32;
        let w: Vec<f32> = (0..kernel * channels).map(|_| rng.gen_range(-limit..=limit)).collect();
        Self { weight: dev.tensor_from_vec(w, (kernel, channels)), bias: dev.zeros_like(&(channels,)) }
    }

    /// x: (B, L, C) → (B, L, C).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor3<D, T>) -> Tensor3<D, T> {
        let (b, l, c) = *x.shape();
        let k = self.weight.shape().0;
        let (left, right) = ((k - 1) / 2, k - 1 - (k - 1) / 2);
        let dev = x.device().clone();
        let mut padded = x;
        if left > 0 {
            padded = (dev.zeros_like(&(b, left, c)).retaped::<T>(), padded).concat_along(Axis::<1>);
        }
        if right > 0 {
            padded = (padded, dev.zeros_like(&(b, right, c)).retaped::<T>()).concat_along(Axis::<1>);
        }
        let (padded, tape) = padded.split_tape();
        let mut tape = Some(tape);
        let mut sum: Option<Tensor3<D, T>> = None;
        for j in 0..k {
            // dfdx 0.13's slice backward *assigns* the gradient of the sliced region instead of
            // adding to it, so overlapping slices of one tensor lose all but one contribution;
            // × 1 gives each shifted view its own tensor (whose backward does add).
            let source = match tape.take() {
                Some(tape) => padded.clone().put_tape(tape) * 1.0,
                None => padded.clone().retaped::<T>() * 1.0,
            };
            let w = self.weight.retaped::<T>().slice((j..j + 1, ..)).reshape_like(&(c,)).broadcast_like::<_, Axes2<0, 1>>(&(b, l, c));
            let term = source.slice((.., j..j + l, ..)) * w;
            sum = Some(match sum {
                None => term,
                Some(acc) => acc + term,
            });
        }
        sum.expect("kernel of at least 1") + self.bias.retaped::<T>().broadcast_like::<_, Axes2<0, 1>>(&(b, l, c))
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamRef::R2(&self.weight)));
        out.push((format!("{prefix}.bias"), ParamRef::R1(&self.bias)));
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamMut::R2(&mut self.weight)));
        out.push((format!("{prefix}.bias"), ParamMut::R1(&mut self.bias)));
    }
}

/// x → x + Attention(LN x) → + LSTM(LN x) → + Pointwise(GELU(DepthwiseConv(LN x))) → + FFN(LN x).
#[derive(Clone, Debug)]
pub struct ConformerBlock<D: Device<f32>> {
    pub attention_norm: LayerNorm<D>,
    pub attention: MultiHeadAttention<D>,
    pub lstm_norm: LayerNorm<D>,
    pub lstm: Lstm<D>,
    pub conv_norm: LayerNorm<D>,
    pub conv: DepthwiseConv<D>,
    pub conv_pointwise: Dense<D>,
    pub ffn_norm: LayerNorm<D>,
    pub ffn_inner: Dense<D>,
    pub ffn_outer: Dense<D>,
}

impl<D: Device<f32>> ConformerBlock<D> {
    fn new(cfg: &CausalModelConfig, dev: &D, rng: &mut ChaCha8Rng) -> Self {
        let (d, eps) = (cfg.d_model, cfg.layer_norm_eps);
        Self {
            attention_norm: LayerNorm::new(dev, d, eps),
            attention: MultiHeadAttention::new(dev, d, cfg.n_heads, rng),
            lstm_norm: LayerNorm::new(dev, d, eps),
            lstm: Lstm::new(dev, d, d, rng),
            conv_norm: LayerNorm::new(dev, d, eps),
            conv: DepthwiseConv::new(dev, cfg.conv_kernel, d, rng),
            conv_pointwise: Dense::new(dev, d, d, rng),
            ffn_norm: LayerNorm::new(dev, d, eps),
            ffn_inner: Dense::new(dev, d, cfg.ffn_width, rng),
            ffn_outer: Dense::new(dev, cfg.ffn_width, d, rng),
        }
    }

    /// x: (B·L, d) → (B·L, d).
    fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>, bias: &AttentionBias<D>, b: usize, l: usize) -> Tensor2<D, T> {
        let d = x.shape().1;
        let (x, tape) = x.split_tape();
        let a = self.attention.forward(self.attention_norm.forward(x.clone().put_tape(tape)), bias, b, l);
        let x = x.retaped::<T>() + a;
        let (x, tape) = x.split_tape();
        let h = self.lstm_norm.forward(x.clone().put_tape(tape)).reshape_like(&(b, l, d));
        let x = x.retaped::<T>() + self.lstm.forward(h).reshape_like(&(b * l, d));
        let (x, tape) = x.split_tape();
        let h = self.conv_norm.forward(x.clone().put_tape(tape)).reshape_like(&(b, l, d));
        let conv = self.conv.forward(h).reshape_like(&(b * l, d)).fast_gelu();
        let x = x.retaped::<T>() + self.conv_pointwise.forward(conv);
        let (x, tape) = x.split_tape();
        let h = self.ffn_norm.forward(x.clone().put_tape(tape));
        let f = self.ffn_outer.forward(self.ffn_inner.forward(h).fast_gelu());
        x.retaped::<T>() + f
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        self.attention_norm.params(&format!("{prefix}.attention_norm"), out);
        let a = &self.attention;
        for (name, layer) in [("query", &a.query), ("key", &a.key), ("value", &a.value), ("merge", &a.merge)] {
            layer.params(&format!("{prefix}.attention.{name}"), out);
        }
        self.lstm_norm.params(&format!("{prefix}.lstm_norm"), out);
        self.lstm.params(&format!("{prefix}.lstm"), out);
        self.conv_norm.params(&format!("{prefix}.conv_norm"), out);
        self.conv.params(&format!("{prefix}.conv"), out);
        self.conv_pointwise.params(&format!("{prefix}.conv_pointwise"), out);
        self.ffn_norm.params(&format!("{prefix}.ffn_norm"), out);
        self.ffn_inner.params(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer.params(&format!("{prefix}.ffn.outer"), out);
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        self.attention_norm.params_mut(&format!("{prefix}.attention_norm"), out);
        let a = &mut self.attention;
        for (name, layer) in [("query", &mut a.query), ("key", &mut a.key), ("value", &mut a.value), ("merge", &mut a.merge)] {
            layer.params_mut(&format!("{prefix}.attention.{name}"), out);
        }
        self.lstm_norm.params_mut(&format!("{prefix}.lstm_norm"), out);
        self.lstm.params_mut(&format!("{prefix}.lstm"), out);
        self.conv_norm.params_mut(&format!("{prefix}.conv_norm"), out);
        self.conv.params_mut(&format!("{prefix}.conv"), out);
        self.conv_pointwise.params_mut(&format!("{prefix}.conv_pointwise"), out);
        self.ffn_norm.params_mut(&format!("{prefix}.ffn_norm"), out);
        self.ffn_inner.params_mut(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer.params_mut(&format!("{prefix}.ffn.outer"), out);
    }
}

/// Flux (B, T) → latent (B, latent): Dense(1 → d) of each sample plus a sinusoidal encoding of
/// its step, Conformer blocks, a final LayerNorm, mean over the steps, Dense(d → latent).
#[derive(Clone, Debug)]
pub struct ConformerEncoder<D: Device<f32>> {
    pub input: Dense<D>,
    pub blocks: Vec<ConformerBlock<D>>,
    pub final_norm: LayerNorm<D>,
    pub latent: Dense<D>,
}

impl<D: Device<f32>> ConformerEncoder<D> {
    fn new(cfg: &CausalModelConfig, dev: &D, rng: &mut ChaCha8Rng) -> Self {
        Self {
            input: Dense::new(dev, 1, cfg.d_model, rng),
            blocks: (0..cfg.n_blocks).map(|_| ConformerBlock::new(cfg, dev, rng)).collect(),
            final_norm: LayerNorm::new(dev, cfg.d_model, cfg.layer_norm_eps),
            latent: Dense::new(dev, cfg.d_model, cfg.latent, rng),
        }
    }

    /// flux (B, L) → (B, latent).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, flux: Tensor2<D, T>) -> Tensor2<D, T> {
        let (b, l) = *flux.shape();
        let d = self.input.out_features();
        let dev = flux.device().clone();
        let encoding: Tensor2<D> = cached_tensor(&dev, &step_encoding(b, l, d), (b * l, d));
        let no_mask = AttentionBias::Key(dev.zeros_like(&(b, l)));
        let mut x = self.input.forward(flux.reshape_like(&(b * l, 1))) + encoding;
        for block in &self.blocks {
            x = block.forward(x, &no_mask, b, l);
        }
        let pooled = self.final_norm.forward(x).reshape_like(&(b, l, d)).mean::<(usize, usize), Axis<1>>();
        self.latent.forward(pooled)
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        self.input.params(&format!("{prefix}.input"), out);
        for (i, block) in self.blocks.iter().enumerate() {
            block.params(&format!("{prefix}.block{i}"), out);
        }
        self.final_norm.params(&format!("{prefix}.final_norm"), out);
        self.latent.params(&format!("{prefix}.latent"), out);
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        self.input.params_mut(&format!("{prefix}.input"), out);
        for (i, block) in self.blocks.iter_mut().enumerate() {
            block.params_mut(&format!("{prefix}.block{i}"), out);
        }
        self.final_norm.params_mut(&format!("{prefix}.final_norm"), out);
        self.latent.params_mut(&format!("{prefix}.latent"), out);
    }
}

/// The sinusoidal encoding of step t (sine on even, cosine on odd features, frequency
/// 1/10000^(2⌊j/2⌋/d)), tiled over `b` curves: (b·l, d) row-major.
pub fn step_encoding(b: usize, l: usize, d: usize) -> Vec<f32> {
    let row = |t: usize| -> Vec<f32> {
        (0..d)
            .map(|j| {
                let angle = t as f64 / 10000f64.powf((2 * (j / 2)) as f64 / d as f64);
                (if j % 2 == 0 { angle.sin() } else { angle.cos() }) as f32
            })
            .collect()
    };
    let table: Vec<f32> = (0..l).flat_map(row).collect();
    (0..b).flat_map(|_| table.iter().copied()).collect()
}

/// Two-layer MLP with a GELU between.
#[derive(Clone, Debug)]
pub struct Mlp<D: Device<f32>> {
    pub inner: Dense<D>,
    pub outer: Dense<D>,
}

impl<D: Device<f32>> Mlp<D> {
    fn new(dev: &D, input: usize, hidden: usize, output: usize, rng: &mut ChaCha8Rng) -> Self {
        Self { inner: Dense::new(dev, input, hidden, rng), outer: Dense::new(dev, hidden, output, rng) }
    }

    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        self.outer.forward(self.inner.forward(x).fast_gelu())
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        self.inner.params(&format!("{prefix}.inner"), out);
        self.outer.params(&format!("{prefix}.outer"), out);
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        self.inner.params_mut(&format!("{prefix}.inner"), out);
        self.outer.params_mut(&format!("{prefix}.outer"), out);
    }
}

/// The whole model: encoders, product decoder, projection heads.
#[derive(Clone, Debug)]
pub struct CausalModel<D: Device<f32>> {
    pub config: CausalModelConfig,
    pub star_encoder: ConformerEncoder<D>,
    /// `None` in the single-latent baseline.
    pub instrument_encoder: Option<ConformerEncoder<D>>,
    /// z_star → shared hidden space.
    pub star_decoder: Mlp<D>,
    /// z_instr → shared hidden space (dual model only).
    pub instrument_decoder: Option<Mlp<D>>,
    /// Shared hidden space → the T samples.
    pub output_decoder: Mlp<D>,
    pub star_projection: Mlp<D>,
    pub instrument_projection: Option<Mlp<D>>,
}

/// One forward pass: the latents, their projections and the reconstruction.
pub struct CausalForward<D: Device<f32>, T> {
    pub z_star: Tensor2<D, T>,
    pub z_instrument: Option<Tensor2<D, T>>,
    pub reconstruction: Tensor2<D, T>,
}

impl<D: Device<f32>> CausalModel<D> {
    /// A fresh model; the same seed gives the same weights.
    pub fn new(config: CausalModelConfig, dev: &D, seed: u64) -> Result<Self, String> {
        config.check()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let cfg = &config;
        let (latent, hidden, proj) = (cfg.latent, cfg.decoder_hidden, cfg.projection_hidden);
        let star_encoder = ConformerEncoder::new(cfg, dev, &mut rng);
        let instrument_encoder = cfg.dual.then(|| ConformerEncoder::new(cfg, dev, &mut rng));
        let star_decoder = Mlp::new(dev, latent, hidden, hidden, &mut rng);
        let instrument_decoder = cfg.dual.then(|| Mlp::new(dev, latent, hidden, hidden, &mut rng));
        let output_decoder = Mlp::new(dev, hidden, hidden, cfg.n_steps, &mut rng);
        let star_projection = Mlp::new(dev, latent, proj, latent, &mut rng);
        let instrument_projection = cfg.dual.then(|| Mlp::new(dev, latent, proj, latent, &mut rng));
        Ok(Self { config, star_encoder, instrument_encoder, star_decoder, instrument_decoder, output_decoder, star_projection, instrument_projection })
    }

    /// flux (B, T) → latents and reconstruction (B, T).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, flux: Tensor2<D, T>) -> CausalForward<D, T> {
        let (flux, tape) = flux.split_tape();
        let z_star = self.star_encoder.forward(flux.clone().put_tape(tape));
        let z_instrument = self.instrument_encoder.as_ref().map(|e| e.forward(flux.retaped::<T>()));
        let (z_star, tape) = z_star.split_tape();
        let hidden_star = self.star_decoder.forward(z_star.clone().put_tape(tape));
        let (hidden, z_instrument) = match (z_instrument, &self.instrument_decoder) {
            (Some(z), Some(decoder)) => {
                let (z, tape) = z.split_tape();
                (hidden_star * decoder.forward(z.clone().put_tape(tape)), Some(z.retaped::<T>()))
            }
            _ => (hidden_star, None),
        };
        CausalForward { z_star: z_star.retaped::<T>(), z_instrument, reconstruction: self.output_decoder.forward(hidden) }
    }
}

impl<D: Device<f32>> Parameters<D> for CausalModel<D> {
    fn named_params(&self) -> NamedParams<'_, D> {
        let mut out = Vec::new();
        self.star_encoder.params("star_encoder", &mut out);
        if let Some(e) = &self.instrument_encoder {
            e.params("instrument_encoder", &mut out);
        }
        self.star_decoder.params("decoder.star", &mut out);
        if let Some(m) = &self.instrument_decoder {
            m.params("decoder.instrument", &mut out);
        }
        self.output_decoder.params("decoder.output", &mut out);
        self.star_projection.params("projection.star", &mut out);
        if let Some(m) = &self.instrument_projection {
            m.params("projection.instrument", &mut out);
        }
        out
    }

    fn named_params_mut(&mut self) -> NamedParamsMut<'_, D> {
        let mut out = Vec::new();
        self.star_encoder.params_mut("star_encoder", &mut out);
        if let Some(e) = &mut self.instrument_encoder {
            e.params_mut("instrument_encoder", &mut out);
        }
        self.star_decoder.params_mut("decoder.star", &mut out);
        if let Some(m) = &mut self.instrument_decoder {
            m.params_mut("decoder.instrument", &mut out);
        }
        self.output_decoder.params_mut("decoder.output", &mut out);
        self.star_projection.params_mut("projection.star", &mut out);
        if let Some(m) = &mut self.instrument_projection {
            m.params_mut("projection.instrument", &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::dfdx::tensor::Cpu;
    use astromer::train::{gradients_of, loss_with_nudge};

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * 0.37 + seed as f32 * 1.7).sin()).collect()
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn lstm_matches_a_direct_computation() {
        let dev = Cpu::default();
        let (b, l, i, u) = (2, 5, 3, 4);
        let mut lstm = Lstm::new(&dev, i, u, &mut ChaCha8Rng::seed_from_u64(1));
        lstm.input.bias = dev.tensor_from_vec(values(4 * u, 9), (4 * u,));
        let x = values(b * l * i, 2);
        let out = lstm.forward(dev.tensor_from_vec(x.clone(), (b, l, i))).as_vec();
        let (w, bias, r) = (lstm.input.weight.as_vec(), lstm.input.bias.as_vec(), lstm.recurrent.as_vec());
        for row in 0..b {
            let (mut h, mut c) = (vec![0.0f64; u], vec![0.0f64; u]);
            for t in 0..l {
                let xt = &x[(row * l + t) * i..(row * l + t + 1) * i];
                let gate = |g: usize, k: usize| -> f64 {
                    let col = g * u + k;
                    bias[col] as f64
                        + (0..i).map(|a| xt[a] as f64 * w[a * 4 * u + col] as f64).sum::<f64>()
                        + (0..u).map(|a| h[a] * r[a * 4 * u + col] as f64).sum::<f64>()
                };
                let (mut h2, mut c2) = (vec![0.0; u], vec![0.0; u]);
                for k in 0..u {
                    c2[k] = sigmoid(gate(1, k)) * c[k] + sigmoid(gate(0, k)) * gate(2, k).tanh();
                    h2[k] = sigmoid(gate(3, k)) * c2[k].tanh();
                }
                (h, c) = (h2, c2);
                for k in 0..u {
                    let got = out[(row * l + t) * u + k] as f64;
                    assert!((got - h[k]).abs() < 1e-5, "row {row} step {t} unit {k}: {got} vs {}", h[k]);
                }
            }
        }
        // unit_forget_bias at construction.
        let fresh = Lstm::new(&dev, i, u, &mut ChaCha8Rng::seed_from_u64(1)).input.bias.as_vec();
        assert_eq!(fresh, (0..4 * u).map(|j| if (u..2 * u).contains(&j) { 1.0 } else { 0.0 }).collect::<Vec<f32>>());
    }

    /// Every step's output and the gradients of input kernel, bias, recurrent kernel and input
    /// for a loss Σ out ⊙ c.
    fn lstm_outputs_and_grads(lstm: &Lstm<Cpu>, x: &[f32], (b, l, i): (usize, usize, usize)) -> (Vec<f32>, Vec<Vec<f32>>) {
        let dev = Cpu::default();
        let x: Tensor3<Cpu> = dev.tensor_from_vec(x.to_vec(), (b, l, i));
        let mut grads: Gradients<f32, Cpu> = Gradients::leaky();
        grads.try_alloc_for(&lstm.input.weight).unwrap();
        grads.try_alloc_for(&lstm.input.bias).unwrap();
        grads.try_alloc_for(&lstm.recurrent).unwrap();
        grads.try_alloc_for(&x).unwrap();
        let out = lstm.forward(x.clone().traced(grads));
        let values_out = out.retaped::<NoneTape>().as_vec();
        let u = lstm.units();
        let c: Tensor3<Cpu> = dev.tensor_from_vec(values(b * l * u, 3), (b, l, u));
        let g = (out * c).sum::<(), _>().backward();
        let all = vec![g.get(&lstm.input.weight).as_vec(), g.get(&lstm.input.bias).as_vec(), g.get(&lstm.recurrent).as_vec(), g.get(&x).as_vec()];
        (values_out, all)
    }

    #[test]
    fn fused_lstm_equals_the_per_step_ops() {
        let dev = Cpu::default();
        let (b, l, i, u) = (3, 11, 5, 9);
        let mut lstm = Lstm::new(&dev, i, u, &mut ChaCha8Rng::seed_from_u64(4));
        lstm.input.bias = dev.tensor_from_vec(values(4 * u, 6), (4 * u,));
        let x = values(b * l * i, 8);
        let (fast, fast_g) = lstm_outputs_and_grads(&lstm, &x, (b, l, i));
        let (generic, generic_g) = astromer::kernels::with_generic_kernels(|| lstm_outputs_and_grads(&lstm, &x, (b, l, i)));
        for (k, (a, e)) in fast.iter().zip(&generic).enumerate() {
            assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "output {k}: fused {a}, generic {e}");
        }
        for ((f, g), name) in fast_g.iter().zip(&generic_g).zip(["input kernel", "input bias", "recurrent kernel", "input"]) {
            assert_eq!(f.len(), g.len());
            assert!(g.iter().any(|&v| v.abs() > 1e-3), "{name}: no gradient to compare");
            for (k, (a, e)) in f.iter().zip(g).enumerate() {
                assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{name}[{k}]: fused {a}, generic {e}");
            }
        }
    }

    #[test]
    fn depthwise_conv_matches_a_direct_computation() {
        let dev = Cpu::default();
        let (b, l, c) = (2, 6, 3);
        for k in [1, 3, 4] {
            let mut conv = DepthwiseConv::new(&dev, k, c, &mut ChaCha8Rng::seed_from_u64(k as u64));
            conv.bias = dev.tensor_from_vec(values(c, 4), (c,));
            let x = values(b * l * c, 5);
            let out = conv.forward(dev.tensor_from_vec(x.clone(), (b, l, c))).as_vec();
            let (w, bias) = (conv.weight.as_vec(), conv.bias.as_vec());
            let left = (k - 1) / 2;
            for row in 0..b {
                for t in 0..l {
                    for ch in 0..c {
                        let mut want = bias[ch] as f64;
                        for j in 0..k {
                            let src = t as isize + j as isize - left as isize;
                            if (0..l as isize).contains(&src) {
                                want += w[j * c + ch] as f64 * x[(row * l + src as usize) * c + ch] as f64;
                            }
                        }
                        let got = out[(row * l + t) * c + ch] as f64;
                        assert!((got - want).abs() < 1e-5, "k {k}, row {row}, t {t}, channel {ch}: {got} vs {want}");
                    }
                }
            }
        }
    }

    fn tiny(dual: bool) -> CausalModelConfig {
        CausalModelConfig {
            n_steps: 6,
            d_model: 4,
            n_heads: 2,
            ffn_width: 8,
            n_blocks: 1,
            latent: 3,
            conv_kernel: 3,
            decoder_hidden: 4,
            projection_hidden: 4,
            layer_norm_eps: 1e-5,
            dual,
        }
    }

    /// A scalar touching every output: Σ recon·c₁ + Σ z_star·c₂ + Σ z_instr·c₃.
    fn objective(model: &CausalModel<Cpu>, flux: &[f32]) -> (f32, Vec<Vec<f32>>) {
        let dev = Cpu::default();
        let mut grads: Gradients<f32, Cpu> = Gradients::leaky();
        for (_, p) in model.named_params() {
            match p {
                ParamRef::R1(t) => grads.try_alloc_for(t).unwrap(),
                ParamRef::R2(t) => grads.try_alloc_for(t).unwrap(),
            }
        }
        let x: Tensor2<Cpu, _> = dev.tensor_from_vec(flux.to_vec(), (2, 6)).traced(grads);
        let out = model.forward(x);
        let weights = |n: usize, rows: usize, cols: usize, seed: u32| -> Tensor2<Cpu> { dev.tensor_from_vec(values(n, seed), (rows, cols)) };
        let mut loss = (out.reconstruction * weights(12, 2, 6, 11)).sum::<(), _>() + (out.z_star * weights(6, 2, 3, 12)).sum::<(), _>();
        if let Some(z) = out.z_instrument {
            loss = loss + (z * weights(6, 2, 3, 13)).sum::<(), _>();
        }
        let value = loss.retaped::<NoneTape>().as_vec()[0];
        (value, gradients_of(model, &loss.backward()))
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev = Cpu::default();
        for dual in [true, false] {
            let model = CausalModel::new(tiny(dual), &dev, 3).unwrap();
            let flux = values(12, 7);
            let (_, analytic) = objective(&model, &flux);
            let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
            let eps = 1e-2f32;
            for (pi, g) in analytic.iter().enumerate() {
                // Projection heads feed only the contrastive losses, not this objective.
                if names[pi].starts_with("projection.") {
                    continue;
                }
                // The key bias adds q·b to every logit of a query row: softmax ignores it, so its
                // gradient is exactly zero (still checked against finite differences below).
                if !names[pi].ends_with("attention.key.bias") {
                    assert!(g.iter().any(|&v| v.abs() > 1e-6), "{}: no gradient", names[pi]);
                }
                for k in (0..g.len()).step_by(1 + g.len() / 4) {
                    let at = |delta: f32| loss_with_nudge(&model, pi, k, delta, |m| objective(m, &flux).0);
                    let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                    assert!(
                        (numeric - g[k]).abs() < 3e-3 + 3e-2 * numeric.abs(),
                        "dual {dual}, {}[{k}]: backward {} vs finite difference {numeric}",
                        names[pi],
                        g[k]
                    );
                }
            }
        }
    }

    #[test]
    fn the_paper_model_has_two_untied_encoders_and_the_baseline_one() {
        let dev = Cpu::default();
        let dual = CausalModel::new(CausalModelConfig::paper(100), &dev, 0).unwrap();
        let single = CausalModel::new(CausalModelConfig { dual: false, ..CausalModelConfig::paper(100) }, &dev, 0).unwrap();
        let count = |m: &CausalModel<Cpu>| m.named_params().iter().map(|(_, p)| p.numel()).sum::<usize>();
        let star = dual.star_encoder.latent.weight.as_vec();
        let instrument = dual.instrument_encoder.as_ref().unwrap().latent.weight.as_vec();
        assert_ne!(star, instrument, "the two encoders must not share weights");
        assert!(count(&dual) > count(&single));
        let flux = dev.tensor_from_vec(values(3 * 100, 1), (3, 100));
        let out = dual.forward(flux);
        assert_eq!(*out.reconstruction.shape(), (3, 100));
        assert_eq!(*out.z_star.shape(), (3, 20));
        assert_eq!(*out.z_instrument.unwrap().shape(), (3, 20));
        assert!(CausalModel::new(CausalModelConfig { n_heads: 3, ..CausalModelConfig::paper(100) }, &dev, 0).is_err());
    }
}

