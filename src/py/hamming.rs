//! Bindings for the Hamming search over 64-bit and 256-bit hashes: the edges between equal and
//! near hashes, and the number of neighbours of each.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::arrays::{edges_out, skip_mask};
use super::{to_pyerr, Int};
use crate::{hamming, Error};

/// (equal edges, near edges) among 64-bit hashes within Hamming distance `k`.
#[pyfunction]
#[pyo3(signature = (hashes, skip, *, k))]
#[allow(clippy::type_complexity)]
fn hamming_neighbours<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<u32>>)> {
    let k: u32 = k.py(py, "k")?;
    let hashes = hashes.as_array().to_vec();
    let skip = skip_mask(py, &skip, hashes.len())?;
    if k > 64 {
        return Err(to_pyerr(py, Error::param("k", "must be at most 64")));
    }
    let n = py.detach(|| hamming::search(&hashes, k, &skip));
    Ok((edges_out(py, n.equal)?, edges_out(py, n.near)?))
}

/// For each hash, how many hashes (itself included) lie within Hamming distance `k`; 0 where
/// skipped.
#[pyfunction]
#[pyo3(signature = (hashes, skip, *, k))]
fn hamming_counts<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let k: u32 = k.py(py, "k")?;
    let hashes = hashes.as_array().to_vec();
    let skip = skip_mask(py, &skip, hashes.len())?;
    let counts = py.detach(|| {
        let n = hamming::search(&hashes, k.min(64), &skip);
        hamming::neighbour_counts(&n, &skip)
    });
    Ok(PyArray1::from_vec(py, counts))
}

fn words_256(py: Python<'_>, hashes: &PyReadonlyArray2<'_, u64>) -> PyResult<Vec<[u64; 4]>> {
    let view = hashes.as_array();
    if view.ncols() != 4 {
        return Err(to_pyerr(
            py,
            Error::param("hashes", "256-bit hashes must have shape (n, 4)"),
        ));
    }
    Ok(view
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect())
}

/// (equal edges, near edges) among 256-bit hashes ((n, 4) uint64) within distance `k`.
#[pyfunction]
#[pyo3(signature = (hashes, skip, *, k))]
fn hamming_neighbours_256<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray2<'py, u64>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray2<u32>>)> {
    let k: u32 = k.py(py, "k")?;
    let words = words_256(py, &hashes)?;
    let skip = skip_mask(py, &skip, words.len())?;
    let n = py.detach(|| hamming::search_256(&words, k.min(256), &skip));
    Ok((edges_out(py, n.equal)?, edges_out(py, n.near)?))
}

/// [`hamming_counts`] for 256-bit hashes.
#[pyfunction]
#[pyo3(signature = (hashes, skip, *, k))]
fn hamming_counts_256<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray2<'py, u64>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let k: u32 = k.py(py, "k")?;
    let words = words_256(py, &hashes)?;
    let skip = skip_mask(py, &skip, words.len())?;
    let counts = py.detach(|| {
        let n = hamming::search_256(&words, k.min(256), &skip);
        hamming::neighbour_counts(&n, &skip)
    });
    Ok(PyArray1::from_vec(py, counts))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hamming_neighbours, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_counts, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_neighbours_256, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_counts_256, m)?)?;
    Ok(())
}
