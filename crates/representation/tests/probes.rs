//! Behavioural tests of the probes (one test binary to keep link time down).

use astromer::dfdx::prelude::*;
use astromer::{Astromer, AttentionMaskMode, EncoderConfig, MaskedBatch, MaskTokenMode};
use lightcurve::{PaddedWindow, WindowMeans};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use representation::*;

// ---------------------------------------------------------------- helpers

fn dev() -> Cpu {
    Cpu::seed_from_u64(0)
}

/// Window of length `l` with `n_valid` real points; padding holds zeros.
fn window(l: usize, n_valid: usize, seed: u64) -> PaddedWindow {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut time = vec![0.0f32; l];
    let mut mag = vec![0.0f32; l];
    let mut err = vec![0.0f32; l];
    let mut t = 0.0f32;
    for i in 0..n_valid {
        t += rng.gen_range(0.5..3.0);
        time[i] = t;
        mag[i] = (t * 0.7).sin() + rng.gen_range(-0.3..0.3);
        err[i] = rng.gen_range(0.01..0.1);
    }
    let tm = time[..n_valid].iter().sum::<f32>() / n_valid.max(1) as f32;
    let mm = mag[..n_valid].iter().sum::<f32>() / n_valid.max(1) as f32;
    for i in 0..n_valid {
        time[i] -= tm;
        mag[i] -= mm;
    }
    PaddedWindow {
        object_index: seed as usize,
        start: 0,
        time,
        mag,
        err,
        loss_weight: vec![1.0; l],
        n_valid,
        means: WindowMeans::default(),
    }
}

/// Same real observations, cut to a window without padding.
fn unpadded(w: &PaddedWindow) -> PaddedWindow {
    let n = w.n_valid;
    PaddedWindow {
        time: w.time[..n].to_vec(),
        mag: w.mag[..n].to_vec(),
        err: w.err[..n].to_vec(),
        loss_weight: w.loss_weight[..n].to_vec(),
        ..w.clone()
    }
}

fn small_config(n_blocks: usize) -> EncoderConfig {
    EncoderConfig {
        n_blocks,
        d_model: 16,
        n_heads: 2,
        ffn_width: 24,
        ..EncoderConfig::astromer2()
    }
}

/// A model whose biases and LayerNorm parameters are random too (Keras init leaves them 0 / 1,
/// which would hide bias-handling mistakes).
fn model(cfg: EncoderConfig, seed: u64) -> Astromer<Cpu> {
    let mut m = Astromer::new(cfg, &dev(), seed).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    for (name, shape) in m.parameter_shapes() {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = if name.ends_with("norm.weight") {
            (0..n).map(|_| 1.0 + rng.gen_range(-0.3..0.3)).collect()
        } else if name.ends_with(".bias") || name.ends_with("mask_token") {
            (0..n).map(|_| rng.gen_range(-0.3..0.3)).collect()
        } else if name.contains("attention.query") || name.contains("attention.key") {
            // Sharper attention than Glorot gives at d = 16.
            m.parameter_values(&name).unwrap().iter().map(|x| 3.0 * x).collect()
        } else {
            continue;
        };
        m.set_parameter_values(&name, &v).unwrap();
    }
    m
}

