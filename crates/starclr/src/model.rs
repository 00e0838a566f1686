//! The StarCLR encoder: one token per observation, flux → Linear(1, H) plus a continuous
//! sinusoidal encoding of t − t_min (ω_j = 2π / 10000^(j/H), sine on even and cosine on odd
//! dimensions j), then LayerNorm and dropout, no CLS token; a standard post-LN BERT encoder
//! (x ← LN(x + MHA(x)), x ← LN(x + FFN(x)), GELU); the representation is the mean over the valid
//! tokens. A projection head (MLP) maps it to the space of the contrastive loss and is used for
//! that loss only. Attention is the Astromer crate's (the same fused CPU kernel), with padded keys
//! masked.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Dense, LayerNorm, NamedParams, NamedParamsMut, Tensor2};
use astromer::model::{AttentionBias, MultiHeadAttention, KEY_MASK_LOGIT};
use astromer::train::Parameters;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::views::ViewBatch;
use crate::StarClrError;

/// Sizes of the encoder and its projection head (the paper publishes none: pick them at A2's
/// scale on each profile so the comparison is fair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarClrConfig {
    /// H: token width.
    pub d_model: usize,
    pub n_heads: usize,
    pub ffn_width: usize,
    pub n_blocks: usize,
    /// Dropout after the token LayerNorm (training only).
    pub dropout: f32,
    pub layer_norm_eps: f32,
    pub projection_hidden: usize,
    pub projection_dim: usize,
}

impl StarClrConfig {
    pub fn check(&self) -> Result<(), StarClrError> {
        for (name, v) in [
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("ffn_width", self.ffn_width),
            ("n_blocks", self.n_blocks),
            ("projection_hidden", self.projection_hidden),
            ("projection_dim", self.projection_dim),
        ] {
            if v == 0 {
                return Err(StarClrError::Settings(format!("`{name}` must be at least 1")));
            }
        }
        if self.d_model % self.n_heads != 0 {
            return Err(StarClrError::Settings(format!("d_model {} is not a multiple of n_heads {}", self.d_model, self.n_heads)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(StarClrError::Settings(format!("dropout {} must be in [0, 1)", self.dropout)));
        }
        Ok(())
    }
}

/// The encoding of one relative time `t` (t − t_min) in `d` dimensions:
/// e_j = sin(ω_j t) for even j, cos(ω_j t) for odd j, ω_j = 2π / 10000^(j/d).
pub fn time_encoding(t: f64, d: usize) -> Vec<f32> {
    (0..d)
        .map(|j| {
            let omega = std::f64::consts::TAU / 10000f64.powf(j as f64 / d as f64);
            (if j % 2 == 0 { (omega * t).sin() } else { (omega * t).cos() }) as f32
        })
        .collect()
}

/// One post-LN encoder block.
#[derive(Clone, Debug)]
pub struct Block<D: Device<f32>> {
    pub attention: MultiHeadAttention<D>,
    pub attention_norm: LayerNorm<D>,
    pub ffn_inner: Dense<D>,
    pub ffn_outer: Dense<D>,
    pub ffn_norm: LayerNorm<D>,
}

impl<D: Device<f32>> Block<D> {
    fn new(cfg: &StarClrConfig, dev: &D, rng: &mut ChaCha8Rng) -> Self {
        let d = cfg.d_model;
        Self {
            attention: MultiHeadAttention::new(dev, d, cfg.n_heads, rng),
            attention_norm: LayerNorm::new(dev, d, cfg.layer_norm_eps),
            ffn_inner: Dense::new(dev, d, cfg.ffn_width, rng),
            ffn_outer: Dense::new(dev, cfg.ffn_width, d, rng),
            ffn_norm: LayerNorm::new(dev, d, cfg.layer_norm_eps),
        }
    }

    fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>, bias: &AttentionBias<D>, b: usize, l: usize) -> Tensor2<D, T> {
        let (x, tape) = x.split_tape();
        let a = self.attention.forward(x.clone().put_tape(tape), bias, b, l);
        let x = self.attention_norm.forward(x.retaped::<T>() + a);
        let (x, tape) = x.split_tape();
        let f = self.ffn_outer.forward(self.ffn_inner.forward(x.clone().put_tape(tape)).fast_gelu());
        self.ffn_norm.forward(x.retaped::<T>() + f)
    }

    fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        let a = &self.attention;
        for (name, layer) in [("query", &a.query), ("key", &a.key), ("value", &a.value), ("merge", &a.merge)] {
            layer.params(&format!("{prefix}.attention.{name}"), out);
        }
        self.attention_norm.params(&format!("{prefix}.attention_norm"), out);
        self.ffn_inner.params(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer.params(&format!("{prefix}.ffn.outer"), out);
        self.ffn_norm.params(&format!("{prefix}.ffn_norm"), out);
    }

    fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        let a = &mut self.attention;
        for (name, layer) in [("query", &mut a.query), ("key", &mut a.key), ("value", &mut a.value), ("merge", &mut a.merge)] {
            layer.params_mut(&format!("{prefix}.attention.{name}"), out);
        }
        self.attention_norm.params_mut(&format!("{prefix}.attention_norm"), out);
        self.ffn_inner.params_mut(&format!("{prefix}.ffn.inner"), out);
        self.ffn_outer.params_mut(&format!("{prefix}.ffn.outer"), out);
        self.ffn_norm.params_mut(&format!("{prefix}.ffn_norm"), out);
    }
}

