//! Contrastive pretraining of [`StarClr`]: each batch takes `batch_curves` curves, two overlapping
//! views of each ([`sample_pair`]), and one Adam step on NT-Xent of their projections; early
//! stopping on the NT-Xent of pairs drawn once from the validation curves (the same pairs every
//! epoch), the workspace's one Adam and one early-stopping rule. Each epoch's RNG (order, views,
//! dropout) comes from (seed, epoch), so a run is deterministic per seed.
//!
//! And the embeddings for downstream heads: the mean of the representations of a curve's
//! consecutive non-overlapping windows of `view_len` observations (the whole curve is seen; the
//! paper's inference code embeds whole curves, which a window of the pretraining length keeps
//! within the attention's trained range).

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Tensor2};
use astromer::resume::{self, run_identity, EpochRecord, Progress};
use astromer::train::{Adam, AdamSettings, Parameters};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::model::StarClr;
use crate::preprocess::Preprocessed;
use crate::views::{sample_pair, ViewBatch, ViewSettings};
use crate::StarClrError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainSettings {
    pub adam: AdamSettings,
    pub views: ViewSettings,
    /// Curves per batch (each gives two views; the others' views are its negatives).
    pub batch_curves: usize,
    /// τ of NT-Xent (not published; SimCLR's common 0.1–0.5).
    pub temperature: f32,
    pub max_epochs: usize,
    pub patience: usize,
    pub seed: u64,
}

/// Mean NT-Xent of one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochLoss {
    pub epoch: usize,
    pub train: f32,
    pub val: f32,
}

#[derive(Debug, Clone)]
pub struct PretrainOutcome<D: Device<f32>> {
    /// The weights of the epoch with the lowest validation loss.
    pub model: StarClr<D>,
    pub history: Vec<EpochLoss>,
    pub best_epoch: usize,
}

/// The two views of each of `curves` (rows: every first view, then every second view).
fn pair_batch(curves: &[Preprocessed], rows: &[usize], views: &ViewSettings, rng: &mut ChaCha8Rng) -> Result<ViewBatch, StarClrError> {
    let starts: Vec<(usize, usize)> = rows.iter().map(|&r| sample_pair(curves[r].time.len(), views, rng)).collect();
    let view = |r: usize, s: usize| (curves[r].time.as_slice(), curves[r].flux.as_slice(), s);
    let mut list: Vec<(&[f64], &[f64], usize)> = rows.iter().zip(&starts).map(|(&r, &(s, _))| view(r, s)).collect();
    list.extend(rows.iter().zip(&starts).map(|(&r, &(_, s))| view(r, s)));
    ViewBatch::new(views.view_len, &list)
}

fn batch_loss<D: Device<f32>, T: Tape<f32, D> + 'static>(
    model: &StarClr<D>,
    flux: Tensor2<D, T>,
    batch: &ViewBatch,
    temperature: f32,
    dropout: Option<&mut ChaCha8Rng>,
) -> Result<Tensor<(), f32, D, T>, StarClrError> {
    crate::nt_xent(model.project(model.represent(flux, batch, dropout)?), temperature)
}

fn flux_tensor<D: Device<f32>>(dev: &D, batch: &ViewBatch) -> Tensor2<D> {
    cached_tensor(dev, &batch.flux, (batch.batch_size * batch.view_len, 1))
}

/// `rows` in batches of `batch_curves`; a last batch of one curve (no negative) joins the
/// previous one.
fn batches_of(rows: &[usize], batch_curves: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = rows.chunks(batch_curves).map(<[usize]>::to_vec).collect();
    if out.len() > 1 && out.last().is_some_and(|c| c.len() < 2) {
        let last = out.pop().expect("two chunks");
        out.last_mut().expect("one chunk left").extend(last);
    }
    out
}

