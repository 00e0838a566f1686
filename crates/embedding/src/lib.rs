//! Embeddings of anyone's light curves with a trained (or imported) Astromer checkpoint.
//!
//! The pipeline is the official test pipeline (spec §2.2–2.4, §8.2), built from the pieces the
//! experiments use:
//!
//! 1. [`read_curves`]: a long table (CSV/parquet, any column names) or a folder in the official
//!    parquet layout, validated without altering any curve: a curve with a non-finite or missing
//!    value, unsorted or duplicate times, an error ≤ 0 or fewer than 5 observations is refused
//!    whole ([`lightcurve::Validation::Reject`]) — an error naming the file and the objects, or,
//!    with [`InputOptions::skip_invalid`], a list of skipped objects and their problems;
//! 2. [`embed_set`]: sequential windows of 200 observations ([`lightcurve::sequential_window_starts`],
//!    per-window zero mean, right zero padding), encoded in batches in inference mode
//!    ([`astromer::MaskedBatch::evaluation`]: every real observation visible, padding hidden) and
//!    pooled over the valid steps by [`classifier::PooledFeatures`], exactly what the
//!    classification heads read ([`Pooling`]); an object's embedding is the mean of its windows';
//! 3. [`write_embeddings`]: one row per object (or per window) with the embedding as `Float32`
//!    columns `emb_000`, `emb_001`, …, written atomically as parquet or CSV.
//!
//! [`run`] does all three for a [`Job`] (what `cargo xtask embed` calls).
//!
//! Everything is deterministic: the same checkpoint, input and batch size give identical bytes.

mod input;
mod job;
mod output;

pub use input::{read_curves, validation, Curves, InputOptions};
pub use job::{run, Job, Summary};
pub use output::{embedding_column_names, skipped_path, write_embeddings, write_skipped, Layout};

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use astromer::dfdx::prelude::Device;
use astromer::{Astromer, EncoderConfig};
use classifier::{ClassifierError, HeadKind, PooledFeatures};
use lightcurve::{make_window, sequential_window_starts, LightCurveSet, RejectedCurve};

/// Window length of the official pipeline (and of the released models).
pub const WINDOW_LEN: usize = 200;

/// Default encoder batch (windows per forward pass); see `docs/embedding.md` for the measurement.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// How a window's encoder outputs (B, L, d per representation) become one vector. Every pooling
/// runs over the window's valid (non-padding) steps only, as the official heads do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// Mean over valid steps of the last block's output (d values; the `avg` head's input).
    #[default]
    Mean,
    /// Max over valid steps of the last block's output (d values; the `max` head's input).
    Max,
    /// Concatenation of the means over valid steps of the input embedding and of every block's
    /// output ((blocks + 1) · d values; what the `skip` head weights with softmax(γ)).
    Skip,
}

impl Pooling {
    pub const ALL: [Pooling; 3] = [Pooling::Mean, Pooling::Max, Pooling::Skip];

    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Max => "max",
            Pooling::Skip => "skip",
        }
    }

    /// The classifier head whose input this pooling is.
    pub fn head_kind(self) -> HeadKind {
        match self {
            Pooling::Mean => HeadKind::Avg,
            Pooling::Max => HeadKind::Max,
            Pooling::Skip => HeadKind::Skip,
        }
    }

    /// Width of the embedding of a model with this configuration.
    pub fn width(self, config: &EncoderConfig) -> usize {
        match self {
            Pooling::Mean | Pooling::Max => config.d_model,
            Pooling::Skip => (config.n_blocks + 1) * config.d_model,
        }
    }
}

impl fmt::Display for Pooling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pooling::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown pooling `{s}`: use mean, max or skip"))
    }
}

/// Settings of [`embed_set`].
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedOptions {
    pub pooling: Pooling,
    /// Window length (200 in the official pipeline; the model itself accepts any).
    pub window_len: usize,
    /// Windows per encoder pass: speed and memory only. Windows never interact within a batch;
    /// on the CPU the output is byte-identical for every batch size tried (8–256).
    pub batch_size: usize,
    /// Also keep one embedding per window ([`Embeddings::windows`]).
    pub per_window: bool,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            pooling: Pooling::Mean,
            window_len: WINDOW_LEN,
            batch_size: DEFAULT_BATCH_SIZE,
            per_window: false,
        }
    }
}

/// The embedding of one object: the mean over its windows of the pooled window embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectEmbedding {
    pub object_id: String,
    /// Observations of the curve.
    pub n_obs: usize,
    /// Windows it was cut into (the official sequential windows: ⌊n/200⌋ + 1, the last one
    /// right-aligned, so it overlaps — or, when n is a multiple of 200, repeats — the previous one).
    pub n_windows: usize,
    pub values: Vec<f32>,
}

/// The embedding of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEmbedding {
    pub object_id: String,
    /// Index of the window within its object (0, 1, …).
    pub window: usize,
    /// Index within the curve of the window's first observation.
    pub start: usize,
    /// Real (non-padding) observations in the window.
    pub n_obs: usize,
    pub values: Vec<f32>,
}

/// What [`embed_set`] computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub pooling: Pooling,
    /// Width of every embedding.
    pub dim: usize,
    /// One per object, in the order of the set.
    pub objects: Vec<ObjectEmbedding>,
    /// One per window, in object then window order, when [`EmbedOptions::per_window`] was set.
    pub windows: Option<Vec<WindowEmbedding>>,
    /// Windows encoded in all.
    pub n_windows: usize,
}