/// The file [`StarClr::save`] writes the config to (an Astromer checkpoint has `config.toml`
/// instead, which is how a folder tells which encoder it holds).
pub const CONFIG_FILE: &str = "starclr.toml";

/// The encoder and its projection head.
#[derive(Clone, Debug)]
pub struct StarClr<D: Device<f32>> {
    pub config: StarClrConfig,
    pub flux: Dense<D>,
    pub token_norm: LayerNorm<D>,
    pub blocks: Vec<Block<D>>,
    pub projection_inner: Dense<D>,
    pub projection_outer: Dense<D>,
}

impl<D: Device<f32>> StarClr<D> {
    pub fn new(config: StarClrConfig, dev: &D, seed: u64) -> Result<Self, StarClrError> {
        config.check()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let d = config.d_model;
        Ok(Self {
            flux: Dense::new(dev, 1, d, &mut rng),
            token_norm: LayerNorm::new(dev, d, config.layer_norm_eps),
            blocks: (0..config.n_blocks).map(|_| Block::new(&config, dev, &mut rng)).collect(),
            projection_inner: Dense::new(dev, d, config.projection_hidden, &mut rng),
            projection_outer: Dense::new(dev, config.projection_hidden, config.projection_dim, &mut rng),
            config,
        })
    }

    /// Writes the encoder to `dir`: [`CONFIG_FILE`] (the [`StarClrConfig`]) and `model.safetensors`
    /// (every parameter by name, projection head included).
    pub fn save(&self, dir: &std::path::Path) -> Result<(), StarClrError> {
        let fail = |e: &dyn std::fmt::Display| StarClrError::Checkpoint(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        let text = toml::to_string(&self.config).map_err(|e| fail(&e))?;
        std::fs::write(dir.join(CONFIG_FILE), text).map_err(|e| fail(&e))?;
        astromer::checkpoint::save_parameters(self, &dir.join(astromer::checkpoint::WEIGHTS_FILE)).map_err(|e| fail(&e))
    }

    /// Reads an encoder [`StarClr::save`] wrote.
    pub fn load(dir: &std::path::Path, dev: &D) -> Result<Self, StarClrError> {
        let fail = |e: &dyn std::fmt::Display| StarClrError::Checkpoint(format!("{}: {e}", dir.display()));
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| StarClrError::Checkpoint(format!("{}: {e}", path.display())))?;
        let config: StarClrConfig = toml::from_str(&text).map_err(|e| StarClrError::Checkpoint(format!("{}: not a StarCLR config: {e}", path.display())))?;
        let mut model = Self::new(config, dev, 0)?;
        astromer::checkpoint::load_parameters(&mut model, &dir.join(astromer::checkpoint::WEIGHTS_FILE)).map_err(|e| fail(&e))?;
        Ok(model)
    }

