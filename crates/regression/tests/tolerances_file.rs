//! The committed `results/tolerances.toml` must parse and validate: `cargo xtask check` refuses to
//! run without it, and a broken rules file would otherwise be found only in CI.

use std::path::Path;

#[test]
fn committed_tolerances_file_is_valid_and_covers_e02_to_e09() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/tolerances.toml");
    let rules = regression::Rules::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for experiment in [
        "e02-pretrain",
        "e03-finetune",
        "e04-classify",
        "e05-ablation",
        "e06-attention",
        "e07-embeddings",
        "e08-reconstruction",
        "e09-causal",
    ] {
        assert!(
            rules.rules.iter().any(|r| r.experiment == experiment),
            "{} has no rule for {experiment}",
            path.display()
        );
    }
}
