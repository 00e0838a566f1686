//! The three supervised baselines (spec §8.2): a fresh input encoding, a masked GRU or a masked
//! mean, and the shared classification head.

use std::fmt;

use astromer::layers::{cached_tensor, ParamMut, ParamRef, Tensor1, Tensor2};
use astromer::model::InputEmbedding;
use astromer::{Astromer, EncoderConfig, MaskTokenMode};
use classifier::{ClassifierHead, EvaluatedWeights, HeadKind, HeadShape};
use dfdx::prelude::*;
use lightcurve::PaddedWindow;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::BaselineError;
use crate::gru::Gru;

/// Which baseline (the names of the official `baseline_clf.py` runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// "Baseline raw": [centred magnitude, centred time] → masked GRU → head.
    RawGru,
    /// "Supervised GRU": new input embedding → masked GRU → head.
    BaseGru,
    /// "Baseline MLP": new input embedding → mean over valid steps → head.
    BaseAvgpool,
}

impl BaselineKind {
    pub const ALL: [BaselineKind; 3] = [
        BaselineKind::RawGru,
        BaselineKind::BaseGru,
        BaselineKind::BaseAvgpool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BaselineKind::RawGru => "raw_gru",
            BaselineKind::BaseGru => "base_gru",
            BaselineKind::BaseAvgpool => "base_avgpool",
        }
    }

    fn has_embedding(self) -> bool {
        self != BaselineKind::RawGru
    }

    fn has_gru(self) -> bool {
        self != BaselineKind::BaseAvgpool
    }
}

impl fmt::Display for BaselineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Sizes, optimiser and schedule of a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSettings {
    /// Width of the new input embedding (official 256).
    pub d_model: usize,
    /// GRU units (official 256).
    pub gru_units: usize,
    /// Base of the sinusoidal time encoding (effective official value 10000).
    pub pe_base: f64,
    /// The MLP head (official 1024 → 512 → 256, LayerNorm ε 1e-3).
    pub head: HeadShape,
    /// Keras Adam (official ablation: lr 1e-3, β 0.9 / 0.999, ε 1e-7).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Official 3000.
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a lower validation loss before stopping (official 40).
    pub patience: usize,
    /// Which weights are returned; [`EvaluatedWeights::Last`] is what the official runs evaluated
    /// (their EarlyStopping did not restore the best weights).
    pub evaluated: EvaluatedWeights,
    /// Seeds the initialisation and the per-epoch shuffling.
    pub seed: u64,
}

impl BaselineSettings {
    /// The optimiser these settings describe (the workspace's one Adam).
    pub fn adam(&self) -> astromer::AdamSettings {
        astromer::AdamSettings {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
        }
    }

    /// The official ablation runs (spec §8.1–8.2, `baseline_clf.py`).
    pub fn official() -> Self {
        Self {
            d_model: 256,
            gru_units: 256,
            pe_base: 10000.0,
            head: HeadShape::default(),
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            batch_size: 3000,
            max_epochs: 1_000_000,
            patience: 40,
            evaluated: EvaluatedWeights::Last,
            seed: 0,
        }
    }

    pub(crate) fn validate(&self, n_classes: usize) -> Result<(), BaselineError> {
        let bad = |m: String| Err(BaselineError::Settings(m));
        if n_classes < 2 {
            return bad(format!("n_classes must be at least 2, got {n_classes}"));
        }
        if self.d_model == 0 || self.gru_units == 0 || self.batch_size == 0 {
            return bad("d_model, gru_units and batch_size must be positive".into());
        }
        if self.pe_base.is_nan() || self.pe_base <= 0.0 {
            return bad(format!("pe_base must be positive, got {}", self.pe_base));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("lr must be positive, got {}", self.lr));
        }
        Ok(())
    }
}

/// A baseline classifier: `embedding` (base_*), `gru` (raw_gru, base_gru) and the head.
#[derive(Clone, Debug)]
pub struct BaselineModel<D: Device<f32>> {
    kind: BaselineKind,
    /// The new (trained from scratch) Astromer input embedding: Dense(1→d) of the magnitude +
    /// the sinusoidal encoding of the time.
    pub embedding: Option<InputEmbedding<D>>,
    pub gru: Option<Gru<D>>,
    /// The spec §8.1 head, without γ (`HeadKind::Max` layout).
    pub head: ClassifierHead<D>,
}

