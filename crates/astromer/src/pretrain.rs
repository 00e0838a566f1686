//! The pretraining (and finetuning) loop: epochs of random windows with fresh or frozen masking,
//! validation on sequential windows, early stopping on the validation loss, the best weights kept,
//! and exact resume from the last checkpoint after an interruption.
//!
//! Determinism: every random draw of epoch `e` (windows, masks, shuffle order, dropout) comes from
//! an RNG seeded by `(seed, e)`, not from a running stream, so a run resumed after epoch `k`
//! replays epochs `k+1…` exactly as an uninterrupted run does.

use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use lightcurve::{set_sequential_windows, set_windows, LightCurveSet, PaddedWindow, WindowPolicy};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::write_string;
use crate::error::{CheckpointError, ModelError};
use crate::mask::{MaskFractions, MaskedBatch};
use crate::metrics::{masked_r2, masked_rmse};
use crate::model::LossWeighting;
use crate::reference::ReferencePredictor;
use crate::train::{AdamSettings, EarlyStopping, Trainer};

/// Whether training windows and masks are redrawn each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowRefresh {
    /// A new random window and mask per curve every epoch (the paper's description).
    EveryEpoch,
    /// Drawn once and replayed every epoch, with the same shuffle order: what the official
    /// `dataset.cache()` after sampling does (spec §2.2).
    FrozenAfterFirst,
}

/// Settings of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub window_len: usize,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a better validation loss before stopping.
    pub patience: usize,
    pub adam: AdamSettings,
    pub weighted_loss: bool,
    pub mask: MaskFractions,
    pub window_refresh: WindowRefresh,
    /// Window policy of the training set (random for pretraining, sequential for finetuning).
    pub train_windows: TrainWindows,
    /// At most this many training windows per epoch, the first of the epoch's shuffled windows
    /// (a budget: a few-shot finetuning at SPC 500 cuts ~7,000 sequential windows on the small
    /// Alcock-like set). `None` (the default, and the official runs) trains on every window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_windows_per_epoch: Option<usize>,
    pub seed: u64,
}

/// How training windows are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainWindows {
    Random,
    Sequential,
}

/// One epoch's log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_r2: f64,
    pub val_loss: f64,
    pub val_r2: f64,
    pub seconds: f64,
    pub train_windows_per_s: f64,
}

/// Where a run stands; saved with the last checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Fingerprint of the settings and model config (a resume with other settings is refused).
    pub settings_toml: String,
    pub history: Vec<EpochLog>,
    pub best_epoch: Option<usize>,
    pub best_val_loss: f64,
    pub finished: bool,
}

/// Progress events for a progress bar.
#[derive(Debug, Clone)]
pub enum TrainEvent<'a> {
    /// Starting (or resuming at) an epoch with this many training batches.
    EpochStart { epoch: usize, batches: usize, resumed_from: Option<usize> },
    Batch { epoch: usize, batch: usize, loss: f32, windows_per_s: f64 },
    EpochEnd(&'a EpochLog),
}

/// Outcome of [`train`].
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub history: Vec<EpochLog>,
    pub best_epoch: usize,
    pub best_val_loss: f64,
    /// Folder of the best weights (`Astromer::load`).
    pub best_dir: PathBuf,
    /// Epoch the run resumed after, if it resumed.
    pub resumed_after: Option<usize>,
}

const LAST: &str = "last";
const BEST: &str = "best";
const STATE_FILE: &str = "run.toml";

/// Splits `n` items into `(train, val, test)` index lists, deterministically from `seed`.
pub fn split_indices(n: usize, val_fraction: f64, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = ((n as f64) * test_fraction).round() as usize;
    let n_val = (((n - n_test) as f64) * val_fraction).round() as usize;
    let test = idx[..n_test].to_vec();
    let val = idx[n_test..n_test + n_val].to_vec();
    let train = idx[n_test + n_val..].to_vec();
    (train, val, test)
}

fn epoch_rng(seed: u64, epoch: usize, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(epoch as u64 + 1));
    r.set_stream(stream);
    r
}


/// Batches of masked windows for one pass.
fn masked_batches(
    windows: &[PaddedWindow],
    batch_size: usize,
    mask: &MaskFractions,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<MaskedBatch>, ModelError> {
    windows.chunks(batch_size.max(1)).map(|c| MaskedBatch::pretraining(c, mask, rng)).collect()
}

/// Evaluation of a model on fixed batches: (loss as trained, R² on scored positions).
pub fn evaluate<D: Device<f32>>(trainer: &Trainer<D>, batches: &[MaskedBatch]) -> Result<(f64, f64), ModelError> {
    let (mut loss, mut r2, mut n) = (0.0, 0.0, 0usize);
    for b in batches {
        let s = trainer.eval_step(b)?;
        loss += s.loss as f64;
        r2 += s.r2 as f64;
        n += 1;
    }
    Ok((loss / n.max(1) as f64, r2 / n.max(1) as f64))
}

/// Test metrics of a model on batches (means over batches, as the official test script).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    pub rmse: f64,
    pub rmse_weighted: f64,
    pub r2: f64,
}

