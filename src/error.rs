//! The one error type of the kernels; converted to Python exceptions only in `py`.

/// Everything a kernel can refuse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of its domain; names the parameter.
    #[error("invalid parameter `{name}`: {reason}")]
    Param { name: &'static str, reason: String },
    /// A row of the input cannot be used (invalid UTF-8, wrong length, ...).
    #[error("row {row}: {reason}")]
    Row { row: usize, reason: String },
    /// The input as a whole has the wrong type or shape.
    #[error("{0}")]
    Input(String),
}

/// Result alias used by every kernel.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::Param {
            name,
            reason: reason.into(),
        }
    }
}