/// The pairs of held-out curves the loss is measured on: drawn once, from a seed of their own
/// (the same pairs every epoch and for every model of these settings).
fn fixed_pair_batches(curves: &[Preprocessed], rows: &[usize], settings: &PretrainSettings) -> Result<Vec<ViewBatch>, StarClrError> {
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x5EED_0F_7A1);
    batches_of(rows, settings.batch_curves).iter().map(|rows| pair_batch(curves, rows, &settings.views, &mut rng)).collect()
}

/// Mean NT-Xent per curve over fixed batches, inference mode.
fn mean_loss<D: Device<f32>>(model: &StarClr<D>, batches: &[ViewBatch], temperature: f32) -> Result<f32, StarClrError> {
    let dev = model.flux.weight.device().clone();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for batch in batches {
        let loss = batch_loss(model, flux_tensor(&dev, batch), batch, temperature, None)?;
        sum += loss.as_vec()[0] as f64 * (batch.batch_size / 2) as f64;
        n += batch.batch_size / 2;
    }
    Ok((sum / n as f64) as f32)
}

/// NT-Xent of held-out curves `rows` (at least 2), on pairs drawn as the validation pairs are:
/// the test loss of a pretrained model. Compare it with [`uniform_loss`].
pub fn held_out_loss<D: Device<f32>>(model: &StarClr<D>, curves: &[Preprocessed], rows: &[usize], settings: &PretrainSettings) -> Result<f32, StarClrError> {
    if rows.len() < 2 || settings.batch_curves < 2 {
        return Err(StarClrError::Settings(format!("{} held-out curves in batches of {}: both must be at least 2", rows.len(), settings.batch_curves)));
    }
    mean_loss(model, &fixed_pair_batches(curves, rows, settings)?, settings.temperature)
}

/// NT-Xent of an encoder that tells no curve from another (all similarities equal) on `n_rows`
/// held-out curves in batches of `batch_curves` as [`held_out_loss`] makes them: the mean over
/// curves of ln(2n − 1), n the curves of its batch. A pretrained model is judged against it.
pub fn uniform_loss(n_rows: usize, batch_curves: usize) -> f32 {
    let rows: Vec<usize> = (0..n_rows).collect();
    let batches = batches_of(&rows, batch_curves.max(1));
    let sum: f64 = batches.iter().map(|b| b.len() as f64 * ((2 * b.len()).saturating_sub(1).max(1) as f64).ln()).sum();
    (sum / n_rows.max(1) as f64) as f32
}

/// What a run is, for its checkpoints: settings (less the epoch budget, so a finished run may be
/// extended), model config, and the training and validation rows.
fn identity<D: Device<f32>>(model: &StarClr<D>, settings: &PretrainSettings, train: &[usize], val: &[usize]) -> String {
    run_identity(&PretrainSettings { max_epochs: 0, ..settings.clone() }, &model.config, train, val)
}

impl EpochRecord for EpochLoss {
    fn epoch(&self) -> usize {
        self.epoch
    }
}