/// RMSE (unweighted and weighted) and R² over the scored positions of each batch, averaged over batches.
pub fn test_metrics<D: Device<f32>>(model: &crate::Astromer<D>, batches: &[MaskedBatch]) -> Result<TestMetrics, ModelError> {
    test_metrics_of(batches, |b| model.predict(b))
}

/// [`test_metrics`] of a leak-free reference predictor on the same batches (`crate::reference`).
pub fn reference_metrics(predictor: ReferencePredictor, batches: &[MaskedBatch]) -> TestMetrics {
    test_metrics_of(batches, |b| Ok::<_, ModelError>(predictor.predict(b))).expect("reference predictors do not fail")
}

fn test_metrics_of<E>(batches: &[MaskedBatch], mut predict: impl FnMut(&MaskedBatch) -> Result<Vec<f32>, E>) -> Result<TestMetrics, E> {
    let (mut rmse, mut wrmse, mut r2) = (0.0, 0.0, 0.0);
    for b in batches {
        let pred = predict(b)?;
        rmse += masked_rmse(&pred, &b.target, &b.roles, None, b.window_len);
        wrmse += masked_rmse(&pred, &b.target, &b.roles, Some(&b.loss_weight), b.window_len);
        r2 += masked_r2(&pred, &b.target, &b.roles, b.window_len);
    }
    let n = batches.len().max(1) as f64;
    Ok(TestMetrics {
        rmse: rmse / n,
        rmse_weighted: wrmse / n,
        r2: r2 / n,
    })
}

/// Fixed evaluation batches: sequential windows with masks drawn from `seed` (the same every call,
/// so validation losses of different epochs are comparable).
pub fn fixed_masked_batches(
    set: &LightCurveSet,
    window_len: usize,
    batch_size: usize,
    mask: Option<&MaskFractions>,
    seed: u64,
) -> Result<Vec<MaskedBatch>, ModelError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let windows = set_sequential_windows(set, window_len);
    match mask {
        Some(m) => masked_batches(&windows, batch_size, m, &mut rng),
        None => windows.chunks(batch_size.max(1)).map(MaskedBatch::evaluation).collect(),
    }
}

/// Errors of the loop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{dir}: a checkpoint from a run with other settings is there; remove the folder or use the same settings")]
    SettingsChanged { dir: PathBuf },
    #[error("{0}")]
    Io(String),
    #[error("the training set gives no windows")]
    NoData,
    #[error("the validation set gives no windows; early stopping needs at least one validation curve")]
    NoValidationData,
    #[error("the validation loss is not finite after epoch {epoch}; lower the learning rate")]
    NonFinite { epoch: usize },
}

