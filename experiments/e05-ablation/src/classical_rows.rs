//! The classical-features baseline of Fig. 18 (issue 19): per-curve features (`crates/classical`)
//! classified by a random forest and by the classifiers' MLP head, on exactly the few-shot folds,
//! SPC subsets and test curves of the other rows. Features describe a whole curve, so these rows
//! are scored per object only.

use anyhow::{Context, Result};
use classical::{CurveFeatures, FeatureSettings, ForestSettings, RandomForest, N_FEATURES};
use classifier::{ClassifierSettings, FeatureScaler, HeadKind, PooledFeatures};
use evaluation::FoldSplit;
use lightcurve::LightCurveSet;
use serde::{Deserialize, Serialize};

/// Settings of the classical rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicalSettings {
    pub features: FeatureSettings,
    pub forest: ForestSettings,
}

/// Features of the curves of one set, computed once per curve on first use.
pub struct FeatureTable {
    rows: Vec<Option<CurveFeatures>>,
}

impl FeatureTable {
    pub fn new(set: &LightCurveSet) -> Self {
        Self {
            rows: vec![None; set.len()],
        }
    }

    /// Computes the features of `curves` (indices into `set`) not computed yet, in parallel
    /// (curves are independent, so the result does not depend on the thread count).
    pub fn compute(&mut self, set: &LightCurveSet, curves: &[usize], settings: &FeatureSettings) {
        use rayon::prelude::*;
        let mut missing: Vec<usize> = curves.iter().copied().filter(|&i| self.rows[i].is_none()).collect();
        missing.sort_unstable();
        missing.dedup();
        let computed: Vec<(usize, CurveFeatures)> =
            missing.into_par_iter().map(|i| (i, classical::extract(&set.curve(i), settings))).collect();
        for (i, f) in computed {
            if f.period_fallback {
                log::warn!("{}: no Lomb–Scargle periodogram; period = time span, power 0", set.curve(i).object_id);
            }
            self.rows[i] = Some(f);
        }
    }

    /// Feature rows of `curves`, computed by [`FeatureTable::compute`] before.
    pub fn rows(&self, set: &LightCurveSet, curves: &[usize]) -> Result<Vec<Vec<f64>>> {
        curves
            .iter()
            .map(|&i| {
                self.rows[i]
                    .as_ref()
                    .map(|f| f.values.to_vec())
                    .with_context(|| format!("{}: classical features were not computed", set.curve(i).object_id))
            })
            .collect()
    }

    /// Curves whose period search fell back, over those computed so far.
    pub fn fallbacks(&self) -> usize {
        self.rows.iter().flatten().filter(|f| f.period_fallback).count()
    }
}

/// Classes of `curves`.
fn labels(set: &LightCurveSet, curves: &[usize]) -> Result<Vec<usize>> {
    curves
        .iter()
        .map(|&i| set.label(i).with_context(|| format!("curve {} has no class", set.curve(i).object_id)))
        .collect()
}

/// What the rows need: test logits (one row per test curve), their labels, and what was fitted.
pub struct Scored {
    pub logits: Vec<f32>,
    pub labels: Vec<usize>,
    pub train_curves: usize,
    pub val_curves: usize,
    pub epochs: usize,
    pub best_epoch: usize,
    pub evaluated_epoch: usize,
    pub parameters: usize,
}

/// Random forest on train ∪ validation curves (a forest has no early stopping to spend the
/// validation curves on, so it sees every labelled curve of the split), scored on the test curves.
pub fn forest(
    table: &FeatureTable,
    set: &LightCurveSet,
    split: &FoldSplit,
    settings: &ClassicalSettings,
    n_classes: usize,
) -> Result<Scored> {
    let fit_curves: Vec<usize> = split.train.iter().chain(&split.val).copied().collect();
    let x = table.rows(set, &fit_curves)?;
    let forest = RandomForest::fit(&x, &labels(set, &fit_curves)?, &settings.forest)?;
    let pred = forest.predict(&table.rows(set, &split.test)?)?;
    Ok(Scored {
        // One-hot "logits" of the predicted classes (ties are the forest's argmax).
        logits: astromer::layers::one_hot_rows(&pred, n_classes),
        labels: labels(set, &split.test)?,
        train_curves: fit_curves.len(),
        val_curves: 0,
        epochs: 0,
        best_epoch: 0,
        evaluated_epoch: 0,
        parameters: settings.forest.n_trees as usize,
    })
}

/// The features as a one-representation `PooledFeatures`, so the classifiers' MLP head (and its
/// standardisation) trains on them exactly as on an encoder's pooled outputs.
fn pooled(rows: &[Vec<f64>], labels: Vec<usize>, curves: &[usize]) -> PooledFeatures {
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    PooledFeatures {
        n_reps: 1,
        d_model: N_FEATURES,
        means: flat.clone(),
        last_max: flat,
        object_index: curves.to_vec(),
        labels,
    }
}

#[allow(clippy::too_many_arguments)]
/// The classifiers' MLP head (the `avg` head reads the one representation) on standardised
/// features: trained on the train curves, early-stopped on the validation curves.
pub fn mlp<D: astromer::dfdx::prelude::Device<f32>>(
    dev: &D,
    table: &FeatureTable,
    set: &LightCurveSet,
    split: &FoldSplit,
    head: &ClassifierSettings,
    n_classes: usize,
    on_epoch: &mut dyn FnMut(&classifier::HeadEpoch),
) -> Result<Scored> {
    let part = |table: &FeatureTable, curves: &[usize]| -> Result<PooledFeatures> {
        Ok(pooled(&table.rows(set, curves)?, labels(set, curves)?, curves))
    };
    let (mut train, mut val, mut test) = (part(table, &split.train)?, part(table, &split.val)?, part(table, &split.test)?);
    let scaler = FeatureScaler::fit(&train);
    for f in [&mut train, &mut val, &mut test] {
        scaler.apply(f);
    }
    let trained = classifier::train_head(dev, HeadKind::Avg, &train, &val, n_classes, head, on_epoch)?;
    let all: Vec<usize> = (0..test.len()).collect();
    let logits = trained.head.logits(&test.head_input(HeadKind::Avg, &all), N_FEATURES, test.len().max(1));
    Ok(Scored {
        logits,
        labels: test.labels,
        train_curves: train.len(),
        val_curves: val.len(),
        epochs: trained.history.len(),
        best_epoch: trained.best_epoch,
        evaluated_epoch: trained.evaluated_epoch,
        parameters: trained.head.parameter_count(),
    })
}
