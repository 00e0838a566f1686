//! What each latent space holds (the paper's Figs. 2–3, quantified): an MLP regressor's test R² of
//! a target (θ₀) from a representation, and the k-nearest-neighbour accuracy of a label (the
//! instrument id). Inputs are standardised with the training rows' statistics.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Dense, NamedParams, NamedParamsMut, Tensor2};
use astromer::train::{Adam, AdamSettings, EarlyStopping, Parameters};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use representation::Matrix;
use serde::{Deserialize, Serialize};

use survey_sim::causal::CausalSet;

use crate::model::CausalModel;
use crate::CausalError;

/// The regressor and its training (Adam on the MSE of the standardised target, early stopping on
/// the validation rows, the best epoch's weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSettings {
    /// Hidden widths (GELU after each).
    pub hidden: Vec<usize>,
    pub adam: AdamSettings,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub patience: usize,
    pub seed: u64,
}

impl ProbeSettings {
    /// Two hidden layers of 64, Adam lr 1e-3, batch 64, at most 200 epochs, patience 20.
    pub fn standard(seed: u64) -> Self {
        Self {
            hidden: vec![64, 64],
            adam: AdamSettings { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 },
            batch_size: 64,
            max_epochs: 200,
            patience: 20,
            seed,
        }
    }
}

/// Rows and targets of one part (train, validation or test).
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a, T> {
    pub x: &'a Matrix,
    pub y: &'a [T],
}

/// 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (ȳ: the mean of `y`); NaN when `y` is constant.
pub fn r2(prediction: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let residual: f64 = prediction.iter().zip(y).map(|(p, t)| (t - p).powi(2)).sum();
    let total: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    1.0 - residual / total
}

/// Column means and standard deviations of the training rows (a constant column gets sd 1).
struct Standardizer {
    mean: Vec<f64>,
    sd: Vec<f64>,
}

impl Standardizer {
    fn fit(x: &Matrix) -> Self {
        let n = x.rows.max(1) as f64;
        let mean: Vec<f64> = (0..x.cols).map(|c| (0..x.rows).map(|r| x.data[r * x.cols + c] as f64).sum::<f64>() / n).collect();
        let sd = (0..x.cols)
            .map(|c| {
                let v = (0..x.rows).map(|r| (x.data[r * x.cols + c] as f64 - mean[c]).powi(2)).sum::<f64>() / n;
                if v > 1e-24 { v.sqrt() } else { 1.0 }
            })
            .collect();
        Self { mean, sd }
    }

    fn apply(&self, x: &Matrix) -> Vec<f32> {
        (0..x.rows * x.cols).map(|i| ((x.data[i] as f64 - self.mean[i % x.cols]) / self.sd[i % x.cols]) as f32).collect()
    }
}

#[derive(Clone, Debug)]
struct Regressor<D: Device<f32>> {
    layers: Vec<Dense<D>>,
}

impl<D: Device<f32>> Regressor<D> {
    fn forward<T: Tape<f32, D> + 'static>(&self, x: Tensor2<D, T>) -> Tensor2<D, T> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = h.fast_gelu();
            }
        }
        h
    }

    fn predict(&self, dev: &D, x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        if rows == 0 {
            return Vec::new();
        }
        self.forward(cached_tensor(dev, x, (rows, cols))).as_vec()
    }
}

impl<D: Device<f32>> Parameters<D> for Regressor<D> {
    fn named_params(&self) -> NamedParams<'_, D> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            layer.params(&format!("layer{i}"), &mut out);
        }
        out
    }

    fn named_params_mut(&mut self) -> NamedParamsMut<'_, D> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.params_mut(&format!("layer{i}"), &mut out);
        }
        out
    }
}

fn check_part<T>(what: &str, part: &Labelled<'_, T>, cols: usize) -> Result<(), CausalError> {
    if part.x.rows != part.y.len() || part.x.cols != cols || part.x.rows == 0 {
        return Err(CausalError::Settings(format!(
            "{what}: {} rows × {} columns with {} targets (expected ≥ 1 row, {cols} columns, one target per row)",
            part.x.rows,
            part.x.cols,
            part.y.len()
        )));
    }
    Ok(())
}

