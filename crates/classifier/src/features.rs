//! Pooled per-window representations of a frozen encoder, the only thing the heads read.
//!
//! Every head of spec §8.2 pools over time before anything trainable happens (`skip` averages
//! each representation over the valid steps and only then weights them with softmax(γ); `max`
//! and `avg` pool the last block), so one encoder pass per window yields everything all heads
//! need: for each window, the mean over valid steps of the input embedding and of every block
//! output, and the max over valid steps of the last block. These are a few kilobytes per window
//! and are cached to disk, so the encoder runs once per (encoder, fold, SPC) however many heads
//! are trained on top.

use std::io::{Read, Write};
use std::path::Path;

use lightcurve::{PaddedWindow, WindowEncoder};

use crate::error::ClassifierError;
use crate::head::HeadKind;

/// Pooled representations of `len()` windows.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledFeatures {
    /// Representations per window: the input embedding plus one per block.
    pub n_reps: usize,
    pub d_model: usize,
    /// Row-major `[window][rep][d]`: the mean over valid steps of representation `rep`
    /// (rep 0 = input embedding, rep k = output of block k).
    pub means: Vec<f32>,
    /// Row-major `[window][d]`: the max over valid steps of the last block's output.
    pub last_max: Vec<f32>,
    /// Source curve of each window (index into the set the windows came from).
    pub object_index: Vec<usize>,
    /// Class of each window (the class of its curve).
    pub labels: Vec<usize>,
}

const MAGIC: &[u8; 8] = b"ASTRPF01";

