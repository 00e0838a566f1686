//! Proofs of correctness of the model crate (one test binary to keep link time down).

use astromer::dfdx::prelude::*;
use astromer::*;
use lightcurve::{PaddedWindow, WindowMeans};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn dev() -> Cpu {
    Cpu::seed_from_u64(0)
}

/// A window of length `l` with `n_valid` real points (distinct magnitudes).
fn window(l: usize, n_valid: usize, seed: u64) -> PaddedWindow {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut time = vec![0.0f32; l];
    let mut mag = vec![0.0f32; l];
    let mut err = vec![0.0f32; l];
    let mut t = 0.0f32;
    for i in 0..n_valid {
        t += rng.gen_range(0.5..3.0);
        time[i] = t;
        mag[i] = (t * 0.7).sin() + 0.01 * i as f32 + rng.gen_range(-0.1..0.1);
        err[i] = rng.gen_range(0.01..0.1);
    }
    let tm = time[..n_valid].iter().sum::<f32>() / n_valid as f32;
    let mm = mag[..n_valid].iter().sum::<f32>() / n_valid as f32;
    for i in 0..n_valid {
        time[i] -= tm;
        mag[i] -= mm;
    }
    let loss_weight = (0..l)
        .map(|i| {
            if i < n_valid {
                rng.gen_range(0.001..1.001)
            } else {
                0.5
            }
        })
        .collect();
    PaddedWindow {
        object_index: seed as usize,
        start: 0,
        time,
        mag,
        err,
        loss_weight,
        n_valid,
        means: WindowMeans::default(),
    }
}

