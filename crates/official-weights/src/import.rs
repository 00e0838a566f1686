//! Official checkpoint → our A2 in `MaskTokenMode::OfficialGraph`, with a record of what came from where.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use astromer::dfdx::prelude::Device;
use astromer::{Astromer, AttentionMaskMode, EncoderConfig, MaskTokenMode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tensorbundle::{Bundle, DType};

use crate::error::ImportError;
use crate::keys;

/// File written beside `config.toml` and `model.safetensors`: where the weights came from.
pub const PROVENANCE_FILE: &str = "import.toml";

/// The released models' head size (4 heads × 64 = d 256); used for the head count when nothing
/// else says it, because Q/K/V kernels are d × d whatever the split.
pub const OFFICIAL_HEAD_DIM: usize = 64;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Number of attention heads (not readable from the shapes). `None`: the official run's
    /// `config.toml` beside the checkpoint (`num_heads`), else d / 64.
    pub n_heads: Option<usize>,
    /// Import even when some of our parameters have no official tensor (they keep their seeded
    /// initialisation) or the checkpoint has model tensors we do not map.
    pub allow_partial: bool,
}

/// Where the head count came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadsSource {
    /// `ImportOptions::n_heads`.
    Given,
    /// `num_heads` in the official run's config file beside the checkpoint.
    RunConfig(PathBuf),
    /// d / 64, the released models' head size.
    ReleasedHeadSize,
}

/// A source file and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// What an import did, written to [`PROVENANCE_FILE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Checkpoint prefix as given (made absolute).
    pub source_prefix: PathBuf,
    pub source_files: Vec<SourceFile>,
    pub encoder_prefix: String,
    pub head_prefix: Option<String>,
    pub heads_source: HeadsSource,
    /// Number of tensors copied (official key → our name, in `mapping`).
    pub imported: usize,
    /// Our parameter name → the official variable path it was copied from.
    pub mapping: BTreeMap<String, String>,
    /// Our parameters with no official tensor (kept at their initial values).
    pub missing: Vec<String>,
    /// Official model tensors we did not map.
    pub unexpected: Vec<String>,
    /// Keys skipped as training state (optimizer slots, counters, object graph).
    pub ignored: usize,
    pub notes: Vec<String>,
    pub importer: String,
}

/// Our model with the official weights, and what was done.
pub struct ImportedWeights<D: Device<f32>> {
    pub model: Astromer<D>,
    pub provenance: Provenance,
}

