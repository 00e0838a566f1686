//! Few-shot folds: per fold a test set, and per (fold, SPC) a labelled subset split into train
//! and validation, as the official A1-era record builders ran it (spec §8.4), with the sizes as
//! settings.
//!
//! # Protocol
//! For each fold `f` in `0..n_folds`:
//! 1. **Test set.** For each class, `test_per_class` curves drawn without replacement from all
//!    curves of the class, independently per fold (test sets of different folds may overlap, as
//!    in the official code). The test set is shared by every SPC of the fold and holds each curve
//!    once (the official records replicated it once per class, spec §8.4 "test duplication
//!    bug"; that changes no metric, and we do not reproduce it).
//! 2. **SPC subset.** For each SPC value and each class, `spc` curves from the class's
//!    *non-test pool* (its curves minus the fold's test curves), drawn without replacement. The
//!    subsets of different SPC values are drawn independently from the same pool (they are not
//!    nested). The first `n_train = round(train_fraction · spc)` drawn curves (`f64::round`,
//!    half away from zero) go to train and the remaining `spc − n_train` to validation:
//!    SPC 20 → 16 + 4, 100 → 80 + 20, 500 → 400 + 100 with the official 0.8.
//! 3. **Too few curves for the SPC.** Only if the pool of a class holds `m < spc` curves, the
//!    class is drawn *with replacement* and listed in [`FoldSplit::with_replacement_classes`]
//!    (and a `log::warn!` is emitted). The distinct curves are split first, so that no curve is
//!    in both train and validation:
//!    - the pool is shuffled; its first `m_train` curves are train-side and the rest val-side,
//!      with `m_train = round(train_fraction · m)` clamped to
//!      `[max(1, m − n_val), min(m − 1, n_train)]` (so each side gets at least one distinct
//!      curve and no side gets more distinct curves than it has slots);
//!    - each side takes every one of its distinct curves once and fills its remaining slots by
//!      uniform draws with replacement from its own distinct curves;
//!    - edge cases: if `n_val = 0` every pool curve is train-side (and conversely if
//!      `n_train = 0`); if `m = 1` the single curve is train-side only and the class has **no
//!      validation curve** in that split (reported as well).
//! 4. A class with fewer than `test_per_class + 1` curves is an error
//!    ([`EvalError::TooFewCurves`]): at least one curve must remain for the SPC subset.
//!
//! Indices are positions in the `labels` slice (the labelled set). `train`, `val` and `test` are
//! sorted ascending; with replacement, `train`/`val` hold repeated indices.
//!
//! # Determinism
//! Every draw uses its own [`ChaCha8Rng`] whose 32-byte key is built from the settings seed
//! and the draw's coordinates, see [`draw_rng`]: the test draw of (fold, class) and the subset
//! draw of (fold, class, spc). Hence the splits depend only on (seed, fold, class, spc, the
//! class's curve positions, `test_per_class`, `train_fraction`): adding or reordering SPC values,
//! or adding folds, does not change the other splits. Within a class, curves are drawn by a
//! partial Fisher–Yates shuffle of the class's positions in ascending order
//! (`for i in 0..k { j = rng.gen_range(i..n); swap(i, j) }`, rand 0.8).

use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check_labels, EvalError, Result};

/// Sizes and seed of the few-shot protocol. [`Default`] is the official protocol (3 folds, 100
/// test curves per class, SPC 20/100/500, 80 % train) with seed 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FewShotSettings {
    /// Number of folds (official 3).
    pub n_folds: usize,
    /// Test curves per class per fold (official 100; the paper says 1000).
    pub test_per_class: usize,
    /// Samples-per-class values (official 20, 100, 500); distinct, each ≥ 1.
    pub spc: Vec<usize>,
    /// Fraction of each class's SPC curves that go to train, the rest to validation (official 0.8).
    pub train_fraction: f64,
    pub seed: u64,
}

impl Default for FewShotSettings {
    fn default() -> Self {
        Self {
            n_folds: 3,
            test_per_class: 100,
            spc: vec![20, 100, 500],
            train_fraction: 0.8,
            seed: 0,
        }
    }
}

impl FewShotSettings {
    /// Train curves per class for an SPC value: `round(train_fraction · spc)`.
    pub fn n_train(&self, spc: usize) -> usize {
        ((self.train_fraction * spc as f64).round() as usize).min(spc)
    }

