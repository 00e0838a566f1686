//! Profiles as files: `profiles/<name>.toml` holds a profile's data sets and every size and budget
//! each experiment reads (one `[<experiment>]` section per experiment). The same code path runs for
//! every profile; only this file (and so the data) changes. See docs/profiles.md.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The keys of a profile file besides the experiments' sections.
const RESERVED_KEYS: [&str; 4] = ["description", "paper_data", "guard_baseline", "data"];

/// A named run profile read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    name: String,
    /// The file it was read from (named in every error about it).
    origin: PathBuf,
    description: String,
    data: ProfileData,
    paper_data: bool,
    guard_baseline: bool,
    /// `[<experiment>]` sections, as written.
    sections: toml::Table,
}

/// Manifest names of a profile: the unlabelled pretraining set and the labelled sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileData {
    pub pretraining: String,
    pub labelled: Vec<String>,
}

impl ProfileData {
    pub fn all(&self) -> Vec<String> {
        std::iter::once(self.pretraining.clone()).chain(self.labelled.iter().cloned()).collect()
    }
}

#[derive(Deserialize)]
struct Header {
    description: String,
    paper_data: bool,
    guard_baseline: bool,
    data: ProfileData,
}

impl Profile {
    /// Reads `<profiles_dir>/<name>.toml`.
    pub fn load(profiles_dir: &Path, name: &str) -> anyhow::Result<Profile> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("profile name `{name}`: use letters, digits, `-` and `_` (it names profiles/<name>.toml and results/<name>/)");
        }
        let path = profiles_dir.join(format!("{name}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let known = Self::available(profiles_dir).join(", ");
            anyhow::anyhow!(
                "profile `{name}`: cannot read {}: {e}. Known profiles: {known}; a new one is a copy of profiles/small.toml with its own [data] (docs/profiles.md)",
                path.display()
            )
        })?;
        Self::parse(name, &path, &text)
    }

    /// Parses a profile's text; `origin` names the file in errors.
    pub fn parse(name: &str, origin: &Path, text: &str) -> anyhow::Result<Profile> {
        let mut table: toml::Table = toml::from_str(text).with_context(|| format!("{}: not valid TOML", origin.display()))?;
        let header_table: toml::Table = RESERVED_KEYS
            .iter()
            .filter_map(|k| table.remove(*k).map(|v| (k.to_string(), v)))
            .collect();
        let header: Header = toml::Value::Table(header_table).try_into().with_context(|| {
            format!(
                "{}: the header needs description (text), paper_data and guard_baseline (true/false) and [data] with pretraining and labelled manifest names",
                origin.display()
            )
        })?;
        for (key, value) in &table {
            if !value.is_table() {
                bail!("{}: unknown top-level key `{key}` (expected {} or an [<experiment>] section)", origin.display(), RESERVED_KEYS.join(", "));
            }
        }
        Ok(Profile {
            name: name.to_string(),
            origin: origin.to_path_buf(),
            description: header.description,
            data: header.data,
            paper_data: header.paper_data,
            guard_baseline: header.guard_baseline,
            sections: table,
        })
    }

    /// A profile shipped with the workspace (`profiles/<name>.toml`): for tests and examples.
    pub fn shipped(name: &str) -> anyhow::Result<Profile> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles"), name)
    }

    /// Names of the profiles in a folder, sorted.
    pub fn available(profiles_dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(profiles_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".toml").map(str::to_string))
            .collect();
        names.sort();
        names
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn origin(&self) -> &Path {
        &self.origin
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The data sets a profile uses.
    pub fn data(&self) -> &ProfileData {
        &self.data
    }

    /// Whether the data are the paper's own surveys, so that official numbers compare like for like.
    pub fn paper_data(&self) -> bool {
        self.paper_data
    }

    /// Whether reruns are expensive enough that tools must not rerun this profile's baseline unasked.
    pub fn guard_baseline(&self) -> bool {
        self.guard_baseline
    }

    /// Names of the `[<experiment>]` sections.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// The `[<experiment>]` section as the experiment's typed config. Strict: a missing key, a
    /// wrongly typed value or a key the type does not read is an error naming the file and key.
    pub fn section<T: DeserializeOwned + Serialize>(&self, experiment: &str) -> anyhow::Result<T> {
        let raw = self.sections.get(experiment).with_context(|| {
            format!(
                "{} has no [{experiment}] section: copy it from profiles/small.toml and adjust the sizes",
                self.origin.display()
            )
        })?;
        let typed: T = raw
            .clone()
            .try_into()
            .with_context(|| format!("{} [{experiment}]: does not match the experiment's settings", self.origin.display()))?;
        let read_back = toml::Value::try_from(&typed)?;
        if let Some(key) = unread_key(raw, &read_back, experiment) {
            bail!(
                "{}: unknown key `{key}` (not a setting of {experiment}; misspelt? see profiles/small.toml for the keys)",
                self.origin.display()
            );
        }
        Ok(typed)
    }
}

