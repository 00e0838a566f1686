//! The committed claims file parses, and on the committed small results every claim finds its
//! metrics — so a typo in a metric id shows up here as `no data` instead of passing unnoticed.
//! Only claims whose note says the metric does not exist yet may lack data.

use std::collections::BTreeMap;
use std::path::Path;

use regression::claims::{self, Verdict};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn metrics(profile: &str) -> claims::Metrics {
    let mut out = BTreeMap::new();
    for (dir, prefix) in [(format!("results/{profile}"), ""), (format!("results/{profile}/compare"), "compare/")] {
        let Ok(entries) = std::fs::read_dir(workspace().join(dir)) else { continue };
        for e in entries {
            let path = e.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.extension().is_some_and(|x| x == "toml") && stem != "claims" {
                let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
                out.insert(format!("{prefix}{stem}"), regression::flatten(&table));
            }
        }
    }
    out
}

#[test]
fn every_claim_finds_its_metrics_in_the_committed_small_results() {
    let path = workspace().join("results/claims.toml");
    let file = claims::parse_claims(&std::fs::read_to_string(&path).unwrap(), "results/claims.toml").unwrap();
    assert!(file.claims.len() >= 15, "{} claims", file.claims.len());
    let evaluations = claims::evaluate(&file, &metrics("small"), "small").unwrap();
    for (e, c) in evaluations.iter().zip(file.claims.iter().filter(|c| c.profiles.is_empty() || c.profiles.iter().any(|p| p == "small"))) {
        assert_eq!(e.id, c.id);
        let pending = c.note.contains("No data until");
        for i in &e.instances {
            if i.verdict == Verdict::NoData {
                assert!(pending, "claim `{}` instance `{}` has no data: {}", e.id, i.binding, i.problem);
            }
        }
        if !pending {
            assert!(e.instances.iter().all(|i| i.left.is_some() && i.right.is_some()), "{}", e.id);
        }
    }
    // The paper-profile variants exist for every claim restricted to smoke/small.
    for c in file.claims.iter().filter(|c| c.profiles == ["smoke", "small"]) {
        assert!(file.claims.iter().any(|p| p.id == format!("{}-paper", c.id)), "{} has no paper version", c.id);
    }
}

#[test]
fn the_claims_evaluate_on_the_committed_smoke_results() {
    let path = workspace().join("results/claims.toml");
    let file = claims::parse_claims(&std::fs::read_to_string(&path).unwrap(), "results/claims.toml").unwrap();
    let evaluations = claims::evaluate(&file, &metrics("smoke"), "smoke").unwrap();
    // Every claim that does not need a missing experiment or a variant run has data on smoke too.
    for e in &evaluations {
        let c = file.claims.iter().find(|c| c.id == e.id).unwrap();
        if !c.note.contains("No data until") && !c.left.contains("compare/") {
            assert_ne!(e.verdict, Verdict::NoData, "{}: {:?}", e.id, e.instances.first().map(|i| &i.problem));
        }
    }
}
