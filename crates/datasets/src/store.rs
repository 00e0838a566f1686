//! The data store: manifests in one folder, data set folders in another; generation, verification,
//! pinning and opening of data sets.

use std::path::{Path, PathBuf};

use lightcurve::{LightCurveSet, OwnedLightCurve};
use polars::prelude::*;

use crate::error::{DatasetError, Result};
use crate::hashing::{FileHash, HashCache};
use crate::manifest::{FileEntry, Layout, Manifest, PinState, Source, SyntheticSurvey};

/// Name of the stamp file recording which source produced a data set folder.
const SOURCE_STAMP: &str = ".source-fingerprint";
/// Per-object true parameters of synthetic sets.
pub const TRUTH_FILE: &str = "truth.parquet";

/// One file that does not match its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: PathBuf,
    pub problem: String,
}

/// Outcome of [`DataStore::verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }

    fn details(&self) -> String {
        self.mismatches
            .iter()
            .map(|m| format!("  {}: {}", m.path.display(), m.problem))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What [`DataStore::prepare`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preparation {
    /// Files present and matching their pinned hashes.
    Verified,
    /// Generated now and matching their pinned hashes.
    GeneratedVerified,
    /// Generated now; the manifest has no trusted hashes for this source (unpinned or stale).
    GeneratedUnpinned,
    /// Present, but the manifest has no trusted hashes to check them against.
    PresentUnpinned,
}

/// A data set ready to read.
#[derive(Debug, Clone)]
pub struct PreparedDataset {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub how: Preparation,
    /// Hash standing for the content (combined file hashes).
    pub content_hash: String,
}

/// Manifests folder + data folder + hash cache.
pub struct DataStore {
    manifests_dir: PathBuf,
    data_dir: PathBuf,
    cache: HashCache,
}

impl DataStore {
    pub fn new(manifests_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        let cache = HashCache::open(&data_dir.join(".hash-cache.toml"));
        Self {
            manifests_dir: manifests_dir.into(),
            data_dir,
            cache,
        }
    }

    pub fn manifest_path(&self, name: &str) -> PathBuf {
        self.manifests_dir.join(format!("{name}.toml"))
    }

    /// Names of all manifests, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let rd = std::fs::read_dir(&self.manifests_dir).map_err(|e| DatasetError::io(&self.manifests_dir, e))?;
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let p = e.path();
                (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
            })
            .collect();
        names.sort();
        Ok(names)
    }

    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        let path = self.manifest_path(name);
        if !path.exists() {
            return Err(DatasetError::UnknownManifest {
                name: name.to_string(),
                dir: self.manifests_dir.clone(),
                available: self.names().unwrap_or_default().join(", "),
            });
        }
        Manifest::load(&path)
    }

    /// Folder holding the data set's files.
    pub fn dataset_dir(&self, m: &Manifest) -> PathBuf {
        match &m.source {
            Source::Local { path } if path.is_absolute() => path.clone(),
            Source::Local { path } => self.manifests_dir.parent().unwrap_or(Path::new(".")).join(path),
            _ => self.data_dir.join(&m.name),
        }
    }

    /// Re-hashes every pinned file and reports each mismatch (missing, size, sha256).
    pub fn verify(&mut self, m: &Manifest) -> Result<VerifyReport> {
        let dir = self.dataset_dir(m);
        let mut report = VerifyReport::default();
        for f in &m.files {
            report.checked += 1;
            let p = dir.join(&f.path);
            if !p.exists() {
                report.mismatches.push(Mismatch {
                    path: p,
                    problem: "missing".into(),
                });
                continue;
            }
            let FileHash { bytes, sha256 } = self.cache.hash(&p)?;
            if bytes != f.bytes {
                report.mismatches.push(Mismatch {
                    path: p,
                    problem: format!("size {bytes} bytes, manifest says {}", f.bytes),
                });
            } else if sha256 != f.sha256 {
                report.mismatches.push(Mismatch {
                    path: p,
                    problem: format!("sha256 {sha256}, manifest says {}", f.sha256),
                });
            }
        }
        self.cache.save();
        Ok(report)
    }

    /// Makes the data set available and checked: verifies what is present, (re)generates synthetic
    /// sets when missing, corrupt or made from another source, and refuses unpinned data when `locked`.
    pub fn prepare(&mut self, m: &Manifest, locked: bool) -> Result<PreparedDataset> {
        let dir = self.dataset_dir(m);
        let state = m.pin_state();
        if locked && state != PinState::Pinned {
            return Err(DatasetError::NotPinned {
                name: m.name.clone(),
                state: if state == PinState::Stale { "stale (its source changed since it was pinned)" } else { "unpinned" },
                manifest: self.manifest_path(&m.name),
            });
        }
        let stamp_matches = std::fs::read_to_string(dir.join(SOURCE_STAMP))
            .map(|s| s.trim() == m.source_fingerprint())
            .unwrap_or(false);
        let how = match (&m.source, state) {
            (source, PinState::Pinned) if source.is_generated() => {
                if stamp_matches && self.verify(m)?.is_ok() {
                    Preparation::Verified
                } else {
                    self.generate(m)?;
                    let report = self.verify(m)?;
                    if !report.is_ok() {
                        return Err(DatasetError::Mismatch {
                            name: m.name.clone(),
                            details: format!(
                                "freshly generated files differ from the pinned hashes (generator version changed, or \
                                 output is not deterministic on this machine):\n{}",
                                report.details()
                            ),
                        });
                    }
                    Preparation::GeneratedVerified
                }
            }
            (source, _) if source.is_generated() => {
                if !stamp_matches {
                    self.generate(m)?;
                    Preparation::GeneratedUnpinned
                } else {
                    Preparation::PresentUnpinned
                }
            }
            (_, PinState::Pinned) => {
                let report = self.verify(m)?;
                if report.mismatches.iter().all(|x| x.problem == "missing") && !report.mismatches.is_empty() {
                    return Err(self.missing(m));
                }
                if !report.is_ok() {
                    return Err(DatasetError::Mismatch {
                        name: m.name.clone(),
                        details: format!("{}\nRe-download the files (`cargo xtask data fetch {}`).", report.details(), m.name),
                    });
                }
                Preparation::Verified
            }
            _ => {
                if !dir.exists() {
                    return Err(self.missing(m));
                }
                Preparation::PresentUnpinned
            }
        };
        let content_hash = match how {
            Preparation::Verified | Preparation::GeneratedVerified => m.content_hash(),
            _ => self.hash_present(m)?,
        };
        Ok(PreparedDataset {
            manifest: m.clone(),
            dir,
            how,
            content_hash,
        })
    }

    fn missing(&self, m: &Manifest) -> DatasetError {
        let hint = match &m.source {
            Source::Url { urls, instructions } => format!(
                "Fetch it with `cargo xtask data fetch {}` (from {}), or place the files by hand. {instructions}",
                m.name,
                urls.join(", ")
            ),
            Source::Local { path } => format!("Place the files at {} or edit the manifest's source path.", path.display()),
            Source::Synthetic { .. } | Source::CausalSimulation { .. } => {
                format!("Generate it with `cargo xtask data gen {}`.", m.name)
            }
        };
        DatasetError::Missing {
            name: m.name.clone(),
            dir: self.dataset_dir(m),
            hint,
        }
    }

    /// Combined hash of the files present (for unpinned data sets).
    fn hash_present(&mut self, m: &Manifest) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for e in self.hash_files_present(m)? {
            h.update(e.path.to_string_lossy().as_bytes());
            h.update(e.sha256.as_bytes());
        }
        Ok(hex::encode(h.finalize()))
    }

    /// Hash of every file in the data set folder (sorted by path), excluding our own stamp.
    pub fn hash_files_present(&mut self, m: &Manifest) -> Result<Vec<FileEntry>> {
        let dir = self.dataset_dir(m);
        let mut files = Vec::new();
        collect_files(&dir, &dir, &mut files)?;
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for rel in files {
            let FileHash { bytes, sha256 } = self.cache.hash(&dir.join(&rel))?;
            out.push(FileEntry {
                path: rel,
                bytes,
                sha256,
            });
        }
        self.cache.save();
        Ok(out)
    }

    /// Pins the files present: records their sizes and hashes and the source fingerprint in the
    /// manifest file.
    pub fn lock(&mut self, name: &str) -> Result<Manifest> {
        let mut m = self.manifest(name)?;
        let dir = self.dataset_dir(&m);
        if !dir.exists() {
            return Err(self.missing(&m));
        }
        m.files = self.hash_files_present(&m)?;
        m.pinned_source = Some(m.source_fingerprint());
        m.save(&self.manifest_path(name))?;
        Ok(m)
    }

    /// Generates a synthetic data set into its folder (atomically: a temporary folder is filled,
    /// then swapped in).
    pub fn generate(&mut self, m: &Manifest) -> Result<()> {
        if let Source::CausalSimulation { version, .. } = &m.source {
            return self.generate_causal(m, version);
        }
        let Source::Synthetic {
            version,
            survey,
            seed,
            objects,
            min_per_class,
            shard_size,
            ..
        } = &m.source
        else {
            return Err(DatasetError::Generation {
                name: m.name.clone(),
                problem: "only synthetic data sets can be generated; use `data fetch` for real ones".into(),
            });
        };
        if version != survey_sim::GENERATOR_VERSION {
            return Err(DatasetError::Generation {
                name: m.name.clone(),
                problem: format!(
                    "manifest asks for generator {version}, this build has {}; update the manifest's version and re-lock",
                    survey_sim::GENERATOR_VERSION
                ),
            });
        }
        let (weights, cadence, prefix): (&[(&str, f64)], _, _) = match survey {
            SyntheticSurvey::Macho => (&survey_sim::MACHO_UNLABELED_MIX[..], survey_sim::Cadence::Macho, "macho"),
            SyntheticSurvey::MachoLmcVariables => {
                (&survey_sim::MACHO_LMC_VARIABLES_MIX[..], survey_sim::Cadence::Macho, "macho")
            }
            SyntheticSurvey::Alcock => (&survey_sim::ALCOCK_CLASSES[..], survey_sim::Cadence::Macho, "alcock"),
            SyntheticSurvey::Atlas => (&survey_sim::ATLAS_CLASSES[..], survey_sim::Cadence::Atlas, "atlas"),
        };
        let spec = survey_sim::SurveySpec {
            name: m.name.clone(),
            cadence,
            seed: *seed,
            class_counts: survey_sim::counts_in_proportion(*objects, weights, *min_per_class),
            id_prefix: prefix.to_string(),
        };
        let sims = survey_sim::generate(&spec).map_err(|e| DatasetError::Generation {
            name: m.name.clone(),
            problem: e.to_string(),
        })?;

        let labelled = m.labelled;
        let truth = truth_frame(&sims).map_err(|e| lightcurve::DataError::Table {
            path: TRUTH_FILE.into(),
            source: e,
        })?;
        let curves: Vec<OwnedLightCurve> = sims
            .into_iter()
            .map(|s| OwnedLightCurve {
                object_id: s.object_id,
                band: s.band,
                time: s.time,
                mag: s.mag,
                err: s.err,
                label: labelled.then_some(s.class),
            })
            .collect();
        let set = LightCurveSet::from_curves(curves)?;

        let dir = self.dataset_dir(m);
        let tmp = Self::fresh_tmp(&dir)?;
        match m.layout {
            Layout::Official => {
                lightcurve::write_official(&set, &tmp, *shard_size)?;
            }
            Layout::TensorflowCheckpoint | Layout::CausalTable => {
                return Err(DatasetError::Generation {
                    name: m.name.clone(),
                    problem: "a survey-sim source makes light curves: use layout \"official\" or \"long-table\"".into(),
                })
            }
            Layout::LongTable => {
                lightcurve::write_long_table(
                    &set,
                    &tmp.join("lightcurves.parquet"),
                    labelled.then(|| tmp.join("labels.csv")).as_deref(),
                )?;
            }
        }
        let mut truth = truth;
        lightcurve::io::write_table(&tmp.join(TRUTH_FILE), &mut truth)?;
        self.swap_in(m, &tmp, &dir)
    }

    /// Stamps a freshly generated folder with its source and puts it in place of `dir`.
    fn swap_in(&self, m: &Manifest, tmp: &Path, dir: &Path) -> Result<()> {
        std::fs::write(tmp.join(SOURCE_STAMP), m.source_fingerprint()).map_err(|e| DatasetError::io(tmp, e))?;
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
        }
        std::fs::rename(tmp, dir).map_err(|e| DatasetError::io(dir, e))?;
        Ok(())
    }

    /// Temporary folder beside `dir`, emptied.
    fn fresh_tmp(dir: &Path) -> Result<PathBuf> {
        let tmp = dir.with_extension("generating");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| DatasetError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| DatasetError::io(&tmp, e))?;
        Ok(tmp)
    }

    fn generate_causal(&mut self, m: &Manifest, version: &str) -> Result<()> {
        let problem = |problem: String| DatasetError::Generation { name: m.name.clone(), problem };
        if version != survey_sim::causal::CAUSAL_GENERATOR_VERSION {
            return Err(problem(format!(
                "manifest asks for generator {version}, this build has {}; update the manifest's version and re-lock",
                survey_sim::causal::CAUSAL_GENERATOR_VERSION
            )));
        }
        if m.layout != Layout::CausalTable {
            return Err(problem("a causal-simulation source makes star × instrument tables: use layout \"causal-table\"".into()));
        }
        let spec = m.source.causal_spec().expect("a causal-simulation source");
        let set = survey_sim::causal::simulate(&spec).map_err(|e| problem(e.to_string()))?;
        let dir = self.dataset_dir(m);
        let tmp = Self::fresh_tmp(&dir)?;
        crate::causal::write_causal(&set, &tmp)?;
        self.swap_in(m, &tmp, &dir)
    }

    /// Reads a prepared star × instrument data set (layout "causal-table").
    pub fn open_causal(&self, p: &PreparedDataset) -> Result<survey_sim::causal::CausalSet> {
        let m = &p.manifest;
        match (m.layout, m.source.causal_spec()) {
            (Layout::CausalTable, Some(spec)) => crate::causal::read_causal(&p.dir, &spec),
            _ => Err(DatasetError::Manifest {
                path: self.manifest_path(&m.name),
                problem: format!(
                    "`{}` is not a star × instrument set (layout \"causal-table\", source kind \"causal-simulation\")",
                    m.name
                ),
            }),
        }
    }

    /// Reads a prepared data set into light curves, as its manifest says.
    pub fn open(&self, p: &PreparedDataset) -> Result<LightCurveSet> {
        let m = &p.manifest;
        let set = match m.layout {
            Layout::CausalTable => {
                return Err(DatasetError::Manifest {
                    path: self.manifest_path(&m.name),
                    problem: format!("`{}` holds star × instrument curves (layout \"causal-table\"), not survey light curves: read it with the e09-causal experiment", m.name),
                })
            }
            Layout::TensorflowCheckpoint => {
                return Err(DatasetError::Manifest {
                    path: self.manifest_path(&m.name),
                    problem: format!(
                        "`{}` holds model weights (layout \"tensorflow-checkpoint\"), not light curves: import them with \
                         `cargo xtask weights import {} --out artifacts/imported/{}`",
                        m.name,
                        p.dir.display(),
                        m.name
                    ),
                })
            }
            Layout::Official => {
                let opts = lightcurve::OfficialOptions {
                    labelled: m.labelled,
                    exclude_classes: m.read.exclude_classes.clone(),
                    ..Default::default()
                };
                lightcurve::read_official(&p.dir, &opts)?.0
            }
            Layout::LongTable => {
                let lc = ["lightcurves.parquet", "lightcurves.csv"]
                    .iter()
                    .map(|f| p.dir.join(f))
                    .find(|f| f.exists())
                    .unwrap_or_else(|| p.dir.join("lightcurves.csv"));
                let labels = ["labels.csv", "labels.parquet"]
                    .iter()
                    .map(|f| p.dir.join(f))
                    .find(|f| f.exists());
                let opts = lightcurve::LongTableOptions {
                    band: m.read.band.clone(),
                    labels: if m.labelled {
                        labels.map(|l| (l, lightcurve::LabelMapping::default()))
                    } else {
                        None
                    },
                    exclude_classes: m.read.exclude_classes.clone(),
                    ..Default::default()
                };
                lightcurve::read_long_table(&lc, &opts)?.0
            }
        };
        Ok(set)
    }
}

fn truth_frame(sims: &[survey_sim::SimulatedCurve]) -> PolarsResult<DataFrame> {
    DataFrame::new(vec![
        Column::new("object_id".into(), sims.iter().map(|s| s.object_id.as_str()).collect::<Vec<_>>()),
        Column::new("class".into(), sims.iter().map(|s| s.class.as_str()).collect::<Vec<_>>()),
        Column::new("period_days".into(), sims.iter().map(|s| s.truth.period_days).collect::<Vec<_>>()),
        Column::new("amplitude_mag".into(), sims.iter().map(|s| s.truth.amplitude_mag).collect::<Vec<_>>()),
        Column::new("mean_mag".into(), sims.iter().map(|s| s.truth.mean_mag).collect::<Vec<_>>()),
    ])
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| DatasetError::io(dir, e))?;
        let p = entry.path();
        let name = entry.file_name();
        if name == SOURCE_STAMP {
            continue;
        }
        if p.is_dir() {
            collect_files(root, &p, out)?;
        } else {
            out.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
        }
    }
    Ok(())
}
