//! Variants: a named TOML overlay on one or more experiments' configs (`variants/<name>.toml`),
//! run by `cargo xtask compare <name>` beside the baseline. See docs/variants.md.
//!
//! ```toml
//! name = "pe-base-1000"
//! description = "A2 positional encoding base 1000"
//! source = "spec §11: PE base, paper 1000 vs code 10000"
//! targets = ["fig6"]
//!
//! [overlay.e02-pretrain."models[name=A2]".encoder]
//! pe_base = 1000.0
//! ```

pub mod merge;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

pub use merge::{diff, merge, OverlayError};

/// One variant file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Must equal the file's stem.
    pub name: String,
    pub description: String,
    /// Where the switch comes from (spec section, paper text).
    pub source: String,
    /// Targets reproduced by default (`--targets` overrides).
    pub targets: Vec<String>,
    /// Experiment name → overlay table deep-merged into its config.
    pub overlay: BTreeMap<String, Table>,
    /// The file it was read from (not part of the format).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid variant file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: [overlay.{experiment}] names no experiment (known: {known})")]
    UnknownExperiment { path: PathBuf, experiment: String, known: String },
    #[error("{path}, [overlay.{experiment}]: {error}")]
    Overlay { path: PathBuf, experiment: String, error: Box<OverlayError> },
    #[error("no variant `{name}`: {dir} holds {known}")]
    NotFound { name: String, dir: PathBuf, known: String },
}

impl Variant {
    /// Parses a variant file's text; `path` names it in errors and its stem must equal `name`.
    pub fn parse(text: &str, path: &Path) -> Result<Variant, VariantError> {
        let mut v: Variant =
            toml::from_str(text).map_err(|e| VariantError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        v.path = path.to_path_buf();
        let invalid = |message: String| VariantError::Invalid { path: path.to_path_buf(), message };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if v.name != stem {
            return Err(invalid(format!("`name = \"{}\"` differs from the file name `{stem}.toml`; make them equal", v.name)));
        }
        if v.targets.is_empty() {
            return Err(invalid("`targets` is empty; name the targets this variant reproduces, e.g. [\"fig6\"]".into()));
        }
        if v.overlay.is_empty() || v.overlay.values().any(Table::is_empty) {
            return Err(invalid("the overlay is empty; add [overlay.<experiment>] tables with the changed keys".into()));
        }
        Ok(v)
    }

    pub fn load(path: &Path) -> Result<Variant, VariantError> {
        let text = std::fs::read_to_string(path).map_err(|source| VariantError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Experiments the overlay touches.
    pub fn experiments(&self) -> impl Iterator<Item = &str> {
        self.overlay.keys().map(String::as_str)
    }

    /// Errors unless every overlaid experiment is one of `known`.
    pub fn check_experiments(&self, known: &[&str]) -> Result<(), VariantError> {
        match self.experiments().find(|e| !known.contains(e)) {
            None => Ok(()),
            Some(e) => Err(VariantError::UnknownExperiment {
                path: self.path.clone(),
                experiment: e.to_string(),
                known: known.join(", "),
            }),
        }
    }

    /// `base` (an experiment's config) with this variant's overlay for `experiment` merged in;
    /// unchanged when the variant does not touch that experiment.
    pub fn apply(&self, experiment: &str, mut base: Value) -> Result<Value, VariantError> {
        if let Some(overlay) = self.overlay.get(experiment) {
            merge(&mut base, &Value::Table(overlay.clone())).map_err(|error| VariantError::Overlay {
                path: self.path.clone(),
                experiment: experiment.to_string(),
                error: Box::new(error),
            })?;
        }
        Ok(base)
    }
}

/// Every `*.toml` in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Variant>, VariantError> {
    let rd = std::fs::read_dir(dir).map_err(|source| VariantError::Io { path: dir.to_path_buf(), source })?;
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| Variant::load(p)).collect()
}

/// The variant `name` from `dir/<name>.toml`, or an error listing the ready ones.
pub fn find(dir: &Path, name: &str) -> Result<Variant, VariantError> {
    let path = dir.join(format!("{name}.toml"));
    if path.is_file() {
        return Variant::load(&path);
    }
    let known = load_dir(dir)
        .map(|vs| vs.iter().map(|v| v.name.clone()).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    Err(VariantError::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        known: if known.is_empty() { "no variants".into() } else { known },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "pe-base-1000"
        description = "A2 PE base 1000"
        source = "spec §11"
        targets = ["fig6"]
        [overlay.e02-pretrain."models[name=A2]".encoder]
        pe_base = 1000
    "#;

    fn base() -> Value {
        Value::Table(
            r#"
            [[models]]
            name = "A2"
            [models.encoder]
            pe_base = 10000.0
            "#
            .parse()
            .unwrap(),
        )
    }

    #[test]
    fn parses_and_applies_to_its_experiment_only() {
        let v = Variant::parse(GOOD, Path::new("variants/pe-base-1000.toml")).unwrap();
        assert_eq!(v.targets, ["fig6"]);
        assert_eq!(v.experiments().collect::<Vec<_>>(), ["e02-pretrain"]);
        let merged = v.apply("e02-pretrain", base()).unwrap();
        assert_eq!(merged["models"][0]["encoder"]["pe_base"], Value::Float(1000.0));
        assert_eq!(v.apply("e03-finetune", base()).unwrap(), base());
        v.check_experiments(&["e02-pretrain", "e03-finetune"]).unwrap();
    }

    #[test]
    fn errors_name_the_file_the_experiment_and_the_key() {
        let typo = GOOD.replace("pe_base = 1000", "pe_bse = 1000");
        let v = Variant::parse(&typo, Path::new("variants/pe-base-1000.toml")).unwrap();
        let err = v.apply("e02-pretrain", base()).unwrap_err().to_string();
        assert!(err.contains("variants/pe-base-1000.toml"), "{err}");
        assert!(err.contains("[overlay.e02-pretrain]"), "{err}");
        assert!(err.contains("models[name=A2].encoder.pe_bse"), "{err}");

        let err = v.check_experiments(&["e03-finetune"]).unwrap_err().to_string();
        assert!(err.contains("[overlay.e02-pretrain] names no experiment"), "{err}");
    }

    #[test]
    fn file_format_is_checked() {
        let p = Path::new("variants/pe-base-1000.toml");
        let wrong_name = Variant::parse(GOOD, Path::new("variants/other.toml")).unwrap_err().to_string();
        assert!(wrong_name.contains("differs from the file name `other.toml`"), "{wrong_name}");
        let unknown_field = Variant::parse(&format!("colour = 1\n{GOOD}"), p).unwrap_err().to_string();
        assert!(unknown_field.contains("not a valid variant file") && unknown_field.contains("colour"), "{unknown_field}");
        let no_targets = Variant::parse(&GOOD.replace("[\"fig6\"]", "[]"), p).unwrap_err().to_string();
        assert!(no_targets.contains("`targets` is empty"), "{no_targets}");
        let head = GOOD.split("[overlay").next().unwrap();
        let no_overlay = Variant::parse(&format!("{head}[overlay]\n"), p).unwrap_err().to_string();
        assert!(no_overlay.contains("overlay is empty"), "{no_overlay}");
    }

    #[test]
    fn ready_variants_in_the_workspace_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../variants");
        let all = load_dir(&dir).unwrap();
        assert!(all.len() >= 7, "{} variants", all.len());
        assert!(all.iter().any(|v| v.name == "paper-mask"));
        let err = find(&dir, "no-such").unwrap_err().to_string();
        assert!(err.contains("paper-mask"), "{err}");
    }
}
