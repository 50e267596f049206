//! Bindings for the Hamming search over 64-bit and 256-bit hashes: the edges between equal and
//! near hashes, the number of neighbours of each, and the item pairs that share near region
//! hashes (crop-resistant matching).
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

/// Pairs of items with at least `min_matches` regions within distance `k` on each side:
/// ((m, 2) uint32 item pairs, a < b, sorted; (m,) uint32 matched regions).
#[pyfunction]
#[pyo3(signature = (hashes, items, skip, *, k, min_matches = Int(1)))]
fn region_pairs<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    items: PyReadonlyArray1<'py, u32>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
    min_matches: Int,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray1<u32>>)> {
    let k: u32 = k.py(py, "k")?;
    let min_matches: u32 = min_matches.py(py, "min_matches")?;
    if min_matches == 0 {
        return Err(to_pyerr(
            py,
            Error::param("min_matches", "must be at least 1"),
        ));
    }
    let hashes = hashes.as_array().to_vec();
    let items = items.as_array().to_vec();
    if items.len() != hashes.len() {
        return Err(to_pyerr(
            py,
            Error::param("items", "must have one entry per hash"),
        ));
    }
    let skip = skip_mask(py, &skip, hashes.len())?;
    let pairs = py.detach(|| hamming::region_pairs(&hashes, &items, &skip, k.min(64), min_matches));
    let matches = pairs.iter().map(|p| p.matches).collect();
    let edges = pairs.iter().map(|p| (p.a, p.b)).collect();
    Ok((edges_out(py, edges)?, PyArray1::from_vec(py, matches)))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hamming_neighbours, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_counts, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_neighbours_256, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_counts_256, m)?)?;
    m.add_function(wrap_pyfunction!(region_pairs, m)?)?;
    Ok(())
}
