//! The crate's one error type.

use std::fmt::Display;

use thiserror::Error as ThisError;

/// Shorthand for `std::result::Result<T, bfactor::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `bfactor`.
///
/// Every fallible function returns [`Result`]. Messages name what was expected and
/// what came, so that a shape bug can be fixed from the message alone:
///
/// ```
/// use bfactor::loss::normalized_mse;
/// use bfactor::ndarray::array;
///
/// let err = normalized_mse(&array![1.0, 2.0, 3.0], &array![1.0, 2.0]).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "shape mismatch: target has shape [2], expected [3] (the shape of prediction)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// An array has the wrong number of axes.
    #[error("{what} has {got} axes (shape {shape:?}), expected {expected}")]
    Rank {
        /// Which argument.
        what: String,
        /// What was expected, e.g. `"1 or 2"` or `"at least 1"`.
        expected: String,
        /// The number of axes that came.
        got: usize,
        /// The full shape that came.
        shape: Vec<usize>,
    },

    /// The last axis (the feature axis, `c_s` or `num_bins`) has the wrong length.
    #[error(
        "{what} has last axis of length {got} (shape {shape:?}), expected {expected} ({meaning})"
    )]
    LastAxis {
        /// Which argument.
        what: String,
        /// What the last axis means, e.g. `"c_s"`.
        meaning: String,
        /// The expected length.
        expected: usize,
        /// The length that came.
        got: usize,
        /// The full shape that came.
        shape: Vec<usize>,
    },

    /// Two arrays that must agree in shape do not.
    #[error("shape mismatch: {what} has shape {got:?}, expected {expected:?} ({reason})")]
    ShapeMismatch {
        /// Which argument.
        what: String,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape that came.
        got: Vec<usize>,
        /// Where the expectation comes from.
        reason: String,
    },

    /// An array has no elements where some are needed.
    #[error("{what} is empty (shape {shape:?}), expected at least one {unit}")]
    Empty {
        /// Which argument.
        what: String,
        /// The shape that came.
        shape: Vec<usize>,
        /// What one element is, e.g. `"token"`.
        unit: String,
    },

    /// NaN or infinity in an input or a weight.
    #[error("{what} holds a non-finite value {value} at index {index:?}, expected finite numbers")]
    NonFinite {
        /// Which argument or weight.
        what: String,
        /// The multi-index of the first offending element.
        index: Vec<usize>,
        /// The value found (NaN or ±inf).
        value: f64,
    },

    /// A mask weight that is negative, NaN or infinite.
    #[error("{what} holds {value} at index {index:?}, expected a finite weight >= 0 (1 = valid, 0 = padding)")]
    InvalidMask {
        /// Which argument.
        what: String,
        /// The multi-index of the first offending weight.
        index: Vec<usize>,
        /// The weight found.
        value: f64,
    },

    /// Too few valid (positive-weight) residues for a statistic.
    #[error("{what}: {got} valid residue(s), expected at least {needed}")]
    TooFewValid {
        /// What needed them, e.g. `"normalized_mse"`.
        what: String,
        /// How many are needed.
        needed: usize,
        /// How many there were.
        got: usize,
    },

    /// A correlation over a constant series.
    #[error("{what}: {series} has zero variance over the valid residues of row {row}, so it cannot be normalised or correlated")]
    ZeroVariance {
        /// What computed it, e.g. `"pearson"`.
        what: String,
        /// `"prediction"` or `"target"`.
        series: String,
        /// The row (protein) index; 0 for 1-D input.
        row: usize,
    },

    /// A configuration value out of its valid range.
    #[error("invalid configuration: {field} = {value}, expected {expected}")]
    Config {
        /// The field's name.
        field: String,
        /// The value that came, formatted.
        value: String,
        /// The valid range.
        expected: String,
    },

    /// A file could not be read or written.
    #[error("cannot access {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },

    /// A weight file is truncated, corrupt or of an unknown format.
    #[error("cannot parse {path}: {message}")]
    Format {
        /// The file (or `"<bytes>"` for an in-memory buffer).
        path: String,
        /// What failed.
        message: String,
    },

    /// A tensor the head needs is not in the file.
    #[error("tensor {name:?} not found; the file has {available:?}")]
    MissingTensor {
        /// The name looked for.
        name: String,
        /// The names that are there.
        available: Vec<String>,
    },

    /// A tensor of an element type that cannot be converted to floats.
    #[error("tensor {name:?} has dtype {dtype}, expected one of {supported}")]
    UnsupportedDtype {
        /// The tensor's name.
        name: String,
        /// Its dtype as the file names it.
        dtype: String,
        /// The dtypes this format supports here.
        supported: String,
    },

    /// A finite value outside the range a format or method can hold.
    #[error("{what} holds {value} at index {index:?}, expected {expected}")]
    OutOfRange {
        /// Which argument.
        what: String,
        /// The multi-index of the first offending value.
        index: Vec<usize>,
        /// The value found.
        value: f64,
        /// The valid range, e.g. `"-99.99 to 999.99 (the PDB B-factor column)"`.
        expected: String,
    },

    /// Training could not take a single optimizer step: no training protein has
    /// anything the objective can learn from.
    #[error("fit: no optimizer step can be taken: {reason}")]
    NothingToTrain {
        /// Why, with the counts of proteins excluded for each reason.
        reason: String,
    },

    /// Training diverged: a weight, a gradient or the loss became NaN or infinite.
    /// The head has been restored to the best finite weights seen.
    #[error("fit diverged in epoch {epoch} ({cause}); the head holds the weights of epoch {best_epoch}, the best before it (lower the learning rate or clip the gradient norm)")]
    Diverged {
        /// The epoch (1-based) in which it happened.
        epoch: usize,
        /// What became non-finite.
        cause: String,
        /// The epoch whose weights the head holds now (0 = the untrained head).
        best_epoch: usize,
    },

    /// A weight file's stored head configuration disagrees with the one given,
    /// or describes a different head.
    #[error("{path}: the file was saved with {field} = {saved}, but {given} was given")]
    SavedConfigMismatch {
        /// The file (or `"<tensors>"`).
        path: String,
        /// The configuration field.
        field: String,
        /// The value stored in the file.
        saved: String,
        /// The value the caller asked for.
        given: String,
    },

    /// A numerical method failed on valid input (e.g. an eigendecomposition that
    /// did not converge).
    #[error("{what} failed: {message}")]
    Numerical {
        /// The method.
        what: String,
        /// What went wrong.
        message: String,
    },
}