/// Test R² of an MLP regressor trained on `train`, early-stopped on `val`. Deterministic per
/// `settings.seed`.
pub fn regression_r2<D: Device<f32>>(
    dev: &D,
    train: Labelled<'_, f64>,
    val: Labelled<'_, f64>,
    test: Labelled<'_, f64>,
    settings: &ProbeSettings,
) -> Result<f64, CausalError> {
    let cols = train.x.cols;
    for (what, part) in [("training", &train), ("validation", &val), ("test", &test)] {
        check_part(what, part, cols)?;
    }
    if settings.batch_size == 0 || settings.max_epochs == 0 {
        return Err(CausalError::Settings("probe batch_size and max_epochs must be at least 1".into()));
    }
    let scaler = Standardizer::fit(train.x);
    let (y_mean, y_sd) = {
        let n = train.y.len() as f64;
        let m = train.y.iter().sum::<f64>() / n;
        let v = train.y.iter().map(|t| (t - m).powi(2)).sum::<f64>() / n;
        (m, if v > 1e-24 { v.sqrt() } else { 1.0 })
    };
    let scale_y = |y: &[f64]| -> Vec<f32> { y.iter().map(|t| ((t - y_mean) / y_sd) as f32).collect() };
    let (x_train, y_train) = (scaler.apply(train.x), scale_y(train.y));
    let (x_val, y_val) = (scaler.apply(val.x), scale_y(val.y));
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let widths: Vec<usize> = std::iter::once(cols).chain(settings.hidden.iter().copied()).chain(std::iter::once(1)).collect();
    let mut model = Regressor { layers: widths.windows(2).map(|w| Dense::new(dev, w[0], w[1], &mut rng)).collect() };
    let mut adam = Adam::new(settings.adam, &model);
    let mut stopping = EarlyStopping::new(settings.patience);
    let mut best = model.clone();
    let mut order: Vec<usize> = (0..train.x.rows).collect();
    for epoch in 0..settings.max_epochs {
        order.shuffle(&mut rng);
        for rows in order.chunks(settings.batch_size) {
            let xb: Vec<f32> = rows.iter().flat_map(|&r| x_train[r * cols..(r + 1) * cols].iter().copied()).collect();
            let yb: Vec<f32> = rows.iter().map(|&r| y_train[r]).collect();
            let grads = Parameters::zero_gradients(&model);
            let x: Tensor2<D> = cached_tensor(dev, &xb, (rows.len(), cols));
            let target: Tensor2<D> = cached_tensor(dev, &yb, (rows.len(), 1));
            let loss = (model.forward(x.traced(grads)) - target).square().mean::<(), Axes2<0, 1>>();
            let grads = loss.backward();
            adam.update(&mut model, &grads).map_err(|e| CausalError::Optimizer(e.to_string()))?;
        }
        let pred = model.predict(dev, &x_val, val.x.rows, cols);
        let mse = pred.iter().zip(&y_val).map(|(p, t)| ((p - t) as f64).powi(2)).sum::<f64>() / y_val.len() as f64;
        if !mse.is_finite() {
            return Err(CausalError::NonFinite { epoch });
        }
        if stopping.observe(epoch, mse) {
            best = model.clone();
        }
        if stopping.should_stop(epoch) {
            break;
        }
    }
    let pred: Vec<f64> = best.predict(dev, &scaler.apply(test.x), test.x.rows, cols).iter().map(|&p| p as f64 * y_sd + y_mean).collect();
    Ok(r2(&pred, test.y))
}

