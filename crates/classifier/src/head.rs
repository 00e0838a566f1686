//! The classification heads of spec §8.2 on pooled features, and the shared MLP.

use astromer::layers::{cached_tensor, Dense, LayerNorm, ParamMut, ParamRef, Tensor1, Tensor2};
use dfdx::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which pooled representation feeds the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// `skip_avg_mlp` (the paper's runs): the input embedding and every block output, each
    /// averaged over valid steps, combined as `(1/R) Σ softmax(γ)_i z_i` with a trainable γ ∈ R^R
    /// initialised to 1/R (R = blocks + 1). The extra 1/R is the official `GammaWeight`'s mean.
    Skip,
    /// `max_clf`: the last block, max over valid steps.
    Max,
    /// `avg_clf` done right: the last block, mean over valid steps. The official one used the
    /// padding mask as the pooling weight and averaged over padded steps only (spec §8.2).
    Avg,
}

impl HeadKind {
    pub const ALL: [HeadKind; 3] = [HeadKind::Skip, HeadKind::Max, HeadKind::Avg];

    pub fn as_str(self) -> &'static str {
        match self {
            HeadKind::Skip => "skip",
            HeadKind::Max => "max",
            HeadKind::Avg => "avg",
        }
    }
}

impl std::fmt::Display for HeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Softmax-weighted mean of the pooled representations (the official `GammaWeight`).
#[derive(Clone, Debug)]
pub struct GammaWeight<D: Device<f32>> {
    /// Raw (pre-softmax) weights, one per representation; γ0 is the input embedding.
    pub gamma: Tensor1<D>,
}

impl<D: Device<f32>> GammaWeight<D> {
    pub fn new(dev: &D, n_reps: usize) -> Self {
        Self {
            gamma: dev.tensor_from_vec(vec![1.0 / n_reps as f32; n_reps], (n_reps,)),
        }
    }

    pub fn n_reps(&self) -> usize {
        self.gamma.shape().0
    }

    /// x: (N, R·d) → (N, d) = (1/R) Σ_i softmax(γ)_i x[:, i, :].
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        let (n, width) = *x.shape();
        let r = self.n_reps();
        let d = width / r;
        let w = self
            .gamma
            .retaped::<T>()
            .softmax::<Axis<0>>()
            .broadcast_like::<_, Axes2<0, 2>>(&(n, r, d));
        let x3 = x.reshape_like(&(n, r, d));
        (x3 * w).sum::<(usize, usize), Axis<1>>() * (1.0 / r as f32)
    }

    pub fn raw(&self) -> Vec<f32> {
        self.gamma.as_vec()
    }

    pub fn softmaxed(&self) -> Vec<f32> {
        let g = self.raw();
        let m = g.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = g.iter().map(|&v| ((v - m) as f64).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| (v / s) as f32).collect()
    }
}

/// Head = optional [`GammaWeight`] + Dense(ReLU) stack → LayerNorm → Dense(n_classes) logits
/// (spec §8.1: 1024 → 512 → 256, LayerNorm ε 1e-3, Keras default initialisers, no dropout).
#[derive(Clone, Debug)]
pub struct ClassifierHead<D: Device<f32>> {
    pub kind: HeadKind,
    pub gamma: Option<GammaWeight<D>>,
    pub hidden: Vec<Dense<D>>,
    pub norm: LayerNorm<D>,
    pub output: Dense<D>,
}

/// Sizes of a head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadShape {
    /// Hidden widths of the MLP (official 1024, 512, 256).
    pub hidden: Vec<usize>,
    /// LayerNorm ε before the output layer (Keras default 1e-3).
    pub layer_norm_eps: f64,
}

impl Default for HeadShape {
    fn default() -> Self {
        Self {
            hidden: vec![1024, 512, 256],
            layer_norm_eps: 1e-3,
        }
    }
}

impl<D: Device<f32>> ClassifierHead<D> {
    /// A fresh head for features with `n_reps` representations of width `d_model`.
    pub fn new(
        dev: &D,
        kind: HeadKind,
        n_reps: usize,
        d_model: usize,
        n_classes: usize,
        shape: &HeadShape,
        seed: u64,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut hidden = Vec::with_capacity(shape.hidden.len());
        let mut fan_in = d_model;
        for &w in &shape.hidden {
            hidden.push(Dense::new(dev, fan_in, w, &mut rng));
            fan_in = w;
        }
        Self {
            kind,
            gamma: (kind == HeadKind::Skip).then(|| GammaWeight::new(dev, n_reps)),
            hidden,
            norm: LayerNorm::new(dev, fan_in, shape.layer_norm_eps as f32),
            output: Dense::new(dev, fan_in, n_classes, &mut rng),
        }
    }

