//! Parity with the official graph: our model on the official model's inputs, against its outputs.
//!
//! A reference file (`reference.safetensors`, as in `tests/fixtures/official-a2-tiny`) holds the
//! official inputs `input`, `times`, `mask_in` (B, L, 1) and `n_valid` (B,), and its outputs
//! `reconstruction` (B, L, 1) and `block_0…block_{n−1}` (B, L, d).
//!
//! # Tolerance
//!
//! Both sides compute in float32, so they cannot agree exactly; the question is how far apart two
//! correct float32 implementations may be. Two sources, per window:
//!
//! - **the time encoding.** sin(t·ω_j + φ_j) of a float32 argument: the product t·ω_j (and ω_j
//!   itself, computed in f64 here and in f32 by TensorFlow) is rounded to float32, an error of up
//!   to about one ulp of t·ω_j ≤ |t|·2⁻²³ in the argument, hence in the PE value (|PE| ≤ 1). It
//!   grows with the window's largest |t| and no float32 implementation avoids it. Measured: our
//!   float32 PE is within 0.25·|t|·2⁻²³ of float64 from a week to 30 years, and on the official
//!   fixtures the error that reaches the block outputs is no larger than at the input (post-LN
//!   blocks do not amplify it).
//! - **everything else.** Sums of up to d products in another order, LayerNorm, softmax, tanh: a
//!   few float32 ulps relative to the output's scale; 1e-5 (about 80 ulps) covers six blocks.
//!
//! So, for an output whose largest |value| in the window is `scale`, the allowed max absolute
//! difference is
//!
//! `allowed(scale, |t|max) = REL · max(scale, 1) + GAIN · |t|max · 2⁻²³`
//!
//! with REL = 1e-5 and GAIN = 2 (twice one ulp of t: eight times the measured PE error). On the
//! official fixtures (|t| up to ~470 d, values up to ~4.4) the worst difference is a third of it;
//! a swapped pair of weight matrices or the mask token applied instead of dropped exceeds it by
//! orders of magnitude (tests in `tests/tiny.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use astromer::dfdx::prelude::Device;
use astromer::{Astromer, MaskedBatch, ProbeRole};
use safetensors::{Dtype, SafeTensors};

use crate::error::ImportError;

/// Relative float32 noise allowed on every output (see the module docs).
pub const REL: f32 = 1e-5;
/// Allowed time-encoding error, in ulps of the window's largest |t| (module docs).
pub const GAIN: f32 = 2.0;

/// The allowed max absolute difference for an output of the given scale (largest |value|), in a
/// window whose largest |t| is `max_abs_t` days (module docs).
pub fn allowed_difference(scale: f32, max_abs_t: f32) -> f32 {
    REL * scale.max(1.0) + GAIN * max_abs_t * f32::EPSILON
}

/// The official inputs and outputs of a reference file.
#[derive(Debug, Clone)]
pub struct Reference {
    pub path: PathBuf,
    pub batch_size: usize,
    pub window_len: usize,
    pub input: Vec<f32>,
    pub times: Vec<f32>,
    pub mask_in: Vec<f32>,
    pub n_valid: Vec<usize>,
    pub reconstruction: Vec<f32>,
    /// Block outputs in order, (B, L, d) each.
    pub blocks: Vec<Vec<f32>>,
    pub d_model: usize,
    pub metadata: HashMap<String, String>,
}

fn bad(path: &Path, problem: impl Into<String>) -> ImportError {
    ImportError::Reference {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Reads a reference file; every missing tensor or wrong shape is an error naming it.
pub fn read_reference(path: &Path) -> Result<Reference, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(path, format!("not a safetensors file: {e:?}")))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, format!("not a safetensors file: {e:?}")))?;
    let get = |name: &str, dtype: Dtype| -> Result<(Vec<usize>, Vec<[u8; 4]>), ImportError> {
        let t = st
            .tensor(name)
            .map_err(|_| bad(path, format!("no tensor `{name}` (a reference file holds input, times, mask_in, n_valid, reconstruction, block_0…)")))?;
        if t.dtype() != dtype {
            return Err(bad(path, format!("`{name}` is {:?}, expected {dtype:?}", t.dtype())));
        }
        let words = t.data().chunks_exact(4).map(|c| c.try_into().expect("4 bytes")).collect();
        Ok((t.shape().to_vec(), words))
    };
    let f32s = |name: &str| -> Result<(Vec<usize>, Vec<f32>), ImportError> {
        let (s, w) = get(name, Dtype::F32)?;
        Ok((s, w.into_iter().map(f32::from_le_bytes).collect()))
    };
    let (shape, input) = f32s("input")?;
    let [b, l, 1] = shape[..] else {
        return Err(bad(path, format!("`input` has shape {shape:?}, expected (B, L, 1)")));
    };
    let same = |name: &str| -> Result<Vec<f32>, ImportError> {
        let (s, v) = f32s(name)?;
        if s != shape {
            return Err(bad(path, format!("`{name}` has shape {s:?}, expected {shape:?}")));
        }
        Ok(v)
    };
    let times = same("times")?;
    let mask_in = same("mask_in")?;
    let reconstruction = same("reconstruction")?;
    let (ns, nv) = get("n_valid", Dtype::I32)?;
    if ns != [b] {
        return Err(bad(path, format!("`n_valid` has shape {ns:?}, expected [{b}]")));
    }
    let n_valid: Vec<usize> = nv
        .into_iter()
        .map(i32::from_le_bytes)
        .map(|n| usize::try_from(n).ok().filter(|&n| n <= l))
        .collect::<Option<_>>()
        .ok_or_else(|| bad(path, format!("`n_valid` holds a value outside 0..={l}")))?;
    let mut blocks = Vec::new();
    let mut d_model = 0;
    while let Ok((s, v)) = f32s(&format!("block_{}", blocks.len())) {
        match s[..] {
            [bb, ll, d] if bb == b && ll == l && (d_model == 0 || d == d_model) => d_model = d,
            _ => return Err(bad(path, format!("`block_{}` has shape {s:?}, expected ({b}, {l}, d)", blocks.len()))),
        }
        blocks.push(v);
    }
    Ok(Reference {
        path: path.to_path_buf(),
        batch_size: b,
        window_len: l,
        input,
        times,
        mask_in,
        n_valid,
        reconstruction,
        blocks,
        d_model,
        metadata,
    })
}

