//! The crate's one error type.

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
/// use ndarray::array;
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
