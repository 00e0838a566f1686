//! Small runtime-shaped building blocks (dfdx 0.13's `nn` modules use const-generic sizes).
//!
//! Every layer stores plain `Tensor`s (no tape). A forward pass is generic over the tape type `T`:
//! with `NoneTape` it is inference; with `OwnedTape` each parameter enters the graph through
//! `retaped::<T>()` (same tensor id, empty tape), so the backward pass fills a gradient for it.

use dfdx::prelude::*;
use rand::Rng;
use rand::RngCore;
use rand_distr::{Distribution, Uniform};

/// Rank-1 f32 tensor with a runtime length.
pub type Tensor1<D, T = NoneTape> = Tensor<(usize,), f32, D, T>;
/// Rank-2 f32 tensor with runtime sizes.
pub type Tensor2<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
/// Rank-3 f32 tensor with runtime sizes (batch, time, feature).
pub type Tensor3<D, T = NoneTape> = Tensor<(usize, usize, usize), f32, D, T>;
/// Rank-4 f32 tensor with runtime sizes (batch, head, query, key).
pub type Tensor4<D, T = NoneTape> = Tensor<(usize, usize, usize, usize), f32, D, T>;

/// A borrowed parameter (all parameters have rank 1 or 2).
pub enum ParamRef<'a, D: Device<f32>> {
    R1(&'a Tensor1<D>),
    R2(&'a Tensor2<D>),
}

/// A mutably borrowed parameter.
pub enum ParamMut<'a, D: Device<f32>> {
    R1(&'a mut Tensor1<D>),
    R2(&'a mut Tensor2<D>),
}

impl<'a, D: Device<f32>> ParamRef<'a, D> {
    pub fn shape(&self) -> Vec<usize> {
        match self {
            ParamRef::R1(t) => vec![t.shape().0],
            ParamRef::R2(t) => vec![t.shape().0, t.shape().1],
        }
    }
    pub fn numel(&self) -> usize {
        self.shape().iter().product()
    }
    pub fn to_vec(&self) -> Vec<f32> {
        match self {
            ParamRef::R1(t) => t.as_vec(),
            ParamRef::R2(t) => t.as_vec(),
        }
    }
}

impl<'a, D: Device<f32>> ParamMut<'a, D> {
    pub fn shape(&self) -> Vec<usize> {
        match self {
            ParamMut::R1(t) => vec![t.shape().0],
            ParamMut::R2(t) => vec![t.shape().0, t.shape().1],
        }
    }
    /// Replaces the values (same shape; the caller checks the length).
    pub fn set(&mut self, values: Vec<f32>) {
        match self {
            ParamMut::R1(t) => {
                let s = *t.shape();
                **t = t.device().tensor_from_vec(values, s);
            }
            ParamMut::R2(t) => {
                let s = *t.shape();
                **t = t.device().tensor_from_vec(values, s);
            }
        }
    }
}

/// Named parameter list, in a fixed (construction) order.
pub type NamedParams<'a, D> = Vec<(String, ParamRef<'a, D>)>;
/// Named mutable parameter list, same order as [`NamedParams`].
pub type NamedParamsMut<'a, D> = Vec<(String, ParamMut<'a, D>)>;

/// Keras `glorot_uniform` for a kernel of shape (fan_in, fan_out).
pub(crate) fn glorot_uniform<D: Device<f32>>(
    dev: &D,
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) -> Tensor2<D> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    let dist = Uniform::new_inclusive(-limit, limit);
    let v: Vec<f32> = (0..fan_in * fan_out).map(|_| dist.sample(rng)).collect();
    dev.tensor_from_vec(v, (fan_in, fan_out))
}

pub(crate) fn filled<D: Device<f32>>(dev: &D, n: usize, value: f32) -> Tensor1<D> {
    dev.tensor_from_vec(vec![value; n], (n,))
}