fn param(m: &Astromer<Cpu>, name: &str) -> Vec<f64> {
    m.parameter_values(name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .into_iter()
        .map(|x| x as f64)
        .collect()
}

/// x (n × fin) · W (fin × fout) + b, in f64.
fn dense(m: &Astromer<Cpu>, prefix: &str, x: &[f64], fin: usize) -> Vec<f64> {
    let w = param(m, &format!("{prefix}.weight"));
    let b = param(m, &format!("{prefix}.bias"));
    let fout = b.len();
    assert_eq!(w.len(), fin * fout);
    let n = x.len() / fin;
    let mut y = vec![0.0; n * fout];
    for r in 0..n {
        for o in 0..fout {
            let mut s = b[o];
            for i in 0..fin {
                s += x[r * fin + i] * w[i * fout + o];
            }
            y[r * fout + o] = s;
        }
    }
    y
}

fn layer_norm(m: &Astromer<Cpu>, prefix: &str, x: &[f64], d: usize) -> Vec<f64> {
    let g = param(m, &format!("{prefix}.weight"));
    let b = param(m, &format!("{prefix}.bias"));
    let eps = m.config().layer_norm_eps as f64;
    let (g, b) = (&g, &b);
    x.chunks_exact(d)
        .flat_map(|r| {
            let mu = r.iter().sum::<f64>() / d as f64;
            let var = r.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / d as f64;
            let inv = 1.0 / (var + eps).sqrt();
            (0..d).map(move |i| (r[i] - mu) * inv * g[i] + b[i]).collect::<Vec<_>>()
        })
        .collect()
}

/// Block `k`'s output at the valid steps of one window, from its input `x` (n × d, valid rows)
/// and the attention maps: O_h = A_h V_h, merge, (R1 +) LN, FFN tanh, (R2 +) LN.
fn block_from_maps(m: &Astromer<Cpu>, k: usize, x: &[f64], maps: &AttentionMaps) -> Vec<f64> {
    let d = m.config().d_model;
    let h = maps.n_heads;
    let hd = d / h;
    let n = maps.n_valid;
    let p = format!("blocks.{k}");
    let v = dense(m, &format!("{p}.attention.value"), x, d);
    let mut o = vec![0.0; n * d];
    for hh in 0..h {
        let a = maps.head(hh);
        for q in 0..n {
            for c in 0..hd {
                o[q * d + hh * hd + c] = (0..n)
                    .map(|kk| a[q * n + kk] as f64 * v[kk * d + hh * hd + c])
                    .sum();
            }
        }
    }
    let mut a = dense(m, &format!("{p}.attention.merge"), &o, d);
    if m.config().residual_projections {
        let r1 = dense(m, &format!("{p}.attention_residual"), x, d);
        a.iter_mut().zip(&r1).for_each(|(a, r)| *a += r);
    }
    let hn = layer_norm(m, &format!("{p}.attention_norm"), &a, d);
    let inner: Vec<f64> = dense(m, &format!("{p}.ffn.inner"), &hn, d)
        .into_iter()
        .map(f64::tanh)
        .collect();
    let mut f = dense(m, &format!("{p}.ffn.outer"), &inner, m.config().ffn_width);
    if m.config().residual_projections {
        let r2 = dense(m, &format!("{p}.ffn_residual"), &hn, d);
        f.iter_mut().zip(&r2).for_each(|(a, r)| *a += r);
    }
    layer_norm(m, &format!("{p}.ffn_norm"), &f, d)
}

/// Checks every window's maps against the model's own block output (valid steps).
fn assert_consistent_with_model(m: &Astromer<Cpu>, windows: &[PaddedWindow], block: usize) {
    let d = m.config().d_model;
    let l = windows[0].len();
    let maps = attention_maps(m, windows, block).unwrap();
    let enc = m.encode(&MaskedBatch::evaluation(windows).unwrap()).unwrap();
    let input = if block == 0 {
        enc.embedding.as_vec()
    } else {
        enc.blocks[block - 1].as_vec()
    };
    let target = enc.blocks[block].as_vec();
    let mut worst = 0.0f64;
    for (wi, (w, mp)) in windows.iter().zip(&maps).enumerate() {
        let n = w.n_valid;
        let x: Vec<f64> = input[wi * l * d..(wi * l + n) * d].iter().map(|&v| v as f64).collect();
        let y = block_from_maps(m, block, &x, mp);
        for (a, b) in y.iter().zip(&target[wi * l * d..(wi * l + n) * d]) {
            worst = worst.max((a - *b as f64).abs());
        }
    }
    assert!(worst < 1e-4, "block {block}: max |recomputed − encode| = {worst}");
}

fn windows_with_padding(l: usize) -> Vec<PaddedWindow> {
    vec![window(l, l, 1), window(l, 7, 2), window(l, 3, 3), window(l, 1, 4)]
}

// ---------------------------------------------------------------- attention

#[test]
fn attention_reproduces_the_model_block_outputs() {
    let m = model(small_config(2), 7);
    let ws = windows_with_padding(12);
    assert_consistent_with_model(&m, &ws, 0);
    assert_consistent_with_model(&m, &ws, 1);
    // A2 as the official graph runs (token present, not applied) and without residuals.
    let m = model(
        EncoderConfig {
            mask_token: MaskTokenMode::OfficialGraph,
            residual_projections: false,
            ..small_config(2)
        },
        8,
    );
    assert_consistent_with_model(&m, &ws, 1);
}

#[test]
fn attention_maps_are_row_stochastic_over_valid_keys_only() {
    let m = model(small_config(2), 9);
    let ws = windows_with_padding(12);
    for block in 0..2 {
        let maps = attention_maps(&m, &ws, block).unwrap();
        assert_eq!(maps.len(), ws.len());
        for (w, mp) in ws.iter().zip(&maps) {
            let n = w.n_valid;
            assert_eq!((mp.n_heads, mp.n_valid), (2, n));
            assert_eq!(mp.weights.len(), 2 * n * n, "padded keys must not appear");
            for h in 0..2 {
                for row in mp.head(h).chunks_exact(n) {
                    assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                    assert!(row.iter().all(|&x| (0.0..=1.0).contains(&x)));
                }
                let r = mp.received(Some(h));
                assert_eq!(r.len(), n);
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
            let mean = mp.mean_over_heads();
            for (i, v) in mean.iter().enumerate() {
                let want = (mp.head(0)[i] + mp.head(1)[i]) / 2.0;
                assert!((v - want).abs() < 1e-6);
            }
            let r = mp.received(None);
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            // received(None) = column means of the head-mean map.
            for k in 0..n {
                let want = (0..n).map(|q| mean[q * n + k]).sum::<f32>() / n as f32;
                assert!((r[k] - want).abs() < 1e-6);
            }
        }
        // A single observation attends only to itself.
        assert_eq!(maps[3].weights, vec![1.0, 1.0]);
    }
    // The weights are not uniform (the test model has sharp attention).
    let maps = attention_maps(&m, &ws[..1], 0).unwrap();
    let max = maps[0].weights.iter().cloned().fold(0.0f32, f32::max);
    assert!(max > 2.0 / 12.0, "max weight {max}");
}

#[test]
fn attention_does_not_depend_on_padding_or_batch() {
    let m = model(small_config(2), 11);
    let ws = windows_with_padding(12);
    for block in 0..2 {
        let maps = attention_maps(&m, &ws, block).unwrap();
        for (w, mp) in ws.iter().zip(&maps) {
            let alone = attention_maps(&m, &[unpadded(w)], block).unwrap();
            let worst = mp
                .weights
                .iter()
                .zip(&alone[0].weights)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "block {block}, n_valid {}: {worst}", w.n_valid);
        }
    }
    // More windows than one internal chunk: same maps as one by one.
    let many: Vec<PaddedWindow> = (0..70).map(|i| window(10, 2 + i % 9, 100 + i as u64)).collect();
    let all = attention_maps(&m, &many, 1).unwrap();
    let last = attention_maps(&m, &many[69..], 1).unwrap();
    let worst = all[69]
        .weights
        .iter()
        .zip(&last[0].weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5);
}

#[test]
fn attention_errors() {
    let m = model(small_config(2), 12);
    let ws = windows_with_padding(12);
    assert!(matches!(
        attention_maps(&m, &ws, 2),
        Err(RepresentationError::BlockOutOfRange { block: 2, n_blocks: 2 })
    ));
    assert!(matches!(attention_maps(&m, &[], 0), Err(RepresentationError::NoWindows)));
    let mut empty = window(12, 5, 1);
    empty.n_valid = 0;
    assert!(matches!(
        attention_maps(&m, &[ws[0].clone(), empty], 0),
        Err(RepresentationError::EmptyWindow { index: 1 })
    ));
    assert!(matches!(
        attention_maps(&m, &[ws[0].clone(), window(10, 5, 1)], 0),
        Err(RepresentationError::InvalidWindow { index: 1, .. })
    ));
    let mut bad = window(12, 5, 1);
    bad.n_valid = 13;
    assert!(attention_maps(&m, &[bad], 0).is_err());
    let e = attention_maps(&m, &ws, 5).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn a1_mask_is_reproduced_for_unpadded_windows_and_refused_with_padding() {
    let cfg = EncoderConfig {
        n_blocks: 2,
        d_model: 16,
        n_heads: 2,
        ffn_width: 24,
        ..EncoderConfig::astromer1()
    };
    assert_eq!(cfg.attention_mask, AttentionMaskMode::A1QueryOrKeyPlusOne);
    let m = model(cfg, 13);
    let full = vec![window(9, 9, 1), window(9, 9, 2)];
    assert_consistent_with_model(&m, &full, 0);
    assert_consistent_with_model(&m, &full, 1);
    let e = attention_maps(&m, &windows_with_padding(9), 0).unwrap_err();
    assert!(matches!(e, RepresentationError::UnsupportedMasking(_)), "{e}");
}

// ---------------------------------------------------------------- block embeddings

#[test]
fn block_embeddings_shapes_and_reductions() {
    let m = model(small_config(2), 21);
    let (l, d) = (12, 16);
    let ws = windows_with_padding(l);
    let enc = m.encode(&MaskedBatch::evaluation(&ws).unwrap()).unwrap();
    let reps: Vec<Vec<f32>> = enc.all().into_iter().map(|t| t.as_vec()).collect();
    for reduction in Reduction::ALL {
        for batch_size in [1, 3, 10] {
            let mats = block_embeddings(&m, &ws, reduction, batch_size).unwrap();
            assert_eq!(mats.len(), 3, "embedding + 2 blocks");
            for (r, mat) in mats.iter().enumerate() {
                assert_eq!(mat.rows, ws.len());
                let cols = if reduction == Reduction::Concat { l * d } else { d };
                assert_eq!(mat.cols, cols);
                for (wi, w) in ws.iter().enumerate() {
                    let n = w.n_valid;
                    let x = &reps[r][wi * l * d..(wi + 1) * l * d];
                    let row = mat.row(wi);
                    match reduction {
                        Reduction::Mean => {
                            for c in 0..d {
                                let want =
                                    (0..n).map(|s| x[s * d + c] as f64).sum::<f64>() / n as f64;
                                assert!((row[c] as f64 - want).abs() < 1e-5);
                            }
                        }
                        Reduction::Max => {
                            for c in 0..d {
                                let want =
                                    (0..n).map(|s| x[s * d + c]).fold(f32::NEG_INFINITY, f32::max);
                                assert_eq!(row[c], want);
                            }
                        }
                        Reduction::Concat => {
                            assert_eq!(&row[..n * d], &x[..n * d]);
                            assert!(row[n * d..].iter().all(|&v| v == 0.0));
                        }
                    }
                }
            }
        }
    }
    // Index 0 is the input embedding: padding-independent, so a window's row equals its
    // unpadded version's (mean), and block outputs too (A2 key mask).
    let a = block_embeddings(&m, &ws[1..2], Reduction::Mean, 4).unwrap();
    let b = block_embeddings(&m, &[unpadded(&ws[1])], Reduction::Mean, 4).unwrap();
    for (x, y) in a.iter().zip(&b) {
        for (u, v) in x.data.iter().zip(&y.data) {
            assert!((u - v).abs() < 1e-5);
        }
    }
}

#[test]
fn block_embeddings_errors() {
    let m = model(small_config(1), 22);
    let ws = windows_with_padding(8);
    assert!(matches!(
        block_embeddings(&m, &ws, Reduction::Mean, 0),
        Err(RepresentationError::ZeroBatchSize)
    ));
    assert!(matches!(
        block_embeddings(&m, &[], Reduction::Max, 4),
        Err(RepresentationError::NoWindows)
    ));
    let mut e = ws[0].clone();
    e.n_valid = 0;
    assert!(block_embeddings(&m, &[e], Reduction::Concat, 4).is_err());
}

#[test]
fn reduction_serde_names() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct W {
        r: Reduction,
        t: TsneSettings,
    }
    let s = toml::to_string(&W {
        r: Reduction::Concat,
        t: TsneSettings::default(),
    })
    .unwrap();
    assert!(s.contains("r = \"concat\""), "{s}");
    let back: W = toml::from_str(&s).unwrap();
    assert_eq!(back.r, Reduction::Concat);
    assert_eq!(back.t, TsneSettings::default());
    let names: Vec<&str> = Reduction::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names, ["mean", "max", "concat"]);
}