/// A batch as host arrays, cut at its longest window (steps beyond it are padding everywhere).
pub(crate) struct HostBatch {
    n: usize,
    steps: usize,
    n_valid: Vec<usize>,
    mag: Vec<f32>,
    time: Vec<f32>,
}

impl HostBatch {
    pub(crate) fn new(windows: &[&PaddedWindow]) -> Self {
        let n = windows.len();
        let steps = windows
            .iter()
            .map(|w| w.n_valid.min(w.len()))
            .max()
            .unwrap_or(0)
            .max(1);
        let (mut mag, mut time) = (vec![0.0; n * steps], vec![0.0; n * steps]);
        for (b, w) in windows.iter().enumerate() {
            let k = w.n_valid.min(steps);
            mag[b * steps..b * steps + k].copy_from_slice(&w.mag[..k]);
            time[b * steps..b * steps + k].copy_from_slice(&w.time[..k]);
        }
        Self {
            n,
            steps,
            n_valid: windows.iter().map(|w| w.n_valid).collect(),
            mag,
            time,
        }
    }

    /// The tensor that starts the graph, (rows, features): per step [mag, time] for raw_gru, the
    /// magnitude alone (B·steps, 1) for the embedding models.
    pub(crate) fn input<D: Device<f32>>(&self, dev: &D, kind: BaselineKind) -> Tensor2<D> {
        let rows = self.n * self.steps;
        if kind.has_embedding() {
            cached_tensor(dev, &self.mag, (rows, 1))
        } else {
            let x: Vec<f32> = self
                .mag
                .iter()
                .zip(&self.time)
                .flat_map(|(&m, &t)| [m, t])
                .collect();
            cached_tensor(dev, &x, (rows, 2))
        }
    }
}

impl<D: Device<f32>> BaselineModel<D> {
    /// A fresh model, deterministic in `s.seed`. Panics only on settings that
    /// [`crate::train_baseline`] rejects (zero sizes, non-positive `pe_base`).
    pub fn new(dev: &D, kind: BaselineKind, n_classes: usize, s: &BaselineSettings) -> Self {
        let embedding = kind.has_embedding().then(|| {
            let cfg = EncoderConfig {
                n_blocks: 0,
                d_model: s.d_model,
                n_heads: 1,
                pe_base: s.pe_base,
                mask_token: MaskTokenMode::Absent,
                ..EncoderConfig::astromer2()
            };
            Astromer::new(cfg, dev, s.seed)
                .expect("valid embedding config")
                .embedding
        });
        let gru_input = if kind.has_embedding() { s.d_model } else { 2 };
        let gru = kind.has_gru().then(|| {
            let mut rng = ChaCha8Rng::seed_from_u64(s.seed ^ 0x6752_5553);
            Gru::new(dev, gru_input, s.gru_units, &mut rng)
        });
        let width = if kind.has_gru() {
            s.gru_units
        } else {
            s.d_model
        };
        let head = ClassifierHead::new(
            dev,
            HeadKind::Max,
            1,
            width,
            n_classes,
            &s.head,
            s.seed.wrapping_add(1),
        );
        Self {
            kind,
            embedding,
            gru,
            head,
        }
    }

    pub fn kind(&self) -> BaselineKind {
        self.kind
    }

    pub fn n_classes(&self) -> usize {
        self.head.n_classes()
    }