/// A device tensor holding `values`, allocated through dfdx's buffer cache.
///
/// `tensor_from_vec` adopts the `Vec`, and on drop that buffer enters the device's cache (enabled
/// by [`crate::default_device`]) whether or not the cache handed it out; tensors built per step
/// from host data (batch tensors, dropout masks, the PE constants) then grow the cache without
/// bound — 20 GB and an OOM kill after a dozen epochs of the small profile. Taking the buffer from
/// the cache and copying into it keeps the cache at one step's working set.
pub fn cached_tensor<S: Shape, D: Device<f32>>(dev: &D, values: &[f32], shape: S) -> Tensor<S, f32, D> {
    let mut t = dev.zeros_like(&shape);
    t.copy_from(values);
    t
}

/// One-hot rows (`labels.len()` × `n_classes`) for a cross-entropy target; labels must be below
/// `n_classes` (the callers check them once per set).
pub fn one_hot<D: Device<f32>>(dev: &D, labels: &[usize], n_classes: usize) -> Tensor2<D> {
    cached_tensor(dev, &one_hot_rows(labels, n_classes), (labels.len(), n_classes))
}

/// The rows of [`one_hot`] on the host, row-major.
pub fn one_hot_rows(labels: &[usize], n_classes: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; labels.len() * n_classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * n_classes + l] = 1.0;
    }
    v
}

/// Dense layer `y = x W + b` with a Keras-layout kernel `weight` of shape (in, out).
#[derive(Clone, Debug)]
pub struct Dense<D: Device<f32>> {
    /// Kernel, shape (in, out) (Keras layout: no transpose needed to import official weights).
    pub weight: Tensor2<D>,
    /// Bias, shape (out,).
    pub bias: Tensor1<D>,
}

impl<D: Device<f32>> Dense<D> {
    /// Glorot-uniform kernel, zero bias (Keras defaults).
    pub fn new(dev: &D, fan_in: usize, fan_out: usize, rng: &mut impl Rng) -> Self {
        Self {
            weight: glorot_uniform(dev, fan_in, fan_out, rng),
            bias: filled(dev, fan_out, 0.0),
        }
    }

    pub fn in_features(&self) -> usize {
        self.weight.shape().0
    }

    pub fn out_features(&self) -> usize {
        self.weight.shape().1
    }

    /// x: (N, in) → (N, out).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        // CPU: one GEMM with the bias fused (see `kernels`); other devices: dfdx ops below.
        let x = match crate::kernels::dense(x, &self.weight, &self.bias) {
            Ok(y) => return y,
            Err(x) => x,
        };
        let n = x.shape().0;
        let out = self.out_features();
        let y = x.matmul(self.weight.retaped::<T>());
        y + self
            .bias
            .retaped::<T>()
            .broadcast_like::<_, Axis<0>>(&(n, out))
    }

    /// Appends this layer's tensors as `{prefix}.weight`, `{prefix}.bias`.
    pub fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamRef::R2(&self.weight)));
        out.push((format!("{prefix}.bias"), ParamRef::R1(&self.bias)));
    }

    /// Mutable counterpart of `params`, same names and order.
    pub fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamMut::R2(&mut self.weight)));
        out.push((format!("{prefix}.bias"), ParamMut::R1(&mut self.bias)));
    }
}

/// LayerNorm over the feature axis: `(x − mean) / sqrt(var + eps) · weight + bias`
/// (population variance, as Keras).
#[derive(Clone, Debug)]
pub struct LayerNorm<D: Device<f32>> {
    /// Gamma, shape (d,), initialised to 1.
    pub weight: Tensor1<D>,
    /// Beta, shape (d,), initialised to 0.
    pub bias: Tensor1<D>,
    pub eps: f32,
}

impl<D: Device<f32>> LayerNorm<D> {
    pub fn new(dev: &D, d: usize, eps: f32) -> Self {
        Self {
            weight: filled(dev, d, 1.0),
            bias: filled(dev, d, 0.0),
            eps,
        }
    }

