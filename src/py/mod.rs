//! The Python module `mmdedup._core`: thin bindings over the kernels. Inputs are extracted with
//! the GIL held, the work runs with it released (`run`), and Python objects are built after.

mod arrays;
mod arrow;
mod cluster;
mod doc;
mod hamming;
mod image;
mod lsh;
mod minhash;
mod simhash;
mod text;
mod tokenize;

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::Error;

/// Maps a kernel error to the exception classes of `mmdedup.errors` (which subclass
/// `ValueError`), so `except ValueError` keeps working for callers who do not know ours.
pub(crate) fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    let class = match &err {
        Error::Param { .. } => "ParameterError",
        Error::Row { .. } | Error::Input(_) => "InputError",
    };
    let made = (|| -> PyResult<PyErr> {
        let cls = py.import("mmdedup.errors")?.getattr(class)?;
        let exc = cls.call1((PyString::new(py, &err.to_string()),))?;
        if let Error::Row { row, .. } = &err {
            exc.setattr("row", *row)?;
        }
        Ok(PyErr::from_value(exc))
    })();
    made.unwrap_or_else(|e| e)
}

/// Runs `f` with the GIL released and converts its error.
pub(crate) fn run<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> crate::Result<T> + Send,
) -> PyResult<T> {
    py.detach(f).map_err(|e| to_pyerr(py, e))
}

/// An integer argument as Python gave it (any size), before [`Int::get`] checks it against the
/// parameter's range: a negative or too large value is then a `ParameterError` naming the
/// parameter, where PyO3's own extraction into an unsigned type raises `OverflowError`. Values
/// beyond `i128` saturate (keeping their sign); anything not an integer stays a `TypeError`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Int(pub(crate) i128);

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i128>() {
            Ok(v) => Ok(Int(v)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                let negative = obj.lt(0)?;
                Ok(Int(if negative { i128::MIN } else { i128::MAX }))
            }
            Err(e) => Err(e),
        }
    }
}

/// Unsigned integer types an [`Int`] converts to.
pub(crate) trait Unsigned: TryFrom<i128> {
    const MAX: u128;
}

impl Unsigned for u32 {
    const MAX: u128 = u32::MAX as u128;
}

impl Unsigned for u64 {
    const MAX: u128 = u64::MAX as u128;
}

impl Unsigned for usize {
    const MAX: u128 = usize::MAX as u128;
}

impl Int {
    /// The value as `T`, or a parameter error naming `name`.
    pub(crate) fn get<T: Unsigned>(self, name: &'static str) -> crate::Result<T> {
        T::try_from(self.0).map_err(|_| {
            let got = match self.0 {
                i128::MIN => "a value below -2^127".to_owned(),
                i128::MAX => "a value above 2^127".to_owned(),
                v => v.to_string(),
            };
            Error::param(
                name,
                format!("must be an integer in 0..={}, got {got}", T::MAX),
            )
        })
    }

    /// [`get`](Self::get) with the error already a Python exception.
    pub(crate) fn py<T: Unsigned>(self, py: Python<'_>, name: &'static str) -> PyResult<T> {
        self.get(name).map_err(|e| to_pyerr(py, e))
    }
}

/// Sets the number of worker threads; more than `4 × cores` (at least 256) is a
/// `ParameterError`, as is a pool the system cannot start.
#[pyfunction]
fn set_num_threads(py: Python<'_>, n: Int) -> PyResult<()> {
    let n: usize = n.py(py, "threads")?;
    crate::parallel::set_num_threads(n).map_err(|e| to_pyerr(py, e))
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::parallel::num_threads()
}

/// Runs every kernel the calling thread calls from now on on that thread alone (for threads
/// that each run a unit of a stage at once, as many as there are threads).
#[pyfunction]
fn kernels_on_this_thread(py: Python<'_>) -> PyResult<()> {
    crate::parallel::kernels_on_this_thread().map_err(|e| to_pyerr(py, e))
}

/// While `on`, threads that run their kernels alone hand them to the shared pool again (the
/// end of a stage, fewer units left than threads).
#[pyfunction]
fn share_kernels(on: bool) {
    crate::parallel::share_kernels(on);
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernels_on_this_thread, m)?)?;
    m.add_function(wrap_pyfunction!(share_kernels, m)?)?;
    text::register(m)?;
    minhash::register(m)?;
    simhash::register(m)?;
    lsh::register(m)?;
    hamming::register(m)?;
    cluster::register(m)?;
    image::register(m)?;
    doc::register(m)?;
    tokenize::register(m)?;
    Ok(())
}