/// Trains `trainer` on `train`, validating on `val`, with checkpoints in `dir` (`last/` every epoch,
/// `best/` on improvement). If `dir/last` holds a run with the same settings, it resumes there.
pub fn train<D: Device<f32>>(
    trainer: &mut Trainer<D>,
    train: &LightCurveSet,
    val: &LightCurveSet,
    settings: &TrainSettings,
    dir: &Path,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<TrainOutcome, TrainError> {
    let settings_toml = format!(
        "{}\n[model]\n{}",
        toml::to_string(settings).map_err(|e| TrainError::Io(e.to_string()))?,
        trainer.model.config().to_toml()
    );
    std::fs::create_dir_all(dir).map_err(|e| TrainError::Io(format!("{}: {e}", dir.display())))?;
    recover_interrupted_swap(dir);
    let mut state = RunState {
        settings_toml: settings_toml.clone(),
        history: Vec::new(),
        best_epoch: None,
        best_val_loss: f64::INFINITY,
        finished: false,
    };
    let mut resumed_after = None;
    if let Some(saved) = read_state(&dir.join(LAST))? {
        if saved.settings_toml != settings_toml {
            return Err(TrainError::SettingsChanged { dir: dir.to_path_buf() });
        }
        let dev = trainer.model.device().clone();
        *trainer = Trainer::load(&dir.join(LAST), &dev)?;
        resumed_after = saved.history.last().map(|h| h.epoch);
        state = saved;
    }

    let val_batches = fixed_masked_batches(val, settings.window_len, settings.batch_size, Some(&settings.mask), settings.seed ^ 0x5EED_0F_7A1)?;
    if val_batches.is_empty() {
        return Err(TrainError::NoValidationData);
    }
    let policy = match settings.train_windows {
        TrainWindows::Random => WindowPolicy::Random,
        TrainWindows::Sequential => WindowPolicy::Sequential,
    };
    // The run's settings rule the optimiser and the loss, whatever the trainer was built with.
    trainer.adam.config = settings.adam;
    trainer.weighting = if settings.weighted_loss {
        LossWeighting::Weighted
    } else {
        LossWeighting::Unweighted
    };

    let first_epoch = state.history.len();
    let mut stopping = EarlyStopping::resume(settings.patience, state.best_val_loss, state.best_epoch);
    for epoch in first_epoch..settings.max_epochs {
        if state.finished {
            break;
        }
        let started = std::time::Instant::now();
        let data_epoch = match settings.window_refresh {
            WindowRefresh::EveryEpoch => epoch,
            WindowRefresh::FrozenAfterFirst => 0,
        };
        let mut data_rng = epoch_rng(settings.seed, data_epoch, 1);
        let mut windows = set_windows(train, settings.window_len, policy, &mut data_rng);
        if windows.is_empty() {
            return Err(TrainError::NoData);
        }
        windows.shuffle(&mut data_rng);
        if let Some(cap) = settings.max_windows_per_epoch {
            windows.truncate(cap.max(1));
        }
        let batches = masked_batches(&windows, settings.batch_size, &settings.mask, &mut data_rng)?;
        let mut dropout_rng = epoch_rng(settings.seed, epoch, 2);
        on_event(TrainEvent::EpochStart {
            epoch,
            batches: batches.len(),
            resumed_from: resumed_after.filter(|_| epoch == first_epoch),
        });
        let (mut loss, mut r2, mut seen) = (0.0f64, 0.0f64, 0usize);
        for (k, b) in batches.iter().enumerate() {
            let s = trainer.train_step(b, &mut dropout_rng)?;
            loss += s.loss as f64;
            r2 += s.r2 as f64;
            seen += b.batch_size;
            on_event(TrainEvent::Batch {
                epoch,
                batch: k,
                loss: s.loss,
                windows_per_s: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_r2) = evaluate(trainer, &val_batches)?;
        if !val_loss.is_finite() {
            return Err(TrainError::NonFinite { epoch });
        }
        let log = EpochLog {
            epoch,
            train_loss: loss / batches.len() as f64,
            train_r2: r2 / batches.len() as f64,
            val_loss,
            val_r2,
            seconds: started.elapsed().as_secs_f64(),
            train_windows_per_s: seen as f64 / train_seconds.max(1e-9),
        };
        if stopping.observe(epoch, val_loss) {
            (state.best_val_loss, state.best_epoch) = (stopping.best_loss(), stopping.best_epoch());
            save_atomically(&dir.join(BEST), |d| trainer.model.save(d))?;
        }
        state.history.push(log);
        if stopping.should_stop(epoch) || epoch + 1 == settings.max_epochs {
            state.finished = true;
        }
        // The last checkpoint is written after `best/`, so a crash in between at worst repeats an epoch.
        let st = state.clone();
        save_atomically(&dir.join(LAST), |d| {
            trainer.save(d)?;
            let text = toml::to_string(&st).map_err(|e| CheckpointError::Optimizer(e.to_string()))?;
            write_string(&d.join(STATE_FILE), &text)
        })?;
        on_event(TrainEvent::EpochEnd(state.history.last().expect("just pushed")));
    }
    let best_epoch = state.best_epoch.ok_or(TrainError::NoData)?;
    Ok(TrainOutcome {
        history: state.history,
        best_epoch,
        best_val_loss: state.best_val_loss,
        best_dir: dir.join(BEST),
        resumed_after,
    })
}

fn read_state(last: &Path) -> Result<Option<RunState>, TrainError> {
    let p = last.join(STATE_FILE);
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| TrainError::Io(format!("{}: {e}", p.display())))?;
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::Io(format!("{}: unreadable run state ({e}); remove the folder to restart", p.display())))
}

/// Writes a checkpoint folder so that a kill at any moment leaves either the old or the new one:
/// fill `<name>.new`, move the old aside to `<name>.old`, move the new in, delete the old.
pub fn save_atomically(target: &Path, write: impl FnOnce(&Path) -> Result<(), CheckpointError>) -> Result<(), TrainError> {
    let new = target.with_extension("new");
    let old = target.with_extension("old");
    let io = |e: std::io::Error, p: &Path| TrainError::Io(format!("{}: {e}", p.display()));
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(|e| io(e, &new))?;
    }
    write(&new)?;
    if target.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(e, &old))?;
        }
        std::fs::rename(target, &old).map_err(|e| io(e, target))?;
    }
    std::fs::rename(&new, target).map_err(|e| io(e, &new))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(e, &old))?;
    }
    Ok(())
}

/// After a kill between the two renames of [`save_atomically`], only `<name>.old` exists.
pub fn recover_interrupted_swap(dir: &Path) {
    for name in [LAST, BEST] {
        let target = dir.join(name);
        let old = target.with_extension("old");
        if !target.exists() && old.exists() {
            let _ = std::fs::rename(&old, &target);
        }
    }
}
