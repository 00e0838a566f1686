//! What a result depends on, recorded in its results file, and compared to decide reruns.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Everything that, when it changes, makes a result stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Provenance {
    pub experiment: String,
    pub profile: String,
    pub config_hash: String,
    pub code_hash: String,
    /// Manifest name → content hash.
    pub data: BTreeMap<String, String>,
    /// Upstream experiment → its fingerprint.
    pub upstream: BTreeMap<String, String>,
    /// Hash of all of the above.
    pub fingerprint: String,
    /// The git revision that made the result (informative; not part of the fingerprint).
    pub git_revision: String,
}

impl Provenance {
    pub fn seal(mut self) -> Self {
        let mut h = Sha256::new();
        for part in [&self.experiment, &self.profile, &self.config_hash, &self.code_hash] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for (k, v) in self.data.iter().chain(self.upstream.iter()) {
            h.update(k.as_bytes());
            h.update(v.as_bytes());
            h.update([0]);
        }
        self.fingerprint = hex::encode(h.finalize());
        self
    }

    /// Human-readable reasons why `self` (now) differs from `before`.
    pub fn reasons_against(&self, before: &Provenance) -> Vec<String> {
        let mut r = Vec::new();
        if self.config_hash != before.config_hash {
            r.push("its config changed".to_string());
        }
        if self.code_hash != before.code_hash {
            r.push("its code (or a library it uses) changed".to_string());
        }
        for (k, v) in &self.data {
            match before.data.get(k) {
                Some(old) if old != v => r.push(format!("data `{k}` changed ({} → {})", short(old), short(v))),
                None => r.push(format!("it now reads data `{k}`")),
                _ => {}
            }
        }
        for (k, v) in &self.upstream {
            match before.upstream.get(k) {
                Some(old) if old != v => r.push(format!("upstream `{k}` has new results")),
                None => r.push(format!("it now depends on `{k}`")),
                _ => {}
            }
        }
        r
    }
}

fn short(h: &str) -> &str {
    &h[..h.len().min(10)]
}

pub fn hash_str(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Hash of the Rust sources and manifests under the given workspace-relative folders.
pub fn hash_sources(root: &Path, dirs: &[&str]) -> String {
    let mut files = Vec::new();
    for d in dirs {
        collect(&root.join(d), &mut files);
    }
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        if let Ok(bytes) = std::fs::read(&f) {
            h.update(f.strip_prefix(root).unwrap_or(&f).to_string_lossy().as_bytes());
            h.update(Sha256::digest(&bytes));
        }
    }
    hex::encode(h.finalize())
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target" && n != "snapshots") {
                collect(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs" || x == "toml" || x == "ttf") {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_changed() {
        let a = Provenance {
            experiment: "e".into(),
            profile: "smoke".into(),
            config_hash: "c1".into(),
            code_hash: "k1".into(),
            data: [("d".to_string(), "aaaaaaaaaaaa1".to_string())].into(),
            ..Default::default()
        }
        .seal();
        let mut b = a.clone();
        b.data.insert("d".into(), "bbbbbbbbbbbb2".into());
        b.config_hash = "c2".into();
        let b = b.seal();
        assert_ne!(a.fingerprint, b.fingerprint);
        let r = b.reasons_against(&a);
        assert!(r.iter().any(|s| s.contains("config")), "{r:?}");
        assert!(r.iter().any(|s| s.contains("data `d` changed (aaaaaaaaaa → bbbbbbbbbb)")), "{r:?}");
        assert!(a.reasons_against(&a).is_empty());
    }
}