    /// Every trainable tensor: embedding, GRU, head (this order; [`Self::params_mut`] matches).
    pub fn params(&self) -> Vec<ParamRef<'_, D>> {
        let mut out = Vec::new();
        if let Some(e) = &self.embedding {
            out.push(ParamRef::R2(&e.magnitude.weight));
            out.push(ParamRef::R1(&e.magnitude.bias));
        }
        if let Some(g) = &self.gru {
            g.params(&mut out);
        }
        out.extend(self.head.params().into_iter().map(|(_, p)| p));
        out
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, D>> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.embedding {
            out.push(ParamMut::R2(&mut e.magnitude.weight));
            out.push(ParamMut::R1(&mut e.magnitude.bias));
        }
        if let Some(g) = &mut self.gru {
            g.params_mut(&mut out);
        }
        let h = &mut self.head;
        for l in &mut h.hidden {
            out.push(ParamMut::R2(&mut l.weight));
            out.push(ParamMut::R1(&mut l.bias));
        }
        out.push(ParamMut::R1(&mut h.norm.weight));
        out.push(ParamMut::R1(&mut h.norm.bias));
        out.push(ParamMut::R2(&mut h.output.weight));
        out.push(ParamMut::R1(&mut h.output.bias));
        out
    }

    pub fn parameter_count(&self) -> usize {
        self.params().iter().map(|p| p.numel()).sum()
    }

    /// Logits (B, n_classes) of `batch`; `input` is [`HostBatch::input`], carrying the tape.
    pub(crate) fn forward<T: Tape<f32, D> + 'static>(
        &self,
        input: Tensor2<D, T>,
        batch: &HostBatch,
    ) -> Tensor2<D, T> {
        let (b, l) = (batch.n, batch.steps);
        let dev = input.device().clone();
        let features = match &self.embedding {
            Some(e) => {
                let time: Tensor1<D> = cached_tensor(&dev, &batch.time, (b * l,));
                let z = e.magnitude.forward(input) + e.positional_encoding(&time);
                let d = z.shape().1;
                let z = z.reshape_like(&(b, l, d));
                match &self.gru {
                    Some(g) => g.forward(z, &batch.n_valid),
                    None => {
                        // Mean over the valid steps: weight 1/n_valid there, 0 at padding.
                        let w: Vec<f32> = batch
                            .n_valid
                            .iter()
                            .flat_map(|&n| {
                                (0..l).map(move |t| if t < n { 1.0 / n as f32 } else { 0.0 })
                            })
                            .collect();
                        let w: Tensor2<D> = cached_tensor(&dev, &w, (b, l));
                        (z * w.broadcast_like::<_, Axis<2>>(&(b, l, d)))
                            .sum::<(usize, usize), Axis<1>>()
                    }
                }
            }
            None => {
                let g = self.gru.as_ref().expect("raw_gru has a GRU");
                g.forward(input.reshape_like(&(b, l, 2)), &batch.n_valid)
            }
        };
        self.head.forward(features)
    }

    /// Row-major `[n_windows][n_classes]` logits (inference), `batch_size` windows at a time.
    pub fn logits(
        &self,
        windows: &[PaddedWindow],
        batch_size: usize,
    ) -> Result<Vec<f32>, BaselineError> {
        check_windows("input", windows)?;
        let dev = self.head.output.weight.device().clone();
        let mut out = Vec::with_capacity(windows.len() * self.n_classes());
        for chunk in windows.chunks(batch_size.max(1)) {
            let refs: Vec<&PaddedWindow> = chunk.iter().collect();
            let batch = HostBatch::new(&refs);
            out.extend(self.forward(batch.input(&dev, self.kind), &batch).as_vec());
        }
        Ok(out)
    }
}