    /// Validation curves per class for an SPC value: `spc − n_train(spc)`.
    pub fn n_val(&self, spc: usize) -> usize {
        spc - self.n_train(spc)
    }

    /// Checks the settings on their own (not against data).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(EvalError::InvalidSettings(m));
        if self.n_folds == 0 {
            return bad("n_folds is 0; use at least 1 fold".into());
        }
        if self.spc.is_empty() {
            return bad("spc is empty; give at least one samples-per-class value".into());
        }
        if self.spc.contains(&0) {
            return bad(format!(
                "spc {:?} contains 0; every SPC value must be at least 1",
                self.spc
            ));
        }
        let mut sorted = self.spc.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!(
                "spc {:?} lists {} twice; SPC values must be distinct",
                self.spc, w[0]
            ));
        }
        if !(self.train_fraction.is_finite() && (0.0..=1.0).contains(&self.train_fraction)) {
            return bad(format!(
                "train_fraction = {} is not in [0, 1]",
                self.train_fraction
            ));
        }
        Ok(())
    }
}

/// One (fold, SPC) split. Indices are positions in the labelled set, sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldSplit {
    pub fold: usize,
    pub spc: usize,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    /// The fold's test set: identical for every SPC of the fold, no duplicates.
    pub test: Vec<usize>,
    /// Classes (names, in label order) that had fewer than `spc` curves outside the test set and
    /// were drawn with replacement.
    pub with_replacement_classes: Vec<String>,
}

/// What a random draw is for; part of the key of [`draw_rng`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawStage {
    /// The test set of a fold (code 1 in the key).
    Test,
    /// The SPC subset of a fold (code 2 in the key).
    Subset,
}

