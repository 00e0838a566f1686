//! Import of the checkpoint written by the official TensorFlow code (`tests/fixtures/official-a2-tiny`)
//! and parity of our forward pass with the official graph's outputs on real EROS windows.

use std::path::{Path, PathBuf};

use astromer::dfdx::prelude::*;
use astromer::{Astromer, MaskTokenMode};
use official_weights::parity::{self, allowed_difference};
use official_weights::{import_checkpoint, HeadsSource, ImportError, ImportOptions};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/official-a2-tiny")
}

fn tiny_options() -> ImportOptions {
    ImportOptions {
        n_heads: Some(2),
        allow_partial: false,
    }
}

#[test]
fn imports_every_tensor_and_reads_the_architecture_from_the_shapes() {
    let dev = astromer::default_device(0);
    let imported = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap();
    let c = imported.model.config();
    assert_eq!((c.n_blocks, c.d_model, c.n_heads, c.ffn_width), (2, 16, 2, 32));
    assert!(c.residual_projections);
    assert_eq!(c.mask_token, MaskTokenMode::OfficialGraph);
    let p = &imported.provenance;
    assert_eq!(p.imported, 46);
    assert!(p.missing.is_empty() && p.unexpected.is_empty(), "{p:?}");
    assert_eq!(p.encoder_prefix, "layer_with_weights-0");
    assert_eq!(p.head_prefix.as_deref(), Some("layer_with_weights-1"));
    assert_eq!(p.heads_source, HeadsSource::Given);
    // 5,617 official parameters + our (unused) mask token.
    assert_eq!(imported.model.parameter_count(), 5618);
    // A kernel lands untransposed: Keras (in, out) is our Dense layout.
    let bundle = tensorbundle::Bundle::open(&fixture()).unwrap();
    let wq = bundle
        .read_f32("layer_with_weights-0/enc_layers/1/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE")
        .unwrap();
    assert_eq!(imported.model.parameter_values("blocks.1.attention.query.weight").unwrap(), wq.values);
}

#[test]
fn every_output_matches_the_official_graph() {
    let dev = astromer::default_device(0);
    let model = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap().model;
    let reference = parity::read_reference(&fixture().join("reference.safetensors")).unwrap();
    assert_eq!((reference.batch_size, reference.window_len, reference.blocks.len()), (4, 200, 2));
    let diffs = parity::compare(&model, &reference).unwrap();
    assert_eq!(diffs.len(), 3);
    for d in &diffs {
        eprintln!("{d:?}");
        assert!(d.passes(), "{d:?}");
        // Not trivially: the outputs are of order one and differ from zero.
        assert!(d.scale > 0.5, "{d:?}");
    }
}

#[test]
fn a_swapped_tensor_fails_the_check() {
    let dev = astromer::default_device(0);
    let mut model = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap().model;
    let reference = parity::read_reference(&fixture().join("reference.safetensors")).unwrap();
    // Query and key kernels swapped in block 1: attention changes, so block_1 and the
    // reconstruction must fail while block_0 still passes.
    let q = model.parameter_values("blocks.1.attention.query.weight").unwrap();
    let k = model.parameter_values("blocks.1.attention.key.weight").unwrap();
    model.set_parameter_values("blocks.1.attention.query.weight", &k).unwrap();
    model.set_parameter_values("blocks.1.attention.key.weight", &q).unwrap();
    let diffs = parity::compare(&model, &reference).unwrap();
    let verdict = |name: &str| diffs.iter().find(|d| d.output == name).unwrap().passes();
    assert!(verdict("block_0"));
    assert!(!verdict("block_1"), "{diffs:?}");
    assert!(!verdict("reconstruction"), "{diffs:?}");
}