/// Every window of `set` has the same length, at least one valid step, and consistent fields.
pub(crate) fn check_windows(
    set: &'static str,
    windows: &[PaddedWindow],
) -> Result<(), BaselineError> {
    let expected = windows.first().map_or(0, |w| w.len());
    for (index, w) in windows.iter().enumerate() {
        if w.len() != expected {
            return Err(BaselineError::WindowLength {
                set,
                index,
                len: w.len(),
                expected,
            });
        }
        if w.mag.len() != w.len() {
            let reason = format!("{} magnitudes for {} times", w.mag.len(), w.len());
            return Err(BaselineError::Malformed { set, index, reason });
        }
        if w.n_valid > w.len() {
            let reason = format!("n_valid = {} exceeds the length {}", w.n_valid, w.len());
            return Err(BaselineError::Malformed { set, index, reason });
        }
        if w.n_valid == 0 {
            return Err(BaselineError::NoValidStep { set, index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightcurve::WindowMeans;

    fn window(mag: &[f32], len: usize) -> PaddedWindow {
        let n = mag.len();
        let mut time: Vec<f32> = (0..n)
            .map(|t| t as f32 * 1.3 - 0.65 * (n - 1) as f32)
            .collect();
        let mut mag = mag.to_vec();
        time.resize(len, 0.0);
        mag.resize(len, 0.0);
        PaddedWindow {
            object_index: 0,
            start: 0,
            err: vec![0.0; len],
            loss_weight: vec![1.0; len],
            n_valid: n,
            means: WindowMeans::default(),
            time,
            mag,
        }
    }

    #[test]
    fn kinds_have_snake_case_names() {
        let names: Vec<String> = BaselineKind::ALL.iter().map(|k| k.to_string()).collect();
        assert_eq!(names, ["raw_gru", "base_gru", "base_avgpool"]);
        #[derive(Serialize, Deserialize)]
        struct Row {
            kind: BaselineKind,
        }
        for kind in BaselineKind::ALL {
            let text = toml::to_string(&Row { kind }).unwrap();
            assert_eq!(text.trim(), format!("kind = \"{kind}\""));
            assert_eq!(toml::from_str::<Row>(&text).unwrap().kind, kind);
        }
    }

    #[test]
    fn official_parameter_counts() {
        let dev = Cpu::default();
        let s = BaselineSettings::official();
        // Head on a 256-wide input, 6 classes: (256·1024+1024) + (1024·512+512) + (512·256+256)
        // + LayerNorm 2·256 + (256·6+6).
        let head = 263_168 + 524_800 + 131_328 + 512 + 1_542;
        // Embedding Dense(1→256): 256 weights + 256 biases.
        let embedding = 256 + 256;
        // GRU(256) on 256 inputs: kernel 256·768, recurrent kernel 256·768, biases 2·768.
        let gru = 3 * 256 * 256 + 3 * 256 * 256 + 2 * 3 * 256;
        // GRU(256) on 2 inputs (raw_gru).
        let raw_gru = 3 * 2 * 256 + 3 * 256 * 256 + 2 * 3 * 256;
        assert_eq!(
            BaselineModel::new(&dev, BaselineKind::BaseGru, 6, &s).parameter_count(),
            embedding + gru + head
        );
        assert_eq!(
            BaselineModel::new(&dev, BaselineKind::RawGru, 6, &s).parameter_count(),
            raw_gru + head
        );
        assert_eq!(
            BaselineModel::new(&dev, BaselineKind::BaseAvgpool, 6, &s).parameter_count(),
            embedding + head
        );
        assert_eq!(embedding + gru + head, 1_316_614);
    }

    #[test]
    fn padding_does_not_change_the_logits_of_any_kind() {
        let dev = Cpu::default();
        let s = BaselineSettings {
            d_model: 8,
            gru_units: 6,
            head: HeadShape {
                hidden: vec![8],
                layer_norm_eps: 1e-3,
            },
            ..BaselineSettings::official()
        };
        let mag = [0.3, -0.5, 0.9, 0.1, -0.8, 0.0];
        let short = vec![window(&mag, 6), window(&mag[..4], 6)];
        let mut long = vec![window(&mag, 11), window(&mag[..4], 11)];
        // Junk where padding is: consumers must use n_valid, not the values.
        long[1].mag[7] = 42.0;
        long[1].time[9] = -7.0;
        for kind in BaselineKind::ALL {
            let m = BaselineModel::new(&dev, kind, 3, &s);
            let a = m.logits(&short, 8).unwrap();
            let b = m.logits(&long, 1).unwrap();
            assert_eq!(a.len(), 6);
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5, "{kind}: {a:?} vs {b:?}");
            }
            assert_ne!(a[..3], a[3..], "{kind}: the two windows should differ");
        }
    }

    #[test]
    fn bad_windows_are_errors() {
        let dev = Cpu::default();
        let s = BaselineSettings {
            d_model: 4,
            gru_units: 3,
            head: HeadShape {
                hidden: vec![4],
                layer_norm_eps: 1e-3,
            },
            ..BaselineSettings::official()
        };
        let m = BaselineModel::new(&dev, BaselineKind::BaseGru, 2, &s);
        let err = m
            .logits(&[window(&[1.0, 2.0], 4), window(&[1.0], 5)], 4)
            .unwrap_err();
        assert!(
            matches!(err, BaselineError::WindowLength { index: 1, .. }),
            "{err}"
        );
        let mut empty = window(&[1.0], 4);
        empty.n_valid = 0;
        let err = m.logits(&[empty], 4).unwrap_err();
        assert!(err.to_string().contains("n_valid = 0"), "{err}");
        let mut over = window(&[1.0], 4);
        over.n_valid = 5;
        assert!(matches!(
            m.logits(&[over], 4),
            Err(BaselineError::Malformed { .. })
        ));
    }
}

/// Parameters named by position (`param<i>`, [`BaselineModel::params`] order): the names only
/// check that the optimiser and the model agree.
impl<D: Device<f32>> astromer::Parameters<D> for BaselineModel<D> {
    fn named_params(&self) -> astromer::layers::NamedParams<'_, D> {
        self.params().into_iter().enumerate().map(|(i, p)| (format!("param{i}"), p)).collect()
    }
    fn named_params_mut(&mut self) -> astromer::layers::NamedParamsMut<'_, D> {
        self.params_mut().into_iter().enumerate().map(|(i, p)| (format!("param{i}"), p)).collect()
    }
}