    /// The representation of each view, (B, H): the mean of the encoder's output over the valid
    /// tokens. `flux` is the batch's flux as a (B·L, 1) tensor (so that a caller can trace it);
    /// `dropout_rng` switches dropout on (training).
    pub fn represent<T: Tape<f32, D> + 'static>(&self, flux: Tensor2<D, T>, batch: &ViewBatch, dropout_rng: Option<&mut ChaCha8Rng>) -> Result<Tensor2<D, T>, StarClrError> {
        let (b, l, d) = (batch.batch_size, batch.view_len, self.config.d_model);
        if flux.shape().0 != b * l || batch.valid.len() != b * l || batch.time.len() != b * l {
            return Err(StarClrError::Settings(format!("a batch of {b} × {l} positions with {} flux values", flux.shape().0)));
        }
        if let Some(row) = (0..b).find(|&r| !batch.valid[r * l..(r + 1) * l].iter().any(|&v| v)) {
            return Err(StarClrError::Settings(format!("view {row} has no valid observation")));
        }
        let layers = self.layers(flux, batch, dropout_rng);
        let x = layers.into_iter().last().expect("the token layer at least");
        let dev = x.device().clone();
        // Masked mean: Σ_valid x / n_valid, per view.
        let weights: Vec<f32> = (0..b)
            .flat_map(|r| {
                let row = &batch.valid[r * l..(r + 1) * l];
                let n = row.iter().filter(|&&v| v).count() as f32;
                row.iter().map(move |&v| if v { 1.0 / n } else { 0.0 })
            })
            .collect();
        let weights: astromer::layers::Tensor1<D> = cached_tensor(&dev, &weights, (b * l,));
        let weighted = x * weights.broadcast_like::<_, Axis<1>>(&(b * l, d));
        Ok(weighted.reshape_like(&(b, l, d)).sum::<(usize, usize), Axis<1>>())
    }

    /// Every layer's output, (B·L, H) each: the tokens (after LayerNorm and dropout), then each
    /// block's. Only the last carries the tape onward; the others are detached copies (probes).
    fn layers<T: Tape<f32, D> + 'static>(&self, flux: Tensor2<D, T>, batch: &ViewBatch, dropout_rng: Option<&mut ChaCha8Rng>) -> Vec<Tensor2<D, T>> {
        let (b, l, d) = (batch.batch_size, batch.view_len, self.config.d_model);
        let dev = flux.device().clone();
        let encoding: Vec<f32> = batch.time.iter().flat_map(|&t| time_encoding(t as f64, d)).collect();
        let encoding: Tensor2<D> = cached_tensor(&dev, &encoding, (b * l, d));
        let mut x = self.token_norm.forward(self.flux.forward(flux) + encoding);
        if let (Some(rng), p) = (dropout_rng, self.config.dropout) {
            if p > 0.0 {
                let keep: Vec<f32> = (0..b * l * d).map(|_| if rng.gen::<f32>() < p { 0.0 } else { 1.0 / (1.0 - p) }).collect();
                x = x * cached_tensor::<_, D>(&dev, &keep, (b * l, d));
            }
        }
        let key_bias: Vec<f32> = batch.valid.iter().map(|&v| if v { 0.0 } else { KEY_MASK_LOGIT }).collect();
        let bias = AttentionBias::Key(cached_tensor(&dev, &key_bias, (b, l)));
        let mut out = Vec::with_capacity(self.blocks.len() + 1);
        for block in &self.blocks {
            let (kept, tape) = x.split_tape();
            out.push(kept.clone().retaped::<T>());
            x = block.forward(kept.put_tape(tape), &bias, b, l);
        }
        out.push(x);
        out
    }

    /// The projection head's output for representations `h` (B, H) → (B, projection_dim).
    pub fn project<T: Tape<f32, D> + 'static>(&self, h: Tensor2<D, T>) -> Tensor2<D, T> {
        self.projection_outer.forward(self.projection_inner.forward(h).fast_gelu())
    }
}

/// The views a StarCLR encoder sees of Astromer's padded windows: flux = 10^(−0.4 m) of the
/// window's (zero-mean) magnitudes, scaled (f − p5) / (p95 − p5) over its valid steps, times from
/// the window's first observation. The clipping of [`crate::preprocess`] is not applied here (the
/// windows come cleaned by the data layer).
pub fn windows_as_views(windows: &[lightcurve::PaddedWindow]) -> Result<ViewBatch, StarClrError> {
    let l = windows.iter().map(|w| w.len()).max().unwrap_or(0);
    let mut list = Vec::with_capacity(windows.len());
    for w in windows {
        if w.n_valid == 0 {
            return Err(StarClrError::BadCurve { object: format!("curve {}", w.object_index), problem: "a window without observations".into() });
        }
        let time: Vec<f64> = w.time[..w.n_valid].iter().map(|&t| t as f64).collect();
        let mag: Vec<f64> = w.mag[..w.n_valid].iter().map(|&m| m as f64).collect();
        // A huge sigma: no clipping, only the flux conversion and scaling.
        let p = crate::preprocess(&format!("curve {}", w.object_index), &time, &mag, f64::MAX)?;
        list.push((p.time, p.flux));
    }
    let views: Vec<(&[f64], &[f64], usize)> = list.iter().map(|(t, f)| (t.as_slice(), f.as_slice(), 0)).collect();
    ViewBatch::new(l, &views)
}

