//! The paper's objective on one triplet batch and one Adam step on it:
//! total = w_r·MSE(reconstruction, flux) + w_s·L_star + w_i·L_instr (the paper: all weights 1).
//! The single-latent baseline has no instrument term.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Tensor2};
use astromer::resume::{self, run_identity, EpochRecord, Progress};
use astromer::train::{Adam, AdamSettings, Parameters};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use survey_sim::causal::CausalSet;

use crate::loss::multi_positive_info_nce;
use crate::model::CausalModel;
use crate::triplets::{TripletBatch, TripletSampler};
use crate::CausalError;

/// Weights of the three terms and the InfoNCE temperature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    pub reconstruction: f32,
    pub star: f32,
    pub instrument: f32,
    /// τ of both InfoNCE terms (not given by the paper).
    pub temperature: f32,
}

impl Objective {
    /// The paper's unit weights, with τ = 0.1 (SimCLR's common choice; the paper gives none).
    pub fn paper() -> Self {
        Self { reconstruction: 1.0, star: 1.0, instrument: 1.0, temperature: 0.1 }
    }
}

/// The terms of one batch's loss, before weighting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossParts {
    pub total: f32,
    pub reconstruction: f32,
    pub star: f32,
    /// 0 for the single-latent baseline.
    pub instrument: f32,
}

/// The flux of the batch's rows, (3B, T) row-major.
pub fn batch_flux(set: &CausalSet, batch: &TripletBatch) -> Vec<f32> {
    batch.rows.iter().flat_map(|&n| set.observations[n].flux.iter().map(|&v| v as f32)).collect()
}

/// The weighted loss of `batch` as a scalar carrying `flux`'s tape, and its parts.
pub fn batch_loss<D: Device<f32>, T: Tape<f32, D> + 'static>(
    model: &CausalModel<D>,
    flux: Tensor2<D, T>,
    target: &Tensor2<D>,
    batch: &TripletBatch,
    objective: &Objective,
) -> Result<(Tensor<(), f32, D, T>, LossParts), CausalError> {
    let out = model.forward(flux);
    let value = |t: Tensor<(), f32, D, T>| -> (Tensor<(), f32, D, T>, f32) {
        let (t, tape) = t.split_tape();
        let v = t.as_vec()[0];
        (t.put_tape(tape), v)
    };
    let (mse, reconstruction) = value((out.reconstruction - target.clone()).square().mean::<(), Axes2<0, 1>>());
    let (star_loss, star) = value(multi_positive_info_nce(model.star_projection.forward(out.z_star), &batch.star_positives(), objective.temperature)?);
    let mut total = mse * objective.reconstruction + star_loss * objective.star;
    let mut instrument = 0.0;
    if let (Some(z), Some(head)) = (out.z_instrument, &model.instrument_projection) {
        let (loss, v) = value(multi_positive_info_nce(head.forward(z), &batch.instrument_positives(), objective.temperature)?);
        total = total + loss * objective.instrument;
        instrument = v;
    }
    let (total, total_value) = value(total);
    Ok((total, LossParts { total: total_value, reconstruction, star, instrument }))
}

/// One Adam step on `batch`; the parts are those of the forward pass before the update.
pub fn train_step<D: Device<f32>>(
    model: &mut CausalModel<D>,
    adam: &mut Adam<D>,
    set: &CausalSet,
    batch: &TripletBatch,
    objective: &Objective,
) -> Result<LossParts, CausalError> {
    let dev = model.star_encoder.input.weight.device().clone();
    let shape = (batch.rows.len(), model.config.n_steps);
    let flux: Tensor2<D> = cached_tensor(&dev, &batch_flux(set, batch), shape);
    // Every parameter gets a gradient buffer, as in Astromer's step.
    let grads = Parameters::zero_gradients(&*model);
    let (loss, parts) = batch_loss(model, flux.clone().traced(grads), &flux, batch, objective)?;
    let grads = loss.backward();
    adam.update(model, &grads).map_err(|e| CausalError::Optimizer(e.to_string()))?;
    Ok(parts)
}

