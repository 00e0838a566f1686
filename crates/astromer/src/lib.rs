//! Astromer (1 and 2): a BERT-like encoder for irregularly sampled light curves, reimplemented on
//! dfdx 0.13 with runtime-sized tensors. See `docs/model.md` and
//! `shared/reference/astromer2-spec.md` §3–7, §9.
//!
//! - [`config`]: every architectural switch ([`EncoderConfig`], [`MaskTokenMode`],
//!   [`AttentionMaskMode`]) with the `astromer1()` / `astromer2()` presets;
//! - [`mask`]: typed masks ([`Visibility`], [`ProbeRole`]) and the pretraining masking
//!   ([`MaskFractions`], [`MaskedBatch`]);
//! - [`model`]: the encoder and reconstruction head ([`Astromer`], [`EncoderOutput`]);
//! - [`metrics`]: host-side RMSE and R²;
//! - [`train`]: Adam and the train/eval steps ([`Trainer`]);
//! - [`pretrain`]: the epoch loop with early stopping, checkpoints and exact resume;
//! - [`reference`]: leak-free reference predictors for masked reconstruction;
//! - [`checkpoint`]: safetensors + TOML checkpoints.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod kernels;
pub mod layers;
pub mod mask;
pub mod matmul;
pub mod metrics;
pub mod model;
pub mod pretrain;
pub mod reference;
pub mod resume;
pub mod train;

pub use checkpoint::TrainerState;
pub use config::{AttentionMaskMode, EncoderConfig, MaskTokenMode};
pub use error::{CheckpointError, ModelError};
pub use mask::{MaskFractions, MaskedBatch, ProbeRole, Visibility};
pub use metrics::{masked_r2, masked_rmse};
pub use model::{Astromer, BatchTensors, EncoderOutput, LossWeighting};
pub use reference::ReferencePredictor;
pub use pretrain::{TrainOutcome, TrainSettings, TrainWindows, WindowRefresh};
pub use train::{Adam, AdamSettings, EarlyStopping, Parameters, StepStats, Trainer};

/// Re-export of the tensor library, so dependants use the same version.
pub use dfdx;

/// The device the experiments run on: `Cpu`, or `Cuda` with the `cuda` feature.
#[cfg(not(feature = "cuda"))]
pub type DefaultDevice = dfdx::tensor::Cpu;
/// The device the experiments run on: `Cpu`, or `Cuda` with the `cuda` feature.
#[cfg(feature = "cuda")]
pub type DefaultDevice = dfdx::tensor::Cuda;

/// Whether [`DefaultDevice`] is the CPU. There, small independent trainings run side by side, one
/// per core (their matrix products are too small to spread over cores); on a GPU one at a time.
pub const DEFAULT_DEVICE_IS_CPU: bool = cfg!(not(feature = "cuda"));

/// Creates the default device with a seeded RNG (`Cpu::seed_from_u64` / `Cuda::seed_from_u64`)
/// and dfdx's buffer cache enabled (freed buffers are reused instead of returned to the OS:
/// fewer page faults on the CPU, fewer `cudaMalloc`s on the GPU).
/// Panics on CUDA if no GPU is available; use [`try_default_device`] to handle that.
pub fn default_device(seed: u64) -> DefaultDevice {
    use dfdx::tensor::Cache;
    let dev = DefaultDevice::seed_from_u64(seed);
    dev.enable_cache();
    dev
}

/// The default device for one job (a pretraining, a head, an encoder pass), whose buffer cache is
/// emptied and disabled when this handle drops. dfdx 0.13 keeps freed buffers in the cache as raw
/// pointers and never frees them when the last clone of the device goes away, so a device made per
/// training leaked that training's buffers: e04 and e05 on `small` (hundreds of trainings) grew
/// past 20 GB and were killed. Returning the guard *as* the device means no caller can forget it.
/// Pass `dev.device()` (or `&*dev`) to the generic model and training functions; models and
/// tensors built on it may outlive the handle (they are then freed normally, the cache being off).
pub struct ScopedDevice(DefaultDevice);

impl ScopedDevice {
    /// The device itself, for functions generic over `D: Device<f32>`.
    pub fn device(&self) -> &DefaultDevice {
        &self.0
    }
}

impl std::ops::Deref for ScopedDevice {
    type Target = DefaultDevice;
    fn deref(&self) -> &DefaultDevice {
        &self.0
    }
}

impl Drop for ScopedDevice {
    fn drop(&mut self) {
        use dfdx::tensor::Cache;
        self.0.disable_cache();
    }
}

/// Fallible version of [`default_device`] for one job: the device comes with its cache release
/// ([`ScopedDevice`]).
#[cfg(feature = "cuda")]
pub fn try_default_device(seed: u64) -> Result<ScopedDevice, String> {
    use dfdx::tensor::Cache;
    let dev = dfdx::tensor::Cuda::try_build(0, seed).map_err(|e| format!("{e:?}"))?;
    dev.enable_cache();
    Ok(ScopedDevice(dev))
}

/// Fallible version of [`default_device`] for one job (never fails on the CPU): the device comes
/// with its cache release ([`ScopedDevice`]).
#[cfg(not(feature = "cuda"))]
pub fn try_default_device(seed: u64) -> Result<ScopedDevice, String> {
    Ok(ScopedDevice(default_device(seed)))
}
