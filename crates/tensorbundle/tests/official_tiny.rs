//! The reader on a checkpoint written by the official TensorFlow code (`tests/fixtures/official-a2-tiny`,
//! see its README): every key, dtype and shape, every crc32c, and damaged copies.

use std::path::{Path, PathBuf};

use tensorbundle::{Bundle, BundleError, DType};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/official-a2-tiny")
}

const ENC: &str = "layer_with_weights-0";

fn key(path: &str) -> String {
    format!("{path}/.ATTRIBUTES/VARIABLE_VALUE")
}

#[test]
fn lists_the_official_keys_and_shapes() {
    let b = Bundle::open(&fixture()).unwrap();
    assert_eq!(b.prefix(), fixture().join("weights"));
    let shape = |k: &str| b.entry(&key(k)).unwrap().shape.clone().unwrap();
    assert_eq!(shape(&format!("{ENC}/inp_transform/kernel")), vec![1, 16]);
    assert_eq!(shape(&format!("{ENC}/enc_layers/0/mha/wq/kernel")), vec![16, 16]);
    assert_eq!(shape(&format!("{ENC}/enc_layers/1/ffn/layer_with_weights-0/kernel")), vec![16, 32]);
    assert_eq!(shape(&format!("{ENC}/enc_layers/1/ffn/layer_with_weights-1/bias")), vec![16]);
    assert_eq!(shape("layer_with_weights-1/reg_layer/kernel"), vec![16, 1]);
    // 2 blocks × (4 attention Dense + 2 leak + 2 FFN Dense + 2 LayerNorm) × 2 tensors,
    // inp_transform (2), the head's LayerNorm and Dense (4): 49 variables, plus the object graph.
    let floats = b.entries().filter(|e| e.dtype == DType::Float).count();
    assert_eq!(floats, 46);
    let params: u64 = b.entries().filter(|e| e.dtype == DType::Float).map(|e| e.numel().unwrap()).sum();
    assert_eq!(params, 5617, "the README's parameter count");
    assert_eq!(b.entry(tensorbundle::OBJECT_GRAPH_KEY).unwrap().dtype, DType::String);
}

#[test]
fn every_tensor_passes_its_checksum() {
    let b = Bundle::open(&fixture()).unwrap();
    b.verify().unwrap();
    let t = b.read_f32(&key(&format!("{ENC}/enc_layers/0/layernorm1/gamma"))).unwrap();
    assert_eq!(t.shape, vec![16]);
    // The fixture's LayerNorm γ were perturbed to 1 + N(0, 0.1): near one, never exactly one.
    assert!(t.values.iter().all(|g| (g - 1.0).abs() < 0.5 && *g != 1.0), "{:?}", t.values);
}

fn copy_fixture(dir: &Path) {
    for f in ["weights.index", "weights.data-00000-of-00001", "checkpoint"] {
        std::fs::copy(fixture().join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn a_corrupted_data_byte_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let b = Bundle::open(dir.path()).unwrap();
    let k = key(&format!("{ENC}/enc_layers/1/mha/wv/kernel"));
    let e = b.entry(&k).unwrap().clone();
    let data = dir.path().join("weights.data-00000-of-00001");
    let mut bytes = std::fs::read(&data).unwrap();
    bytes[(e.offset + e.size / 2) as usize] ^= 0x10;
    std::fs::write(&data, &bytes).unwrap();
    match b.read_f32(&k) {
        Err(err @ BundleError::Checksum { .. }) => assert!(err.to_string().contains(&k), "{err}"),
        other => panic!("{other:?}"),
    }
    match b.verify() {
        Err(err @ BundleError::Checksum { .. }) => assert!(err.to_string().contains("wv/kernel"), "{err}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_corrupted_index_byte_or_a_truncated_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_fixture(dir.path());
    let index = dir.path().join("weights.index");
    let good = std::fs::read(&index).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 0x01;
    std::fs::write(&index, &bad).unwrap();
    let err = Bundle::open(dir.path()).unwrap_err();
    assert!(matches!(err, BundleError::CorruptIndex { .. }), "{err}");
    assert!(err.to_string().contains("weights.index"), "{err}");
    std::fs::write(&index, &good[..good.len() - 7]).unwrap();
    assert!(matches!(Bundle::open(dir.path()), Err(BundleError::NotAnIndex { .. })));

    std::fs::write(&index, &good).unwrap();
    let data = dir.path().join("weights.data-00000-of-00001");
    let bytes = std::fs::read(&data).unwrap();
    std::fs::write(&data, &bytes[..bytes.len() / 2]).unwrap();
    let b = Bundle::open(dir.path()).unwrap();
    match b.verify() {
        Err(err @ BundleError::Truncated { .. }) => {
            assert!(err.to_string().contains("weights.data-00000-of-00001"), "{err}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_to_read_a_string_as_floats() {
    let b = Bundle::open(&fixture()).unwrap();
    assert!(matches!(b.read_f32(tensorbundle::OBJECT_GRAPH_KEY), Err(BundleError::Dtype { .. })));
}
