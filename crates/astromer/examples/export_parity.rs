//! Exports checkpoints, inputs and Rust outputs for the independent PyTorch parity check
//! (`tools/parity/parity.py`, `docs/parity.md`).
//!
//! ```text
//! cargo run -p astromer --example export_parity -- /tmp/parity
//! python3 tools/parity/parity.py /tmp/parity
//! ```
//!
//! For every case it writes `OUT/<case>/`:
//! - `config.toml` + `model.safetensors` — `Astromer::save`;
//! - `io.safetensors` — the inputs (`input.time`, `input.input_mag`, `input.target`,
//!   `input.loss_weight` F32 (B, L); `input.roles` I32 (B, L) with 0 = Unprobed, 1 = Same,
//!   2 = Random, 3 = Masked, 4 = Padding) and the Rust outputs, all F32 unless noted:
//!   `output.positional_encoding` (B, L, d), `output.embedding` (B, L, d, before dropout),
//!   `output.block.{i}` (B, L, d), `output.prediction` (B, L), `output.loss_weighted` and
//!   `output.loss_unweighted` (device loss, shape (1,)), `output.host_rmse_weighted` and
//!   `output.host_rmse_unweighted` (`metrics::masked_rmse`, F64, shape (1,)),
//!   `output.grad_loss_weighted` and `grad.<parameter>` (`Astromer::loss_and_gradients`, weighted
//!   loss, no dropout), and single-layer probes `probe.*` (block 0's query Dense, attention
//!   LayerNorm and FFN, and the head, each applied to the Rust input embedding).
//!
//! and `OUT/cases.txt` (one case name a line). Only the crate's public API is used.
//!
//! Every parameter is perturbed away from its Keras initial value (biases, LayerNorm γ/β and the
//! mask token are drawn at random too), so that a mix-up of names, layouts or roles of any
//! parameter changes the outputs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ::safetensors::{Dtype, View};
use astromer::dfdx::prelude::*;
use astromer::model::reconstruction_loss;
use astromer::{
    default_device, masked_rmse, Astromer, AttentionMaskMode, EncoderConfig, LossWeighting,
    MaskFractions, MaskTokenMode, MaskedBatch, ProbeRole,
};
use lightcurve::{PaddedWindow, WindowMeans};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One safetensors entry: dtype, shape, little-endian bytes.
struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Raw {
    fn f32(shape: Vec<usize>, v: &[f32]) -> Self {
        assert_eq!(shape.iter().product::<usize>(), v.len());
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Self {
            dtype: Dtype::F32,
            shape,
            bytes,
        }
    }
    fn f64(shape: Vec<usize>, v: &[f64]) -> Self {
        assert_eq!(shape.iter().product::<usize>(), v.len());
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Self {
            dtype: Dtype::F64,
            shape,
            bytes,
        }
    }
    fn i32(shape: Vec<usize>, v: &[i32]) -> Self {
        assert_eq!(shape.iter().product::<usize>(), v.len());
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Self {
            dtype: Dtype::I32,
            shape,
            bytes,
        }
    }
}

impl View for Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
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

fn role_code(r: ProbeRole) -> i32 {
    match r {
        ProbeRole::Unprobed => 0,
        ProbeRole::Same => 1,
        ProbeRole::Random => 2,
        ProbeRole::Masked => 3,
        ProbeRole::Padding => 4,
    }
}

/// Windows shaped like real ones: irregular gaps of 0.2–6 days, window-mean-centred time and
/// magnitude (spec §2.4), a periodic signal plus noise, loss weights in [0.001, 1.001].
fn windows(b: usize, l: usize, n_valid: &[usize], rng: &mut ChaCha8Rng) -> Vec<PaddedWindow> {
    (0..b)
        .map(|k| {
            let n = n_valid[k % n_valid.len()];
            let period = rng.gen_range(0.3f64..40.0);
            let amp = rng.gen_range(0.05f64..0.8);
            let mut t = 0.0f64;
            let mut time = Vec::with_capacity(n);
            let mut mag = Vec::with_capacity(n);
            for _ in 0..n {
                t += rng.gen_range(0.2..6.0);
                time.push(t);
                mag.push(
                    15.0 + amp * (2.0 * std::f64::consts::PI * t / period).sin()
                        + rng.gen_range(-0.05..0.05),
                );
            }
            let tm = time.iter().sum::<f64>() / n as f64;
            let mm = mag.iter().sum::<f64>() / n as f64;
            let pad = |v: Vec<f32>| {
                let mut v = v;
                v.resize(l, 0.0);
                v
            };
            PaddedWindow {
                object_index: k,
                start: 0,
                time: pad(time.iter().map(|x| (x - tm) as f32).collect()),
                mag: pad(mag.iter().map(|x| (x - mm) as f32).collect()),
                err: pad(vec![0.0; n]),
                loss_weight: (0..l).map(|_| rng.gen_range(0.001f32..1.001)).collect(),
                n_valid: n,
                means: WindowMeans::default(),
            }
        })
        .collect()
}

