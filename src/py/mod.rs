//! The Python module `mmdedup._core`: thin bindings over the kernels. Inputs are extracted with
//! the GIL held, the work runs with it released (`run`), and Python objects are built after.

mod arrow;
mod cluster;
mod doc;
mod image;
mod text;
mod tokenize;

use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::Error;

/// Maps a kernel error to the exception classes of `mmdedup.errors` (which subclass
/// `ValueError`), so `except ValueError` keeps working for callers who do not know ours.
pub(crate) fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    let class = match &err {
        Error::Interrupted => return PyKeyboardInterrupt::new_err("interrupted"),
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

#[pyfunction]
fn set_num_threads(n: usize) {
    crate::parallel::set_num_threads(n)
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::parallel::num_threads()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    text::register(m)?;
    cluster::register(m)?;
    image::register(m)?;
    doc::register(m)?;
    tokenize::register(m)?;
    Ok(())
}