/// Share of `test` rows whose label is the majority among their `k` nearest `train` rows
/// (Euclidean, after standardising with the training rows' statistics; a tied vote goes to the
/// tied label of the nearest neighbour).
pub fn knn_accuracy(train: Labelled<'_, usize>, test: Labelled<'_, usize>, k: usize) -> Result<f64, CausalError> {
    let cols = train.x.cols;
    check_part("training", &train, cols)?;
    check_part("test", &test, cols)?;
    if k == 0 || k > train.x.rows {
        return Err(CausalError::Settings(format!("k = {k} with {} training rows", train.x.rows)));
    }
    let scaler = Standardizer::fit(train.x);
    let (a, b) = (scaler.apply(train.x), scaler.apply(test.x));
    let mut correct = 0usize;
    for (row, &label) in test.y.iter().enumerate() {
        let q = &b[row * cols..(row + 1) * cols];
        let mut by_distance: Vec<(f32, usize)> = (0..train.x.rows)
            .map(|r| (a[r * cols..(r + 1) * cols].iter().zip(q).map(|(u, v)| (u - v) * (u - v)).sum::<f32>(), r))
            .collect();
        by_distance.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let neighbours: Vec<usize> = by_distance[..k].iter().map(|&(_, r)| train.y[r]).collect();
        let votes = |l: usize| neighbours.iter().filter(|&&n| n == l).count();
        let top = neighbours.iter().map(|&l| votes(l)).max().expect("k ≥ 1");
        let predicted = *neighbours.iter().find(|&&l| votes(l) == top).expect("a label has the top vote");
        correct += usize::from(predicted == label);
    }
    Ok(correct as f64 / test.y.len() as f64)
}

/// The latents of observations `rows` of `set` (inference), `batch_size` curves per pass:
/// z_star and, for the dual model, z_instr, one row per observation.
pub struct Latents {
    pub star: Matrix,
    pub instrument: Option<Matrix>,
}