/// Constructors, one per variant, so that call sites name the values and not the
/// fields. Text arguments take `impl Into<String>`; values shown as they print
/// (config values, file paths, foreign error messages) take `impl Display`.
/// Some are only used by optional features, hence the `allow(dead_code)` without them.
impl Error {
    /// An [`Error::Rank`]: `what` has `got` axes (full shape `shape`), `expected`
    /// describes the valid ranks.
    pub(crate) fn rank(
        what: impl Into<String>,
        expected: impl Into<String>,
        got: usize,
        shape: impl Into<Vec<usize>>,
    ) -> Self {
        Error::Rank {
            what: what.into(),
            expected: expected.into(),
            got,
            shape: shape.into(),
        }
    }

    /// An [`Error::LastAxis`]: the last axis of `what` (meaning `meaning`) has
    /// length `got` instead of `expected`.
    pub(crate) fn last_axis(
        what: impl Into<String>,
        meaning: impl Into<String>,
        expected: usize,
        got: usize,
        shape: impl Into<Vec<usize>>,
    ) -> Self {
        Error::LastAxis {
            what: what.into(),
            meaning: meaning.into(),
            expected,
            got,
            shape: shape.into(),
        }
    }

    /// An [`Error::ShapeMismatch`]: `what` has shape `got`, `reason` says why
    /// `expected` was expected.
    pub(crate) fn shape_mismatch(
        what: impl Into<String>,
        expected: impl Into<Vec<usize>>,
        got: impl Into<Vec<usize>>,
        reason: impl Into<String>,
    ) -> Self {
        Error::ShapeMismatch {
            what: what.into(),
            expected: expected.into(),
            got: got.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Empty`]: `what` (shape `shape`) holds no `unit`.
    pub(crate) fn empty(
        what: impl Into<String>,
        shape: impl Into<Vec<usize>>,
        unit: impl Into<String>,
    ) -> Self {
        Error::Empty {
            what: what.into(),
            shape: shape.into(),
            unit: unit.into(),
        }
    }

    /// An [`Error::NonFinite`]: `what` holds `value` at `index`.
    pub(crate) fn non_finite(what: impl Into<String>, index: Vec<usize>, value: f64) -> Self {
        Error::NonFinite {
            what: what.into(),
            index,
            value,
        }
    }

    /// An [`Error::InvalidMask`]: the mask `what` holds `value` at `index`.
    pub(crate) fn invalid_mask(what: impl Into<String>, index: Vec<usize>, value: f64) -> Self {
        Error::InvalidMask {
            what: what.into(),
            index,
            value,
        }
    }

    /// An [`Error::TooFewValid`]: `what` had `got` valid residues, `needed` needed.
    pub(crate) fn too_few_valid(what: impl Into<String>, needed: usize, got: usize) -> Self {
        Error::TooFewValid {
            what: what.into(),
            needed,
            got,
        }
    }

    /// An [`Error::ZeroVariance`]: `series` of `row` is constant in `what`.
    pub(crate) fn zero_variance(
        what: impl Into<String>,
        series: impl Into<String>,
        row: usize,
    ) -> Self {
        Error::ZeroVariance {
            what: what.into(),
            series: series.into(),
            row,
        }
    }

    /// An [`Error::Config`]: `field` is `value` (as it prints), `expected` says
    /// what is valid.
    pub(crate) fn config(
        field: impl Into<String>,
        value: impl Display,
        expected: impl Into<String>,
    ) -> Self {
        Error::Config {
            field: field.into(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// An [`Error::Io`]: `path` (as it prints) could not be accessed; `error` is
    /// the operating system's (or the I/O library's) message.
    #[cfg_attr(not(any(feature = "safetensors", feature = "npy")), allow(dead_code))]
    pub(crate) fn io(path: impl Display, error: impl Display) -> Self {
        Error::Io {
            path: path.to_string(),
            message: error.to_string(),
        }
    }

    /// An [`Error::Format`]: `path` (as it prints) could not be parsed.
    pub(crate) fn format(path: impl Display, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// An [`Error::MissingTensor`]: no tensor `name` among `available`.
    pub(crate) fn missing_tensor(name: impl Into<String>, available: Vec<String>) -> Self {
        Error::MissingTensor {
            name: name.into(),
            available,
        }
    }

    /// An [`Error::UnsupportedDtype`]: tensor `name` is of `dtype`.
    pub(crate) fn unsupported_dtype(
        name: impl Into<String>,
        dtype: impl Into<String>,
        supported: impl Into<String>,
    ) -> Self {
        Error::UnsupportedDtype {
            name: name.into(),
            dtype: dtype.into(),
            supported: supported.into(),
        }
    }

    /// An [`Error::OutOfRange`]: `what` holds `value` at `index`, `expected`
    /// is the valid range.
    #[cfg_attr(not(feature = "structure"), allow(dead_code))]
    pub(crate) fn out_of_range(
        what: impl Into<String>,
        index: Vec<usize>,
        value: f64,
        expected: impl Into<String>,
    ) -> Self {
        Error::OutOfRange {
            what: what.into(),
            index,
            value,
            expected: expected.into(),
        }
    }

    /// An [`Error::NothingToTrain`] for `reason`.
    pub(crate) fn nothing_to_train(reason: impl Into<String>) -> Self {
        Error::NothingToTrain {
            reason: reason.into(),
        }
    }

    /// An [`Error::Diverged`] in `epoch` because of `cause`.
    pub(crate) fn diverged(epoch: usize, cause: impl Into<String>, best_epoch: usize) -> Self {
        Error::Diverged {
            epoch,
            cause: cause.into(),
            best_epoch,
        }
    }

    /// An [`Error::SavedConfigMismatch`]: `path` (as it prints) stores `saved`
    /// for `field`, the caller gave `given`.
    pub(crate) fn saved_config_mismatch(
        path: impl Display,
        field: impl Into<String>,
        saved: impl Into<String>,
        given: impl Into<String>,
    ) -> Self {
        Error::SavedConfigMismatch {
            path: path.to_string(),
            field: field.into(),
            saved: saved.into(),
            given: given.into(),
        }
    }

    /// An [`Error::Numerical`]: the method `what` failed with `message`.
    #[cfg_attr(not(feature = "structure"), allow(dead_code))]
    pub(crate) fn numerical(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Numerical {
            what: what.into(),
            message: message.into(),
        }
    }
}
