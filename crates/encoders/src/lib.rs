//! The registry of encoder families: what turns a saved encoder folder into a frozen
//! [`WindowEncoder`], the one interface the classification heads, the per-layer embeddings and the
//! silhouettes read (docs/adding-an-encoder.md).
//!
//! A folder says which family it holds by its config file: `config.toml` for Astromer (A1, A2,
//! any `EncoderConfig`, the imported official weights), `starclr.toml` for StarCLR. A new family
//! adds a [`Family`] variant, its config file name and its loader here; the experiments that take
//! encoders by folder (e04's `pretrained:<model>`) then read it without other changes.

use std::path::{Path, PathBuf};

use lightcurve::WindowEncoder;

/// An encoder family the registry can load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Masked reconstruction (Astromer 1 and 2): `crates/astromer`.
    Astromer,
    /// Contrastive pretraining on overlapping views (StarCLR): `crates/starclr`.
    StarClr,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::Astromer, Family::StarClr];

    /// The file that marks a folder of this family.
    pub fn config_file(self) -> &'static str {
        match self {
            Family::Astromer => astromer::checkpoint::CONFIG_FILE,
            Family::StarClr => starclr::CONFIG_FILE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Astromer => "astromer",
            Family::StarClr => "starclr",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{dir} holds no saved encoder (none of {expected} is there); run the experiment that trains it first")]
    NotAnEncoder { dir: PathBuf, expected: String },
    #[error("{dir} holds the config files of several families ({found}); keep one encoder per folder")]
    Ambiguous { dir: PathBuf, found: String },
    #[error("loading the {family} encoder in {dir}: {message}")]
    Load { family: &'static str, dir: PathBuf, message: String },
}

/// Which family the encoder saved in `dir` belongs to.
pub fn family_of(dir: &Path) -> Result<Family, RegistryError> {
    let found: Vec<Family> = Family::ALL.into_iter().filter(|f| dir.join(f.config_file()).is_file()).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(RegistryError::NotAnEncoder {
            dir: dir.to_path_buf(),
            expected: Family::ALL.map(Family::config_file).join(", "),
        }),
        many => Err(RegistryError::Ambiguous {
            dir: dir.to_path_buf(),
            found: many.iter().map(|f| f.config_file()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// The encoder saved in `dir`, on `dev`, as a frozen [`WindowEncoder`] (inference mode).
pub fn load_frozen(dir: &Path, dev: &astromer::DefaultDevice) -> Result<Box<dyn WindowEncoder>, RegistryError> {
    let family = family_of(dir)?;
    let fail = |message: String| RegistryError::Load { family: family.name(), dir: dir.to_path_buf(), message };
    Ok(match family {
        Family::Astromer => Box::new(astromer::Astromer::load(dir, dev).map_err(|e| fail(e.to_string()))?),
        Family::StarClr => Box::new(starclr::StarClr::load(dir, dev).map_err(|e| fail(e.to_string()))?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n_valid` observations in a window of 8.
    fn window(n_valid: usize) -> lightcurve::PaddedWindow {
        let valid = |i: usize| i < n_valid;
        lightcurve::PaddedWindow {
            object_index: 0,
            start: 0,
            time: (0..8).map(|i| if valid(i) { i as f32 * 0.8 - 2.0 } else { 0.0 }).collect(),
            mag: (0..8).map(|i| if valid(i) { 0.3 * (i as f32 * 1.7).sin() } else { 0.0 }).collect(),
            err: (0..8).map(|i| if valid(i) { 0.01 } else { 0.0 }).collect(),
            loss_weight: vec![1.0; 8],
            n_valid,
            means: Default::default(),
        }
    }

    #[test]
    fn every_family_loads_as_a_window_encoder_with_its_own_weights() {
        let dev = astromer::DefaultDevice::default();
        let (a, s) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut config = astromer::EncoderConfig::astromer2();
        (config.d_model, config.n_heads, config.ffn_width, config.n_blocks) = (8, 2, 16, 2);
        let astromer = astromer::Astromer::new(config, &dev, 3).unwrap();
        astromer.save(a.path()).unwrap();
        let starclr_config = starclr::StarClrConfig {
            d_model: 8,
            n_heads: 2,
            ffn_width: 16,
            n_blocks: 3,
            dropout: 0.0,
            layer_norm_eps: 1e-5,
            projection_hidden: 8,
            projection_dim: 4,
        };
        let starclr = starclr::StarClr::new(starclr_config, &dev, 3).unwrap();
        starclr.save(s.path()).unwrap();
        assert_eq!(family_of(a.path()).unwrap(), Family::Astromer);
        assert_eq!(family_of(s.path()).unwrap(), Family::StarClr);
        let windows = [window(5), window(7)];
        for (dir, direct) in [(a.path(), &astromer as &dyn WindowEncoder), (s.path(), &starclr as &dyn WindowEncoder)] {
            let loaded = load_frozen(dir, &dev).unwrap();
            assert_eq!((loaded.n_representations(), loaded.width()), (direct.n_representations(), direct.width()));
            assert_eq!(loaded.encode_windows(&windows).unwrap().layers, direct.encode_windows(&windows).unwrap().layers);
        }
        assert_eq!(load_frozen(a.path(), &dev).unwrap().n_representations(), 3);
        assert_eq!(load_frozen(s.path(), &dev).unwrap().n_representations(), 4);
    }

    #[test]
    fn a_folder_without_an_encoder_or_with_two_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_frozen(dir.path(), &astromer::DefaultDevice::default()).err().unwrap().to_string();
        assert!(err.contains(&dir.path().display().to_string()) && err.contains("starclr.toml") && err.contains("config.toml"), "{err}");
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        std::fs::write(dir.path().join("starclr.toml"), "").unwrap();
        assert!(matches!(family_of(dir.path()), Err(RegistryError::Ambiguous { .. })));
        std::fs::remove_file(dir.path().join("starclr.toml")).unwrap();
        let err = load_frozen(dir.path(), &astromer::DefaultDevice::default()).err().unwrap().to_string();
        assert!(err.contains("astromer encoder"), "{err}");
    }
}
