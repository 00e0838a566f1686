//! Checkpoints: weights as safetensors (by parameter name), the config as TOML, and the Adam
//! state for exact resume.
//!
//! A model checkpoint directory holds
//! - `config.toml`: the [`EncoderConfig`];
//! - `model.safetensors`: every parameter, F32, by name (see `docs/model.md`).
//!
//! A trainer checkpoint adds
//! - `trainer.toml`: Adam hyper-parameters, loss weighting and the step count;
//! - `optimizer.safetensors`: `m.<param>` and `v.<param>`, flattened (numel,), F32.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ::safetensors::{Dtype as StDtype, SafeTensors, View};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::EncoderConfig;
use crate::error::CheckpointError;
use crate::model::{Astromer, LossWeighting};
use crate::train::{Adam, AdamSettings, Moments, Parameters, Trainer};

pub const CONFIG_FILE: &str = "config.toml";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TRAINER_FILE: &str = "trainer.toml";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl F32View {
    fn new(shape: Vec<usize>, values: &[f32]) -> Self {
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Self { shape, bytes }
    }
}

impl View for F32View {
    fn dtype(&self) -> StDtype {
        StDtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes named F32 tensors (name, shape, values) to a safetensors file.
pub fn write_tensors(
    path: &Path,
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    metadata: Option<HashMap<String, String>>,
) -> Result<(), CheckpointError> {
    let views: Vec<(String, F32View)> = tensors
        .into_iter()
        .map(|(n, s, v)| (n, F32View::new(s, &v)))
        .collect();
    ::safetensors::serialize_to_file(views, &metadata, path).map_err(|e| {
        CheckpointError::SafeTensors {
            path: path.to_path_buf(),
            message: format!("{e:?}"),
        }
    })
}

/// Host tensors by name: (shape, row-major values).
pub type HostTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every tensor of a safetensors file as F32: name → (shape, values).
pub fn read_tensors(path: &Path) -> Result<HostTensors, CheckpointError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::SafeTensors {
        path: path.to_path_buf(),
        message: format!("{e:?}"),
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != StDtype::F32 {
            return Err(CheckpointError::Dtype {
                name,
                dtype: format!("{:?}", view.dtype()),
            });
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}

fn read_config(path: &Path) -> Result<EncoderConfig, CheckpointError> {
    let s = std::fs::read_to_string(path).map_err(io_err(path))?;
    EncoderConfig::from_toml(&s).map_err(|e| CheckpointError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn write_string(path: &Path, s: &str) -> Result<(), CheckpointError> {
    std::fs::write(path, s).map_err(io_err(path))
}

fn create_dir(dir: &Path) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))
}

/// Writes every parameter of `model` to a safetensors file, by name (F32).
pub fn save_parameters<D: Device<f32>, M: Parameters<D>>(model: &M, path: &Path) -> Result<(), CheckpointError> {
    let tensors = model.named_params().into_iter().map(|(n, p)| (n, p.shape(), p.to_vec())).collect();
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "astromer-rs".to_string());
    write_tensors(path, tensors, Some(meta))
}

/// Loads parameters by name into `model` (already built). Every model parameter must be present
/// with the same shape, and the file must hold no other tensor; otherwise an error is returned
/// and the model is left unchanged.
pub fn load_parameters<D: Device<f32>, M: Parameters<D>>(model: &mut M, path: &Path) -> Result<(), CheckpointError> {
    let mut file = read_tensors(path)?;
    // Validate everything first, then assign, so a failed load leaves the model intact.
    let mut values = Vec::new();
    for (name, p) in model.named_params() {
        let shape = p.shape();
        let (s, v) = file.remove(&name).ok_or_else(|| CheckpointError::MissingTensor(name.clone()))?;
        if s != shape {
            return Err(CheckpointError::ShapeMismatch { name, checkpoint: s, model: shape });
        }
        values.push(v);
    }
    if !file.is_empty() {
        return Err(CheckpointError::UnexpectedTensors(file.into_keys().collect()));
    }
    for ((_, mut p), v) in model.named_params_mut().into_iter().zip(values) {
        p.set(v);
    }
    Ok(())
}

impl<D: Device<f32>> Adam<D> {
    /// Writes the moments (`m.<param>`, `v.<param>`, flattened) with the step count in the
    /// file's metadata; the hyper-parameters are the caller's to record.
    pub fn save_moments(&self, path: &Path) -> Result<(), CheckpointError> {
        let mut tensors = Vec::with_capacity(2 * self.moments.len());
        for m in &self.moments {
            let n = m.m.shape().0;
            tensors.push((format!("m.{}", m.name), vec![n], m.m.as_vec()));
            tensors.push((format!("v.{}", m.name), vec![n], m.v.as_vec()));
        }
        let mut meta = HashMap::new();
        meta.insert("step".to_string(), self.step.to_string());
        write_tensors(path, tensors, Some(meta))
    }