/// Pretrains `model` on the curves `train` (indices into `curves`), early-stopped on `val`.
/// With `checkpoints`, every epoch is saved there (`astromer::resume`: `last/`, `best/`) and a
/// run interrupted earlier continues after its last saved epoch with the result an uninterrupted
/// run gives; a folder holding a run of other settings, model or data is refused.
pub fn pretrain<D: Device<f32>>(
    mut model: StarClr<D>,
    curves: &[Preprocessed],
    train: &[usize],
    val: &[usize],
    settings: &PretrainSettings,
    checkpoints: Option<&std::path::Path>,
    on_epoch: &mut dyn FnMut(&EpochLoss),
) -> Result<PretrainOutcome<D>, StarClrError> {
    settings.views.check()?;
    if settings.batch_curves < 2 || settings.max_epochs == 0 {
        return Err(StarClrError::Settings("batch_curves must be at least 2 (negatives) and max_epochs at least 1".into()));
    }
    if train.len() < 2 || val.len() < 2 {
        return Err(StarClrError::Settings(format!("{} training and {} validation curves; each needs at least 2", train.len(), val.len())));
    }
    if let Some(&r) = train.iter().chain(val).find(|&&r| r >= curves.len() || curves[r].time.is_empty()) {
        return Err(StarClrError::Settings(format!("curve {r} does not exist or has no observation")));
    }
    let dev = model.flux.weight.device().clone();
    let chunks = |rows: &[usize]| batches_of(rows, settings.batch_curves);
    let val_batches = fixed_pair_batches(curves, val, settings)?;
    let mut adam = Adam::new(settings.adam, &model);
    let checkpoint_error = |e: astromer::pretrain::TrainError| StarClrError::Checkpoint(e.to_string());
    let (checkpoints, mut progress): (_, Progress<_, EpochLoss>) =
        resume::start(checkpoints, identity(&model, settings, train, val), &mut model, &mut adam, settings.patience).map_err(checkpoint_error)?;
    let epochs = progress.remaining_epochs(settings.max_epochs);
    let mut order = train.to_vec();
    for epoch in epochs {
        let mut rng = ChaCha8Rng::seed_from_u64(resume::epoch_seed(settings.seed, epoch));
        order.copy_from_slice(train);
        order.shuffle(&mut rng);
        let (mut train_sum, mut train_n) = (0.0f64, 0usize);
        for rows in chunks(&order) {
            let batch = pair_batch(curves, &rows, &settings.views, &mut rng)?;
            let flux = flux_tensor(&dev, &batch).traced(Parameters::zero_gradients(&model));
            let loss = batch_loss(&model, flux, &batch, settings.temperature, Some(&mut rng))?;
            train_sum += loss.retaped::<NoneTape>().as_vec()[0] as f64 * rows.len() as f64;
            train_n += rows.len();
            let grads = loss.backward();
            adam.update(&mut model, &grads).map_err(|e| StarClrError::Settings(format!("optimiser: {e}")))?;
        }
        let val_loss = mean_loss(&model, &val_batches, settings.temperature)?;
        let log = EpochLoss { epoch, train: (train_sum / train_n as f64) as f32, val: val_loss };
        if !(log.train.is_finite() && log.val.is_finite()) {
            return Err(StarClrError::Loss(format!("epoch {epoch}: the loss is not finite (lower the learning rate)")));
        }
        on_epoch(&log);
        if progress.end_epoch(log, log.val as f64, &model, &adam, checkpoints.as_ref()).map_err(checkpoint_error)? {
            break;
        }
    }
    let (model, history, best_epoch) = progress.finish().expect("a finite validation loss improves on infinity");
    Ok(PretrainOutcome { model, history, best_epoch })
}