impl PooledFeatures {
    /// No windows yet, for `n_reps` representations of width `d_model`.
    pub fn empty(n_reps: usize, d_model: usize) -> Self {
        Self {
            n_reps,
            d_model,
            means: Vec::new(),
            last_max: Vec::new(),
            object_index: Vec::new(),
            labels: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The windows of `curves` (indices into the set these features were extracted from), in that
    /// order, renumbered so that `object_index` is the position in `curves`: what extracting from
    /// `set.subset(curves)` gives (a curve listed twice appears twice). For encoders whose weights
    /// do not depend on the split, one extraction over the whole set then serves every split.
    /// Errors when a curve has no window here.
    pub fn select_curves(&self, curves: &[usize]) -> Result<Self, ClassifierError> {
        let mut rows_of: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (row, &object) in self.object_index.iter().enumerate() {
            rows_of.entry(object).or_default().push(row);
        }
        let (r, d) = (self.n_reps, self.d_model);
        let mut out = Self::empty(r, d);
        for (position, curve) in curves.iter().enumerate() {
            let rows = rows_of
                .get(curve)
                .ok_or_else(|| ClassifierError::Mismatch(format!("curve {curve} has no window among these features")))?;
            for &row in rows {
                out.means.extend_from_slice(&self.means[row * r * d..(row + 1) * r * d]);
                out.last_max.extend_from_slice(&self.last_max[row * d..(row + 1) * d]);
                out.object_index.push(position);
                out.labels.push(self.labels[row]);
            }
        }
        Ok(out)
    }

    /// Width of the head's input for `kind`.
    pub fn input_width(&self, kind: HeadKind) -> usize {
        match kind {
            HeadKind::Skip => self.n_reps * self.d_model,
            HeadKind::Max | HeadKind::Avg => self.d_model,
        }
    }

    /// One embedding per object: the mean over its windows of the last representation's mean over
    /// valid steps (the `avg` head's input), objects in increasing `object_index`; with each
    /// object's label (that of its first window).
    pub fn object_embeddings(&self) -> (Vec<f32>, Vec<usize>) {
        let (r, d) = (self.n_reps, self.d_model);
        let mut by_object: std::collections::BTreeMap<usize, (Vec<f64>, usize, usize)> = Default::default();
        for (row, &object) in self.object_index.iter().enumerate() {
            let entry = by_object.entry(object).or_insert_with(|| (vec![0.0; d], 0, self.labels[row]));
            let last = (row * r + r - 1) * d;
            for (sum, &v) in entry.0.iter_mut().zip(&self.means[last..last + d]) {
                *sum += v as f64;
            }
            entry.1 += 1;
        }
        let mut embeddings = Vec::with_capacity(by_object.len() * d);
        let mut labels = Vec::with_capacity(by_object.len());
        for (sums, count, label) in by_object.into_values() {
            embeddings.extend(sums.into_iter().map(|s| (s / count as f64) as f32));
            labels.push(label);
        }
        (embeddings, labels)
    }

    /// The head input of windows `rows`, row-major `[rows.len()][input_width(kind)]`.
    pub fn head_input(&self, kind: HeadKind, rows: &[usize]) -> Vec<f32> {
        let (r, d) = (self.n_reps, self.d_model);
        let mut out = Vec::with_capacity(rows.len() * self.input_width(kind));
        for &i in rows {
            match kind {
                HeadKind::Skip => out.extend_from_slice(&self.means[i * r * d..(i + 1) * r * d]),
                HeadKind::Max => out.extend_from_slice(&self.last_max[i * d..(i + 1) * d]),
                HeadKind::Avg => {
                    let last = (i * r + r - 1) * d;
                    out.extend_from_slice(&self.means[last..last + d]);
                }
            }
        }
        out
    }

    /// Encodes `windows` with the frozen `encoder` (any [`WindowEncoder`]; Astromer runs in
    /// inference mode, no dropout) in batches of
    /// `batch_size` and pools them. `label_of_object(object_index)` gives each window's class.
    /// `on_batch(done, total)` reports progress in windows.
    pub fn extract<E: WindowEncoder + ?Sized>(
        encoder: &E,
        windows: &[PaddedWindow],
        label_of_object: impl Fn(usize) -> Result<usize, ClassifierError>,
        batch_size: usize,
        on_batch: &mut dyn FnMut(usize, usize),
    ) -> Result<Self, ClassifierError> {
        let d = encoder.width();
        let r = encoder.n_representations();
        let mut out = Self {
            n_reps: r,
            d_model: d,
            means: Vec::with_capacity(windows.len() * r * d),
            last_max: Vec::with_capacity(windows.len() * d),
            object_index: Vec::with_capacity(windows.len()),
            labels: Vec::with_capacity(windows.len()),
        };
        let mut done = 0;
        for chunk in windows.chunks(batch_size.max(1)) {
            if let Some(w) = chunk.iter().find(|w| w.n_valid == 0) {
                return Err(ClassifierError::EmptyWindow { object_index: w.object_index });
            }
            let reps = encoder.encode_windows(chunk)?;
            reps.check(encoder, chunk)?;
            for (b, w) in chunk.iter().enumerate() {
                for k in 0..r {
                    out.means.extend(mean_over_valid(reps.window(k, b), w.n_valid, d));
                }
                out.last_max.extend(max_over_valid(reps.window(r - 1, b), w.n_valid, d));
                out.object_index.push(w.object_index);
                out.labels.push(label_of_object(w.object_index)?);
            }
            done += chunk.len();
            on_batch(done, windows.len());
        }
        Ok(out)
    }

    /// Writes the features to `path` atomically (a `.tmp` file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        let io = |e: std::io::Error| ClassifierError::Io(format!("{}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
            f.write_all(MAGIC).map_err(io)?;
            for v in [self.len(), self.n_reps, self.d_model] {
                f.write_all(&(v as u64).to_le_bytes()).map_err(io)?;
            }
            for v in self.means.iter().chain(&self.last_max) {
                f.write_all(&v.to_le_bytes()).map_err(io)?;
            }
            for v in self.object_index.iter().chain(&self.labels) {
                f.write_all(&(*v as u64).to_le_bytes()).map_err(io)?;
            }
            f.flush().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads features written by [`PooledFeatures::save`]; a truncated or foreign file is an error
    /// that names the file.
    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        let bad = |why: &str| ClassifierError::Cache {
            path: path.to_path_buf(),
            why: why.to_string(),
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| ClassifierError::Io(format!("{}: {e}", path.display())))?;
        if bytes.len() < 32 || &bytes[..8] != MAGIC {
            return Err(bad("not a pooled-features file"));
        }
        let u = |k: usize| u64::from_le_bytes(bytes[8 + 8 * k..16 + 8 * k].try_into().expect("8 bytes")) as usize;
        let (n, r, d) = (u(0), u(1), u(2));
        if r == 0 || d == 0 {
            return Err(bad(&format!("{r} representations of width {d}")));
        }
        let expected = n
            .checked_mul(r)
            .and_then(|x| x.checked_mul(d))
            .and_then(|x| x.checked_add(n.checked_mul(d)?))
            .and_then(|x| x.checked_mul(4))
            .and_then(|x| x.checked_add(32 + 16 * n));
        let Some(expected) = expected else {
            return Err(bad("its header gives impossible sizes"));
        };
        if bytes.len() != expected {
            return Err(bad(&format!("{} bytes, expected {expected} (truncated?)", bytes.len())));
        }
        let mut at = 32;
        let mut f32s = |k: usize| {
            let v: Vec<f32> = bytes[at..at + 4 * k]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            at += 4 * k;
            v
        };
        let means = f32s(n * r * d);
        let last_max = f32s(n * d);
        let usizes = |from: usize| -> Vec<usize> {
            bytes[from..from + 8 * n]
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")) as usize)
                .collect()
        };
        let object_index = usizes(at);
        let labels = usizes(at + 8 * n);
        Ok(Self {
            n_reps: r,
            d_model: d,
            means,
            last_max,
            object_index,
            labels,
        })
    }
}

/// Per-column standardisation fitted on training features: every pooled dimension of every
/// representation (and of the last block's max) gets zero mean and unit variance over the training
/// windows.
///
/// Why: pooled post-LayerNorm outputs vary little from window to window compared with their
/// common offset (on the small profile, per-dimension std ≈ 0.03 around |mean| ≈ 0.7), so the
/// MLP's logits start nearly identical for every window and Adam needs hundreds of steps to leave
/// the class-prior plateau — more than a few-shot training set gives. The official heads read the
/// raw embeddings; this is a setting (`ClassifierSettings::standardize`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureScaler {
    means: Vec<(f32, f32)>,
    last_max: Vec<(f32, f32)>,
}