fn tiny_config(n_blocks: usize) -> EncoderConfig {
    EncoderConfig {
        n_blocks,
        d_model: 8,
        n_heads: 2,
        ffn_width: 16,
        residual_projections: true,
        pe_base: 10000.0,
        mask_token: MaskTokenMode::Applied,
        attention_mask: AttentionMaskMode::KeyHidden,
        dropout: 0.1,
        layer_norm_eps: 1e-6,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Parameter counts (spec §9)

#[test]
fn parameter_counts_match_spec() {
    let d = dev();
    let a1 = Astromer::new(EncoderConfig::astromer1(), &d, 0).unwrap();
    assert_eq!(a1.parameter_count(), 661_505);

    let a2 = Astromer::new(EncoderConfig::astromer2(), &d, 0).unwrap();
    assert_eq!(a2.parameter_count(), 3_953_410);
    let a2_absent = Astromer::new(
        EncoderConfig {
            mask_token: MaskTokenMode::Absent,
            ..EncoderConfig::astromer2()
        },
        &d,
        0,
    )
    .unwrap();
    assert_eq!(a2_absent.parameter_count(), 3_953_409);
    let a2_official = Astromer::new(EncoderConfig::astromer2_official_graph(), &d, 0).unwrap();
    assert_eq!(a2_official.parameter_count(), 3_953_410);

    // Names and shapes of one block.
    let shapes = a2.parameter_shapes();
    let get = |n: &str| shapes.iter().find(|(k, _)| k == n).map(|(_, s)| s.clone());
    assert_eq!(get("embedding.magnitude.weight"), Some(vec![1, 256]));
    assert_eq!(get("embedding.mask_token"), Some(vec![1]));
    assert_eq!(get("blocks.3.attention.query.weight"), Some(vec![256, 256]));
    assert_eq!(get("blocks.5.ffn.inner.weight"), Some(vec![256, 512]));
    assert_eq!(get("blocks.5.ffn_residual.bias"), Some(vec![256]));
    assert_eq!(get("head.output.weight"), Some(vec![256, 1]));
    assert_eq!(
        get("blocks.0.attention_residual.weight"),
        Some(vec![256, 256])
    );
    let a1_shapes = a1.parameter_shapes();
    assert!(a1_shapes
        .iter()
        .all(|(n, _)| !n.contains("residual") && !n.contains("mask_token")));
}

#[test]
fn keras_initialisation() {
    let d = dev();
    let m = Astromer::new(tiny_config(1), &d, 7).unwrap();
    let w = m
        .parameter_values("blocks.0.attention.query.weight")
        .unwrap();
    let limit = (6.0f32 / 16.0).sqrt();
    assert!(w.iter().all(|x| x.abs() <= limit));
    assert!(w.iter().any(|x| x.abs() > 0.5 * limit));
    assert!(m
        .parameter_values("blocks.0.attention.query.bias")
        .unwrap()
        .iter()
        .all(|&x| x == 0.0));
    assert!(m
        .parameter_values("blocks.0.ffn_norm.weight")
        .unwrap()
        .iter()
        .all(|&x| x == 1.0));
    assert!(m
        .parameter_values("blocks.0.ffn_norm.bias")
        .unwrap()
        .iter()
        .all(|&x| x == 0.0));
    assert_eq!(
        m.parameter_values("embedding.mask_token").unwrap(),
        vec![0.0]
    );
    // Same seed → same weights; other seed → different.
    let m2 = Astromer::new(tiny_config(1), &d, 7).unwrap();
    let m3 = Astromer::new(tiny_config(1), &d, 8).unwrap();
    assert_eq!(
        w,
        m2.parameter_values("blocks.0.attention.query.weight")
            .unwrap()
    );
    assert_ne!(
        w,
        m3.parameter_values("blocks.0.attention.query.weight")
            .unwrap()
    );
}

#[test]
fn encoder_returns_every_block() {
    let d = dev();
    let m = Astromer::new(tiny_config(2), &d, 1).unwrap();
    let ws = vec![window(6, 6, 1), window(6, 4, 2)];
    let batch = MaskedBatch::evaluation(&ws).unwrap();
    let out = m.encode(&batch).unwrap();
    assert_eq!(out.blocks.len(), 2);
    assert_eq!(*out.embedding.shape(), (2, 6, 8));
    assert_eq!(out.all().len(), 3);
    let pred = m.predict(&batch).unwrap();
    assert_eq!(pred.len(), 12);
    assert!(pred.iter().all(|x| x.is_finite()));
}

#[test]
fn positional_encoding_is_interleaved() {
    let d = dev();
    let m = Astromer::new(tiny_config(1), &d, 1).unwrap();
    let t = d.tensor_from_vec(vec![0.0f32, 3.5], (2,));
    let pe = m.embedding.positional_encoding(&t).as_vec();
    for j in 0..8 {
        let angle = 3.5f64 * 10000f64.powf(-2.0 * j as f64 / 8.0);
        let want = if j % 2 == 0 { angle.sin() } else { angle.cos() };
        assert!((pe[8 + j] as f64 - want).abs() < 1e-5, "j={j}");
        let want0 = if j % 2 == 0 { 0.0 } else { 1.0 };
        assert!((pe[j] as f64 - want0).abs() < 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Masking invariance

fn roles_fixture(l: usize, n_valid: usize) -> Vec<ProbeRole> {
    (0..l)
        .map(|i| {
            if i >= n_valid {
                ProbeRole::Padding
            } else if i % 3 == 1 {
                ProbeRole::Masked
            } else if i == 0 {
                ProbeRole::Same
            } else {
                ProbeRole::Unprobed
            }
        })
        .collect()
}

fn perturb_hidden(batch: &MaskedBatch, only_masked: bool) -> MaskedBatch {
    let mut b2 = batch.clone();
    for (i, r) in batch.roles.iter().enumerate() {
        if *r == ProbeRole::Masked || (!only_masked && *r == ProbeRole::Padding) {
            b2.input_mag[i] += 3.0 + i as f32 * 0.1;
        }
    }
    b2
}

fn all_outputs(m: &Astromer<Cpu>, b: &MaskedBatch) -> (Vec<Vec<f32>>, Vec<f32>) {
    let out = m.encode(b).unwrap();
    (
        out.all().iter().map(|t| t.as_vec()).collect(),
        m.predict(b).unwrap(),
    )
}

#[test]
fn key_mask_with_token_hides_masked_and_padded_magnitudes_everywhere() {
    let d = dev();
    let m = Astromer::new(tiny_config(2), &d, 3).unwrap();
    let (l, nv) = (10, 7);
    let ws = vec![window(l, nv, 11), window(l, l, 12)];
    let roles = vec![roles_fixture(l, nv), roles_fixture(l, l)];
    let batch = MaskedBatch::with_roles(&ws, &roles).unwrap();
    let batch2 = perturb_hidden(&batch, false);
    assert_ne!(batch.input_mag, batch2.input_mag);
    let (z1, p1) = all_outputs(&m, &batch);
    let (z2, p2) = all_outputs(&m, &batch2);
    for (a, b) in z1.iter().zip(&z2) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-6, "{x} vs {y}");
        }
    }
    for (x, y) in p1.iter().zip(&p2) {
        assert!((x - y).abs() <= 1e-6);
    }
}

#[test]
fn official_graph_leaks_masked_magnitude_into_its_own_output_only() {
    let d = dev();
    let cfg = EncoderConfig {
        mask_token: MaskTokenMode::OfficialGraph,
        ..tiny_config(2)
    };
    let m = Astromer::new(cfg, &d, 3).unwrap();
    let (l, nv) = (10, 7);
    let ws = vec![window(l, nv, 11)];
    let batch = MaskedBatch::with_roles(&ws, &[roles_fixture(l, nv)]).unwrap();
    let batch2 = perturb_hidden(&batch, true);
    let p1 = m.predict(&batch).unwrap();
    let p2 = m.predict(&batch2).unwrap();
    let mut leaked = 0;
    for i in 0..l {
        let diff = (p1[i] - p2[i]).abs();
        match batch.roles[i] {
            ProbeRole::Masked => {
                assert!(
                    diff > 1e-3,
                    "masked position {i} should see its own magnitude (diff {diff})"
                );
                leaked += 1;
            }
            _ => assert!(
                diff <= 1e-6,
                "position {i} ({:?}) changed by {diff}",
                batch.roles[i]
            ),
        }
    }
    assert!(leaked >= 2);
}

#[test]
fn a1_plus_one_mask_does_not_hide_anything() {
    let d = dev();
    let cfg = EncoderConfig {
        residual_projections: false,
        mask_token: MaskTokenMode::Absent,
        attention_mask: AttentionMaskMode::A1QueryOrKeyPlusOne,
        ..tiny_config(2)
    };
    let m = Astromer::new(cfg.clone(), &d, 3).unwrap();
    let (l, nv) = (10, 7);
    let ws = vec![window(l, nv, 11)];
    let batch = MaskedBatch::with_roles(&ws, &[roles_fixture(l, nv)]).unwrap();
    let batch2 = perturb_hidden(&batch, true);
    let p1 = m.predict(&batch).unwrap();
    let p2 = m.predict(&batch2).unwrap();
    assert!(
        p1[0] != p2[0],
        "visible output must change: released A1 does not really mask"
    );
    // The same A1 architecture with the key mask: visible outputs are untouched.
    let m2 = Astromer::new(
        EncoderConfig {
            attention_mask: AttentionMaskMode::KeyHidden,
            ..cfg
        },
        &d,
        3,
    )
    .unwrap();
    let q1 = m2.predict(&batch).unwrap();
    let q2 = m2.predict(&batch2).unwrap();
    for i in 0..l {
        if !batch.roles[i].is_hidden() {
            assert!((q1[i] - q2[i]).abs() <= 1e-6);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Finite-difference gradient checks

fn fd_check(
    m: &mut Astromer<Cpu>,
    batch: &MaskedBatch,
    weighting: LossWeighting,
    name: &str,
    idx: &[usize],
) {
    let (_, grads) = m.loss_and_gradients(batch, weighting).unwrap();
    let g = &grads
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no grad {name}"))
        .1;
    let orig = m.parameter_values(name).unwrap();
    let eps = 5e-3f32;
    let loss_at = |m: &mut Astromer<Cpu>, v: &[f32]| -> f64 {
        m.set_parameter_values(name, v).unwrap();
        m.loss_and_gradients(batch, weighting).unwrap().0 as f64
    };
    let mut checked_nonzero = false;
    for &i in idx {
        let mut v = orig.clone();
        v[i] = orig[i] + eps;
        let lp = loss_at(m, &v);
        v[i] = orig[i] - eps;
        let lm = loss_at(m, &v);
        let fd = (lp - lm) / (2.0 * eps as f64);
        let bp = g[i] as f64;
        let tol = 2e-4 + 1e-2 * fd.abs().max(bp.abs());
        assert!(
            (fd - bp).abs() <= tol,
            "{name}[{i}]: finite difference {fd:.6} vs backward {bp:.6}"
        );
        if bp.abs() > 1e-4 {
            checked_nonzero = true;
        }
    }
    m.set_parameter_values(name, &orig).unwrap();
    assert!(
        checked_nonzero,
        "{name}: all checked gradients ~0, the check is vacuous"
    );
}

#[test]
fn finite_difference_gradients() {
    let d = dev();
    let mut m = Astromer::new(tiny_config(2), &d, 5).unwrap();
    m.set_parameter_values("embedding.mask_token", &[0.4])
        .unwrap();
    let l = 6;
    let ws = vec![window(l, 6, 21), window(l, 5, 22)];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = MaskedBatch::pretraining(
        &ws,
        &MaskFractions {
            probed: 0.7,
            same: 0.2,
            random: 0.2,
        },
        &mut rng,
    )
    .unwrap();
    assert!(batch.roles.contains(&ProbeRole::Masked));
    for w in [LossWeighting::Weighted, LossWeighting::Unweighted] {
        fd_check(
            &mut m,
            &batch,
            w,
            "blocks.0.attention.query.weight",
            &[0, 5, 17, 40, 63],
        );
        fd_check(
            &mut m,
            &batch,
            w,
            "blocks.1.attention.key.weight",
            &[1, 9, 33],
        );
        fd_check(&mut m, &batch, w, "embedding.mask_token", &[0]);
    }
    let w = LossWeighting::Weighted;
    fd_check(&mut m, &batch, w, "embedding.magnitude.weight", &[0, 3, 7]);
    fd_check(&mut m, &batch, w, "blocks.0.attention.value.bias", &[0, 4]);
    fd_check(
        &mut m,
        &batch,
        w,
        "blocks.1.attention_residual.weight",
        &[2, 30],
    );
    fd_check(
        &mut m,
        &batch,
        w,
        "blocks.0.ffn.inner.weight",
        &[0, 50, 100],
    );
    fd_check(&mut m, &batch, w, "blocks.1.ffn_norm.weight", &[0, 7]);
    // Through the fused LayerNorm (residual add included) and tanh kernels.
    fd_check(&mut m, &batch, w, "blocks.0.attention_norm.weight", &[1, 6]);
    fd_check(&mut m, &batch, w, "blocks.0.attention_norm.bias", &[0, 5]);
    fd_check(
        &mut m,
        &batch,
        w,
        "blocks.0.ffn_residual.weight",
        &[3, 20, 41],
    );
    fd_check(&mut m, &batch, w, "blocks.1.ffn.outer.weight", &[2, 60, 99]);
    fd_check(&mut m, &batch, w, "head.norm.weight", &[0, 2]);
    fd_check(&mut m, &batch, w, "head.norm.bias", &[4]);
    fd_check(&mut m, &batch, w, "head.output.weight", &[0, 3]);
    fd_check(&mut m, &batch, w, "head.output.bias", &[0]);
}

#[test]
fn unused_official_token_has_zero_gradient() {
    let d = dev();
    let cfg = EncoderConfig {
        mask_token: MaskTokenMode::OfficialGraph,
        ..tiny_config(1)
    };
    let m = Astromer::new(cfg, &d, 5).unwrap();
    let ws = vec![window(6, 6, 21)];
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let batch = MaskedBatch::pretraining(&ws, &MaskFractions::official(), &mut rng).unwrap();
    let (_, grads) = m
        .loss_and_gradients(&batch, LossWeighting::Weighted)
        .unwrap();
    let g = &grads
        .iter()
        .find(|(n, _)| n == "embedding.mask_token")
        .unwrap()
        .1;
    assert_eq!(g, &vec![0.0]);
}

// ---------------------------------------------------------------------------------------------
// 4. Masking fractions

#[test]
fn masking_fractions_full_window() {
    assert_eq!(MaskFractions::official().counts(200), (20, 16, 64));
    assert_eq!(MaskFractions::paper().counts(200), (20, 20, 60));
    let ws: Vec<_> = (0..4).map(|s| window(200, 200, s)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let b = MaskedBatch::pretraining(&ws, &MaskFractions::official(), &mut rng).unwrap();
    for w in 0..4 {
        let r = &b.roles[w * 200..(w + 1) * 200];
        let count = |x: ProbeRole| r.iter().filter(|&&y| y == x).count();
        assert_eq!(count(ProbeRole::Same), 20);
        assert_eq!(count(ProbeRole::Random), 16);
        assert_eq!(count(ProbeRole::Masked), 64);
        assert_eq!(count(ProbeRole::Unprobed), 100);
        assert_eq!(r.iter().filter(|x| x.is_scored()).count(), 100);
        assert_eq!(r.iter().filter(|x| x.is_hidden()).count(), 64);
    }
    let bp = MaskedBatch::pretraining(&ws, &MaskFractions::paper(), &mut rng).unwrap();
    assert_eq!(bp.role_counts(), [400, 80, 80, 240, 0]);
}

#[test]
fn masking_short_windows_and_random_replacements() {
    let ws = vec![window(200, 37, 1), window(200, 5, 2), window(200, 200, 3)];
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..20 {
        let b = MaskedBatch::pretraining(&ws, &MaskFractions::official(), &mut rng).unwrap();
        for (wi, w) in ws.iter().enumerate() {
            let base = wi * 200;
            let (same, random, masked) = MaskFractions::official().counts(w.n_valid);
            let r = &b.roles[base..base + 200];
            assert_eq!(r.iter().filter(|&&x| x == ProbeRole::Same).count(), same);
            assert_eq!(
                r.iter().filter(|&&x| x == ProbeRole::Random).count(),
                random
            );
            assert_eq!(
                r.iter().filter(|&&x| x == ProbeRole::Masked).count(),
                masked
            );
            for (i, &role) in r.iter().enumerate() {
                if i >= w.n_valid {
                    assert_eq!(role, ProbeRole::Padding);
                    assert!(!role.is_scored() && role.is_hidden());
                    assert_eq!(b.input_mag[base + i], 0.0);
                } else {
                    assert_ne!(role, ProbeRole::Padding);
                    assert_eq!(b.target[base + i], w.mag[i]);
                    if role == ProbeRole::Random {
                        let v = b.input_mag[base + i];
                        assert!(
                            w.mag[..w.n_valid].contains(&v),
                            "random value from the same window"
                        );
                    } else {
                        assert_eq!(b.input_mag[base + i], w.mag[i]);
                    }
                }
            }
        }
    }
    // 37 points: floor(18.5)=18 probed, ceil(3.6)=4 same, ceil(2.8)=3 random, 11 masked.
    assert_eq!(MaskFractions::official().counts(37), (4, 3, 11));
    assert_eq!(MaskFractions::official().counts(5), (1, 1, 0));
}

#[test]
fn evaluation_mode_scores_and_shows_every_real_point() {
    let ws = vec![window(20, 13, 1)];
    let b = MaskedBatch::evaluation(&ws).unwrap();
    for i in 0..20 {
        let r = b.roles[i];
        assert_eq!(r.is_scored(), i < 13);
        assert_eq!(r.is_hidden(), i >= 13);
        assert_eq!(b.visibility(i) == Visibility::Visible, i < 13);
    }
}

#[test]
fn inconsistent_windows_are_errors() {
    let mut w = window(10, 5, 1);
    w.mag.pop();
    assert!(MaskedBatch::evaluation(&[w]).is_err());
    assert!(MaskedBatch::evaluation(&[window(10, 5, 1), window(12, 5, 1)]).is_err());
    assert!(MaskedBatch::evaluation(&[]).is_err());
}

// ---------------------------------------------------------------------------------------------
// 5. Loss and metrics

fn loss_fixture() -> (MaskedBatch, Vec<f32>) {
    use ProbeRole::*;
    let b = MaskedBatch {
        batch_size: 2,
        window_len: 3,
        time: vec![0.0; 6],
        input_mag: vec![1.0, 2.0, 3.0, 0.0, 1.0, 0.0],
        target: vec![1.0, 2.0, 3.0, 0.0, 1.0, 0.0],
        loss_weight: vec![0.5, 1.0, 1.0, 1.0, 0.25, 1.0],
        roles: vec![Masked, Same, Unprobed, Random, Masked, Padding],
    };
    (b, vec![1.5, 2.0, 2.0, 1.0, 0.0, 5.0])
}

#[test]
fn rmse_and_r2_hand_computed() {
    let (b, pred) = loss_fixture();
    let un = masked_rmse(&pred, &b.target, &b.roles, None, 3);
    assert!((un - 0.75).abs() < 1e-12, "{un}");
    let w = masked_rmse(&pred, &b.target, &b.roles, Some(&b.loss_weight), 3);
    assert!((w - 0.34375f64.sqrt()).abs() < 1e-12, "{w}");
    let r2 = masked_r2(&pred, &b.target, &b.roles, 3);
    assert!((r2 - (-1.25)).abs() < 1e-12, "{r2}");
}

#[test]
fn device_loss_matches_host_rmse() {
    let d = dev();
    let (b, pred) = loss_fixture();
    let p = d.tensor_from_vec(pred.clone(), (2, 3));
    for (weighting, want) in [
        (LossWeighting::Unweighted, 0.75f32),
        (LossWeighting::Weighted, 0.34375f32.sqrt()),
    ] {
        let bt = BatchTensors::new(&b, AttentionMaskMode::KeyHidden, weighting, &d).unwrap();
        let got = astromer::model::reconstruction_loss(p.clone(), &bt).as_vec()[0];
        assert!((got - want).abs() < 1e-6, "{weighting:?}: {got} vs {want}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Checkpoints and training

fn train_batch(l: usize, seed: u64) -> MaskedBatch {
    let ws: Vec<_> = (0..3)
        .map(|s| window(l, l - s as usize, seed + s))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    MaskedBatch::pretraining(&ws, &MaskFractions::official(), &mut rng).unwrap()
}

#[test]
fn save_load_round_trip_and_errors() {
    let d = dev();
    let dir = tempfile::tempdir().unwrap();
    let mut m = Astromer::new(tiny_config(2), &d, 13).unwrap();
    m.set_parameter_values("embedding.mask_token", &[0.25])
        .unwrap();
    m.save(dir.path()).unwrap();
    let loaded = Astromer::load(dir.path(), &d).unwrap();
    let b = train_batch(8, 3);
    assert_eq!(m.predict(&b).unwrap(), loaded.predict(&b).unwrap());
    assert_eq!(loaded.config(), m.config());

    // Config mismatch → error, model untouched.
    let mut other = Astromer::new(
        EncoderConfig {
            ffn_width: 12,
            ..tiny_config(2)
        },
        &d,
        1,
    )
    .unwrap();
    let before = other.predict(&b).unwrap();
    let err = other.load_into(dir.path()).unwrap_err();
    assert!(
        matches!(err, CheckpointError::ConfigMismatch { .. }),
        "{err}"
    );
    // Shape mismatch on raw weights → error, not panic; model untouched.
    let err = other
        .load_weights(&dir.path().join("model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::ShapeMismatch { .. }),
        "{err}"
    );
    assert_eq!(before, other.predict(&b).unwrap());
    // Missing parameter (token absent in the file).
    let mut no_tok = Astromer::new(
        EncoderConfig {
            mask_token: MaskTokenMode::Absent,
            ..tiny_config(2)
        },
        &d,
        1,
    )
    .unwrap();
    let err = no_tok
        .load_weights(&dir.path().join("model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnexpectedTensors(_)),
        "{err}"
    );
    let dir2 = tempfile::tempdir().unwrap();
    no_tok.save(dir2.path()).unwrap();
    let err = m
        .load_weights(&dir2.path().join("model.safetensors"))
        .unwrap_err();
    assert!(
        matches!(err, CheckpointError::MissingTensor(ref n) if n == "embedding.mask_token"),
        "{err}"
    );
    // Missing directory / corrupt file.
    assert!(matches!(
        Astromer::<Cpu>::load(&dir.path().join("nope"), &d),
        Err(CheckpointError::Io { .. })
    ));
    std::fs::write(dir2.path().join("model.safetensors"), b"garbage").unwrap();
    assert!(matches!(
        no_tok.load_weights(&dir2.path().join("model.safetensors")),
        Err(CheckpointError::SafeTensors { .. })
    ));
}

#[test]
fn training_overfits_a_tiny_batch() {
    let d = dev();
    let cfg = EncoderConfig {
        dropout: 0.0,
        ..tiny_config(1)
    };
    let model = Astromer::new(cfg, &d, 2).unwrap();
    let adam = AdamSettings {
        lr: 1e-2,
        ..AdamSettings::official()
    };
    let mut trainer = Trainer::new(model, adam, LossWeighting::Weighted);
    let b = train_batch(10, 5);
    let first = trainer.eval_step(&b).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut last = first;
    for _ in 0..50 {
        last = trainer.train_step(&b, &mut rng).unwrap();
        assert!(last.loss.is_finite());
    }
    let after = trainer.eval_step(&b).unwrap();
    assert_eq!(trainer.step(), 50);
    assert!(
        after.loss < 0.5 * first.loss,
        "loss {} → {} (last train {})",
        first.loss,
        after.loss,
        last.loss
    );
    assert!(after.r2 > first.r2);
}

#[test]
fn training_is_deterministic_and_resumes_exactly() {
    let d = dev();
    let run = |steps: usize| {
        let model = Astromer::new(tiny_config(2), &d, 42).unwrap();
        let mut t = Trainer::new(
            model,
            AdamSettings {
                lr: 1e-3,
                ..AdamSettings::official()
            },
            LossWeighting::Weighted,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for s in 0..steps {
            t.train_step(&train_batch(8, s as u64), &mut rng).unwrap();
        }
        (t, rng)
    };
    let (a, _) = run(3);
    let (b, _) = run(3);
    for ((na, pa), (nb, pb)) in a.model.params().iter().zip(b.model.params().iter()) {
        assert_eq!(na, nb);
        assert_eq!(
            pa.to_vec(),
            pb.to_vec(),
            "{na} differs between identical runs"
        );
    }
    // Dropout is active in train_step: the same batch gives different losses with other masks.
    let (mut c, mut rng_c) = run(3);
    let dir = tempfile::tempdir().unwrap();
    c.save(dir.path()).unwrap();
    let mut resumed = Trainer::<Cpu>::load(dir.path(), &d).unwrap();
    assert_eq!(resumed.step(), 3);
    let mut rng_r = rng_c.clone();
    for s in 3..5 {
        let sa = c.train_step(&train_batch(8, s), &mut rng_c).unwrap();
        let sb = resumed.train_step(&train_batch(8, s), &mut rng_r).unwrap();
        assert_eq!(sa, sb);
    }
    for ((na, pa), (_, pb)) in c.model.params().iter().zip(resumed.model.params().iter()) {
        assert_eq!(pa.to_vec(), pb.to_vec(), "{na} differs after resume");
    }
}

#[test]
fn dropout_only_in_training() {
    let d = dev();
    let m = Astromer::new(tiny_config(1), &d, 1).unwrap();
    let b = train_batch(8, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let e1 = m.encode(&b).unwrap().last().as_vec();
    let e2 = m.encode(&b).unwrap().last().as_vec();
    assert_eq!(e1, e2);
    let t1 = m.encode_train(&b, &mut rng).unwrap().last().as_vec();
    assert_ne!(e1, t1);
    let mut rng2 = ChaCha8Rng::seed_from_u64(3);
    let t2 = m.encode_train(&b, &mut rng2).unwrap().last().as_vec();
    assert_eq!(t1, t2);
}

// ---------------------------------------------------------------------------------------------
// 7. CPU fast kernels (`astromer::kernels`) agree with the generic dfdx path

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    // Relative to the tensor's largest value; the floor covers gradients that are 0 in exact
    // arithmetic (e.g. the key bias: softmax ignores a per-query constant) and are rounding noise.
    let scale = b.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1e-2);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: fast {x} vs generic {y} (scale {scale})"
        );
    }
}

#[test]
fn fast_cpu_kernels_match_generic_path() {
    for (mode, token) in [
        (AttentionMaskMode::KeyHidden, MaskTokenMode::Applied),
        (
            AttentionMaskMode::A1QueryOrKeyPlusOne,
            MaskTokenMode::Absent,
        ),
    ] {
        let cfg = EncoderConfig {
            n_blocks: 2,
            d_model: 32,
            n_heads: 4,
            ffn_width: 48,
            residual_projections: mode == AttentionMaskMode::KeyHidden,
            attention_mask: mode,
            mask_token: token,
            ..tiny_config(2)
        };
        let m = Astromer::new(cfg, &dev(), 3).unwrap();
        let b = train_batch(24, 11);
        let fast_pred = m.predict(&b).unwrap();
        let gen_pred = kernels::with_generic_kernels(|| m.predict(&b).unwrap());
        assert_close("prediction", &fast_pred, &gen_pred, 1e-5);
        let fast_enc = m.encode(&b).unwrap();
        let gen_enc = kernels::with_generic_kernels(|| m.encode(&b).unwrap());
        for (x, y) in fast_enc.all().into_iter().zip(gen_enc.all()) {
            assert_close("encoding", &x.as_vec(), &y.as_vec(), 1e-5);
        }
        for w in [LossWeighting::Weighted, LossWeighting::Unweighted] {
            let (fl, fg) = m.loss_and_gradients(&b, w).unwrap();
            let (gl, gg) = kernels::with_generic_kernels(|| m.loss_and_gradients(&b, w).unwrap());
            assert!((fl - gl).abs() <= 1e-5 * gl.abs(), "loss {fl} vs {gl}");
            for ((n1, a), (n2, g)) in fg.iter().zip(&gg) {
                assert_eq!(n1, n2);
                assert_close(&format!("grad {n1}"), a, g, 1e-5);
            }
        }
        // A training step (dropout on) with the same RNG lands on the same parameters.
        let mut t1 = Trainer::new(m.clone(), AdamSettings::official(), LossWeighting::Weighted);
        let mut t2 = t1.clone();
        let s1 = t1
            .train_step(&b, &mut ChaCha8Rng::seed_from_u64(5))
            .unwrap();
        let s2 = kernels::with_generic_kernels(|| {
            t2.train_step(&b, &mut ChaCha8Rng::seed_from_u64(5))
                .unwrap()
        });
        assert!((s1.loss - s2.loss).abs() <= 1e-5 * s2.loss.abs());
        // Adam's first step moves every parameter by exactly ±lr (sign of its gradient), so
        // gradients that are 0 up to rounding (key biases) may step in opposite directions.
        let lr = AdamSettings::official().lr as f32;
        for ((n, p1), (_, p2)) in t1.model.params().iter().zip(t2.model.params().iter()) {
            for (x, y) in p1.to_vec().iter().zip(p2.to_vec()) {
                assert!(
                    (x - y).abs() <= 2.0 * lr * 1.001 + 1e-6,
                    "param {n}: {x} vs {y}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Fused CPU LayerNorm (with and without the residual add) and tanh: fast = generic, and each
// analytic backward = finite differences

use astromer::layers::{LayerNorm, Tensor2};

type Cpu2T = Tensor2<Cpu, OwnedTape<f32, Cpu>>;

fn values(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.gen_range(-1.0f32..1.0) * scale)
        .collect()
}

/// Σ y·w (in f64) of LN(x) or LN(r + x), without a tape.
fn ln_objective(
    ln: &LayerNorm<Cpu>,
    x: &[f32],
    r: Option<&[f32]>,
    w: &[f32],
    nd: (usize, usize),
) -> f64 {
    let d = dev();
    let xt = d.tensor_from_vec(x.to_vec(), nd);
    let y = match r {
        Some(r) => ln.forward_residual(d.tensor_from_vec(r.to_vec(), nd), xt),
        None => ln.forward(xt),
    };
    y.as_vec()
        .iter()
        .zip(w)
        .map(|(a, b)| *a as f64 * *b as f64)
        .sum()
}

/// y and the gradients of Σ y·w for x, r (empty without r), γ, β.
fn ln_grads(
    ln: &LayerNorm<Cpu>,
    x: &[f32],
    r: Option<&[f32]>,
    w: &[f32],
    nd: (usize, usize),
) -> (Vec<f32>, [Vec<f32>; 4]) {
    let d = dev();
    let xt = d.tensor_from_vec(x.to_vec(), nd);
    let rt = r.map(|r| d.tensor_from_vec(r.to_vec(), nd));
    let wt = d.tensor_from_vec(w.to_vec(), nd);
    let mut grads: Gradients<f32, Cpu> = Gradients::leaky();
    grads.try_alloc_for(&ln.weight).unwrap();
    grads.try_alloc_for(&ln.bias).unwrap();
    let xtr = xt.clone().traced(grads);
    let y: Cpu2T = match &rt {
        Some(rt) => ln.forward_residual(rt.retaped::<OwnedTape<f32, Cpu>>(), xtr),
        None => ln.forward(xtr),
    };
    let (yv, tape) = y.split_tape();
    let out = yv.as_vec();
    let g = (yv.put_tape(tape) * wt).sum::<(), _>().backward();
    let gr = rt.map_or(Vec::new(), |rt| g.get(&rt).as_vec());
    (
        out,
        [
            g.get(&xt).as_vec(),
            gr,
            g.get(&ln.weight).as_vec(),
            g.get(&ln.bias).as_vec(),
        ],
    )
}

#[test]
fn fused_layer_norm_matches_generic_and_finite_differences() {
    let d = dev();
    for (nd, eps, residual) in [
        ((5, 8), 1e-6, false),
        ((5, 8), 1e-6, true),
        ((70, 33), 1e-3, true),
    ] {
        let (n, dm) = nd;
        let mut ln = LayerNorm::new(&d, dm, eps);
        ln.weight = d.tensor_from_vec(values(dm, 1, 1.0).iter().map(|v| 1.0 + v).collect(), (dm,));
        ln.bias = d.tensor_from_vec(values(dm, 2, 0.5), (dm,));
        // Rows with an offset, so the mean matters.
        let x: Vec<f32> = values(n * dm, 3, 2.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i / dm) as f32 * 0.3)
            .collect();
        let r = values(n * dm, 4, 1.0);
        let r = residual.then_some(&r[..]);
        let w = values(n * dm, 5, 1.0);
        let (fy, fg) = ln_grads(&ln, &x, r, &w, nd);
        let (gy, gg) = kernels::with_generic_kernels(|| ln_grads(&ln, &x, r, &w, nd));
        assert_close("LN output", &fy, &gy, 1e-5);
        for (name, a, b) in [
            ("x", &fg[0], &gg[0]),
            ("r", &fg[1], &gg[1]),
            ("gamma", &fg[2], &gg[2]),
            ("beta", &fg[3], &gg[3]),
        ] {
            assert_close(&format!("LN grad {name}"), a, b, 1e-5);
        }
        if residual {
            assert_eq!(fg[0], fg[1], "x and r get the same gradient");
        }
        if n > 5 {
            continue;
        }
        // Finite differences of the fast forward against the fast analytic backward.
        let h = 1e-2f32;
        let check = |what: &str, i: usize, fd: f64, bp: f32| {
            let bp = bp as f64;
            assert!(
                (fd - bp).abs() <= 2e-4 + 1e-2 * fd.abs().max(bp.abs()),
                "LN {what}[{i}]: finite difference {fd:.6} vs backward {bp:.6}"
            );
        };
        for i in [0, 3, 9, 17, 39] {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (ln_objective(&ln, &xp, r, &w, nd) - ln_objective(&ln, &xm, r, &w, nd))
                / (2.0 * h as f64);
            check("x", i, fd, fg[0][i]);
            if let Some(r) = r {
                let (mut rp, mut rm) = (r.to_vec(), r.to_vec());
                rp[i] += h;
                rm[i] -= h;
                let fd = (ln_objective(&ln, &x, Some(&rp), &w, nd)
                    - ln_objective(&ln, &x, Some(&rm), &w, nd))
                    / (2.0 * h as f64);
                check("r", i, fd, fg[1][i]);
            }
        }
        for j in [0, 4, 7] {
            for (k, name) in [(2, "gamma"), (3, "beta")] {
                let base = if k == 2 {
                    ln.weight.as_vec()
                } else {
                    ln.bias.as_vec()
                };
                let at = |v: f32| {
                    let mut l2 = ln.clone();
                    let mut p = base.clone();
                    p[j] = v;
                    let t = d.tensor_from_vec(p, (dm,));
                    if k == 2 {
                        l2.weight = t;
                    } else {
                        l2.bias = t;
                    }
                    ln_objective(&l2, &x, r, &w, nd)
                };
                let fd = (at(base[j] + h) - at(base[j] - h)) / (2.0 * h as f64);
                check(name, j, fd, fg[k][j]);
            }
        }
    }
}

/// y and dΣ(y·w)/dx of the fused/generic tanh.
fn tanh_grads(x: &[f32], w: &[f32], nd: (usize, usize)) -> (Vec<f32>, Vec<f32>) {
    let d = dev();
    let xt = d.tensor_from_vec(x.to_vec(), nd);
    let wt = d.tensor_from_vec(w.to_vec(), nd);
    let y: Cpu2T = layers::tanh(xt.clone().traced(Gradients::leaky()));
    let (yv, tape) = y.split_tape();
    let out = yv.as_vec();
    let g = (yv.put_tape(tape) * wt).sum::<(), _>().backward();
    (out, g.get(&xt).as_vec())
}

#[test]
fn fused_tanh_matches_generic_and_finite_differences() {
    let nd = (37, 29);
    let x = values(nd.0 * nd.1, 7, 4.0);
    let w = values(nd.0 * nd.1, 8, 1.0);
    let (fy, fg) = tanh_grads(&x, &w, nd);
    let (gy, gg) = kernels::with_generic_kernels(|| tanh_grads(&x, &w, nd));
    assert_close("tanh", &fy, &gy, 1e-6);
    assert_close("tanh grad", &fg, &gg, 1e-5);
    let d = dev();
    let obj = |x: &[f32]| -> f64 {
        let y = layers::tanh(d.tensor_from_vec(x.to_vec(), nd));
        y.as_vec()
            .iter()
            .zip(&w)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum()
    };
    let h = 1e-2f32;
    for i in [0, 1, 50, 333, 700, 1000] {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let fd = (obj(&xp) - obj(&xm)) / (2.0 * h as f64);
        let bp = fg[i] as f64;
        assert!(
            (fd - bp).abs() <= 2e-4 + 1e-2 * fd.abs().max(bp.abs()),
            "tanh[{i}] (x = {}): finite difference {fd:.6} vs backward {bp:.6}",
            x[i]
        );
    }
}

#[test]
fn fast_tanh_error_is_bounded() {
    // A 1/61 sample of the f32 bit patterns in [0, 12] and its negation (beyond: exactly ±1);
    // the exhaustive run gave 4.4e-7 absolute, 7.4 ulp (see `kernels::fast_tanh`).
    let (mut max_abs, mut max_ulp) = (0.0f64, 0.0f64);
    let top = 12.0f32.to_bits();
    for bits in (0..=top).step_by(61).chain([top]) {
        let x = f32::from_bits(bits);
        for x in [x, -x] {
            let f = kernels::fast_tanh(x);
            let t = (x as f64).tanh();
            let e = (f as f64 - t).abs();
            let tf = (t as f32).abs();
            let ulp = (f32::from_bits(tf.to_bits() + 1) - tf) as f64;
            max_abs = max_abs.max(e);
            max_ulp = max_ulp.max(e / ulp);
            assert_eq!(f, -kernels::fast_tanh(-x), "odd at {x}");
            assert!(f.abs() <= 1.0);
        }
    }
    assert!(max_abs <= 4.5e-7, "max abs error {max_abs:e}");
    assert!(max_ulp <= 7.5, "max ulp error {max_ulp}");
    for x in [9.0f32, 20.0, 1e30, f32::INFINITY] {
        assert_eq!(kernels::fast_tanh(x), 1.0);
        assert_eq!(kernels::fast_tanh(-x), -1.0);
    }
    assert!(kernels::fast_tanh(f32::NAN).is_nan());
    assert_eq!(kernels::fast_tanh(1e-5), 1e-5);
}

#[test]
fn fast_exp_error_is_bounded() {
    // Runaway logits far below the −87 cut give 0, never an integer overflow in the exponent bits.
    for x in [-88.5f32, -1.744e7, -1e30, f32::NEG_INFINITY] {
        assert_eq!(astromer::kernels::fast_exp(x), 0.0, "{x}");
    }
    assert!(astromer::kernels::fast_exp(f32::NAN).is_nan());
    // Every 31st f32 in [−87, 88] (the softmax uses x ≤ 0); 0 below −87.
    let mut max_rel = 0.0f64;
    let check = |x: f32, max_rel: &mut f64| {
        let f = kernels::fast_exp(x) as f64;
        let t = (x as f64).exp();
        *max_rel = max_rel.max((f - t).abs() / t);
    };
    for bits in (0..=87.0f32.to_bits()).step_by(31) {
        check(-f32::from_bits(bits), &mut max_rel);
    }
    for bits in (0..=88.0f32.to_bits()).step_by(31) {
        check(f32::from_bits(bits), &mut max_rel);
    }
    // Exhaustive run: 8.3e-8 (0.99 ulp), see `kernels::fast_exp`.
    assert!(max_rel <= 1e-7, "max relative error {max_rel:e}");
    assert_eq!(kernels::fast_exp(0.0), 1.0);
    for x in [-87.01f32, -104.0, -1e9, f32::NEG_INFINITY] {
        assert_eq!(kernels::fast_exp(x), 0.0);
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Fused CPU Adam: the same bits as the generic elementwise ops, and copy-on-write for clones

/// Two parameters (a vector and a matrix), as every model and head hands them to Adam.
#[derive(Clone)]
struct TwoParams {
    bias: astromer::layers::Tensor1<Cpu>,
    weight: Tensor2<Cpu>,
}

impl Parameters<Cpu> for TwoParams {
    fn named_params(&self) -> astromer::layers::NamedParams<'_, Cpu> {
        vec![
            ("bias".into(), astromer::layers::ParamRef::R1(&self.bias)),
            ("weight".into(), astromer::layers::ParamRef::R2(&self.weight)),
        ]
    }
    fn named_params_mut(&mut self) -> astromer::layers::NamedParamsMut<'_, Cpu> {
        vec![
            ("bias".into(), astromer::layers::ParamMut::R1(&mut self.bias)),
            ("weight".into(), astromer::layers::ParamMut::R2(&mut self.weight)),
        ]
    }
}

#[test]
fn fused_adam_equals_the_generic_update_bit_for_bit() {
    let dev = dev();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut values = |n: usize, scale: f32| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-scale..scale)).collect() };
    let start = TwoParams {
        bias: dev.tensor_from_vec(values(7, 1.0), (7,)),
        weight: dev.tensor_from_vec(values(5 * 3, 1.0), (5, 3)),
    };
    let gradient_sets: Vec<(Vec<f32>, Vec<f32>)> = (0..4).map(|_| (values(7, 3.0), values(15, 3.0))).collect();
    let run = |generic: bool| {
        let mut model = start.clone();
        let mut adam = Adam::new(AdamSettings { lr: 1e-2, ..AdamSettings::official() }, &model);
        let kept = model.clone();
        for (gb, gw) in &gradient_sets {
            let mut grads = model.zero_gradients();
            grads.get_or_alloc_mut(&model.bias).unwrap().copy_from_slice(gb);
            grads.get_or_alloc_mut(&model.weight).unwrap().copy_from_slice(gw);
            if generic {
                kernels::with_generic_kernels(|| adam.update(&mut model, &grads)).unwrap();
            } else {
                adam.update(&mut model, &grads).unwrap();
            }
        }
        // A clone taken before the updates (a kept best-epoch head) still holds the old values.
        assert_eq!(kept.weight.as_vec(), start.weight.as_vec());
        assert_eq!(kept.bias.as_vec(), start.bias.as_vec());
        let moments: Vec<Vec<f32>> = adam.moments.iter().flat_map(|m| [m.m.as_vec(), m.v.as_vec()]).collect();
        (model.bias.as_vec(), model.weight.as_vec(), moments)
    };
    let (fast, generic) = (run(false), run(true));
    assert_eq!(fast, generic);
    assert_ne!(fast.1, start.weight.as_vec(), "four updates must move the weights");
}
