//! The workspace's one optimiser (Adam, Keras form) over any model's named parameters, its one
//! early-stopping rule, and the pretraining/finetuning step (spec §7). The classification heads
//! and the supervised baselines train with the same [`Adam`] and [`EarlyStopping`].

use dfdx::prelude::*;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::layers::{Dropout, NamedParams, NamedParamsMut, ParamMut, ParamRef, Tensor1};
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

/// A model's trainable tensors, named, in one fixed order: what [`Adam`] updates. Both lists
/// must name the same tensors in the same order.
pub trait Parameters<D: Device<f32>> {
    fn named_params(&self) -> NamedParams<'_, D>;
    fn named_params_mut(&mut self) -> NamedParamsMut<'_, D>;

    /// A gradient set holding a zero buffer for every parameter, to trace a training step's
    /// input with: every parameter then has a gradient after `backward`, also one outside the
    /// graph (e.g. the unused token of `MaskTokenMode::OfficialGraph`), which Adam needs. dfdx 0.13
    /// does not expose tensor ids outside the crate, so `retain_leafs` cannot be used instead; the
    /// intermediate gradients are freed when the step's `Gradients` is dropped (dfdx keeps them
    /// all until the end of `backward` anyway, so peak memory is unchanged).
    fn zero_gradients(&self) -> Gradients<f32, D> {
        let mut grads: Gradients<f32, D> = Gradients::leaky();
        for (_, p) in self.named_params() {
            match p {
                ParamRef::R1(t) => grads.try_alloc_for(t).expect("allocating a gradient buffer"),
                ParamRef::R2(t) => grads.try_alloc_for(t).expect("allocating a gradient buffer"),
            }
        }
        grads
    }
}

impl<D: Device<f32>> Parameters<D> for Astromer<D> {
    fn named_params(&self) -> NamedParams<'_, D> {
        self.params()
    }
    fn named_params_mut(&mut self) -> NamedParamsMut<'_, D> {
        self.params_mut()
    }
}

/// Every parameter's gradient in `grads` (after `backward`), host copies in
/// [`Parameters::named_params`] order: what a finite-difference check compares.
pub fn gradients_of<D: Device<f32>, M: Parameters<D>>(model: &M, grads: &Gradients<f32, D>) -> Vec<Vec<f32>> {
    model
        .named_params()
        .iter()
        .map(|(_, p)| match p {
            ParamRef::R1(t) => grads.get(*t).as_vec(),
            ParamRef::R2(t) => grads.get(*t).as_vec(),
        })
        .collect()
}

/// `loss` of a copy of `model` whose parameter `index` (in [`Parameters::named_params`] order)
/// has element `k` moved by `delta`: one side of a central finite difference.
pub fn loss_with_nudge<D: Device<f32>, M: Parameters<D> + Clone>(model: &M, index: usize, k: usize, delta: f32, loss: impl Fn(&M) -> f32) -> f32 {
    let mut nudged = model.clone();
    let mut params = nudged.named_params_mut();
    let p = &mut params[index].1;
    let mut values = match p {
        ParamMut::R1(t) => t.as_vec(),
        ParamMut::R2(t) => t.as_vec(),
    };
    values[k] += delta;
    p.set(values);
    drop(params);
    loss(&nudged)
}

/// The one early-stopping rule of every training loop (pretraining, finetuning, heads,
/// baselines), Keras's `EarlyStopping` on a validation loss: an epoch improves when its loss is
/// strictly below the best so far, and training stops at an epoch that did not improve,
/// `patience` epochs after the best (with patience 0: at the first epoch that does not improve).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    patience: usize,
    best_loss: f64,
    best_epoch: Option<usize>,
}

impl EarlyStopping {
    pub fn new(patience: usize) -> Self {
        Self::resume(patience, f64::INFINITY, None)
    }

    /// The rule's state after the epochs of an interrupted run.
    pub fn resume(patience: usize, best_loss: f64, best_epoch: Option<usize>) -> Self {
        Self { patience, best_loss, best_epoch }
    }

    /// Records `epoch`'s validation loss; true when it is the new best.
    pub fn observe(&mut self, epoch: usize, loss: f64) -> bool {
        let improved = loss < self.best_loss;
        if improved {
            (self.best_loss, self.best_epoch) = (loss, Some(epoch));
        }
        improved
    }

    /// Whether training stops after `epoch` (observed).
    pub fn should_stop(&self, epoch: usize) -> bool {
        self.best_epoch.is_some_and(|best| epoch > best && epoch - best >= self.patience)
    }

    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    pub fn best_loss(&self) -> f64 {
        self.best_loss
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
    /// One entry per model parameter, in [`Parameters::named_params`] order.
    pub moments: Vec<Moments<D>>,
}

impl<D: Device<f32>> Adam<D> {
    /// Zero moments for every parameter of `model`.
    pub fn new<M: Parameters<D>>(config: AdamSettings, model: &M) -> Self {
        let moments = model
            .named_params()
            .into_iter()
            .map(|(name, p)| {
                let n = p.numel();
                let dev = match p {
                    ParamRef::R1(t) => t.device().clone(),
                    ParamRef::R2(t) => t.device().clone(),
                };
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
    pub fn update<M: Parameters<D>>(&mut self, model: &mut M, grads: &Gradients<f32, D>) -> Result<(), ModelError> {
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
        let params = model.named_params_mut();
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
            let mut p = p;
            if crate::kernels::adam_update(&mut p, grads, &mut mom.m, &mut mom.v, coefs) {
                continue;
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

#[cfg(test)]
mod early_stopping_tests {
    use super::EarlyStopping;

    /// Epochs whose loss improves, and the epoch after which training stops.
    fn run(patience: usize, losses: &[f64]) -> (Vec<usize>, Option<usize>) {
        let mut rule = EarlyStopping::new(patience);
        let mut improved = Vec::new();
        for (epoch, &loss) in losses.iter().enumerate() {
            if rule.observe(epoch, loss) {
                improved.push(epoch);
            }
            if rule.should_stop(epoch) {
                return (improved, Some(epoch));
            }
        }
        (improved, None)
    }

    #[test]
    fn keras_rule_strict_improvement_and_patience() {
        // Equal losses do not improve; stop `patience` epochs after the best.
        assert_eq!(run(2, &[3.0, 2.0, 2.0, 2.5, 1.0]), (vec![0, 1], Some(3)));
        assert_eq!(run(3, &[3.0, 2.0, 2.0, 2.5, 1.0, 1.5]), (vec![0, 1, 4], None));
        // Patience 0 (Keras): the first epoch that does not improve stops, never the first epoch.
        assert_eq!(run(0, &[3.0, 2.0, 2.5, 1.0]), (vec![0, 1], Some(2)));
        assert_eq!(run(0, &[3.0]), (vec![0], None));
    }

    #[test]
    fn resumed_rule_continues_the_interrupted_one() {
        let mut whole = EarlyStopping::new(2);
        for (e, l) in [3.0, 2.0, 2.5].into_iter().enumerate() {
            whole.observe(e, l);
        }
        let mut resumed = EarlyStopping::resume(2, 2.0, Some(1));
        assert_eq!(resumed, whole);
        assert!(!resumed.observe(3, 2.2));
        assert!(resumed.should_stop(3));
    }
}