impl FeatureScaler {
    /// Column means and standard deviations of `train` (a constant column is only centred).
    pub fn fit(train: &PooledFeatures) -> Self {
        let stats = |v: &[f32], width: usize| -> Vec<(f32, f32)> {
            let n = (v.len() / width.max(1)).max(1) as f64;
            (0..width)
                .map(|j| {
                    let col = v.iter().skip(j).step_by(width);
                    let mean = col.clone().map(|&x| x as f64).sum::<f64>() / n;
                    let var = col.map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
                    let sd = if var.sqrt() > 1e-8 { var.sqrt() } else { 1.0 };
                    (mean as f32, sd as f32)
                })
                .collect()
        };
        Self {
            means: stats(&train.means, train.n_reps * train.d_model),
            last_max: stats(&train.last_max, train.d_model),
        }
    }

    /// Standardises `f` in place with the fitted statistics.
    pub fn apply(&self, f: &mut PooledFeatures) {
        let go = |v: &mut [f32], stats: &[(f32, f32)]| {
            for row in v.chunks_exact_mut(stats.len().max(1)) {
                for (x, &(m, s)) in row.iter_mut().zip(stats) {
                    *x = (*x - m) / s;
                }
            }
        };
        go(&mut f.means, &self.means);
        go(&mut f.last_max, &self.last_max);
    }
}