// ---------------------------------------------------------------- silhouette

fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[test]
fn silhouette_hand_computed() {
    // Cosine distances: d01 = 1 − c, d02 = 1, d03 = 2, d12 = 1 − c, d13 = 1 + c, d23 = 1
    // with c = 1/√2. Clusters {0, 1}, {2, 3}.
    let c = std::f64::consts::FRAC_1_SQRT_2;
    let x = Matrix::new(4, 2, vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, -1.0, 0.0]).unwrap();
    let s0 = (1.5 - (1.0 - c)) / 1.5;
    let s1 = c; // a = 1 − c, b = ((1 − c) + (1 + c))/2 = 1
    let s2 = -c / 2.0; // a = 1, b = (1 + 1 − c)/2
    let s3 = (0.5 + c / 2.0) / (1.5 + c / 2.0); // a = 1, b = (2 + 1 + c)/2
    let want = (s0 + s1 + s2 + s3) / 4.0;
    let got = silhouette_cosine(&x, &[5, 5, 9, 9]).unwrap();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    // Cosine: positive row scaling changes nothing.
    let y = Matrix::new(4, 2, vec![3.0, 0.0, 0.5, 0.5, 0.0, 7.0, -2.0, 0.0]).unwrap();
    assert!((silhouette_cosine(&y, &[5, 5, 9, 9]).unwrap() - want).abs() < 1e-6);
    // Singleton cluster scores 0: labels {0,1} | {2} | {3}.
    // s0 = (b − a)/max with a = 1 − c, b = min(d02, d03) = 1; s1: a = 1 − c, b = min(1 − c, 1 + c).
    let s0 = (1.0 - (1.0 - c)) / 1.0;
    let s1 = 0.0;
    let got = silhouette_cosine(&x, &[0, 0, 1, 2]).unwrap();
    assert!((got - (s0 + s1) / 4.0).abs() < 1e-6, "{got}");
}