    /// x: (N, d) → (N, d).
    pub fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        // CPU: one fused pass with an analytic backward (see `kernels`); else dfdx ops.
        match crate::kernels::layer_norm(x, None, &self.weight, &self.bias, self.eps) {
            Ok(y) => y,
            Err((x, _)) => self.forward_generic(x),
        }
    }

    /// LN(r + x) (the post-LN residual), with the add fused into the LayerNorm on the CPU.
    pub fn forward_residual<T: Tape<f32, D> + 'static>(
        &self,
        r: Tensor2<D, T>,
        x: Tensor2<D, T>,
    ) -> Tensor2<D, T> {
        match crate::kernels::layer_norm(x, Some(r), &self.weight, &self.bias, self.eps) {
            Ok(y) => y,
            Err((x, Some(r))) => self.forward_generic(r + x),
            Err((x, None)) => unreachable!("residual given back: {:?}", x.shape()),
        }
    }

    /// The dfdx reference path.
    fn forward_generic<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        let shape = *x.shape();
        let g = self
            .weight
            .retaped::<T>()
            .broadcast_like::<_, Axis<0>>(&shape);
        let b = self
            .bias
            .retaped::<T>()
            .broadcast_like::<_, Axis<0>>(&shape);
        x.normalize::<Axis<1>>(self.eps) * g + b
    }

    /// Appends this layer's tensors as `{prefix}.weight`, `{prefix}.bias`.
    pub fn params<'a>(&'a self, prefix: &str, out: &mut NamedParams<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamRef::R1(&self.weight)));
        out.push((format!("{prefix}.bias"), ParamRef::R1(&self.bias)));
    }

    /// Mutable counterpart of `params`, same names and order.
    pub fn params_mut<'a>(&'a mut self, prefix: &str, out: &mut NamedParamsMut<'a, D>) {
        out.push((format!("{prefix}.weight"), ParamMut::R1(&mut self.weight)));
        out.push((format!("{prefix}.bias"), ParamMut::R1(&mut self.bias)));
    }
}

/// Elementwise tanh: one fused pass on the CPU ([`crate::kernels::fast_tanh`], backward from the
/// saved output), dfdx's `tanh` on other devices or with generic kernels forced.
pub fn tanh<D: Device<f32>, T: Tape<f32, D> + 'static>(x: Tensor2<D, T>) -> Tensor2<D, T> {
    match crate::kernels::tanh(x) {
        Ok(y) => y,
        Err(x) => x.tanh(),
    }
}

/// Inverted dropout with masks drawn on the host from a caller-supplied RNG, so training is
/// bit-reproducible given the seed and independent of the device.
pub(crate) struct Dropout<'r> {
    rng: Option<&'r mut dyn RngCore>,
    p: f32,
}

impl<'r> Dropout<'r> {
    /// Dropout active (training mode) when `rng` is `Some` and `p > 0`.
    pub(crate) fn new(rng: Option<&'r mut dyn RngCore>, p: f32) -> Self {
        Self { rng, p }
    }

    /// Inference: identity.
    pub(crate) fn off() -> Self {
        Self { rng: None, p: 0.0 }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.rng.is_some() && self.p > 0.0
    }

    /// Keep mask (0 or 1/(1−p)) of `n` values. Each 64-bit draw gives four 16-bit uniforms, so the
    /// effective rate is round(p·65536)/65536 (0.1 → 0.100006).
    fn mask(&mut self, n: usize) -> Vec<f32> {
        let rng = self.rng.as_mut().expect("mask() only when active");
        let threshold = (self.p as f64 * 65536.0).round() as u32;
        let keep = 1.0 / (1.0 - self.p);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let r = rng.next_u64();
            for k in 0..4 {
                if out.len() == n {
                    break;
                }
                let u = ((r >> (16 * k)) & 0xFFFF) as u32;
                out.push(if u < threshold { 0.0 } else { keep });
            }
        }
        out
    }

    pub(crate) fn apply<D: Device<f32>, T: Tape<f32, D> + 'static>(
        &mut self,
        x: Tensor2<D, T>,
    ) -> Tensor2<D, T> {
        if !self.is_active() {
            return x;
        }
        let shape = *x.shape();
        let m = self.mask(shape.0 * shape.1);
        let mask = cached_tensor(x.device(), &m, shape);
        x * mask
    }
}