/// The loss of `batch` without an update (validation).
pub fn eval_loss<D: Device<f32>>(model: &CausalModel<D>, set: &CausalSet, batch: &TripletBatch, objective: &Objective) -> Result<LossParts, CausalError> {
    let dev = model.star_encoder.input.weight.device().clone();
    let flux: Tensor2<D> = cached_tensor(&dev, &batch_flux(set, batch), (batch.rows.len(), model.config.n_steps));
    Ok(batch_loss(model, flux.clone(), &flux, batch, objective)?.1)
}

/// Budget and recipe of one training run (the paper: Adam lr 1e-3, early stopping on the
/// validation loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSettings {
    pub adam: AdamSettings,
    pub objective: Objective,
    /// Anchors per batch (a batch holds three times as many curves).
    pub batch_anchors: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub seed: u64,
}

/// Mean loss parts of one epoch, per curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train: LossParts,
    pub val: LossParts,
}

/// The weights of the epoch with the lowest validation loss, and every epoch's losses.
#[derive(Debug, Clone)]
pub struct FitOutcome<D: Device<f32>> {
    pub model: CausalModel<D>,
    pub history: Vec<EpochLog>,
    pub best_epoch: usize,
}

fn identity<D: Device<f32>>(model: &CausalModel<D>, settings: &FitSettings, train: &[usize], val: &[usize]) -> String {
    // The epoch budget is not part of what a run is: a finished run may be extended.
    run_identity(&FitSettings { max_epochs: 0, ..settings.clone() }, &model.config, train, val)
}

fn checkpoint_error(e: impl std::fmt::Display) -> CausalError {
    CausalError::Checkpoint(e.to_string())
}

/// Trains `model` on triplets whose anchors and partners are in `train`, early-stopped on the
/// loss of fixed triplets drawn once from `val` (the same validation batches every epoch).
/// Deterministic for a given `settings.seed`. With `checkpoints`, every epoch is saved there and
/// a run interrupted earlier resumes after its last saved epoch (`astromer::resume`).
pub fn fit<D: Device<f32>>(
    mut model: CausalModel<D>,
    set: &CausalSet,
    train: &[usize],
    val: &[usize],
    settings: &FitSettings,
    checkpoints: Option<&std::path::Path>,
    on_epoch: &mut dyn FnMut(&EpochLog),
) -> Result<FitOutcome<D>, CausalError> {
    if settings.batch_anchors == 0 || settings.max_epochs == 0 {
        return Err(CausalError::Settings("batch_anchors and max_epochs must be at least 1".into()));
    }
    if train.is_empty() || val.is_empty() {
        return Err(CausalError::Settings(format!("{} training and {} validation curves; both must be non-empty", train.len(), val.len())));
    }
    let train_sampler = TripletSampler::new(set, train)?;
    let val_sampler = TripletSampler::new(set, val)?;
    let mut val_rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x5EED_0F_7A1);
    let val_batches = val
        .chunks(settings.batch_anchors)
        .map(|anchors| val_sampler.batch(anchors, &mut val_rng))
        .collect::<Result<Vec<_>, _>>()?;
    let mut adam = Adam::new(settings.adam, &model);
    // Checkpoints (`last/` every epoch, `best/` at every improvement, exact resume of a run of the
    // same settings, model and data): astromer::resume.
    let (checkpoints, mut progress): (_, Progress<_, EpochLog>) =
        resume::start(checkpoints, identity(&model, settings, train, val), &mut model, &mut adam, settings.patience).map_err(checkpoint_error)?;
    let epochs = progress.remaining_epochs(settings.max_epochs);
    let mut order = train.to_vec();
    for epoch in epochs {
        // Each epoch's RNG comes from (seed, epoch), not from a running stream: what makes a
        // resumed run equal to an uninterrupted one. The order is reshuffled from the split's
        // order every epoch for the same reason.
        let mut rng = ChaCha8Rng::seed_from_u64(resume::epoch_seed(settings.seed, epoch));
        order.copy_from_slice(train);
        order.shuffle(&mut rng);
        let mut train_mean = PartsMean::default();
        for anchors in order.chunks(settings.batch_anchors) {
            let batch = train_sampler.batch(anchors, &mut rng)?;
            train_mean.add(train_step(&mut model, &mut adam, set, &batch, &settings.objective)?, batch.rows.len());
        }
        let mut val_mean = PartsMean::default();
        for batch in &val_batches {
            val_mean.add(eval_loss(&model, set, batch, &settings.objective)?, batch.rows.len());
        }
        let log = EpochLog { epoch, train: train_mean.mean(), val: val_mean.mean() };
        if !(log.train.total.is_finite() && log.val.total.is_finite()) {
            return Err(CausalError::NonFinite { epoch });
        }
        on_epoch(&log);
        if progress.end_epoch(log, log.val.total as f64, &model, &adam, checkpoints.as_ref()).map_err(checkpoint_error)? {
            break;
        }
    }
    let (model, history, best_epoch) = progress.finish().expect("a finite validation loss improves on infinity");
    Ok(FitOutcome { model, history, best_epoch })
}