    pub fn n_classes(&self) -> usize {
        self.output.out_features()
    }

    /// x: (N, input width) → logits (N, n_classes).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        let mut h = match &self.gamma {
            Some(g) => g.forward(x),
            None => x,
        };
        for layer in &self.hidden {
            h = layer.forward(h).relu();
        }
        self.output.forward(self.norm.forward(h))
    }

    /// Every trainable tensor, named.
    pub fn params(&self) -> Vec<(String, ParamRef<'_, D>)> {
        let mut out = Vec::new();
        if let Some(g) = &self.gamma {
            out.push(("gamma".to_string(), ParamRef::R1(&g.gamma)));
        }
        for (i, l) in self.hidden.iter().enumerate() {
            out.push((format!("hidden{i}.weight"), ParamRef::R2(&l.weight)));
            out.push((format!("hidden{i}.bias"), ParamRef::R1(&l.bias)));
        }
        out.push(("norm.weight".into(), ParamRef::R1(&self.norm.weight)));
        out.push(("norm.bias".into(), ParamRef::R1(&self.norm.bias)));
        out.push(("output.weight".into(), ParamRef::R2(&self.output.weight)));
        out.push(("output.bias".into(), ParamRef::R1(&self.output.bias)));
        out
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, D>> {
        let mut out = Vec::new();
        if let Some(g) = &mut self.gamma {
            out.push(ParamMut::R1(&mut g.gamma));
        }
        for l in &mut self.hidden {
            out.push(ParamMut::R2(&mut l.weight));
            out.push(ParamMut::R1(&mut l.bias));
        }
        out.push(ParamMut::R1(&mut self.norm.weight));
        out.push(ParamMut::R1(&mut self.norm.bias));
        out.push(ParamMut::R2(&mut self.output.weight));
        out.push(ParamMut::R1(&mut self.output.bias));
        out
    }

    pub fn parameter_count(&self) -> usize {
        self.params().iter().map(|(_, p)| p.numel()).sum()
    }

    /// Inference logits for row-major inputs `[n][width]`, in batches; row-major `[n][n_classes]`.
    pub fn logits(&self, inputs: &[f32], width: usize, batch_size: usize) -> Vec<f32> {
        let dev = self.output.weight.device().clone();
        let mut out = Vec::with_capacity(inputs.len() / width.max(1) * self.n_classes());
        for chunk in inputs.chunks(batch_size.max(1) * width) {
            let n = chunk.len() / width;
            let x: Tensor2<D> = cached_tensor(&dev, chunk, (n, width));
            out.extend(self.forward(x).as_vec());
        }
        out
    }
}

impl<D: Device<f32>> astromer::Parameters<D> for ClassifierHead<D> {
    fn named_params(&self) -> astromer::layers::NamedParams<'_, D> {
        self.params()
    }
    fn named_params_mut(&mut self) -> astromer::layers::NamedParamsMut<'_, D> {
        let names: Vec<String> = self.params().into_iter().map(|(name, _)| name).collect();
        names.into_iter().zip(self.params_mut()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_weight_is_the_official_softmax_mean() {
        let dev = Cpu::default();
        let mut g = GammaWeight::new(&dev, 2);
        g.gamma = dev.tensor_from_vec(vec![0.0, (3.0f32).ln()], (2,));
        // softmax = (0.25, 0.75); output = (0.25·a + 0.75·b) / 2.
        let x: Tensor2<Cpu> = dev.tensor_from_vec(vec![4.0, 8.0, 0.0, 4.0], (1, 4));
        let y = g.forward(x).as_vec();
        assert!((y[0] - 0.5).abs() < 1e-6 && (y[1] - 2.5).abs() < 1e-6, "{y:?}");
        let s = g.softmaxed();
        assert!((s[0] - 0.25).abs() < 1e-6 && (s[1] - 0.75).abs() < 1e-6);
    }

    #[test]
    fn official_head_shapes_and_parameter_count() {
        let dev = Cpu::default();
        let h = ClassifierHead::new(&dev, HeadKind::Skip, 7, 256, 6, &HeadShape::default(), 0);
        // γ 7 + (256·1024+1024) + (1024·512+512) + (512·256+256) + LN 2·256 + (256·6+6).
        let expected = 7 + 263_168 + 524_800 + 131_328 + 512 + 1_542;
        assert_eq!(h.parameter_count(), expected);
        assert!(ClassifierHead::new(&dev, HeadKind::Max, 7, 256, 6, &HeadShape::default(), 0).gamma.is_none());
        let x: Tensor2<Cpu> = dev.zeros_like(&(3, 7 * 256));
        assert_eq!(*h.forward(x).shape(), (3, 6));
    }
}
