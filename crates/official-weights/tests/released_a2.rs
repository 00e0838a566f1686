//! Opt-in: import of the released-size A2 checkpoint (6 blocks, d 256, 3,953,409 parameters) and
//! parity with the official outputs. Needs `../shared/reference/official-a2-checkpoint/a2` beside the
//! workspace (the project's reference material, not part of a user's clone): skipped with a
//! message when absent. Result recorded in docs/parity.md.

use std::path::{Path, PathBuf};

use official_weights::{import_checkpoint, parity, HeadsSource, ImportOptions};

fn released() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/official-a2-checkpoint/a2");
    dir.join("weights.index").is_file().then_some(dir)
}

#[test]
fn released_a2_matches_the_official_graph() {
    let Some(dir) = released() else {
        eprintln!("skipped: ../shared/reference/official-a2-checkpoint/a2 is absent (opt-in check, see docs/parity.md)");
        return;
    };
    let dev = astromer::default_device(0);
    // No --heads: d 256 gives the released 4 heads × 64.
    let imported = import_checkpoint(&dir, &ImportOptions::default(), &dev).unwrap();
    let c = imported.model.config();
    assert_eq!((c.n_blocks, c.d_model, c.n_heads, c.ffn_width), (6, 256, 4, 512));
    assert_eq!(imported.provenance.heads_source, HeadsSource::ReleasedHeadSize);
    assert_eq!(imported.model.parameter_count(), 3_953_409 + 1, "official count + our unused token");
    let reference = parity::read_reference(&dir.join("reference.safetensors")).unwrap();
    let diffs = parity::compare(&imported.model, &reference).unwrap();
    for d in &diffs {
        eprintln!(
            "{:<15} max|diff| {:.3e}  max rel {:.3e}  scale {:.3}  allowed {:.3e}  ratio {:.3}",
            d.output, d.max_abs, d.max_rel, d.scale, d.worst_allowed, d.worst_ratio
        );
    }
    assert_eq!(diffs.len(), 7);
    assert!(diffs.iter().all(|d| d.passes()), "{diffs:?}");
}
