//! The committed synthetic manifests are reproducible: generating them on this machine gives the
//! pinned bytes, and a changed byte is reported by `verify`.

use std::path::Path;

use datasets::{DataStore, PinState, Preparation};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn smoke_manifests_regenerate_to_their_pinned_hashes_and_detect_a_flipped_byte() {
    let data = tempfile::tempdir().unwrap();
    let mut store = DataStore::new(workspace().join("data-manifests"), data.path());
    let names: Vec<String> = store.names().unwrap().into_iter().filter(|n| n.ends_with("-smoke")).collect();
    assert_eq!(names.len(), 4, "{names:?}");
    for name in &names {
        let m = store.manifest(name).unwrap();
        assert_eq!(m.pin_state(), PinState::Pinned, "{name} must be pinned");
        let p = store.prepare(&m, true).unwrap();
        assert_eq!(p.how, Preparation::GeneratedVerified, "{name}");
        if m.layout == datasets::Layout::CausalTable {
            // Star × instrument tables: read as a causal set, refused as light curves.
            let set = store.open_causal(&p).unwrap();
            assert_eq!((set.observations.len(), set.stars.len(), set.instruments.len()), (128, 32, 4), "{name}");
            assert!(store.open(&p).err().unwrap().to_string().contains("causal-table"), "{name}");
        } else {
            let set = store.open(&p).unwrap();
            assert!(set.len() >= 200, "{name}: {} curves", set.len());
            assert!(store.open_causal(&p).is_err(), "{name} is not a causal set");
        }
        // A second prepare finds the files and verifies them without regenerating.
        assert_eq!(store.prepare(&m, true).unwrap().how, Preparation::Verified, "{name}");
    }
    let m = store.manifest(&names[0]).unwrap();
    let victim = data.path().join(&m.name).join(&m.files[0].path);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&victim, bytes).unwrap();
    let report = store.verify(&m).unwrap();
    assert_eq!(report.mismatches.len(), 1);
    assert!(report.mismatches[0].problem.contains("sha256"), "{:?}", report.mismatches);
}

#[test]
fn labelled_smoke_sets_have_every_class_in_official_order() {
    let data = tempfile::tempdir().unwrap();
    let mut store = DataStore::new(workspace().join("data-manifests"), data.path());
    for (name, classes) in [
        ("synthetic-alcock-smoke", vec!["Cep_0", "Cep_1", "EC", "LPV", "RRab", "RRc"]),
        ("synthetic-atlas-smoke", vec!["CB", "DB", "Mira", "Other", "Pulse"]),
    ] {
        let m = store.manifest(name).unwrap();
        let p = store.prepare(&m, true).unwrap();
        let set = store.open(&p).unwrap();
        assert_eq!(set.classes().unwrap(), classes.as_slice(), "{name}");
        assert!(set.class_counts().unwrap().iter().all(|(_, n)| *n >= 30), "{name}");
    }
}

#[test]
fn a_checkpoint_manifest_pins_its_files_and_is_not_read_as_light_curves() {
    // The released-weights manifest, pointed at a copy of the official tiny checkpoint.
    let manifests = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let name = "astromer2-macho-weights";
    let text = std::fs::read_to_string(workspace().join("data-manifests").join(format!("{name}.toml"))).unwrap();
    std::fs::write(manifests.path().join(format!("{name}.toml")), text).unwrap();
    let mut store = DataStore::new(manifests.path(), data.path());
    let m = store.manifest(name).unwrap();
    assert_eq!(m.layout, datasets::Layout::TensorflowCheckpoint);
    assert_eq!(m.pin_state(), PinState::Unpinned, "unpinned until someone fetches and locks it");
    assert!(store.prepare(&m, true).is_err(), "--locked refuses an unpinned manifest");
    let dir = data.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["weights.index", "weights.data-00000-of-00001", "checkpoint"] {
        std::fs::copy(workspace().join("tests/fixtures/official-a2-tiny").join(f), dir.join(f)).unwrap();
    }
    let m = store.lock(name).unwrap();
    assert_eq!((m.pin_state(), m.files.len()), (PinState::Pinned, 3));
    let p = store.prepare(&m, true).unwrap();
    assert_eq!(p.how, Preparation::Verified);
    let err = store.open(&p).err().unwrap().to_string();
    assert!(err.contains("weights import"), "{err}");
}