pub fn latents<D: Device<f32>>(model: &CausalModel<D>, set: &CausalSet, rows: &[usize], batch_size: usize) -> Result<Latents, CausalError> {
    if batch_size == 0 {
        return Err(CausalError::Settings("batch_size must be at least 1".into()));
    }
    let (t, width) = (model.config.n_steps, model.config.latent);
    let dev = model.star_encoder.input.weight.device().clone();
    let (mut star, mut instrument) = (Vec::with_capacity(rows.len() * width), Vec::new());
    for chunk in rows.chunks(batch_size) {
        let mut flux = Vec::with_capacity(chunk.len() * t);
        for &n in chunk {
            let obs = set.observations.get(n).ok_or(CausalError::AnchorOutOfRange { anchor: n, len: set.observations.len() })?;
            if obs.flux.len() != t {
                return Err(CausalError::Settings(format!("observation {n} has {} samples; the model expects {t}", obs.flux.len())));
            }
            flux.extend(obs.flux.iter().map(|&v| v as f32));
        }
        let out = model.forward(cached_tensor(&dev, &flux, (chunk.len(), t)));
        star.extend(out.z_star.as_vec());
        if let Some(z) = out.z_instrument {
            instrument.extend(z.as_vec());
        }
    }
    let matrix = |data: Vec<f32>| Matrix::new(rows.len(), width, data).map_err(|e| CausalError::Settings(e.to_string()));
    let instrument = if model.instrument_encoder.is_some() { Some(matrix(instrument)?) } else { None };
    Ok(Latents { star: matrix(star)?, instrument })
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::dfdx::tensor::Cpu;
    use rand::Rng;

    fn data(n: usize, seed: u64, f: impl Fn(f64, f64) -> f64) -> (Matrix, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (a, b): (f64, f64) = (rng.gen_range(-2.0..2.0), rng.gen_range(-2.0..2.0));
            x.extend([a as f32, b as f32, rng.gen_range(-1.0f32..1.0)]);
            y.push(f(a, b));
        }
        (Matrix::new(n, 3, x).unwrap(), y)
    }

    #[test]
    fn r2_is_one_for_a_perfect_fit_and_zero_for_the_mean() {
        let y = [1.0, 2.0, 4.0];
        assert_eq!(r2(&y, &y), 1.0);
        assert!(r2(&[7.0 / 3.0; 3], &y).abs() < 1e-12);
    }

    #[test]
    fn the_regressor_learns_a_smooth_function_and_not_noise() {
        let dev = Cpu::default();
        let target = |a: f64, b: f64| a.sin() + 0.5 * b * b;
        let (tx, ty) = data(600, 1, target);
        let (vx, vy) = data(150, 2, target);
        let (sx, sy) = data(150, 3, target);
        let s = ProbeSettings { max_epochs: 60, patience: 10, ..ProbeSettings::standard(0) };
        let learned = regression_r2(&dev, Labelled { x: &tx, y: &ty }, Labelled { x: &vx, y: &vy }, Labelled { x: &sx, y: &sy }, &s).unwrap();
        assert!(learned > 0.9, "R² {learned}");
        // A target unrelated to the inputs: the test R² stays near (or below) zero.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut noise = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let (ny, nvy, nsy) = (noise(600), noise(150), noise(150));
        let none = regression_r2(&dev, Labelled { x: &tx, y: &ny }, Labelled { x: &vx, y: &nvy }, Labelled { x: &sx, y: &nsy }, &s).unwrap();
        assert!(none < 0.1, "R² {none}");
        let again = regression_r2(&dev, Labelled { x: &tx, y: &ty }, Labelled { x: &vx, y: &vy }, Labelled { x: &sx, y: &sy }, &s).unwrap();
        assert_eq!(learned, again, "deterministic per seed");
    }

    #[test]
    fn knn_finds_clusters_and_not_shuffled_labels() {
        // Three well separated clusters in the first column, noise in the second.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut cluster = |n: usize| -> (Matrix, Vec<usize>) {
            let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
            let x = labels.iter().flat_map(|&l| [l as f32 * 10.0 + rng.gen_range(-1.0f32..1.0), rng.gen_range(-1.0f32..1.0)]).collect();
            (Matrix::new(n, 2, x).unwrap(), labels)
        };
        let (tx, ty) = cluster(90);
        let (sx, sy) = cluster(30);
        assert_eq!(knn_accuracy(Labelled { x: &tx, y: &ty }, Labelled { x: &sx, y: &sy }, 5).unwrap(), 1.0);
        // Labels unrelated to the rows: about chance (1/3).
        let shuffled: Vec<usize> = (0..90).map(|i| (i * 7 / 3) % 3).collect();
        let chance = knn_accuracy(Labelled { x: &tx, y: &shuffled }, Labelled { x: &sx, y: &sy }, 5).unwrap();
        assert!(chance < 0.7, "accuracy {chance}");
        assert!(knn_accuracy(Labelled { x: &tx, y: &ty }, Labelled { x: &sx, y: &sy }, 0).is_err());
        assert!(knn_accuracy(Labelled { x: &tx, y: &ty[..10] }, Labelled { x: &sx, y: &sy }, 3).is_err());
    }

    #[test]
    fn latents_have_one_row_per_observation_in_any_batching() {
        use crate::model::CausalModelConfig;
        use survey_sim::causal::{simulate, CausalSpec};
        let set = simulate(&CausalSpec { n_steps: 20, ..CausalSpec::sized(1, 6, 3, 18) }).unwrap();
        let dev = Cpu::default();
        let config = CausalModelConfig { d_model: 8, n_heads: 2, ffn_width: 16, n_blocks: 1, latent: 4, decoder_hidden: 8, projection_hidden: 8, ..CausalModelConfig::paper(20) };
        let model = CausalModel::new(config.clone(), &dev, 0).unwrap();
        let rows: Vec<usize> = (0..18).rev().collect();
        let whole = latents(&model, &set, &rows, 64).unwrap();
        let small = latents(&model, &set, &rows, 5).unwrap();
        assert_eq!((whole.star.rows, whole.star.cols), (18, 4));
        for (a, b) in whole.star.data.iter().zip(&small.star.data) {
            assert!((a - b).abs() < 1e-5);
        }
        assert_eq!(whole.instrument.as_ref().unwrap().rows, 18);
        let single = CausalModel::new(CausalModelConfig { dual: false, ..config }, &dev, 0).unwrap();
        assert!(latents(&single, &set, &rows, 8).unwrap().instrument.is_none());
        assert!(latents(&model, &set, &[18], 8).is_err());
    }
}
