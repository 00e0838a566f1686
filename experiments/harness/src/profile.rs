use std::fmt;
use std::str::FromStr;

/// Run sizes. The same code path runs for all three; only sizes (and the data) change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// CI: minutes on 2 cores, tiny synthetic data.
    Smoke,
    /// Default: a laptop, tens of minutes, synthetic data.
    Small,
    /// The paper's sizes on the real surveys; meant for a GPU.
    Paper,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Smoke, Profile::Small, Profile::Paper];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Small => "small",
            Profile::Paper => "paper",
        }
    }

    /// The data sets a profile uses.
    pub fn data(self) -> ProfileData {
        let (pre, alcock, atlas) = match self {
            Profile::Smoke => ("synthetic-macho-smoke", "synthetic-alcock-smoke", "synthetic-atlas-smoke"),
            Profile::Small => ("synthetic-macho-small", "synthetic-alcock-small", "synthetic-atlas-small"),
            Profile::Paper => ("macho", "alcock", "atlas"),
        };
        ProfileData {
            pretraining: pre.to_string(),
            labelled: vec![alcock.to_string(), atlas.to_string()],
        }
    }
}

/// Manifest names of a profile: the unlabelled pretraining set and the labelled sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileData {
    pub pretraining: String,
    pub labelled: Vec<String>,
}

impl ProfileData {
    pub fn all(&self) -> Vec<String> {
        std::iter::once(self.pretraining.clone()).chain(self.labelled.iter().cloned()).collect()
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "smoke" => Ok(Profile::Smoke),
            "small" => Ok(Profile::Small),
            "paper" => Ok(Profile::Paper),
            _ => Err(format!("unknown profile `{s}`: use smoke, small or paper")),
        }
    }
}