/// Moves every parameter away from its initial value: kernels keep their glorot draw (scaled by
/// a random factor), biases / LayerNorm β get U(−0.2, 0.2), LayerNorm γ gets 1 + U(−0.3, 0.3),
/// the mask token gets U(−1, 1).
fn perturb<D: Device<f32>>(model: &mut Astromer<D>, rng: &mut ChaCha8Rng) {
    for (name, shape) in model.parameter_shapes() {
        let n: usize = shape.iter().product();
        let old = model.parameter_values(&name).expect("listed parameter");
        let new: Vec<f32> = if name == "embedding.mask_token" {
            vec![rng.gen_range(-1.0..1.0)]
        } else if name.ends_with("norm.weight") {
            (0..n).map(|_| 1.0 + rng.gen_range(-0.3..0.3)).collect()
        } else if name.ends_with(".bias") {
            (0..n).map(|_| rng.gen_range(-0.2..0.2)).collect()
        } else {
            let s = rng.gen_range(0.8f32..1.25);
            old.iter().map(|x| x * s).collect()
        };
        model.set_parameter_values(&name, &new).expect("same size");
    }
}

struct Case {
    name: &'static str,
    config: EncoderConfig,
    batch: usize,
    window_len: usize,
    n_valid: &'static [usize],
    seed: u64,
}

fn small(base: EncoderConfig, n_blocks: usize) -> EncoderConfig {
    EncoderConfig {
        n_blocks,
        d_model: 64,
        n_heads: 4,
        ffn_width: if base.residual_projections { 128 } else { 32 },
        ..base
    }
}

