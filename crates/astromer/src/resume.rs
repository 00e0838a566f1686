//! Epoch checkpoints with exact resume, for any training loop over a [`Parameters`] model with
//! the workspace's [`Adam`] and [`EarlyStopping`] (the causal model's and StarCLR's fits).
//!
//! The folder holds `last/` after every epoch (weights, Adam moments, the run's state) and
//! `best/` at every improvement, each replaced atomically ([`save_atomically`]: a kill at any
//! moment leaves the old or the new folder). A run started on a folder whose `last/` holds a run
//! with the same identity continues after its last epoch; one of another identity is refused. The
//! loop must draw each epoch's randomness from (seed, epoch), not from a running stream, for the
//! resumed run to equal an uninterrupted one bit for bit.

use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{load_parameters, save_parameters};
use crate::error::CheckpointError;
use crate::pretrain::{recover_interrupted_swap, save_atomically, TrainError};
use crate::train::{Adam, EarlyStopping, Parameters};

const LAST: &str = "last";
const BEST: &str = "best";
const WEIGHTS: &str = "model.safetensors";
const MOMENTS: &str = "optimizer.safetensors";
const STATE: &str = "run.toml";

/// `last/run.toml`: what the run is and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunState<H> {
    /// Settings, model config and data of the run (see [`rows_digest`]), so that a resume with
    /// anything else is refused.
    identity: String,
    history: Vec<H>,
    best_epoch: Option<usize>,
    best_val_loss: f64,
}

/// [`RunState`] borrowed, for writing.
#[derive(Serialize)]
struct RunStateRef<'a, H> {
    identity: &'a str,
    history: &'a [H],
    best_epoch: Option<usize>,
    best_val_loss: f64,
}

/// A digest of row indices, stable across builds and machines (FNV-1a over their bytes), with
/// their count: a short way to put a training or validation split into a run's identity.
pub fn rows_digest(rows: &[usize]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &r in rows {
        for b in (r as u64).to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}/{}", rows.len())
}

/// A run's identity for its checkpoints: its settings (pass them with the epoch budget zeroed, so
/// a finished run may be extended), the model's config, and digests of the training and
/// validation rows. Two runs resume each other exactly when these are equal.
pub fn run_identity(settings: &impl Serialize, model_config: &impl Serialize, train: &[usize], val: &[usize]) -> String {
    format!(
        "settings {}; model {}; train {}; val {}",
        toml::to_string(settings).unwrap_or_default().replace('\n', " "),
        toml::to_string(model_config).unwrap_or_default().replace('\n', " "),
        rows_digest(train),
        rows_digest(val)
    )
}

/// The seed of epoch `epoch`'s random stream (order, views, dropout) for a run of seed `seed`:
/// drawn from (seed, epoch), not from a running stream, which is what makes a resumed run equal
/// an uninterrupted one.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_add((epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// An epoch's log as the checkpoints keep it.
pub trait EpochRecord {
    fn epoch(&self) -> usize;
}

/// Where a run left off: its epochs' logs, the stopping rule's state and the best weights so far.
pub struct Progress<M, H> {
    pub history: Vec<H>,
    pub stopping: EarlyStopping,
    /// The weights of the best epoch so far (`None` before the first epoch).
    pub best: Option<M>,
}

impl<M, H: EpochRecord> Progress<M, H> {
    /// A run with no epoch yet.
    pub fn fresh(patience: usize) -> Self {
        Self { history: Vec::new(), stopping: EarlyStopping::new(patience), best: None }
    }

    /// The epochs still to run under a budget of `max_epochs`: none when the saved run had
    /// already stopped early.
    pub fn remaining_epochs(&self, max_epochs: usize) -> std::ops::Range<usize> {
        match self.history.last() {
            None => 0..max_epochs,
            Some(last) if self.stopping.should_stop(last.epoch()) => 0..0,
            Some(last) => last.epoch() + 1..max_epochs,
        }
    }
}

impl<M: Clone, H: EpochRecord + Serialize> Progress<M, H> {
    /// Records an epoch just run (`log`, with the validation loss the stopping rule watches): keeps
    /// the weights when they improved, saves the epoch to `checkpoints` if there are any, and
    /// says whether the run stops here.
    pub fn end_epoch<D: Device<f32>>(
        &mut self,
        log: H,
        val_loss: f64,
        model: &M,
        adam: &Adam<D>,
        checkpoints: Option<&EpochCheckpoints>,
    ) -> Result<bool, TrainError>
    where
        M: Parameters<D>,
    {
        let epoch = log.epoch();
        self.history.push(log);
        let improved = self.stopping.observe(epoch, val_loss);
        if improved {
            self.best = Some(model.clone());
        }
        if let Some(c) = checkpoints {
            c.save_epoch(model, adam, &self.history, &self.stopping, improved)?;
        }
        Ok(self.stopping.should_stop(epoch))
    }