/// The generator of one draw. Its 32-byte ChaCha8 key is, little-endian:
/// bytes 0–7 `seed`, 8–15 `fold` (u64), 16–19 the stage code (1 = test, 2 = subset, u32),
/// 20–23 `class` (u32), 24–31 `spc` (u64; 0 for the test draw).
pub fn draw_rng(seed: u64, fold: usize, stage: DrawStage, class: usize, spc: usize) -> ChaCha8Rng {
    let code: u32 = match stage {
        DrawStage::Test => 1,
        DrawStage::Subset => 2,
    };
    let mut key = [0u8; 32];
    key[0..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(fold as u64).to_le_bytes());
    key[16..20].copy_from_slice(&code.to_le_bytes());
    key[20..24].copy_from_slice(&(class as u32).to_le_bytes());
    key[24..32].copy_from_slice(&(spc as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// The first `k` elements of a partial Fisher–Yates shuffle of `pool`, in draw order.
fn draw_without_replacement(rng: &mut ChaCha8Rng, pool: &[usize], k: usize) -> Vec<usize> {
    debug_assert!(k <= pool.len());
    let mut v = pool.to_vec();
    for i in 0..k {
        let j = rng.gen_range(i..v.len());
        v.swap(i, j);
    }
    v.truncate(k);
    v
}

/// Every curve of `distinct` once, then `k − distinct.len()` uniform draws with replacement.
fn fill_with_replacement(rng: &mut ChaCha8Rng, distinct: &[usize], k: usize) -> Vec<usize> {
    if distinct.is_empty() {
        return Vec::new();
    }
    debug_assert!(k >= distinct.len());
    let mut out = distinct.to_vec();
    while out.len() < k {
        out.push(distinct[rng.gen_range(0..distinct.len())]);
    }
    out
}

/// Train and val of one class from its non-test `pool` (ascending). Returns whether the class
/// was drawn with replacement.
fn class_subset(
    rng: &mut ChaCha8Rng,
    pool: &[usize],
    spc: usize,
    n_train: usize,
    train_fraction: f64,
) -> (Vec<usize>, Vec<usize>, bool) {
    let n_val = spc - n_train;
    let m = pool.len();
    if m >= spc {
        let mut drawn = draw_without_replacement(rng, pool, spc);
        let val = drawn.split_off(n_train);
        return (drawn, val, false);
    }
    let shuffled = draw_without_replacement(rng, pool, m);
    let m_train = if n_val == 0 {
        m
    } else if n_train == 0 {
        0
    } else if m == 1 {
        1
    } else {
        let lo = 1.max(m.saturating_sub(n_val));
        let hi = (m - 1).min(n_train);
        ((train_fraction * m as f64).round() as usize).clamp(lo, hi)
    };
    let train = fill_with_replacement(rng, &shuffled[..m_train], n_train);
    let val = fill_with_replacement(rng, &shuffled[m_train..], n_val);
    (train, val, true)
}

/// The few-shot splits of a labelled set: for each fold (outer) and each SPC value in the order
/// given (inner), one [`FoldSplit`]. `labels[i]` is the class index of curve `i` into
/// `class_names` (alphabetical for a [`lightcurve::LightCurveSet`]). See the module docs for
/// the protocol and the determinism rule.
pub fn few_shot_splits(
    labels: &[usize],
    class_names: &[String],
    settings: &FewShotSettings,
) -> Result<Vec<FoldSplit>> {
    settings.validate()?;
    if class_names.is_empty() {
        return Err(EvalError::Empty("class_names"));
    }
    if labels.is_empty() {
        return Err(EvalError::Empty("labels"));
    }
    check_labels("labels", labels, class_names.len())?;

    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); class_names.len()];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let needed = settings.test_per_class + 1;
    for (c, members) in by_class.iter().enumerate() {
        if members.len() < needed {
            return Err(EvalError::TooFewCurves {
                class: class_names[c].clone(),
                available: members.len(),
                needed,
                test_per_class: settings.test_per_class,
                max_test_per_class: members.len().saturating_sub(1),
            });
        }
    }

    let mut out = Vec::with_capacity(settings.n_folds * settings.spc.len());
    for fold in 0..settings.n_folds {
        // Test set and non-test pool per class.
        let mut test = Vec::new();
        let mut pools = Vec::with_capacity(by_class.len());
        for (c, members) in by_class.iter().enumerate() {
            let mut rng = draw_rng(settings.seed, fold, DrawStage::Test, c, 0);
            let mut drawn = draw_without_replacement(&mut rng, members, settings.test_per_class);
            drawn.sort_unstable();
            let pool: Vec<usize> = members
                .iter()
                .copied()
                .filter(|i| drawn.binary_search(i).is_err())
                .collect();
            test.extend_from_slice(&drawn);
            pools.push(pool);
        }
        test.sort_unstable();

        for &spc in &settings.spc {
            let n_train = settings.n_train(spc);
            let (mut train, mut val, mut replaced) = (Vec::new(), Vec::new(), Vec::new());
            for (c, pool) in pools.iter().enumerate() {
                let mut rng = draw_rng(settings.seed, fold, DrawStage::Subset, c, spc);
                let (t, v, with_replacement) =
                    class_subset(&mut rng, pool, spc, n_train, settings.train_fraction);
                if with_replacement {
                    log::warn!(
                        "few-shot fold {fold}, SPC {spc}: class '{}' has only {} curves outside the \
                         test set; drawing {spc} with replacement ({} train, {} val from disjoint \
                         distinct curves)",
                        class_names[c],
                        pool.len(),
                        t.len(),
                        v.len()
                    );
                    replaced.push(class_names[c].clone());
                }
                train.extend(t);
                val.extend(v);
            }
            train.sort_unstable();
            val.sort_unstable();
            out.push(FoldSplit {
                fold,
                spc,
                train,
                val,
                test: test.clone(),
                with_replacement_classes: replaced,
            });
        }
    }
    Ok(out)
}

/// [`few_shot_splits`] of a labelled [`lightcurve::LightCurveSet`]: indices are positions in
/// the set (use `set.subset(&split.train)` etc.; subsets keep the parent's class list).
pub fn few_shot_splits_for_set(
    set: &lightcurve::LightCurveSet,
    settings: &FewShotSettings,
) -> Result<Vec<FoldSplit>> {
    let classes = set.classes().ok_or(EvalError::Unlabelled)?;
    let labels = (0..set.len())
        .map(|i| set.label(i).ok_or(EvalError::Unlabelled))
        .collect::<Result<Vec<_>>>()?;
    few_shot_splits(&labels, classes, settings)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|c| format!("C{c}")).collect()
    }

    /// `counts[c]` curves of class `c`, interleaved so that class members are not contiguous.
    fn labels_with_counts(counts: &[usize]) -> Vec<usize> {
        let mut left = counts.to_vec();
        let mut labels = Vec::new();
        while left.iter().any(|&n| n > 0) {
            for (c, n) in left.iter_mut().enumerate() {
                if *n > 0 {
                    labels.push(c);
                    *n -= 1;
                }
            }
        }
        labels
    }

    fn per_class(indices: &[usize], labels: &[usize], k: usize) -> Vec<usize> {
        let mut n = vec![0; k];
        for &i in indices {
            n[labels[i]] += 1;
        }
        n
    }

    fn set(v: &[usize]) -> BTreeSet<usize> {
        v.iter().copied().collect()
    }

    fn small() -> FewShotSettings {
        FewShotSettings {
            n_folds: 3,
            test_per_class: 10,
            spc: vec![5, 10, 20],
            train_fraction: 0.8,
            seed: 7,
        }
    }

    #[test]
    fn official_sizes_per_class() {
        let labels = labels_with_counts(&[700, 650, 601]);
        let s = FewShotSettings::default();
        let splits = few_shot_splits(&labels, &names(3), &s).unwrap();
        assert_eq!(splits.len(), 9);
        for (k, sp) in splits.iter().enumerate() {
            assert_eq!((sp.fold, sp.spc), (k / 3, [20, 100, 500][k % 3]));
            let (nt, nv) = match sp.spc {
                20 => (16, 4),
                100 => (80, 20),
                500 => (400, 100),
                _ => unreachable!(),
            };
            assert_eq!(per_class(&sp.train, &labels, 3), vec![nt; 3]);
            assert_eq!(per_class(&sp.val, &labels, 3), vec![nv; 3]);
            assert_eq!(per_class(&sp.test, &labels, 3), vec![100; 3]);
            assert!(sp.with_replacement_classes.is_empty());
            // Without replacement: no duplicates anywhere; sorted.
            for v in [&sp.train, &sp.val, &sp.test] {
                assert_eq!(set(v).len(), v.len());
                assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }

    #[test]
    fn test_sets_are_disjoint_from_train_and_val_and_shared_across_spc() {
        let labels = labels_with_counts(&[60, 40, 35]);
        let splits = few_shot_splits(&labels, &names(3), &small()).unwrap();
        for sp in &splits {
            let test = set(&sp.test);
            assert!(sp.train.iter().all(|i| !test.contains(i)));
            assert!(sp.val.iter().all(|i| !test.contains(i)));
            assert!(set(&sp.train).is_disjoint(&set(&sp.val)));
            assert_eq!(
                per_class(&sp.train, &labels, 3),
                vec![small().n_train(sp.spc); 3]
            );
            assert_eq!(
                per_class(&sp.val, &labels, 3),
                vec![small().n_val(sp.spc); 3]
            );
        }
        for fold in 0..3 {
            let of_fold: Vec<_> = splits.iter().filter(|s| s.fold == fold).collect();
            assert_eq!(of_fold.len(), 3);
            assert!(of_fold.iter().all(|s| s.test == of_fold[0].test));
        }
        // Independent draws per fold: the test sets differ.
        assert_ne!(splits[0].test, splits[3].test);
        assert_ne!(splits[3].test, splits[6].test);
        assert_ne!(splits[0].test, splits[6].test);
        // Subsets of different SPC within a fold are different draws.
        assert_ne!(splits[1].train, splits[2].train);
    }

    #[test]
    fn deterministic_from_the_seed_and_stable_under_adding_spc() {
        let labels = labels_with_counts(&[60, 40, 35]);
        let a = few_shot_splits(&labels, &names(3), &small()).unwrap();
        let b = few_shot_splits(&labels, &names(3), &small()).unwrap();
        assert_eq!(a, b);

        let other_seed = FewShotSettings { seed: 8, ..small() };
        let c = few_shot_splits(&labels, &names(3), &other_seed).unwrap();
        assert_ne!(a[0].test, c[0].test);
        assert_ne!(a[0].train, c[0].train);

        // Adding an SPC value and a fold, and reordering, leaves the other splits unchanged.
        let more = FewShotSettings {
            n_folds: 4,
            spc: vec![20, 7, 5, 10],
            ..small()
        };
        let d = few_shot_splits(&labels, &names(3), &more).unwrap();
        for sp in &a {
            let same = d
                .iter()
                .find(|s| s.fold == sp.fold && s.spc == sp.spc)
                .unwrap();
            assert_eq!(same, sp);
        }
    }

    #[test]
    fn draw_rng_keys_differ_per_coordinate() {
        let first = |rng: ChaCha8Rng| {
            let mut rng = rng;
            rng.gen::<u64>()
        };
        let base = first(draw_rng(1, 0, DrawStage::Subset, 0, 20));
        assert_eq!(base, first(draw_rng(1, 0, DrawStage::Subset, 0, 20)));
        for other in [
            draw_rng(2, 0, DrawStage::Subset, 0, 20),
            draw_rng(1, 1, DrawStage::Subset, 0, 20),
            draw_rng(1, 0, DrawStage::Test, 0, 20),
            draw_rng(1, 0, DrawStage::Subset, 1, 20),
            draw_rng(1, 0, DrawStage::Subset, 0, 100),
        ] {
            assert_ne!(base, first(other));
        }
    }

    #[test]
    fn with_replacement_is_reported_and_keeps_train_and_val_apart() {
        // Class 1 has 16 curves: 10 to test, 6 left for SPC 10 (8 train + 2 val) and SPC 20.
        let labels = labels_with_counts(&[60, 16, 35]);
        let splits = few_shot_splits(&labels, &names(3), &small()).unwrap();
        for sp in &splits {
            let pool: BTreeSet<usize> = (0..labels.len())
                .filter(|&i| labels[i] == 1 && !sp.test.contains(&i))
                .collect();
            assert_eq!(pool.len(), 6);
            let train1: Vec<usize> = sp
                .train
                .iter()
                .copied()
                .filter(|&i| labels[i] == 1)
                .collect();
            let val1: Vec<usize> = sp.val.iter().copied().filter(|&i| labels[i] == 1).collect();
            assert_eq!(train1.len(), small().n_train(sp.spc));
            assert_eq!(val1.len(), small().n_val(sp.spc));
            if sp.spc <= 6 {
                assert!(sp.with_replacement_classes.is_empty());
                assert_eq!(set(&train1).len() + set(&val1).len(), sp.spc);
            } else {
                assert_eq!(sp.with_replacement_classes, vec!["C1".to_string()]);
                // No curve on both sides; every pool curve used; all from the pool.
                assert!(set(&train1).is_disjoint(&set(&val1)));
                let used: BTreeSet<usize> = set(&train1).union(&set(&val1)).copied().collect();
                assert_eq!(used, pool);
                // m = 6: m_train = round(0.8·6) = 5 distinct train-side, 1 val-side.
                assert_eq!((set(&train1).len(), set(&val1).len()), (5, 1));
            }
            // The other classes are unaffected: no duplicates.
            for c in [0, 2] {
                let t: Vec<usize> = sp
                    .train
                    .iter()
                    .copied()
                    .filter(|&i| labels[i] == c)
                    .collect();
                assert_eq!(set(&t).len(), t.len());
            }
        }
    }

    #[test]
    fn single_remaining_curve_goes_to_train_only() {
        let labels = labels_with_counts(&[30, 11]);
        let s = FewShotSettings {
            n_folds: 1,
            spc: vec![10],
            ..small()
        };
        let sp = &few_shot_splits(&labels, &names(2), &s).unwrap()[0];
        assert_eq!(sp.with_replacement_classes, vec!["C1".to_string()]);
        let train1: Vec<usize> = sp
            .train
            .iter()
            .copied()
            .filter(|&i| labels[i] == 1)
            .collect();
        assert_eq!(train1.len(), 8);
        assert_eq!(set(&train1).len(), 1);
        assert_eq!(per_class(&sp.val, &labels, 2), vec![2, 0]);
    }

    #[test]
    fn too_few_curves_is_an_error_that_says_what_to_do() {
        let labels = labels_with_counts(&[30, 10, 30]);
        let class_names = vec!["Cep_0".to_string(), "Cep_1".to_string(), "EC".to_string()];
        let e = few_shot_splits(&labels, &class_names, &small()).unwrap_err();
        assert_eq!(
            e,
            EvalError::TooFewCurves {
                class: "Cep_1".into(),
                available: 10,
                needed: 11,
                test_per_class: 10,
                max_test_per_class: 9
            }
        );
        let msg = e.to_string();
        assert!(msg.contains("'Cep_1' has 10 labelled curves"), "{msg}");
        assert!(msg.contains("at least 11"), "{msg}");
        assert!(
            msg.contains("lower FewShotSettings::test_per_class to at most 9"),
            "{msg}"
        );

        // A class with no curves at all (e.g. a subset keeping its parent's class list).
        let e = few_shot_splits(&labels_with_counts(&[30, 30]), &names(3), &small()).unwrap_err();
        assert!(matches!(e, EvalError::TooFewCurves { available: 0, .. }));
    }

    #[test]
    fn invalid_settings_and_labels_are_rejected() {
        let labels = labels_with_counts(&[30, 30]);
        let n = names(2);
        for s in [
            FewShotSettings {
                n_folds: 0,
                ..small()
            },
            FewShotSettings {
                spc: vec![],
                ..small()
            },
            FewShotSettings {
                spc: vec![5, 0],
                ..small()
            },
            FewShotSettings {
                spc: vec![5, 10, 5],
                ..small()
            },
            FewShotSettings {
                train_fraction: 1.5,
                ..small()
            },
            FewShotSettings {
                train_fraction: f64::NAN,
                ..small()
            },
        ] {
            assert!(
                matches!(
                    few_shot_splits(&labels, &n, &s),
                    Err(EvalError::InvalidSettings(_))
                ),
                "{s:?}"
            );
        }
        assert!(matches!(
            few_shot_splits(&[0, 2], &n, &small()),
            Err(EvalError::LabelOutOfRange { label: 2, .. })
        ));
        assert!(few_shot_splits(&[], &n, &small()).is_err());
    }

    #[test]
    fn train_fraction_edges() {
        let labels = labels_with_counts(&[40, 40]);
        let all_train = FewShotSettings {
            train_fraction: 1.0,
            n_folds: 1,
            ..small()
        };
        for sp in few_shot_splits(&labels, &names(2), &all_train).unwrap() {
            assert!(sp.val.is_empty());
            assert_eq!(sp.train.len(), 2 * sp.spc);
        }
        // round(0.8·5) = 4 → 4 + 1; round(0.5·5) = 3 (half away from zero) → 3 + 2.
        assert_eq!((small().n_train(5), small().n_val(5)), (4, 1));
        let half = FewShotSettings {
            train_fraction: 0.5,
            ..small()
        };
        assert_eq!((half.n_train(5), half.n_val(5)), (3, 2));
    }

    #[test]
    fn splits_of_a_light_curve_set() {
        use lightcurve::{LightCurveSet, OwnedLightCurve};
        let curve = |i: usize, label: Option<&str>| OwnedLightCurve {
            object_id: format!("obj{i}"),
            band: "R".into(),
            time: vec![0.0, 1.0, 2.5],
            mag: vec![15.0, 15.1, 14.9],
            err: vec![0.02; 3],
            label: label.map(str::to_string),
        };
        let curves: Vec<_> = (0..24)
            .map(|i| curve(i, Some(if i % 2 == 0 { "RRc" } else { "Cep_0" })))
            .collect();
        let lcs = LightCurveSet::from_curves(curves).unwrap();
        let s = FewShotSettings {
            n_folds: 2,
            test_per_class: 3,
            spc: vec![5],
            train_fraction: 0.8,
            seed: 1,
        };
        let splits = few_shot_splits_for_set(&lcs, &s).unwrap();
        assert_eq!(splits.len(), 2);
        let sp = &splits[0];
        assert_eq!(sp.test.len(), 6);
        // Class 0 is Cep_0 (alphabetical): the odd positions.
        let cep: Vec<usize> = sp.train.iter().copied().filter(|i| i % 2 == 1).collect();
        assert_eq!(cep.len(), 4);
        assert!(sp.train.iter().all(|&i| lcs.label(i) == Some(i % 2 ^ 1)));

        let unlabelled =
            LightCurveSet::from_curves((0..4).map(|i| curve(i, None)).collect()).unwrap();
        assert_eq!(
            few_shot_splits_for_set(&unlabelled, &s).unwrap_err(),
            EvalError::Unlabelled
        );
    }
}