/// Mean over the first `n_valid` of `l` rows of a row-major `(l, d)` block (padding is at the end).
fn mean_over_valid(block: &[f32], n_valid: usize, d: usize) -> Vec<f32> {
    let mut acc = vec![0f64; d];
    for row in block.chunks_exact(d).take(n_valid) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v as f64;
        }
    }
    acc.into_iter().map(|a| (a / n_valid as f64) as f32).collect()
}

/// Max over the first `n_valid` rows (padded steps excluded, as the official −∞ fill).
fn max_over_valid(block: &[f32], n_valid: usize, d: usize) -> Vec<f32> {
    let mut acc = vec![f32::NEG_INFINITY; d];
    for row in block.chunks_exact(d).take(n_valid) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = a.max(v);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selecting_curves_equals_extracting_from_the_subset() {
        // Curves of 1–3 windows each (window length 4), with distinct values everywhere.
        let curves: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = (0..5)
            .map(|c| {
                let n = 3 + 4 * (c % 3);
                let t: Vec<f64> = (0..n).map(|i| (i * 2 + c) as f64).collect();
                let m: Vec<f64> = (0..n).map(|i| ((i * 7 + c * 3) % 11) as f64 * 0.1).collect();
                (t, m, vec![0.01; n])
            })
            .collect();
        let set = lightcurve::LightCurveSet::from_curves(
            curves
                .iter()
                .enumerate()
                .map(|(c, (t, m, e))| lightcurve::OwnedLightCurve {
                    object_id: format!("obj{c}"),
                    band: "R".into(),
                    time: t.clone(),
                    mag: m.clone(),
                    err: e.clone(),
                    label: Some(["a", "b"][c % 2].into()),
                })
                .collect(),
        )
        .unwrap();
        let toy = Toy { reps: 2, bad_width: false };
        let extract = |s: &lightcurve::LightCurveSet| {
            let windows = lightcurve::set_sequential_windows(s, 4);
            PooledFeatures::extract(&toy, &windows, |i| Ok(s.label(i).unwrap()), 3, &mut |_, _| {}).unwrap()
        };
        let all = extract(&set);
        let pick = [4, 1, 1, 3];
        assert_eq!(all.select_curves(&pick).unwrap(), extract(&set.subset(&pick).unwrap()));
        assert!(all.select_curves(&[9]).is_err());
    }

    /// A plug-in encoder with no tensor library: representation r of step t is (r+1)·(mag, time),
    /// and padding steps hold a huge value that pooling must ignore.
    struct Toy {
        reps: usize,
        bad_width: bool,
    }

    impl WindowEncoder for Toy {
        fn n_representations(&self) -> usize {
            self.reps
        }
        fn width(&self) -> usize {
            2
        }
        fn encode_windows(&self, windows: &[PaddedWindow]) -> Result<lightcurve::LayerOutputs, lightcurve::EncodeError> {
            let steps = windows[0].mag.len();
            let width = if self.bad_width { 3 } else { 2 };
            let layers = (0..self.reps)
                .map(|r| {
                    windows
                        .iter()
                        .flat_map(|w| {
                            (0..steps).flat_map(move |t| {
                                let k = (r + 1) as f32;
                                let v = if t < w.n_valid { vec![k * w.mag[t], k * w.time[t]] } else { vec![1e9, 1e9] };
                                v.into_iter().chain(std::iter::repeat(0.0).take(width - 2))
                            })
                        })
                        .collect()
                })
                .collect();
            Ok(lightcurve::LayerOutputs { steps, width, layers })
        }
    }

    fn toy_window(object_index: usize, mag: [f32; 3], n_valid: usize) -> PaddedWindow {
        PaddedWindow {
            object_index,
            start: 0,
            time: vec![-1.0, 1.0, 0.0],
            mag: mag.to_vec(),
            err: vec![0.1; 3],
            loss_weight: vec![1.0; 3],
            n_valid,
            means: Default::default(),
        }
    }

    #[test]
    fn any_window_encoder_plugs_into_the_pooled_features() {
        let windows = [toy_window(0, [1.0, 3.0, 0.0], 2), toy_window(1, [2.0, 4.0, 6.0], 3)];
        let f = PooledFeatures::extract(&Toy { reps: 2, bad_width: false }, &windows, |o| Ok(o), 1, &mut |_, _| {}).unwrap();
        assert_eq!((f.n_reps, f.d_model, f.len()), (2, 2, 2));
        // Window 0: mean over its two valid steps of (mag, time) = (2, 0), doubled in rep 1.
        assert_eq!(&f.means[..4], &[2.0, 0.0, 4.0, 0.0]);
        assert_eq!(&f.last_max[..2], &[6.0, 2.0]);
        assert_eq!(f.labels, vec![0, 1]);
        let e = PooledFeatures::extract(&Toy { reps: 2, bad_width: true }, &windows, |o| Ok(o), 2, &mut |_, _| {}).unwrap_err();
        assert!(e.to_string().contains("width"), "{e}");
    }

    #[test]
    fn pooling_ignores_padding() {
        // l = 3, d = 2, two valid rows, padding row holds a huge value that must not leak in.
        let block = [1.0, -2.0, 3.0, 4.0, 100.0, 100.0];
        assert_eq!(mean_over_valid(&block, 2, 2), vec![2.0, 1.0]);
        assert_eq!(max_over_valid(&block, 2, 2), vec![3.0, 4.0]);
    }

    fn sample() -> PooledFeatures {
        PooledFeatures {
            n_reps: 2,
            d_model: 2,
            means: vec![1., 2., 3., 4., 5., 6., 7., 8.],
            last_max: vec![9., 10., 11., 12.],
            object_index: vec![0, 3],
            labels: vec![1, 0],
        }
    }

    #[test]
    fn scaler_standardises_training_columns() {
        let mut f = sample();
        let z = FeatureScaler::fit(&f);
        z.apply(&mut f);
        // Two windows per column: values become −1 and +1.
        assert_eq!(f.means, vec![-1., -1., -1., -1., 1., 1., 1., 1.]);
        assert_eq!(f.last_max, vec![-1., -1., 1., 1.]);
    }

    #[test]
    fn head_inputs_select_the_right_representation() {
        let f = sample();
        assert_eq!(f.head_input(HeadKind::Skip, &[1]), vec![5., 6., 7., 8.]);
        assert_eq!(f.head_input(HeadKind::Avg, &[0, 1]), vec![3., 4., 7., 8.]);
        assert_eq!(f.head_input(HeadKind::Max, &[1, 0]), vec![11., 12., 9., 10.]);
    }

    #[test]
    fn cache_round_trips_and_rejects_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        let f = sample();
        f.save(&p).unwrap();
        assert_eq!(PooledFeatures::load(&p).unwrap(), f);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        let err = PooledFeatures::load(&p).unwrap_err().to_string();
        assert!(err.contains("truncated") && err.contains("f.bin"), "{err}");
    }

    #[test]
    fn object_embeddings_average_the_last_layer_over_each_objects_windows() {
        // 2 representations of width 2; windows: object 1 (twice), object 0 (once).
        let f = PooledFeatures {
            n_reps: 2,
            d_model: 2,
            means: vec![9., 9., 1., 2., /**/ 9., 9., 3., 6., /**/ 9., 9., -1., 0.],
            last_max: vec![0.0; 6],
            object_index: vec![1, 1, 0],
            labels: vec![4, 4, 2],
        };
        let (e, labels) = f.object_embeddings();
        assert_eq!(e, vec![-1., 0., 2., 4.]);
        assert_eq!(labels, vec![2, 4]);
    }
}