/// StarCLR as the probes see it: the token layer and every block's output, inference mode.
impl<D: Device<f32>> lightcurve::WindowEncoder for StarClr<D> {
    fn n_representations(&self) -> usize {
        self.blocks.len() + 1
    }

    fn width(&self) -> usize {
        self.config.d_model
    }

    fn encode_windows(&self, windows: &[lightcurve::PaddedWindow]) -> Result<lightcurve::LayerOutputs, lightcurve::EncodeError> {
        let batch = windows_as_views(windows).map_err(|e| lightcurve::EncodeError(e.to_string()))?;
        let dev = self.flux.weight.device().clone();
        let flux: Tensor2<D> = cached_tensor(&dev, &batch.flux, (batch.batch_size * batch.view_len, 1));
        let layers = self.layers(flux, &batch, None);
        Ok(lightcurve::LayerOutputs { steps: batch.view_len, width: self.config.d_model, layers: layers.into_iter().map(|t| t.as_vec()).collect() })
    }
}

impl<D: Device<f32>> Parameters<D> for StarClr<D> {
    fn named_params(&self) -> NamedParams<'_, D> {
        let mut out = Vec::new();
        self.flux.params("flux", &mut out);
        self.token_norm.params("token_norm", &mut out);
        for (i, b) in self.blocks.iter().enumerate() {
            b.params(&format!("blocks.{i}"), &mut out);
        }
        self.projection_inner.params("projection.inner", &mut out);
        self.projection_outer.params("projection.outer", &mut out);
        out
    }

    fn named_params_mut(&mut self) -> NamedParamsMut<'_, D> {
        let mut out = Vec::new();
        self.flux.params_mut("flux", &mut out);
        self.token_norm.params_mut("token_norm", &mut out);
        for (i, b) in self.blocks.iter_mut().enumerate() {
            b.params_mut(&format!("blocks.{i}"), &mut out);
        }
        self.projection_inner.params_mut("projection.inner", &mut out);
        self.projection_outer.params_mut("projection.outer", &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::dfdx::tensor::Cpu;
    use astromer::train::{gradients_of, loss_with_nudge};

    fn tiny() -> StarClrConfig {
        StarClrConfig { d_model: 4, n_heads: 2, ffn_width: 8, n_blocks: 1, dropout: 0.0, layer_norm_eps: 1e-5, projection_hidden: 4, projection_dim: 3 }
    }

    fn batch() -> ViewBatch {
        let t = [0.0, 0.7, 1.9, 3.2, 4.0];
        let f = [0.1, 0.9, 0.4, 0.6, 0.2];
        ViewBatch::new(4, &[(&t[..], &f[..], 0), (&t[..], &f[..], 2)]).unwrap()
    }

    #[test]
    fn the_time_encoding_follows_its_formula() {
        // t = 0: sines 0, cosines 1.
        assert_eq!(time_encoding(0.0, 4), vec![0.0, 1.0, 0.0, 1.0]);
        // d = 4, t = 0.25: ω = 2π, 2π/10, 2π/100, 2π/1000.
        let e = time_encoding(0.25, 4);
        let tau = std::f64::consts::TAU;
        let want = [(tau * 0.25).sin(), (tau / 10.0 * 0.25).cos(), (tau / 100.0 * 0.25).sin(), (tau / 1000.0 * 0.25).cos()];
        for (g, w) in e.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{e:?} vs {want:?}");
        }
    }

    #[test]
    fn padded_positions_do_not_change_the_representation() {
        let dev = Cpu::default();
        let model = StarClr::new(tiny(), &dev, 1).unwrap();
        let b = batch();
        let h = |flux: Vec<f32>| model.represent(dev.tensor_from_vec(flux, (8, 1)), &b, None).unwrap().as_vec();
        let before = h(b.flux.clone());
        let mut changed = b.flux.clone();
        changed[7] = 5.0; // the padded last position of view 1
        assert_eq!(h(changed), before);
        let mut real = b.flux.clone();
        real[1] = 5.0;
        assert_ne!(h(real), before);
    }

    /// NT-Xent over two curves (A, and A reversed as B), two views each: a scalar touching every
    /// parameter. Rows: A view 1, B view 1, A view 2, B view 2 (NT-Xent's order).
    fn objective(model: &StarClr<Cpu>) -> (f32, Vec<Vec<f32>>) {
        let dev = Cpu::default();
        let t = [0.0, 0.7, 1.9, 3.2, 4.0];
        let fa = [0.1, 0.9, 0.4, 0.6, 0.2];
        let fb: Vec<f64> = fa.iter().rev().copied().collect();
        let views = ViewBatch::new(4, &[(&t[..], &fa[..], 0), (&t[..], &fb[..], 0), (&t[..], &fa[..], 1), (&t[..], &fb[..], 2)]).unwrap();
        let x = dev.tensor_from_vec(views.flux.clone(), (16, 1)).traced(Parameters::zero_gradients(model));
        let z = model.project(model.represent(x, &views, None).unwrap());
        let loss = crate::nt_xent(z, 0.5).unwrap();
        let value = loss.retaped::<NoneTape>().as_vec()[0];
        (value, gradients_of(model, &loss.backward()))
    }

    #[test]
    fn gradients_match_finite_differences() {
        let dev = Cpu::default();
        let model = StarClr::new(tiny(), &dev, 3).unwrap();
        let (_, analytic) = objective(&model);
        let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
        let eps = 1e-2f32;
        for (pi, g) in analytic.iter().enumerate() {
            // The key bias adds q·b to every logit of a query row, which softmax ignores: its
            // gradient is exactly zero (still checked against finite differences below).
            if !names[pi].ends_with("attention.key.bias") {
                assert!(g.iter().any(|&v| v.abs() > 1e-6), "{}: no gradient", names[pi]);
            }
            for k in (0..g.len()).step_by(1 + g.len() / 4) {
                let at = |delta: f32| loss_with_nudge(&model, pi, k, delta, |m| objective(m).0);
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!((numeric - g[k]).abs() < 3e-3 + 3e-2 * numeric.abs(), "{}[{k}]: backward {} vs finite difference {numeric}", names[pi], g[k]);
            }
        }
    }

    #[test]
    fn as_a_window_encoder_it_gives_every_layer_and_ignores_padding() {
        use lightcurve::WindowEncoder;
        let dev = Cpu::default();
        let model = StarClr::new(StarClrConfig { n_blocks: 2, ..tiny() }, &dev, 2).unwrap();
        let window = |n_valid: usize, pad: f32| {
            let mut w = lightcurve::PaddedWindow {
                object_index: 0,
                start: 0,
                time: (0..6).map(|i| i as f32 * 1.5 - 3.0).collect(),
                mag: (0..6).map(|i| (i as f32 * 0.9).sin() * 0.3).collect(),
                err: vec![0.01; 6],
                loss_weight: vec![1.0; 6],
                n_valid,
                means: Default::default(),
            };
            for i in n_valid..6 {
                (w.time[i], w.mag[i]) = (pad, pad);
            }
            w
        };
        let a = model.encode_windows(&[window(4, 0.0), window(6, 0.0)]).unwrap();
        a.check(&model, &[window(4, 0.0), window(6, 0.0)]).unwrap();
        assert_eq!((a.layers.len(), a.steps, a.width), (3, 6, 4));
        // Other values at the padded steps change nothing at the valid ones.
        let b = model.encode_windows(&[window(4, 9.0), window(6, 0.0)]).unwrap();
        for r in 0..3 {
            assert_eq!(a.window(r, 0)[..16], b.window(r, 0)[..16], "layer {r}");
        }
        // The last layer's masked mean is the representation.
        let views = windows_as_views(&[window(4, 0.0)]).unwrap();
        let h = model.represent(dev.tensor_from_vec(views.flux.clone(), (6, 1)), &views, None).unwrap().as_vec();
        let last = a.window(2, 0);
        for j in 0..4 {
            let mean = (0..4).map(|t| last[t * 4 + j]).sum::<f32>() / 4.0;
            assert!((mean - h[j]).abs() < 1e-5, "{mean} vs {}", h[j]);
        }
    }

    #[test]
    fn bad_configs_and_batches_are_refused() {
        let dev = Cpu::default();
        assert!(StarClr::<Cpu>::new(StarClrConfig { n_heads: 3, ..tiny() }, &dev, 0).is_err());
        assert!(StarClr::<Cpu>::new(StarClrConfig { dropout: 1.0, ..tiny() }, &dev, 0).is_err());
        let model = StarClr::new(tiny(), &dev, 0).unwrap();
        let b = batch();
        assert!(model.represent(dev.tensor_from_vec(vec![0.0; 4], (4, 1)), &b, None).is_err());
    }
}