/// Errors of the embedding pipeline; each names the file, folder or object involved.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("checkpoint {}: {problem}", dir.display())]
    Checkpoint { dir: PathBuf, problem: String },
    #[error(transparent)]
    Data(#[from] lightcurve::DataError),
    #[error("{}: {} light curve(s) fail validation; nothing was embedded:\n{}", path.display(), curves.len(), list_rejected(curves, 20))]
    InvalidCurves { path: PathBuf, curves: Vec<RejectedCurve> },
    #[error("{}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error("{}: holds curves of several bands ({}); Astromer is a single-band model: choose one band", path.display(), bands.join(", "))]
    SeveralBands { path: PathBuf, bands: Vec<String> },
    #[error(transparent)]
    Encoder(#[from] ClassifierError),
    #[error("{0}")]
    Options(String),
}

/// `  object `id` (band B): problem` lines, at most `max`, then a count of the rest.
fn list_rejected(curves: &[RejectedCurve], max: usize) -> String {
    let mut lines: Vec<String> = curves
        .iter()
        .take(max)
        .map(|r| format!("  object `{}` (band {}): {}", r.object_id, r.band, r.problem))
        .collect();
    if curves.len() > max {
        lines.push(format!("  … and {} more", curves.len() - max));
    }
    lines.join("\n")
}

/// Loads a checkpoint in this project's format (`DIR/config.toml` + `DIR/model.safetensors`, as
/// written by [`Astromer::save`]); any problem is an error naming the folder.
pub fn load_checkpoint<D: Device<f32>>(dir: &Path, dev: &D) -> Result<Astromer<D>, EmbedError> {
    let problem = |problem: String| EmbedError::Checkpoint {
        dir: dir.to_path_buf(),
        problem,
    };
    if !dir.is_dir() {
        return Err(problem(
            "is not a folder; expected a folder holding config.toml and model.safetensors".into(),
        ));
    }
    for file in ["config.toml", "model.safetensors"] {
        if !dir.join(file).is_file() {
            return Err(problem(format!(
                "has no {file}; expected a folder holding config.toml and model.safetensors (as saved by training)"
            )));
        }
    }
    Astromer::load(dir, dev).map_err(|e| problem(e.to_string()))
}

/// Embeds every curve of `set`. `progress(objects_done, objects_total)` is called once before the
/// first encoder batch and after every batch.
pub fn embed_set<D: Device<f32>>(
    model: &Astromer<D>,
    set: &LightCurveSet,
    opts: &EmbedOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Embeddings, EmbedError> {
    if opts.window_len == 0 || opts.batch_size == 0 {
        return Err(EmbedError::Options(format!(
            "window length ({}) and batch size ({}) must be positive",
            opts.window_len, opts.batch_size
        )));
    }
    let kind = opts.pooling.head_kind();
    let dim = opts.pooling.width(model.config());
    // Every window, as (object, window index, start), in object order.
    let plan: Vec<(usize, usize, usize)> = set
        .curves()
        .enumerate()
        .flat_map(|(i, c)| {
            sequential_window_starts(c.len(), opts.window_len)
                .into_iter()
                .enumerate()
                .map(move |(k, s)| (i, k, s))
        })
        .collect();
    let mut out = Embeddings {
        pooling: opts.pooling,
        dim,
        objects: Vec::with_capacity(set.len()),
        windows: opts.per_window.then(|| Vec::with_capacity(plan.len())),
        n_windows: plan.len(),
    };
    // Windows come in object order, so one accumulator (the object in progress) suffices.
    let mut acc = vec![0f64; dim];
    let mut acc_windows = 0usize;
    let finish = |i: usize, acc: &mut [f64], n: &mut usize, objects: &mut Vec<ObjectEmbedding>| {
        let c = set.curve(i);
        objects.push(ObjectEmbedding {
            object_id: c.object_id.to_string(),
            n_obs: c.len(),
            n_windows: *n,
            values: acc.iter().map(|&a| (a / *n as f64) as f32).collect(),
        });
        acc.iter_mut().for_each(|a| *a = 0.0);
        *n = 0;
    };
    progress(0, set.len());
    for chunk in plan.chunks(opts.batch_size) {
        let windows: Vec<_> = chunk
            .iter()
            .map(|&(i, _, s)| make_window(&set.curve(i), i, s, opts.window_len))
            .collect();
        // The pooling is the classifier's own; labels are irrelevant here.
        let pooled = PooledFeatures::extract(model, &windows, |_| Ok(0), windows.len(), &mut |_, _| {})?;
        for (row, (&(i, k, start), w)) in chunk.iter().zip(&windows).enumerate() {
            if k == 0 && i > 0 {
                finish(i - 1, &mut acc, &mut acc_windows, &mut out.objects);
            }
            let values = pooled.head_input(kind, &[row]);
            for (a, &v) in acc.iter_mut().zip(&values) {
                *a += v as f64;
            }
            acc_windows += 1;
            if let Some(ws) = out.windows.as_mut() {
                ws.push(WindowEmbedding {
                    object_id: set.curve(i).object_id.to_string(),
                    window: k,
                    start,
                    n_obs: w.n_valid,
                    values,
                });
            }
        }
        progress(out.objects.len(), set.len());
    }
    if !set.is_empty() {
        finish(set.len() - 1, &mut acc, &mut acc_windows, &mut out.objects);
    }
    progress(out.objects.len(), set.len());
    Ok(out)
}
