//! Errors of the evaluation crate. Every message names what was wrong and, where there is one,
//! what to change.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EvalError {
    /// Two inputs that must line up element by element do not.
    #[error("length mismatch: {left_name} has {left} elements but {right_name} has {right}")]
    LengthMismatch {
        left_name: &'static str,
        left: usize,
        right_name: &'static str,
        right: usize,
    },

    /// A class label outside `0..n_classes`.
    #[error("{what}[{position}] = {label} is not a valid class index (n_classes = {n_classes})")]
    LabelOutOfRange {
        what: &'static str,
        position: usize,
        label: usize,
        n_classes: usize,
    },

    /// An input that must not be empty is.
    #[error("{0} is empty")]
    Empty(&'static str),

    /// A value that must be finite is not.
    #[error("{what}[{position}] = {value} is not finite")]
    NonFinite {
        what: &'static str,
        position: usize,
        value: f64,
    },

    /// Windows of one object carry different true labels.
    #[error(
        "object {object} has windows with different true labels ({first} and {other}); \
         per-object aggregation needs one label per object"
    )]
    InconsistentObjectLabel {
        object: usize,
        first: usize,
        other: usize,
    },

    /// A class has too few curves for the few-shot protocol.
    #[error(
        "class '{class}' has {available} labelled curves but the few-shot protocol needs at least \
         {needed} (test_per_class = {test_per_class} for the test set, plus at least 1 for the \
         SPC subset); lower FewShotSettings::test_per_class to at most {max_test_per_class}, or drop \
         the class"
    )]
    TooFewCurves {
        class: String,
        available: usize,
        needed: usize,
        test_per_class: usize,
        /// The largest `test_per_class` this class would allow (`available - 1`, saturating).
        max_test_per_class: usize,
    },

    /// Settings that cannot be run.
    #[error("invalid few-shot settings: {0}")]
    InvalidSettings(String),

    /// The light-curve set handed to a set-level helper carries no labels.
    #[error("the light-curve set has no labels; the few-shot protocol needs a labelled set")]
    Unlabelled,
}

pub type Result<T> = std::result::Result<T, EvalError>;

/// Checks that every label is in `0..n_classes`.
pub(crate) fn check_labels(what: &'static str, labels: &[usize], n_classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= n_classes) {
        Some(position) => Err(EvalError::LabelOutOfRange {
            what,
            position,
            label: labels[position],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// Checks that two slices have the same length.
pub(crate) fn check_same_len(
    left_name: &'static str,
    left: usize,
    right_name: &'static str,
    right: usize,
) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(EvalError::LengthMismatch {
            left_name,
            left,
            right_name,
            right,
        })
    }
}