fn run_case<D: Device<f32>>(dev: &D, case: &Case, out: &Path) -> Result<(), String> {
    let (b, l) = (case.batch, case.window_len);
    let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
    let mut model =
        Astromer::new(case.config.clone(), dev, case.seed).map_err(|e| e.to_string())?;
    perturb(&mut model, &mut rng);
    let ws = windows(b, l, case.n_valid, &mut rng);
    let batch = MaskedBatch::pretraining(&ws, &MaskFractions::official(), &mut rng)
        .map_err(|e| e.to_string())?;

    let dir = out.join(case.name);
    model.save(&dir).map_err(|e| e.to_string())?;

    let d = model.config().d_model;
    let enc = model.encode(&batch).map_err(|e| e.to_string())?;
    let bt_w = model
        .batch_tensors(&batch, LossWeighting::Weighted)
        .map_err(|e| e.to_string())?;
    let bt_u = model
        .batch_tensors(&batch, LossWeighting::Unweighted)
        .map_err(|e| e.to_string())?;
    let pe = model.embedding.positional_encoding(&bt_w.time);
    let pred = model.predict_tensor(&batch).map_err(|e| e.to_string())?;
    let loss_w = reconstruction_loss(pred.clone(), &bt_w).as_vec()[0];
    let loss_u = reconstruction_loss(pred.clone(), &bt_u).as_vec()[0];
    let pred = pred.as_vec();
    let host_w = masked_rmse(
        &pred,
        &batch.target,
        &batch.roles,
        Some(&batch.loss_weight),
        l,
    );
    let host_u = masked_rmse(&pred, &batch.target, &batch.roles, None, l);

    let mut t: Vec<(String, Raw)> = vec![
        ("input.time".into(), Raw::f32(vec![b, l], &batch.time)),
        (
            "input.input_mag".into(),
            Raw::f32(vec![b, l], &batch.input_mag),
        ),
        ("input.target".into(), Raw::f32(vec![b, l], &batch.target)),
        (
            "input.loss_weight".into(),
            Raw::f32(vec![b, l], &batch.loss_weight),
        ),
        (
            "input.roles".into(),
            Raw::i32(
                vec![b, l],
                &batch
                    .roles
                    .iter()
                    .map(|&r| role_code(r))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "output.positional_encoding".into(),
            Raw::f32(vec![b, l, d], &pe.as_vec()),
        ),
        (
            "output.embedding".into(),
            Raw::f32(vec![b, l, d], &enc.embedding.as_vec()),
        ),
        ("output.prediction".into(), Raw::f32(vec![b, l], &pred)),
        ("output.loss_weighted".into(), Raw::f32(vec![1], &[loss_w])),
        (
            "output.loss_unweighted".into(),
            Raw::f32(vec![1], &[loss_u]),
        ),
        (
            "output.host_rmse_weighted".into(),
            Raw::f64(vec![1], &[host_w]),
        ),
        (
            "output.host_rmse_unweighted".into(),
            Raw::f64(vec![1], &[host_u]),
        ),
    ];
    for (i, blk) in enc.blocks.iter().enumerate() {
        t.push((
            format!("output.block.{i}"),
            Raw::f32(vec![b, l, d], &blk.as_vec()),
        ));
    }
    // Single-layer probes (public layer API), all applied to the Rust input embedding, so the
    // check can tell a Dense / LayerNorm / FFN deviation from an attention one.
    let emb2 = enc.embedding.clone().reshape_like(&(b * l, d));
    let blk0 = &model.blocks[0];
    let probes = [
        ("probe.query0", blk0.attention.query.forward(emb2.clone())),
        (
            "probe.attention_norm0",
            blk0.attention_norm.forward(emb2.clone()),
        ),
        (
            "probe.ffn0",
            blk0.ffn_outer
                .forward(blk0.ffn_inner.forward(emb2.clone()).tanh()),
        ),
        (
            "probe.head",
            model
                .head
                .output
                .forward(model.head.norm.forward(emb2.clone())),
        ),
    ];
    for (name, p) in probes {
        let s = *p.shape();
        t.push((name.into(), Raw::f32(vec![s.0, s.1], &p.as_vec())));
    }
    // Gradients of the weighted loss (no dropout), by parameter name.
    let (grad_loss, grads) = model
        .loss_and_gradients(&batch, LossWeighting::Weighted)
        .map_err(|e| e.to_string())?;
    t.push((
        "output.grad_loss_weighted".into(),
        Raw::f32(vec![1], &[grad_loss]),
    ));
    let shapes: HashMap<String, Vec<usize>> = model.parameter_shapes().into_iter().collect();
    for (name, g) in grads {
        let shape = shapes[&name].clone();
        t.push((format!("grad.{name}"), Raw::f32(shape, &g)));
    }
    let mut meta = HashMap::new();
    meta.insert("case".to_string(), case.name.to_string());
    meta.insert("seed".to_string(), case.seed.to_string());
    meta.insert("n_blocks".to_string(), enc.blocks.len().to_string());
    ::safetensors::serialize_to_file(t, &Some(meta), &dir.join("io.safetensors"))
        .map_err(|e| format!("{e:?}"))?;

    let c = batch.role_counts();
    println!(
        "{:<20} params {:>9}  B {b} L {l}  roles unprobed/same/random/masked/padding {:?}  \
         loss w {loss_w:.6} u {loss_u:.6}",
        case.name,
        model.parameter_count(),
        c
    );
    Ok(())
}

fn main() {
    let out: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("usage: export_parity OUT_DIR");
            std::process::exit(2);
        });
    let a2 = EncoderConfig::astromer2();
    let a2_official = EncoderConfig::astromer2_official_graph();
    let a1 = EncoderConfig::astromer1();
    assert_eq!(a2.mask_token, MaskTokenMode::Applied);
    assert_eq!(a2_official.mask_token, MaskTokenMode::OfficialGraph);
    assert_eq!(a1.attention_mask, AttentionMaskMode::A1QueryOrKeyPlusOne);
    let cases = [
        // Small but real: every switch of the preset, narrower (d 64, 4 heads of 16) and shallower.
        Case {
            name: "a2_applied_small",
            config: small(a2.clone(), 3),
            batch: 4,
            window_len: 40,
            n_valid: &[40, 25, 40, 33],
            seed: 11,
        },
        Case {
            name: "a2_official_small",
            config: small(a2_official.clone(), 3),
            batch: 4,
            window_len: 40,
            n_valid: &[40, 25, 40, 33],
            seed: 11,
        },
        Case {
            name: "a1_small",
            config: small(a1.clone(), 2),
            batch: 4,
            window_len: 40,
            n_valid: &[40, 25, 40, 33],
            seed: 12,
        },
        // The released presets at full size (L = 200).
        Case {
            name: "a2_applied",
            config: a2,
            batch: 3,
            window_len: 200,
            n_valid: &[200, 120, 200],
            seed: 21,
        },
        Case {
            name: "a2_official",
            config: a2_official,
            batch: 3,
            window_len: 200,
            n_valid: &[200, 120, 200],
            seed: 21,
        },
        Case {
            name: "a1",
            config: a1,
            batch: 3,
            window_len: 200,
            n_valid: &[200, 120, 200],
            seed: 22,
        },
    ];
    let dev = default_device(0);
    let mut names = String::new();
    for case in &cases {
        if let Err(e) = run_case(&dev, case, &out) {
            eprintln!("{}: {e}", case.name);
            std::process::exit(1);
        }
        names.push_str(case.name);
        names.push('\n');
    }
    std::fs::write(out.join("cases.txt"), names).expect("write cases.txt");
    println!("wrote {}", out.display());
}