#[test]
fn silhouette_separated_and_random() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let dim = 8;
    // Two tight clusters around orthogonal directions.
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..60 {
        let cl = i % 2;
        for j in 0..dim {
            let centre = if j == cl { 10.0 } else { 0.0 };
            data.push(centre + 0.1 * gauss(&mut rng));
        }
        labels.push(cl);
    }
    let x = Matrix::new(60, dim, data).unwrap();
    let s = silhouette_cosine(&x, &labels).unwrap();
    assert!(s > 0.95, "{s}");
    // Random data, random labels.
    let n = 400;
    let data: Vec<f32> = (0..n * dim).map(|_| gauss(&mut rng)).collect();
    let labels: Vec<usize> = (0..n).map(|_| rng.gen_range(0..3)).collect();
    let x = Matrix::new(n, dim, data).unwrap();
    let s = silhouette_cosine(&x, &labels).unwrap();
    assert!(s.abs() < 0.05, "{s}");
}

#[test]
fn silhouette_errors() {
    let x = Matrix::new(3, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
    assert!(matches!(
        silhouette_cosine(&x, &[0, 0]),
        Err(RepresentationError::LengthMismatch { .. })
    ));
    assert!(matches!(
        silhouette_cosine(&x, &[1, 1, 1]),
        Err(RepresentationError::LabelCount { present: 1, .. })
    ));
    assert!(matches!(
        silhouette_cosine(&x, &[0, 1, 2]),
        Err(RepresentationError::LabelCount { present: 3, .. })
    ));
    let one = Matrix::new(1, 2, vec![1.0, 0.0]).unwrap();
    assert!(matches!(
        silhouette_cosine(&one, &[0]),
        Err(RepresentationError::TooFewSamples { .. })
    ));
    let nan = Matrix::new(3, 2, vec![1.0, f32::NAN, 0.0, 1.0, 1.0, 1.0]).unwrap();
    assert!(matches!(
        silhouette_cosine(&nan, &[0, 0, 1]),
        Err(RepresentationError::NonFinite { index: 1, .. })
    ));
}

#[test]
fn standardize_then_normalize_by_hand() {
    // Columns: (1, 3) → (−1, 1); constant (10, 10) → 0; (0, 4) → (−1, 1).
    let mut m = Matrix::new(2, 3, vec![1.0, 10.0, 0.0, 3.0, 10.0, 4.0]).unwrap();
    standardize_then_normalize(&mut m);
    let r = std::f32::consts::FRAC_1_SQRT_2;
    let want = [-r, 0.0, -r, r, 0.0, r];
    for (a, b) in m.data.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{:?}", m.data);
    }
    // Random matrix: unit rows.
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut m = Matrix::new(20, 7, (0..140).map(|_| 5.0 + 3.0 * gauss(&mut rng)).collect()).unwrap();
    standardize_then_normalize(&mut m);
    for i in 0..20 {
        let n2: f32 = m.row(i).iter().map(|v| v * v).sum();
        assert!((n2 - 1.0).abs() < 1e-5);
    }
    // All-constant matrix: zero rows stay zero (no NaN).
    let mut c = Matrix::new(3, 2, vec![2.0; 6]).unwrap();
    standardize_then_normalize(&mut c);
    assert!(c.data.iter().all(|&v| v == 0.0));
}

