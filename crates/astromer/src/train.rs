//! Adam over the model's named parameters, and the pretraining/finetuning step (spec §7).

use dfdx::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::layers::{Dropout, ParamMut, Tensor1};
use crate::mask::MaskedBatch;
use crate::metrics::masked_r2;
use crate::model::{reconstruction_loss, Astromer, LossWeighting};

/// Adam hyper-parameters (constant learning rate, no weight decay).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamSettings {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamSettings {
    /// The official pretraining/finetuning optimiser: lr 1e-5, β (0.9, 0.98), ε 1e-9.
    pub fn official() -> Self {
        Self {
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-9,
        }
    }
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self::official()
    }
}

/// First and second moments of one parameter (flattened).
#[derive(Clone, Debug)]
pub struct Moments<D: Device<f32>> {
    pub name: String,
    pub m: Tensor1<D>,
    pub v: Tensor1<D>,
}

/// Adam as Keras (TF ≥ 2.11) implements it:
/// m ← m + (g − m)(1 − β1); v ← v + (g² − v)(1 − β2);
/// α = lr·sqrt(1 − β2^t)/(1 − β1^t); p ← p − α·m / (sqrt(v) + ε).
#[derive(Clone, Debug)]
pub struct Adam<D: Device<f32>> {
    pub config: AdamSettings,
    /// Number of updates applied so far (t of the bias correction).
    pub step: u64,
    /// One entry per model parameter, in `Astromer::params()` order.
    pub moments: Vec<Moments<D>>,
}

impl<D: Device<f32>> Adam<D> {
    /// Zero moments for every parameter of `model`.
    pub fn new(config: AdamSettings, model: &Astromer<D>) -> Self {
        let dev = model.device().clone();
        let moments = model
            .params()
            .into_iter()
            .map(|(name, p)| {
                let n = p.numel();
                Moments {
                    name,
                    m: dev.zeros_like(&(n,)),
                    v: dev.zeros_like(&(n,)),
                }
            })
            .collect();
        Self {
            config,
            step: 0,
            moments,
        }
    }

    /// Applies one update from `grads` (which must hold a gradient for every parameter).
    pub fn update(
        &mut self,
        model: &mut Astromer<D>,
        grads: &Gradients<f32, D>,
    ) -> Result<(), ModelError> {
        self.step += 1;
        let t = self.step as f64;
        let c = self.config;
        let alpha = (c.lr * (1.0 - c.beta2.powf(t)).sqrt() / (1.0 - c.beta1.powf(t))) as f32;
        let coefs = (
            1.0 - c.beta1 as f32,
            1.0 - c.beta2 as f32,
            alpha,
            c.eps as f32,
        );
        let params = model.params_mut();
        if params.len() != self.moments.len() {
            return Err(ModelError::InvalidConfig(format!(
                "optimizer has {} moment entries, model has {} parameters",
                self.moments.len(),
                params.len()
            )));
        }
        for ((name, p), mom) in params.into_iter().zip(self.moments.iter_mut()) {
            if name != mom.name {
                return Err(ModelError::UnknownParameter(format!(
                    "optimizer moment `{}` does not match model parameter `{name}`",
                    mom.name
                )));
            }
            match p {
                ParamMut::R1(t) => adam_one(t, grads, mom, coefs),
                ParamMut::R2(t) => adam_one(t, grads, mom, coefs),
            }
        }
        Ok(())
    }
}

fn adam_one<S: Shape, D: Device<f32>>(
    p: &mut Tensor<S, f32, D>,
    grads: &Gradients<f32, D>,
    mom: &mut Moments<D>,
    (one_minus_b1, one_minus_b2, alpha, eps): (f32, f32, f32, f32),
) {
    let shape = *p.shape();
    let n = shape.num_elements();
    let g = grads.get(p).reshape_like(&(n,));
    let m = mom.m.clone() + (g.clone() - mom.m.clone()) * one_minus_b1;
    let v = mom.v.clone() + (g.square() - mom.v.clone()) * one_minus_b2;
    let update = (m.clone() * alpha) / (v.clone().sqrt() + eps);
    let new = p.clone().reshape_like(&(n,)) - update;
    *p = new.reshape_like(&shape);
    mom.m = m;
    mom.v = v;
}

/// Result of one train or eval step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The loss of the trainer's weighting (RMSE, spec §6.2).
    pub loss: f32,
    /// R² over the scored positions of the batch (spec §6.3).
    pub r2: f32,
    /// Number of windows in the batch.
    pub n_windows: usize,
}

impl StepStats {
    /// Loss of a step plus the R² of its predictions on the batch's scored positions.
    fn new(loss: f32, pred: &[f32], batch: &MaskedBatch) -> Self {
        StepStats {
            loss,
            r2: masked_r2(pred, &batch.target, &batch.roles, batch.window_len) as f32,
            n_windows: batch.batch_size,
        }
    }
}

/// Model + optimiser + loss choice: one pretraining / finetuning run.
#[derive(Clone, Debug)]
pub struct Trainer<D: Device<f32>> {
    pub model: Astromer<D>,
    pub adam: Adam<D>,
    pub weighting: LossWeighting,
}

impl<D: Device<f32>> Trainer<D> {
    pub fn new(model: Astromer<D>, adam: AdamSettings, weighting: LossWeighting) -> Self {
        let adam = Adam::new(adam, &model);
        Self {
            model,
            adam,
            weighting,
        }
    }

    /// Number of optimiser steps taken.
    pub fn step(&self) -> u64 {
        self.adam.step
    }

    /// One training step: forward with dropout (masks from `rng`), loss, backward, Adam update.
    /// The returned loss/R² are those of the forward pass *before* the update.
    pub fn train_step<R: RngCore>(
        &mut self,
        batch: &MaskedBatch,
        rng: &mut R,
    ) -> Result<StepStats, ModelError> {
        let bt = self.model.batch_tensors(batch, self.weighting)?;
        let p = self.model.config().dropout;
        let mut dropout = Dropout::new(Some(rng as &mut dyn RngCore), p);
        let (loss, pred, grads) = self.model.backward(&bt, &mut dropout);
        self.adam.update(&mut self.model, &grads)?;
        Ok(StepStats::new(loss, &pred.as_vec(), batch))
    }

    /// Evaluation: inference mode (no dropout), same loss weighting, no update.
    pub fn eval_step(&self, batch: &MaskedBatch) -> Result<StepStats, ModelError> {
        let bt = self.model.batch_tensors(batch, self.weighting)?;
        let pred = self.model.forward(bt.mag.clone(), &bt, &mut Dropout::off());
        let loss = reconstruction_loss(pred.clone(), &bt).as_vec()[0];
        Ok(StepStats::new(loss, &pred.as_vec(), batch))
    }
}