    /// Restores moments and step count saved by [`Adam::save_moments`] into this optimiser
    /// (built for the same model); all-or-nothing.
    pub fn load_moments(&mut self, path: &Path) -> Result<(), CheckpointError> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| CheckpointError::SafeTensors { path: path.to_path_buf(), message: format!("{e:?}") })?;
        let step: u64 = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("step"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| CheckpointError::Optimizer(format!("{}: no step count in the metadata", path.display())))?;
        let mut file = read_tensors(path)?;
        let mut values = Vec::with_capacity(self.moments.len());
        for mom in &self.moments {
            let n = mom.m.shape().0;
            let mut take = |prefix: &str| -> Result<Vec<f32>, CheckpointError> {
                let key = format!("{prefix}.{}", mom.name);
                let (s, v) = file.remove(&key).ok_or_else(|| CheckpointError::MissingTensor(key.clone()))?;
                if s != vec![n] {
                    return Err(CheckpointError::ShapeMismatch { name: key, checkpoint: s, model: vec![n] });
                }
                Ok(v)
            };
            values.push((take("m")?, take("v")?));
        }
        if !file.is_empty() {
            return Err(CheckpointError::UnexpectedTensors(file.into_keys().collect()));
        }
        for (mom, (m, v)) in self.moments.iter_mut().zip(values) {
            mom.m.copy_from(&m);
            mom.v.copy_from(&v);
        }
        self.step = step;
        Ok(())
    }
}

impl<D: Device<f32>> Astromer<D> {
    /// Writes `model.safetensors` (weights only) to `path`.
    pub fn save_weights(&self, path: &Path) -> Result<(), CheckpointError> {
        save_parameters(self, path)
    }

    /// Loads weights by name into this (already built) model. Every model parameter must be
    /// present with the same shape, and the file must hold no other tensor; otherwise an error is
    /// returned and the model is left unchanged.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), CheckpointError> {
        load_parameters(self, path)
    }

    /// Writes `config.toml` and `model.safetensors` into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        create_dir(dir)?;
        write_string(&dir.join(CONFIG_FILE), &self.config().to_toml())?;
        self.save_weights(&dir.join(WEIGHTS_FILE))
    }

    /// Builds the model from `dir/config.toml` and loads `dir/model.safetensors`.
    pub fn load(dir: &Path, dev: &D) -> Result<Self, CheckpointError> {
        let config = read_config(&dir.join(CONFIG_FILE))?;
        let mut model = Astromer::new(config, dev, 0)?;
        model.load_weights(&dir.join(WEIGHTS_FILE))?;
        Ok(model)
    }

    /// Loads `dir` into this model, after checking that the saved config equals this model's.
    pub fn load_into(&mut self, dir: &Path) -> Result<(), CheckpointError> {
        let config = read_config(&dir.join(CONFIG_FILE))?;
        if &config != self.config() {
            return Err(CheckpointError::ConfigMismatch {
                checkpoint: format!("{config:?}"),
                model: format!("{:?}", self.config()),
            });
        }
        self.load_weights(&dir.join(WEIGHTS_FILE))
    }
}

/// Contents of `trainer.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub step: u64,
    pub weighting: LossWeighting,
    pub adam: AdamSettings,
}

impl<D: Device<f32>> Trainer<D> {
    /// Saves the model (config + weights), the optimiser moments and the step count into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        self.model.save(dir)?;
        let state = TrainerState {
            step: self.adam.step,
            weighting: self.weighting,
            adam: self.adam.config,
        };
        let s = toml::to_string(&state).map_err(|e| CheckpointError::Optimizer(e.to_string()))?;
        write_string(&dir.join(TRAINER_FILE), &s)?;
        let mut tensors = Vec::with_capacity(2 * self.adam.moments.len());
        for m in &self.adam.moments {
            let n = m.m.shape().0;
            tensors.push((format!("m.{}", m.name), vec![n], m.m.as_vec()));
            tensors.push((format!("v.{}", m.name), vec![n], m.v.as_vec()));
        }
        let mut meta = HashMap::new();
        meta.insert("step".to_string(), self.adam.step.to_string());
        write_tensors(&dir.join(OPTIMIZER_FILE), tensors, Some(meta))
    }

    /// Restores a trainer saved by [`Trainer::save`] (exact resume).
    pub fn load(dir: &Path, dev: &D) -> Result<Self, CheckpointError> {
        let model = Astromer::load(dir, dev)?;
        let path: PathBuf = dir.join(TRAINER_FILE);
        let s = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let state: TrainerState = toml::from_str(&s).map_err(|e| CheckpointError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut file = read_tensors(&dir.join(OPTIMIZER_FILE))?;
        let mut moments = Vec::new();
        for (name, shape) in model.parameter_shapes() {
            let n: usize = shape.iter().product();
            let mut take = |prefix: &str| -> Result<Vec<f32>, CheckpointError> {
                let key = format!("{prefix}.{name}");
                let (s, v) = file
                    .remove(&key)
                    .ok_or_else(|| CheckpointError::MissingTensor(key.clone()))?;
                if s != vec![n] {
                    return Err(CheckpointError::ShapeMismatch {
                        name: key,
                        checkpoint: s,
                        model: vec![n],
                    });
                }
                Ok(v)
            };
            let m = take("m")?;
            let v = take("v")?;
            moments.push(Moments {
                name,
                m: dev.tensor_from_vec(m, (n,)),
                v: dev.tensor_from_vec(v, (n,)),
            });
        }
        if !file.is_empty() {
            return Err(CheckpointError::UnexpectedTensors(
                file.into_keys().collect(),
            ));
        }
        let adam = Adam {
            config: state.adam,
            step: state.step,
            moments,
        };
        Ok(Trainer {
            model,
            adam,
            weighting: state.weighting,
        })
    }
}