impl Reference {
    /// The official inputs as our batch: real points with `mask_in = 1` are `Masked` (hidden keys;
    /// in official-graph mode their true magnitude still enters, as in the official graph), other
    /// real points `Same`, the rest padding.
    pub fn masked_batch(&self) -> MaskedBatch {
        let (b, l) = (self.batch_size, self.window_len);
        let roles = (0..b * l)
            .map(|i| {
                let (w, p) = (i / l, i % l);
                if p >= self.n_valid[w] {
                    ProbeRole::Padding
                } else if self.mask_in[i] > 0.5 {
                    ProbeRole::Masked
                } else {
                    ProbeRole::Same
                }
            })
            .collect();
        MaskedBatch {
            batch_size: b,
            window_len: l,
            time: self.times.clone(),
            input_mag: self.input.clone(),
            target: self.input.clone(),
            loss_weight: vec![1.0; b * l],
            roles,
        }
    }

    /// Largest |t| of window `w` over its real points.
    pub fn max_abs_time(&self, w: usize) -> f32 {
        let l = self.window_len;
        self.times[w * l..w * l + self.n_valid[w]]
            .iter()
            .fold(0.0f32, |m, t| m.max(t.abs()))
    }
}

/// How one output compares.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputDiff {
    /// `reconstruction` or `block_i`.
    pub output: String,
    /// Max |ours − official| over the whole batch.
    pub max_abs: f32,
    /// `max_abs` / max |official|.
    pub max_rel: f32,
    /// Largest |official| value.
    pub scale: f32,
    /// Window with the largest difference-to-allowed ratio, with its allowed difference.
    pub worst_window: usize,
    pub worst_allowed: f32,
    /// max over windows of (max diff in the window) / (its allowed difference): ≤ 1 passes.
    pub worst_ratio: f32,
}

impl OutputDiff {
    pub fn passes(&self) -> bool {
        self.worst_ratio <= 1.0
    }
}

/// Runs `model` on the reference inputs (inference mode) and compares every output.
pub fn compare<D: Device<f32>>(model: &Astromer<D>, reference: &Reference) -> Result<Vec<OutputDiff>, ImportError> {
    let n_blocks = model.config().n_blocks;
    if reference.blocks.len() != n_blocks || (n_blocks > 0 && reference.d_model != model.config().d_model) {
        return Err(bad(
            &reference.path,
            format!(
                "holds {} block outputs of width {}, the model has {} blocks of width {}",
                reference.blocks.len(),
                reference.d_model,
                n_blocks,
                model.config().d_model
            ),
        ));
    }
    let batch = reference.masked_batch();
    let encoded = model.encode(&batch)?;
    let reconstruction = model.predict(&batch)?;
    let mut out = vec![diff("reconstruction", &reconstruction, &reference.reconstruction, reference)];
    for (i, (ours, theirs)) in encoded.blocks.iter().zip(&reference.blocks).enumerate() {
        out.push(diff(&format!("block_{i}"), &ours.as_vec(), theirs, reference));
    }
    Ok(out)
}

fn diff(name: &str, ours: &[f32], theirs: &[f32], r: &Reference) -> OutputDiff {
    let per_window = theirs.len() / r.batch_size;
    let mut d = OutputDiff {
        output: name.to_string(),
        max_abs: 0.0,
        max_rel: 0.0,
        scale: 0.0,
        worst_window: 0,
        worst_allowed: 0.0,
        worst_ratio: 0.0,
    };
    for w in 0..r.batch_size {
        let range = w * per_window..(w + 1) * per_window;
        let (a, b) = (&ours[range.clone()], &theirs[range]);
        let max_diff = a.iter().zip(b).fold(0.0f32, |m, (x, y)| {
            let e = (x - y).abs();
            if e.is_nan() {
                f32::INFINITY
            } else {
                m.max(e)
            }
        });
        let scale = b.iter().fold(0.0f32, |m, y| m.max(y.abs()));
        let allowed = allowed_difference(scale, r.max_abs_time(w));
        let ratio = max_diff / allowed;
        d.max_abs = d.max_abs.max(max_diff);
        d.scale = d.scale.max(scale);
        if ratio > d.worst_ratio || w == 0 {
            d.worst_ratio = ratio;
            d.worst_window = w;
            d.worst_allowed = allowed;
        }
    }
    d.max_rel = d.max_abs / d.scale.max(f32::MIN_POSITIVE);
    d
}