    /// The best weights, every epoch's log and the best epoch; `None` before any epoch.
    pub fn finish(self) -> Option<(M, Vec<H>, usize)> {
        let best_epoch = self.stopping.best_epoch()?;
        Some((self.best?, self.history, best_epoch))
    }
}

/// Opens `dir` (when given) for the run `identity` and resumes from it; without a folder, or on
/// an empty one, a fresh start. The checkpoints, if any, are for [`EpochCheckpoints::save_epoch`].
pub fn start<D: Device<f32>, M: Parameters<D> + Clone, H: DeserializeOwned + EpochRecord>(
    dir: Option<&Path>,
    identity: String,
    model: &mut M,
    adam: &mut Adam<D>,
    patience: usize,
) -> Result<(Option<EpochCheckpoints>, Progress<M, H>), TrainError> {
    match dir {
        None => Ok((None, Progress::fresh(patience))),
        Some(dir) => {
            let checkpoints = EpochCheckpoints::open(dir, identity)?;
            let progress = checkpoints.resume(model, adam, patience)?;
            Ok((Some(checkpoints), progress))
        }
    }
}

/// A run's checkpoint folder.
#[derive(Debug, Clone)]
pub struct EpochCheckpoints {
    dir: PathBuf,
    identity: String,
}

impl EpochCheckpoints {
    /// Opens (creating) `dir` for the run `identity` and undoes a swap a kill interrupted.
    pub fn open(dir: &Path, identity: String) -> Result<Self, TrainError> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::Io(format!("{}: {e}", dir.display())))?;
        recover_interrupted_swap(dir);
        Ok(Self { dir: dir.to_path_buf(), identity })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the last saved epoch into `model` and `adam` and returns the progress, or a fresh
    /// start (`patience` for the stopping rule) when the folder holds no run. A run of another
    /// identity is an error, and so is an unreadable state.
    pub fn resume<D: Device<f32>, M: Parameters<D> + Clone, H: DeserializeOwned + EpochRecord>(
        &self,
        model: &mut M,
        adam: &mut Adam<D>,
        patience: usize,
    ) -> Result<Progress<M, H>, TrainError> {
        let state_path = self.dir.join(LAST).join(STATE);
        if !state_path.exists() {
            return Ok(Progress::fresh(patience));
        }
        let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::Io(format!("{}: {e}", state_path.display())))?;
        let saved: RunState<H> = toml::from_str(&text).map_err(|e| {
            TrainError::Io(format!("{}: unreadable run state ({e}); remove the folder to restart", state_path.display()))
        })?;
        if saved.identity != self.identity {
            return Err(TrainError::SettingsChanged { dir: self.dir.clone() });
        }
        load_parameters(model, &self.dir.join(LAST).join(WEIGHTS))?;
        adam.load_moments(&self.dir.join(LAST).join(MOMENTS))?;
        let best = match saved.best_epoch {
            Some(_) => {
                let mut kept = model.clone();
                load_parameters(&mut kept, &self.dir.join(BEST).join(WEIGHTS))?;
                Some(kept)
            }
            None => None,
        };
        let stopping = EarlyStopping::resume(patience, saved.best_val_loss, saved.best_epoch);
        Ok(Progress { history: saved.history, stopping, best })
    }

    /// Saves an epoch just run: `best/` when it `improved`, then `last/` with the state.
    pub fn save_epoch<D: Device<f32>, M: Parameters<D>, H: Serialize>(
        &self,
        model: &M,
        adam: &Adam<D>,
        history: &[H],
        stopping: &EarlyStopping,
        improved: bool,
    ) -> Result<(), TrainError> {
        let io = |path: &Path, e: std::io::Error| CheckpointError::Io { path: path.to_path_buf(), source: e };
        if improved {
            save_atomically(&self.dir.join(BEST), |d| {
                std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
                save_parameters(model, &d.join(WEIGHTS))
            })?;
        }
        let state = RunStateRef { identity: &self.identity, history, best_epoch: stopping.best_epoch(), best_val_loss: stopping.best_loss() };
        let text = toml::to_string(&state).map_err(|e| TrainError::Io(format!("{}: the run state does not serialise: {e}", self.dir.display())))?;
        save_atomically(&self.dir.join(LAST), |d| {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
            save_parameters(model, &d.join(WEIGHTS))?;
            adam.save_moments(&d.join(MOMENTS))?;
            std::fs::write(d.join(STATE), &text).map_err(|e| io(&d.join(STATE), e))
        })
    }
}