impl EpochRecord for EpochLog {
    fn epoch(&self) -> usize {
        self.epoch
    }
}

/// Running mean of loss parts, weighted by curves.
#[derive(Default)]
struct PartsMean {
    sums: [f64; 4],
    weight: f64,
}

impl PartsMean {
    fn add(&mut self, p: LossParts, weight: usize) {
        let w = weight as f64;
        for (sum, v) in self.sums.iter_mut().zip([p.total, p.reconstruction, p.star, p.instrument]) {
            *sum += v as f64 * w;
        }
        self.weight += w;
    }

    fn mean(&self) -> LossParts {
        let m = |i: usize| (self.sums[i] / self.weight.max(1.0)) as f32;
        LossParts { total: m(0), reconstruction: m(1), star: m(2), instrument: m(3) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CausalModelConfig;
    use astromer::dfdx::tensor::Cpu;
    use survey_sim::causal::{simulate, CausalSpec};

    fn small_model(dual: bool) -> CausalModelConfig {
        CausalModelConfig { d_model: 16, n_heads: 2, ffn_width: 32, n_blocks: 1, latent: 8, decoder_hidden: 16, projection_hidden: 16, dual, ..CausalModelConfig::paper(24) }
    }

    #[test]
    fn steps_on_one_batch_lower_every_term() {
        let spec = CausalSpec { n_steps: 24, ..CausalSpec::sized(5, 12, 4, 96) };
        let set = simulate(&spec).unwrap();
        let anchors: Vec<usize> = (0..16).collect();
        let batch = TripletSampler::whole(&set).batch(&anchors, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        let dev = Cpu::default();
        for dual in [true, false] {
            let mut model = CausalModel::new(small_model(dual), &dev, 1).unwrap();
            let mut adam = Adam::new(AdamSettings { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 }, &model);
            let objective = Objective::paper();
            let before = eval_loss(&model, &set, &batch, &objective).unwrap();
            for _ in 0..40 {
                train_step(&mut model, &mut adam, &set, &batch, &objective).unwrap();
            }
            let after = eval_loss(&model, &set, &batch, &objective).unwrap();
            assert!(after.reconstruction < before.reconstruction, "dual {dual}: {before:?} → {after:?}");
            assert!(after.star < before.star, "dual {dual}: {before:?} → {after:?}");
            if dual {
                assert!(after.instrument < before.instrument, "{before:?} → {after:?}");
            } else {
                assert_eq!(after.instrument, 0.0);
            }
            let weighted = after.reconstruction + after.star + after.instrument;
            assert!((after.total - weighted).abs() < 1e-4 * weighted.max(1.0));
        }
    }

    #[test]
    fn fit_early_stops_on_the_validation_loss_and_is_deterministic() {
        let spec = CausalSpec { n_steps: 24, ..CausalSpec::sized(6, 16, 4, 128) };
        let set = simulate(&spec).unwrap();
        // Split by star: 12 training stars, 4 validation stars.
        let (train, val): (Vec<usize>, Vec<usize>) = (0..128).partition(|&n| set.observations[n].star < 12);
        let settings = FitSettings {
            adam: AdamSettings { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 },
            objective: Objective::paper(),
            batch_anchors: 16,
            max_epochs: 4,
            patience: 1,
            seed: 3,
        };
        let dev = Cpu::default();
        let run = || {
            let mut seen = Vec::new();
            let model = CausalModel::new(small_model(true), &dev, 2).unwrap();
            let out = fit(model, &set, &train, &val, &settings, None, &mut |log| seen.push(log.epoch)).unwrap();
            (out, seen)
        };
        let (a, seen) = run();
        assert_eq!(seen, (0..a.history.len()).collect::<Vec<_>>());
        let best = a.history.iter().map(|l| l.val.total).fold(f32::INFINITY, f32::min);
        assert_eq!(a.history[a.best_epoch].val.total, best);
        assert!(a.history[0].train.total > a.history.last().unwrap().train.total, "{:?}", a.history);
        let (b, _) = run();
        assert_eq!(a.history, b.history);
        assert_eq!(a.model.star_encoder.latent.weight.as_vec(), b.model.star_encoder.latent.weight.as_vec());
        let bad = FitSettings { batch_anchors: 0, ..settings.clone() };
        assert!(fit(CausalModel::new(small_model(true), &dev, 2).unwrap(), &set, &train, &val, &bad, None, &mut |_| {}).is_err());
    }

    #[test]
    fn a_run_resumed_from_its_checkpoints_equals_an_uninterrupted_one() {
        let spec = CausalSpec { n_steps: 16, ..CausalSpec::sized(8, 12, 3, 72) };
        let set = simulate(&spec).unwrap();
        let (train, val): (Vec<usize>, Vec<usize>) = (0..72).partition(|&n| set.observations[n].star < 9);
        let settings = FitSettings {
            adam: AdamSettings { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 },
            objective: Objective::paper(),
            batch_anchors: 12,
            max_epochs: 4,
            patience: 10,
            seed: 5,
        };
        let config = CausalModelConfig { n_steps: 16, ..small_model(true) };
        let dev = Cpu::default();
        let model = || CausalModel::new(config.clone(), &dev, 4).unwrap();
        let whole = fit(model(), &set, &train, &val, &settings, None, &mut |_| {}).unwrap();
        // Interrupted after epoch 1 (a run of 2 epochs), then started again with the full budget.
        let dir = tempfile::tempdir().unwrap();
        let first = FitSettings { max_epochs: 2, ..settings.clone() };
        fit(model(), &set, &train, &val, &first, Some(dir.path()), &mut |_| {}).unwrap();
        let mut epochs_run = Vec::new();
        let resumed = fit(model(), &set, &train, &val, &settings, Some(dir.path()), &mut |log| epochs_run.push(log.epoch)).unwrap();
        assert_eq!(epochs_run, [2, 3], "the resumed run starts after its last saved epoch");
        assert_eq!(resumed.history, whole.history);
        assert_eq!(resumed.best_epoch, whole.best_epoch);
        assert_eq!(resumed.model.star_encoder.latent.weight.as_vec(), whole.model.star_encoder.latent.weight.as_vec());
        // Other settings on the same folder are refused, naming it.
        let other = FitSettings { seed: 6, ..settings.clone() };
        let err = fit(model(), &set, &train, &val, &other, Some(dir.path()), &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("other settings") && err.contains(&dir.path().display().to_string()), "{err}");
    }
}
