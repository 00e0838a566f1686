//! The paper's objective on one triplet batch and one Adam step on it:
//! total = w_r·MSE(reconstruction, flux) + w_s·L_star + w_i·L_instr (the paper: all weights 1).
//! The single-latent baseline has no instrument term.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, ParamRef, Tensor2};
use astromer::train::{Adam, Parameters};
use serde::{Deserialize, Serialize};
use survey_sim::causal::CausalSet;

use crate::loss::multi_positive_info_nce;
use crate::model::CausalModel;
use crate::triplets::TripletBatch;
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
#[derive(Debug, Clone, Copy, PartialEq)]
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
    let mut grads: Gradients<f32, D> = Gradients::leaky();
    for (_, p) in model.named_params() {
        match p {
            ParamRef::R1(t) => grads.try_alloc_for(t).expect("alloc grad"),
            ParamRef::R2(t) => grads.try_alloc_for(t).expect("alloc grad"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CausalModelConfig;
    use crate::triplets::TripletSampler;
    use astromer::dfdx::tensor::Cpu;
    use astromer::train::AdamSettings;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
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
}