/// Reads an official checkpoint (prefix, `.index` file or folder) into an A2 in official-graph mode.
pub fn import_checkpoint<D: Device<f32>>(
    path: &Path,
    options: &ImportOptions,
    dev: &D,
) -> Result<ImportedWeights<D>, ImportError> {
    let bundle = Bundle::open(path)?;
    let index = bundle.index_path();
    let not_astromer = |problem: String| ImportError::NotAstromer {
        path: index.clone(),
        problem,
    };
    let mut ignored = 0usize;
    let mut variables: Vec<&str> = Vec::new();
    for e in bundle.entries() {
        if keys::is_training_state(&e.key) {
            ignored += 1;
        } else if let Some(p) = keys::variable_path(&e.key) {
            if e.dtype == DType::Float {
                variables.push(p);
            } else {
                ignored += 1;
            }
        } else {
            ignored += 1;
        }
    }
    let prefixes = keys::find_prefixes(variables.iter().copied()).map_err(not_astromer)?;
    let enc = prefixes.encoder.clone();
    let n_blocks = keys::count_blocks(&enc, variables.iter().copied()).map_err(not_astromer)?;
    let has = |p: &str| variables.contains(&p);
    let leak = has(&format!("{enc}/enc_layers/0/reshape_leak_1/kernel"));
    let shape_of = |p: &str| -> Result<Vec<i64>, ImportError> {
        let e = bundle.entry(&format!("{p}/.ATTRIBUTES/VARIABLE_VALUE"))?;
        Ok(e.shape.clone().unwrap_or_default())
    };
    let inp = shape_of(&format!("{enc}/inp_transform/kernel"))?;
    let positive = |v: i64| usize::try_from(v).ok().filter(|&v| v > 0);
    let Some(d) = (match inp[..] {
        [1, d] => positive(d),
        _ => None,
    }) else {
        return Err(not_astromer(format!("inp_transform kernel has shape {inp:?}, expected [1, d] with d > 0")));
    };
    let ffn_width = if n_blocks > 0 {
        let s = shape_of(&format!("{enc}/enc_layers/0/ffn/layer_with_weights-0/kernel"))?;
        match s[..] {
            [a, f] if positive(a) == Some(d) && positive(f).is_some() => f as usize,
            _ => return Err(not_astromer(format!("FFN kernel has shape {s:?}, expected [{d}, ffn] with ffn > 0"))),
        }
    } else {
        // No block: the FFN width is never used; keep the released value.
        512
    };
    let (n_heads, heads_source) = heads(bundle.prefix(), options, d)?;
    let config = EncoderConfig {
        n_blocks,
        d_model: d,
        n_heads,
        ffn_width,
        residual_projections: leak,
        mask_token: MaskTokenMode::OfficialGraph,
        attention_mask: AttentionMaskMode::KeyHidden,
        ..EncoderConfig::astromer2()
    };
    let mut model = Astromer::new(config, dev, 0)?;

    let mapping = keys::mapping(&prefixes, n_blocks, leak);
    let ours: Vec<(String, Vec<usize>)> = model.parameter_shapes();
    let mut copied = BTreeMap::new();
    let mut missing = Vec::new();
    let mut used = BTreeSet::new();
    for (name, shape) in &ours {
        let Some((official, _)) = mapping.iter().find(|(_, o)| o == name) else {
            missing.push(name.clone());
            continue;
        };
        if !has(official) {
            missing.push(name.clone());
            continue;
        }
        let t = bundle.read_f32(&format!("{official}/.ATTRIBUTES/VARIABLE_VALUE"))?;
        if &t.shape != shape {
            return Err(ImportError::Shape {
                path: index.clone(),
                key: official.clone(),
                official: t.shape,
                ours: shape.clone(),
                name: name.clone(),
            });
        }
        model.set_parameter_values(name, &t.values)?;
        used.insert(official.as_str());
        copied.insert(name.clone(), official.clone());
    }
    let unexpected: Vec<String> = variables
        .iter()
        .filter(|p| !used.contains(*p))
        .map(|p| p.to_string())
        .collect();
    // The official graph has no mask-token variable; ours keeps the parameter (official-graph
    // mode never applies it) at its Keras initial value 0.
    let token = "embedding.mask_token".to_string();
    let token_missing = missing.iter().position(|m| *m == token).map(|i| missing.remove(i));
    let mut notes = Vec::new();
    if token_missing.is_some() {
        notes.push(
            "embedding.mask_token: the official graph has no such variable (its token layer falls out \
             of the model, spec §4.3); kept at 0 and never applied in official-graph mode"
                .to_string(),
        );
    }
    if !options.allow_partial && (!missing.is_empty() || !unexpected.is_empty()) {
        return Err(ImportError::Partial {
            path: index.clone(),
            missing,
            unexpected,
        });
    }
    if !missing.is_empty() {
        notes.push(format!(
            "{} parameter(s) not in the checkpoint kept their initialisation (seed 0): {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    let mut files = vec![bundle.index_path()];
    files.extend(bundle.data_paths());
    let source_files = files.iter().map(|f| hash_file(f)).collect::<Result<_, _>>()?;
    let provenance = Provenance {
        source_prefix: clean_path(bundle.prefix()),
        source_files,
        encoder_prefix: enc,
        head_prefix: prefixes.head,
        heads_source,
        imported: copied.len(),
        mapping: copied,
        missing,
        unexpected,
        ignored,
        notes,
        importer: format!("official-weights {}", env!("CARGO_PKG_VERSION")),
    };
    Ok(ImportedWeights { model, provenance })
}

fn heads(prefix: &Path, options: &ImportOptions, d: usize) -> Result<(usize, HeadsSource), ImportError> {
    let check = |h: usize, source: HeadsSource| {
        if h == 0 || d % h != 0 {
            Err(ImportError::Heads {
                problem: format!("{h} heads ({source:?}) do not divide d = {d}"),
            })
        } else {
            Ok((h, source))
        }
    };
    if let Some(h) = options.n_heads {
        return check(h, HeadsSource::Given);
    }
    let dir = prefix.parent().unwrap_or(Path::new("."));
    for name in ["config.toml", "config.yaml", "config.yml"] {
        let path = dir.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        // `num_heads = 4` (toml) or `num_heads: 4` (yaml), at any nesting.
        if let Some(h) = text.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("num_heads")?;
            rest.trim_start_matches([' ', '=', ':']).trim().parse::<usize>().ok()
        }) {
            return check(h, HeadsSource::RunConfig(path));
        }
    }
    if d % OFFICIAL_HEAD_DIM == 0 {
        return check(d / OFFICIAL_HEAD_DIM, HeadsSource::ReleasedHeadSize);
    }
    Err(ImportError::Heads {
        problem: format!(
            "d = {d} is not a multiple of the released head size {OFFICIAL_HEAD_DIM} and no run config \
             (config.toml with num_heads) sits beside the checkpoint: pass the number of heads (--heads N)"
        ),
    })
}

/// `path` made absolute without `..` (canonical when it exists), for the record.
fn clean_path(path: &Path) -> PathBuf {
    let canonical = match (path.parent(), path.file_name()) {
        // The prefix itself is not a file: canonicalise its folder.
        (Some(dir), Some(name)) if !path.exists() => dir.canonicalize().ok().map(|d| d.join(name)),
        _ => path.canonicalize().ok(),
    };
    canonical.unwrap_or_else(|| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

fn hash_file(path: &Path) -> Result<SourceFile, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SourceFile {
        path: clean_path(path),
        bytes: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

impl<D: Device<f32>> ImportedWeights<D> {
    /// Writes our checkpoint (`config.toml`, `model.safetensors`) and [`PROVENANCE_FILE`] into
    /// `dir`. Written into a temporary sibling folder and renamed, so `dir` is never half written.
    pub fn write(&self, dir: &Path) -> Result<(), ImportError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ImportError::Io { path, source }
        };
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let result = (|| {
            self.model.save(&tmp)?;
            let text = toml::to_string(&self.provenance).expect("provenance is serialisable");
            let header = "# Written by `cargo xtask weights import`: the official TensorFlow checkpoint these \
                          weights came from.\n";
            std::fs::write(tmp.join(PROVENANCE_FILE), format!("{header}{text}")).map_err(io(&tmp))?;
            // The old folder moves aside first and is deleted only once the new one is in
            // place, so a failed rename never leaves neither.
            let old = parent.join(format!(".{name}.{}.old", std::process::id()));
            let had_old = dir.exists();
            if had_old {
                std::fs::rename(dir, &old).map_err(io(dir))?;
            }
            if let Err(e) = std::fs::rename(&tmp, dir) {
                if had_old {
                    let _ = std::fs::rename(&old, dir);
                }
                return Err(io(dir)(e));
            }
            if had_old {
                let _ = std::fs::remove_dir_all(&old);
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result
    }
}

/// Reads [`PROVENANCE_FILE`] of an imported checkpoint folder, if it has one.
pub fn read_provenance(dir: &Path) -> Result<Option<Provenance>, ImportError> {
    let path = dir.join(PROVENANCE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| ImportError::Provenance {
            path,
            problem: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Io { path, source }),
    }
}