/// The first key path of `written` that `read_back` (the typed value serialised again) lacks.
fn unread_key(written: &toml::Value, read_back: &toml::Value, path: &str) -> Option<String> {
    match (written, read_back) {
        (toml::Value::Table(w), toml::Value::Table(r)) => w.iter().find_map(|(k, v)| {
            let p = format!("{path}.{k}");
            match r.get(k) {
                None => Some(p),
                Some(rv) => unread_key(v, rv, &p),
            }
        }),
        (toml::Value::Array(w), toml::Value::Array(r)) => {
            w.iter().zip(r).enumerate().find_map(|(i, (wv, rv))| unread_key(wv, rv, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Inner {
        lr: f64,
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Cfg {
        epochs: usize,
        adam: Inner,
        #[serde(default)]
        optional: Option<usize>,
    }

    const HEADER: &str = "description = \"t\"\npaper_data = false\nguard_baseline = false\n[data]\npretraining = \"p\"\nlabelled = [\"a\"]\n";

    fn parse(body: &str) -> anyhow::Result<Profile> {
        Profile::parse("t", Path::new("profiles/t.toml"), &format!("{HEADER}{body}"))
    }

    #[test]
    fn reads_header_and_typed_sections() {
        let p = parse("[e9]\nepochs = 3\n[e9.adam]\nlr = 0.5\n").unwrap();
        assert_eq!(p.data().all(), vec!["p".to_string(), "a".to_string()]);
        let c: Cfg = p.section("e9").unwrap();
        assert_eq!(c, Cfg { epochs: 3, adam: Inner { lr: 0.5 }, optional: None });
    }

    #[test]
    fn unknown_and_missing_keys_are_errors_naming_file_and_key() {
        let p = parse("[e9]\nepochs = 3\n[e9.adam]\nlr = 0.5\nlearning_rate = 1\n").unwrap();
        let e = format!("{:#}", p.section::<Cfg>("e9").unwrap_err());
        assert!(e.contains("profiles/t.toml") && e.contains("e9.adam.learning_rate"), "{e}");
        let p = parse("[e9]\n[e9.adam]\nlr = 0.5\n").unwrap();
        let e = format!("{:#}", p.section::<Cfg>("e9").unwrap_err());
        assert!(e.contains("profiles/t.toml [e9]") && e.contains("epochs"), "{e}");
        let e = format!("{:#}", p.section::<Cfg>("e7").unwrap_err());
        assert!(e.contains("no [e7] section"), "{e}");
        let e = format!("{:#}", Profile::parse("t", Path::new("profiles/t.toml"), &format!("colour = 1\n{HEADER}")).unwrap_err());
        assert!(e.contains("unknown top-level key `colour`"), "{e}");
        let e = format!("{:#}", parse("colour = 1\n").unwrap_err());
        assert!(e.contains("profiles/t.toml") && e.contains("unknown field `colour`"), "{e}");
        let e = format!("{:#}", Profile::parse("t", Path::new("x.toml"), "description = \"t\"\n").unwrap_err());
        assert!(e.contains("x.toml") && e.contains("paper_data"), "{e}");
    }

    #[test]
    fn names_are_checked_and_missing_files_list_the_known_profiles() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles");
        assert!(Profile::load(&dir, "../etc").is_err());
        let e = format!("{:#}", Profile::load(&dir, "no-such-profile").unwrap_err());
        assert!(e.contains("small") && e.contains("smoke"), "{e}");
    }

    #[test]
    fn shipped_profiles_parse() {
        for name in ["smoke", "small", "paper"] {
            let p = Profile::shipped(name).unwrap();
            assert_eq!(p.as_str(), name);
            assert_eq!(p.data().labelled.len(), 2);
        }
        assert!(Profile::shipped("paper").unwrap().paper_data());
    }
}