// ---------------------------------------------------------------- t-SNE

fn blobs(per: usize, dim: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..3)
        .map(|_| (0..dim).map(|_| 8.0 * gauss(&mut rng)).collect())
        .collect();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..3 * per {
        let c = i % 3;
        data.extend(centres[c].iter().map(|m| m + gauss(&mut rng)));
        labels.push(c);
    }
    (Matrix::new(3 * per, dim, data).unwrap(), labels)
}

fn nn_label_agreement(y: &[[f64; 2]], labels: &[usize]) -> f64 {
    let n = y.len();
    let mut ok = 0;
    for i in 0..n {
        let j = (0..n)
            .filter(|&j| j != i)
            .min_by(|&a, &b| {
                let da = (y[a][0] - y[i][0]).powi(2) + (y[a][1] - y[i][1]).powi(2);
                let db = (y[b][0] - y[i][0]).powi(2) + (y[b][1] - y[i][1]).powi(2);
                da.partial_cmp(&db).unwrap()
            })
            .unwrap();
        ok += (labels[i] == labels[j]) as usize;
    }
    ok as f64 / n as f64
}

#[test]
fn tsne_separates_blobs_and_is_deterministic() {
    // 3 × 45 = 135 points: also exercises the multi-threaded row path (≥ 128 rows).
    let (x, labels) = blobs(45, 10, 2);
    let s = TsneSettings {
        seed: 17,
        ..TsneSettings::default()
    };
    let y = tsne(&x, &s).unwrap();
    assert_eq!(y.len(), 135);
    assert!(y.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
    let agree = nn_label_agreement(&y, &labels);
    assert!(agree >= 0.95, "nearest-neighbour label agreement {agree}");
    // Clusters are far apart relative to their size in 2-D.
    let centroid = |c: usize| {
        let pts: Vec<&[f64; 2]> = y.iter().zip(&labels).filter(|(_, &l)| l == c).map(|(p, _)| p).collect();
        let k = pts.len() as f64;
        [pts.iter().map(|p| p[0]).sum::<f64>() / k, pts.iter().map(|p| p[1]).sum::<f64>() / k]
    };
    let cs: Vec<[f64; 2]> = (0..3).map(centroid).collect();
    let spread = y
        .iter()
        .zip(&labels)
        .map(|(p, &l)| ((p[0] - cs[l][0]).powi(2) + (p[1] - cs[l][1]).powi(2)).sqrt())
        .fold(0.0f64, f64::max);
    for a in 0..3 {
        for b in 0..a {
            let d = ((cs[a][0] - cs[b][0]).powi(2) + (cs[a][1] - cs[b][1]).powi(2)).sqrt();
            assert!(d > spread, "centroids {a},{b} {d} vs max radius {spread}");
        }
    }
    // Same seed → identical; other seed → different.
    assert_eq!(tsne(&x, &s).unwrap(), y);
    let other = tsne(&x, &TsneSettings { seed: 18, ..s.clone() }).unwrap();
    assert_ne!(other, y);
}

#[test]
fn tsne_small_inputs_and_errors() {
    // 30 points in 3 blobs, perplexity clamped to 29/3.
    let (x, labels) = blobs(10, 10, 4);
    let y = tsne(&x, &TsneSettings { iterations: 500, ..TsneSettings::default() }).unwrap();
    assert!(nn_label_agreement(&y, &labels) >= 0.9);
    // N = 2 and duplicates: finite output.
    let two = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]).unwrap();
    let y = tsne(&two, &TsneSettings::default()).unwrap();
    assert!(y.iter().flatten().all(|v| v.is_finite()));
    assert!(matches!(
        tsne(&Matrix::new(1, 3, vec![0.0; 3]).unwrap(), &TsneSettings::default()),
        Err(RepresentationError::TooFewSamples { .. })
    ));
    let nan = Matrix::new(2, 1, vec![0.0, f32::INFINITY]).unwrap();
    assert!(matches!(
        tsne(&nan, &TsneSettings::default()),
        Err(RepresentationError::NonFinite { .. })
    ));
    for bad in [
        TsneSettings { perplexity: 0.0, ..TsneSettings::default() },
        TsneSettings { learning_rate: -1.0, ..TsneSettings::default() },
        TsneSettings { early_exaggeration: f64::NAN, ..TsneSettings::default() },
    ] {
        assert!(matches!(tsne(&x, &bad), Err(RepresentationError::InvalidSettings(_))));
    }
}