/// One embedding (H values) per curve of `rows`: the mean representation of its consecutive
/// windows of `view_len` observations, `batch_size` windows per pass.
pub fn embed<D: Device<f32>>(model: &StarClr<D>, curves: &[Preprocessed], rows: &[usize], view_len: usize, batch_size: usize) -> Result<Vec<Vec<f32>>, StarClrError> {
    if view_len == 0 || batch_size == 0 {
        return Err(StarClrError::Settings("view_len and batch_size must be at least 1".into()));
    }
    let dev = model.flux.weight.device().clone();
    let d = model.config.d_model;
    // (curve position in `rows`, window start) of every window.
    let mut windows = Vec::new();
    for (i, &r) in rows.iter().enumerate() {
        let n = curves.get(r).map(|c| c.time.len()).unwrap_or(0);
        if n == 0 {
            return Err(StarClrError::Settings(format!("curve {r} does not exist or has no observation")));
        }
        windows.extend((0..n).step_by(view_len).map(|s| (i, r, s)));
    }
    let mut sums = vec![vec![0.0f64; d]; rows.len()];
    let mut counts = vec![0usize; rows.len()];
    for chunk in windows.chunks(batch_size) {
        let list: Vec<(&[f64], &[f64], usize)> = chunk.iter().map(|&(_, r, s)| (curves[r].time.as_slice(), curves[r].flux.as_slice(), s)).collect();
        let batch = ViewBatch::new(view_len, &list)?;
        let h = model.represent(flux_tensor(&dev, &batch), &batch, None)?.as_vec();
        for (k, &(i, _, _)) in chunk.iter().enumerate() {
            for (sum, v) in sums[i].iter_mut().zip(&h[k * d..(k + 1) * d]) {
                *sum += *v as f64;
            }
            counts[i] += 1;
        }
    }
    Ok(sums.into_iter().zip(counts).map(|(s, c)| s.into_iter().map(|v| (v / c as f64) as f32).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StarClrConfig;
    use astromer::dfdx::tensor::Cpu;

    /// Sinusoids, each of its own period, amplitude and mean (what two views of one curve share),
    /// irregularly sampled.
    fn curves(n: usize) -> Vec<Preprocessed> {
        (0..n)
            .map(|i| {
                let period = 2.5 + 1.37 * i as f64;
                let (amplitude, mean) = (0.2 + 0.8 * ((i * 5 % 7) as f64 / 6.0), ((i * 3 % 5) as f64) / 4.0);
                let time: Vec<f64> = (0..60).map(|k| k as f64 * 1.3 + 0.4 * ((k * 7 + i) as f64).sin()).collect();
                let flux = time.iter().map(|t| mean + amplitude * (std::f64::consts::TAU * t / period).sin()).collect();
                Preprocessed { time, flux, clipped: 0 }
            })
            .collect()
    }

    fn settings(seed: u64) -> PretrainSettings {
        PretrainSettings {
            adam: AdamSettings { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 },
            views: ViewSettings { view_len: 24, min_overlap: 0.25, max_overlap: 0.75 },
            batch_curves: 8,
            temperature: 0.2,
            max_epochs: 8,
            patience: 8,
            seed,
        }
    }

    fn config() -> StarClrConfig {
        StarClrConfig { d_model: 16, n_heads: 2, ffn_width: 32, n_blocks: 1, dropout: 0.1, layer_norm_eps: 1e-5, projection_hidden: 16, projection_dim: 8 }
    }

    #[test]
    fn pretraining_lowers_the_contrastive_loss_and_is_deterministic() {
        let data = curves(40);
        let (train, val): (Vec<usize>, Vec<usize>) = (0..40).partition(|&i| i % 4 != 0);
        let dev = Cpu::default();
        let run = || pretrain(StarClr::new(config(), &dev, 1).unwrap(), &data, &train, &val, &settings(2), None, &mut |_| {}).unwrap();
        let a = run();
        assert!(a.history.last().unwrap().train < a.history[0].train, "{:?}", a.history);
        let best = a.history.iter().map(|h| h.val).fold(f32::INFINITY, f32::min);
        assert_eq!(a.history[a.best_epoch].val, best);
        assert!(best < a.history[0].val, "the validation loss falls: {:?}", a.history);
        // The held-out loss on the validation curves is the best epoch's validation loss (same
        // pairs), below that of an encoder that tells no curve from another.
        let again = held_out_loss(&a.model, &data, &val, &settings(2)).unwrap();
        assert!((again - best).abs() < 1e-6, "{again} vs {best}");
        // 10 validation curves in batches of 8: one of 8 and one of 2.
        let uniform = (8.0 * 15f64.ln() + 2.0 * 3f64.ln()) / 10.0;
        assert!((uniform_loss(10, 8) as f64 - uniform).abs() < 1e-6);
        assert!(best < uniform_loss(10, 8), "{best}");
        assert!(held_out_loss(&a.model, &data, &val[..1], &settings(2)).is_err());
        let b = run();
        assert_eq!(a.history, b.history);
        assert_eq!(a.model.flux.weight.as_vec(), b.model.flux.weight.as_vec());
        let bad = PretrainSettings { batch_curves: 1, ..settings(2) };
        assert!(pretrain(StarClr::new(config(), &dev, 1).unwrap(), &data, &train, &val, &bad, None, &mut |_| {}).is_err());
    }

    #[test]
    fn a_run_resumed_from_its_checkpoints_equals_an_uninterrupted_one() {
        let data = curves(24);
        let (train, val): (Vec<usize>, Vec<usize>) = (0..24).partition(|&i| i % 4 != 0);
        let dev = Cpu::default();
        let fresh = || StarClr::new(config(), &dev, 1).unwrap();
        let full = PretrainSettings { max_epochs: 4, patience: 4, ..settings(3) };
        let whole = pretrain(fresh(), &data, &train, &val, &full, None, &mut |_| {}).unwrap();
        // Two epochs, "killed", then the same run with the whole budget on the same folder.
        let dir = tempfile::tempdir().unwrap();
        let short = PretrainSettings { max_epochs: 2, ..full.clone() };
        pretrain(fresh(), &data, &train, &val, &short, Some(dir.path()), &mut |_| {}).unwrap();
        let mut resumed_epochs = Vec::new();
        let resumed = pretrain(fresh(), &data, &train, &val, &full, Some(dir.path()), &mut |log| resumed_epochs.push(log.epoch)).unwrap();
        assert_eq!(resumed_epochs, vec![2, 3], "only the missing epochs run");
        assert_eq!(resumed.history, whole.history);
        assert_eq!(resumed.best_epoch, whole.best_epoch);
        assert_eq!(resumed.model.flux.weight.as_vec(), whole.model.flux.weight.as_vec());
        // Other settings on that folder are refused, naming it.
        let other = PretrainSettings { temperature: 0.5, ..full };
        let err = pretrain(fresh(), &data, &train, &val, &other, Some(dir.path()), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("other settings") && err.contains(&dir.path().display().to_string()), "{err}");
    }

    #[test]
    fn a_saved_encoder_loads_with_the_same_weights_and_config() {
        let dev = Cpu::default();
        let model = StarClr::new(config(), &dev, 9).unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        let back = StarClr::load(dir.path(), &dev).unwrap();
        assert_eq!(back.config, model.config);
        for ((name, a), (_, b)) in model.named_params().into_iter().zip(back.named_params()) {
            assert_eq!(a.to_vec(), b.to_vec(), "{name}");
        }
        let err = StarClr::load(&dir.path().join("absent"), &dev).unwrap_err().to_string();
        assert!(err.contains("absent") && err.contains(crate::CONFIG_FILE), "{err}");
    }

    #[test]
    fn embeddings_average_the_windows_of_a_curve() {
        let data = curves(3);
        let dev = Cpu::default();
        let model = StarClr::new(config(), &dev, 4).unwrap();
        let all = embed(&model, &data, &[0, 1, 2], 24, 5).unwrap();
        assert_eq!((all.len(), all[0].len()), (3, 16));
        // Curve 1 alone, windows one per pass: the same numbers (batching does not matter).
        let one = embed(&model, &data, &[1], 24, 1).unwrap();
        for (x, y) in one[0].iter().zip(&all[1]) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
        // By hand: 60 observations make windows at 0, 24 and 48 (12 observations).
        let c = &data[1];
        let batch = ViewBatch::new(24, &[(&c.time[..], &c.flux[..], 0), (&c.time[..], &c.flux[..], 24), (&c.time[..], &c.flux[..], 48)]).unwrap();
        let h = model.represent(flux_tensor(&dev, &batch), &batch, None).unwrap().as_vec();
        for j in 0..16 {
            let mean = (h[j] + h[16 + j] + h[32 + j]) / 3.0;
            assert!((mean - all[1][j]).abs() < 1e-5);
        }
        assert!(embed(&model, &data, &[7], 24, 5).is_err());
    }
}
