//! `data-manifests/<name>.toml`: what a data set is, where it comes from, and the sha256 of every file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DatasetError, Result};

/// On-disk layout of a data set folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `metadata.parquet` + `light_curves/shard_NNN.parquet` (spec §1.3).
    Official,
    /// `lightcurves.csv|parquet` (+ `labels.csv`), long format.
    LongTable,
    /// Model weights, not light curves: a TensorFlow checkpoint (`<prefix>.index` +
    /// `<prefix>.data-NNNNN-of-NNNNN`, e.g. the released Astromer 2 weights), pinned like any data
    /// set and read with `cargo xtask weights import data/<name>`.
    TensorflowCheckpoint,
    /// Star × instrument curves on a regular grid (`survey_sim::causal`, issue 16):
    /// `curves.parquet`, `stars.parquet`, `instruments.parquet` (`datasets::causal`), read with
    /// [`crate::DataStore::open_causal`].
    CausalTable,
}

impl Layout {
    /// Whether the folder holds light curves (and so can be opened as a set).
    pub fn holds_light_curves(self) -> bool {
        !matches!(self, Layout::TensorflowCheckpoint | Layout::CausalTable)
    }
}

/// Which synthetic survey a generator source produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyntheticSurvey {
    /// Unlabelled MACHO-like pretraining set (variables and constant stars mixed).
    Macho,
    /// Unlabelled MACHO-like pretraining set of variable stars only, in the proportions of the
    /// LMC's variable population (`survey_sim::MACHO_LMC_VARIABLES_MIX`).
    MachoLmcVariables,
    /// Labelled Alcock-like set (6 classes, spec §10 proportions).
    Alcock,
    /// Labelled ATLAS-like set (5 classes, spec §10 proportions).
    Atlas,
}

/// Where the files come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// Generated deterministically by `survey-sim`.
    Synthetic {
        generator: String,
        version: String,
        survey: SyntheticSurvey,
        seed: u64,
        objects: usize,
        #[serde(default)]
        min_per_class: usize,
        #[serde(default = "default_shard_size")]
        shard_size: usize,
    },
    /// Generated deterministically by `survey_sim::causal`: observation n shows star n mod
    /// `stars` through one of `instruments`, `steps` samples each; every other choice is
    /// `CausalSpec::paper`'s (docs/simulation.md).
    CausalSimulation {
        version: String,
        seed: u64,
        stars: usize,
        instruments: usize,
        observations: usize,
        steps: usize,
    },
    /// Downloaded from public URLs (archives are unpacked into the data set folder).
    Url {
        urls: Vec<String>,
        #[serde(default)]
        instructions: String,
    },
    /// Files already on disk, e.g. `../shared/data/eros1_lmc_ramp`.
    Local { path: PathBuf },
}

impl Source {
    /// Whether the files are made by a generator of this workspace (and so can be re-made).
    pub fn is_generated(&self) -> bool {
        matches!(self, Source::Synthetic { .. } | Source::CausalSimulation { .. })
    }

    /// The simulator's specification of a star × instrument source.
    pub fn causal_spec(&self) -> Option<survey_sim::causal::CausalSpec> {
        match *self {
            Source::CausalSimulation { seed, stars, instruments, observations, steps, .. } => Some(survey_sim::causal::CausalSpec {
                n_steps: steps,
                ..survey_sim::causal::CausalSpec::sized(seed, stars, instruments, observations)
            }),
            _ => None,
        }
    }
}

fn default_shard_size() -> usize {
    20_000
}

/// One pinned file of a data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the data set folder.
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// How the data set is read into light curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReadSettings {
    /// Keep only this band.
    #[serde(default)]
    pub band: Option<String>,
    /// Classes left out when reading (e.g. `UNK`, `Dubious`).
    #[serde(default)]
    pub exclude_classes: Vec<String>,
}

/// A data manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    pub citation: String,
    pub license: String,
    pub layout: Layout,
    pub labelled: bool,
    #[serde(default)]
    pub read: ReadSettings,
    pub source: Source,
    /// Fingerprint of `source` at the time the files were pinned: when the source changes
    /// (e.g. the seed is edited), the pinned hashes are stale.
    #[serde(default)]
    pub pinned_source: Option<String>,
    /// Pinned files; empty means "unpinned".
    #[serde(default)]
    pub files: Vec<FileEntry>,
}

/// Whether a manifest's hashes can be trusted for its current source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    Pinned,
    /// No hashes recorded yet.
    Unpinned,
    /// Hashes recorded for another source (e.g. another seed).
    Stale,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| DatasetError::io(path, e))?;
        let m: Manifest = toml::from_str(&text).map_err(|e| DatasetError::Manifest {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if m.name != stem {
            return Err(DatasetError::Manifest {
                path: path.to_path_buf(),
                problem: format!("name `{}` differs from the file name `{stem}`", m.name),
            });
        }
        Ok(m)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).map_err(|e| DatasetError::Manifest {
            path: path.to_path_buf(),
            problem: e.to_string(),
        })?;
        lightcurve::io::atomic_write(path, |f| {
            use std::io::Write;
            f.write_all(text.as_bytes()).map_err(|e| lightcurve::DataError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        })?;
        Ok(())
    }

    /// sha256 of the canonical TOML of the source table.
    pub fn source_fingerprint(&self) -> String {
        let text = toml::to_string(&self.source).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    pub fn pin_state(&self) -> PinState {
        if self.files.is_empty() {
            PinState::Unpinned
        } else if self.pinned_source.as_deref() != Some(self.source_fingerprint().as_str()) {
            PinState::Stale
        } else {
            PinState::Pinned
        }
    }

    /// One hash standing for the whole data set content: the pinned file hashes when pinned,
    /// else the source fingerprint (an unpinned set is identified by how it is made).
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        if self.pin_state() == PinState::Pinned {
            for f in &self.files {
                h.update(f.path.to_string_lossy().as_bytes());
                h.update(f.sha256.as_bytes());
            }
        } else {
            h.update(b"source:");
            h.update(self.source_fingerprint().as_bytes());
        }
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Manifest {
        toml::from_str(
            r#"
name = "x"
description = "d"
citation = "c"
license = "CC0-1.0"
layout = "official"
labelled = true
[source]
kind = "synthetic"
generator = "survey-sim"
version = "survey-sim/1"
survey = "alcock"
seed = 7
objects = 100
"#,
        )
        .unwrap()
    }

    #[test]
    fn pin_state_tracks_source_changes() {
        let mut m = example();
        assert_eq!(m.pin_state(), PinState::Unpinned);
        m.files.push(FileEntry {
            path: "a".into(),
            bytes: 1,
            sha256: "00".into(),
        });
        m.pinned_source = Some(m.source_fingerprint());
        assert_eq!(m.pin_state(), PinState::Pinned);
        let pinned_hash = m.content_hash();
        if let Source::Synthetic { seed, .. } = &mut m.source {
            *seed = 8;
        }
        assert_eq!(m.pin_state(), PinState::Stale);
        assert_ne!(m.content_hash(), pinned_hash);
    }

    #[test]
    fn manifest_round_trips_through_toml() {
        let m = example();
        let back: Manifest = toml::from_str(&toml::to_string_pretty(&m).unwrap()).unwrap();
        assert_eq!(m, back);
    }
}