#[test]
fn the_mask_token_mode_matters_on_masked_windows() {
    // The official graph lets a masked magnitude reach its own output; applying the token
    // instead (the paper's intent) must not match the official outputs on the masked windows.
    let dev = astromer::default_device(0);
    let imported = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    imported.write(&dir.path().join("m")).unwrap();
    let config_path = dir.path().join("m/config.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, text.replace("official-graph", "applied")).unwrap();
    let applied = Astromer::load(&dir.path().join("m"), &dev).unwrap();
    let reference = parity::read_reference(&fixture().join("reference.safetensors")).unwrap();
    let diffs = parity::compare(&applied, &reference).unwrap();
    assert!(diffs.iter().all(|d| !d.passes()), "{diffs:?}");
}

#[test]
fn write_then_load_gives_the_same_model_and_records_the_source() {
    let dev = astromer::default_device(0);
    let imported = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported/tiny");
    imported.write(&out).unwrap();
    let loaded = Astromer::load(&out, &dev).unwrap();
    assert_eq!(loaded.config(), imported.model.config());
    for (name, _) in imported.model.parameter_shapes() {
        assert_eq!(loaded.parameter_values(&name), imported.model.parameter_values(&name), "{name}");
    }
    let p = official_weights::read_provenance(&out).unwrap().unwrap();
    assert_eq!(p, imported.provenance);
    assert_eq!(p.source_files.len(), 2);
    let index = p.source_files.iter().find(|f| f.path.ends_with("weights.index")).unwrap();
    assert_eq!(index.bytes, std::fs::metadata(fixture().join("weights.index")).unwrap().len());
    assert_eq!(index.sha256.len(), 64);
    // Writing again replaces the folder whole.
    imported.write(&out).unwrap();
    assert!(Astromer::load(&out, &dev).is_ok());
}

#[test]
fn heads_come_from_the_option_the_run_config_or_fail_clearly() {
    let dev = astromer::default_device(0);
    let err = import_checkpoint(&fixture(), &ImportOptions::default(), &dev).err().unwrap();
    assert!(matches!(err, ImportError::Heads { .. }), "{err}");
    assert!(err.to_string().contains("--heads"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    for f in ["weights.index", "weights.data-00000-of-00001", "checkpoint"] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("config.toml"), "[astromer]\nnum_heads = 2\nhead_dim = 8\n").unwrap();
    let imported = import_checkpoint(dir.path(), &ImportOptions::default(), &dev).unwrap();
    assert_eq!(imported.model.config().n_heads, 2);
    assert!(matches!(imported.provenance.heads_source, HeadsSource::RunConfig(_)));
}

/// Renames a key inside the (single data block) index and re-seals that block's checksum, so the
/// file is a valid table with one variable under another name.
fn rename_key(index: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = (0..index.len() - from.len()).filter(|&i| &index[i..i + from.len()] == from).collect();
    assert_eq!(at.len(), 1, "the fragment must occur once");
    let mut out = index.to_vec();
    out[at[0]..at[0] + from.len()].copy_from_slice(to);
    // Footer: meta-index handle, index handle; the index block's one entry is the data block.
    let varint = |buf: &[u8], pos: &mut usize| {
        let (mut v, mut shift) = (0usize, 0);
        loop {
            let b = buf[*pos];
            *pos += 1;
            v |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b < 0x80 {
                return v;
            }
        }
    };
    let footer = out.len() - 48;
    let mut p = footer;
    let (_, _) = (varint(&out, &mut p), varint(&out, &mut p));
    let (index_off, _) = (varint(&out, &mut p), varint(&out, &mut p));
    let mut q = index_off;
    let (_, non_shared, _) = (varint(&out, &mut q), varint(&out, &mut q), varint(&out, &mut q));
    q += non_shared;
    let (data_off, data_len) = (varint(&out, &mut q), varint(&out, &mut q));
    assert!(at[0] < data_off + data_len, "the key must be in the data block");
    let crc = tensorbundle::crc32c::extend(tensorbundle::crc32c::value(&out[data_off..data_off + data_len]), &[0]);
    let end = data_off + data_len;
    out[end + 1..end + 5].copy_from_slice(&tensorbundle::crc32c::mask(crc).to_le_bytes());
    out
}

#[test]
fn a_partial_import_is_refused_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["weights.data-00000-of-00001", "checkpoint"] {
        std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
    }
    let index = std::fs::read(fixture().join("weights.index")).unwrap();
    // Block 1's first leak projection renamed (`…/1/reshape_leak_1` → `…/1/reshape_leak_0`):
    // keys stay sorted; its prefix is shared by its bias and kernel entries.
    let at = |frag: &[u8]| (0..index.len() - frag.len()).filter(|&i| &index[i..i + frag.len()] == frag).count();
    assert_eq!(at(b"reshape_leak_1"), 2, "one full key per block (the rest is prefix-shared)");
    let renamed = {
        let second = (0..index.len() - 14).filter(|&i| &index[i..i + 14] == b"reshape_leak_1").nth(1).unwrap();
        let mut tmp = index.clone();
        tmp[second + 13] = b'#'; // make it unique for rename_key
        rename_key(&tmp, b"reshape_leak_#", b"reshape_leak_0")
    };
    std::fs::write(dir.path().join("weights.index"), renamed).unwrap();
    let dev = astromer::default_device(0);
    let err = import_checkpoint(dir.path(), &tiny_options(), &dev).err().unwrap();
    let ImportError::Partial { missing, unexpected, .. } = &err else { panic!("{err}") };
    assert_eq!(missing, &["blocks.1.attention_residual.weight", "blocks.1.attention_residual.bias"]);
    assert_eq!(
        unexpected,
        &[
            "layer_with_weights-0/enc_layers/1/reshape_leak_0/bias",
            "layer_with_weights-0/enc_layers/1/reshape_leak_0/kernel"
        ]
    );
    assert!(err.to_string().contains("--allow-partial"), "{err}");
    let opts = ImportOptions {
        allow_partial: true,
        ..tiny_options()
    };
    let imported = import_checkpoint(dir.path(), &opts, &dev).unwrap();
    assert_eq!(imported.provenance.imported, 44);
    assert_eq!(imported.provenance.missing.len(), 2);
    assert!(imported.provenance.notes.iter().any(|n| n.contains("kept their initialisation")));
}

#[test]
fn the_time_term_of_the_tolerance_bounds_the_float32_time_encoding() {
    // Our PE in float32 against float64, for windows reaching |t| from a week to 30 years: the
    // rule's allowance must cover it at every |t|, and the |t| term must be needed (a
    // constant tolerance of REL would not cover long windows). This is the rule, not one number.
    let dev = astromer::default_device(0);
    let model = import_checkpoint(&fixture(), &tiny_options(), &dev).unwrap().model;
    let cfg = model.config().clone();
    let d = cfg.d_model;
    let mut needed_time_term = false;
    for max_t in [7.0f32, 100.0, 470.0, 2000.0, 11000.0] {
        let times: Vec<f32> = (0..200).map(|i| -max_t + 2.0 * max_t * i as f32 / 199.0 + 0.123).collect();
        let t = dev.tensor_from_vec(times.clone(), (times.len(),));
        let pe = model.embedding.positional_encoding(&t).as_vec();
        let mut worst = 0.0f64;
        for (i, &ti) in times.iter().enumerate() {
            for j in 0..d {
                let w = cfg.pe_base.powf(-2.0 * j as f64 / d as f64);
                let phase = if j % 2 == 0 { 0.0 } else { std::f64::consts::FRAC_PI_2 };
                let exact = (ti as f64 * w + phase).sin();
                worst = worst.max((pe[i * d + j] as f64 - exact).abs());
            }
        }
        let window_max_t = times.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let allowed = allowed_difference(1.0, window_max_t) as f64;
        eprintln!("|t| ≤ {window_max_t:>8.1} d: PE error {worst:.2e}, allowed {allowed:.2e}");
        assert!(worst <= allowed, "|t| {window_max_t}: {worst:e} > {allowed:e}");
        needed_time_term |= worst > parity::REL as f64;
    }
    assert!(needed_time_term, "a constant tolerance would have sufficed: the |t| term is untested");
}
