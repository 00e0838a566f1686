use thiserror::Error;

/// Why a survey specification cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    #[error("unknown class name {name:?}; known classes: {known}")]
    UnknownClass { name: String, known: String },
    #[error("the survey specification asks for 0 objects in total")]
    ZeroCounts,
    #[error("class {class:?} appears more than once in the survey specification")]
    DuplicateClass { class: String },
    #[error("the survey specification lists no classes")]
    EmptySurvey,
    #[error("star × instrument simulator: `{field}` {reason}")]
    InvalidCausalSpec { field: &'static str, reason: String },
}
