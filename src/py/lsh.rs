//! Bindings for LSH banding: band geometry, band keys, candidate pairs from shared buckets, and
//! the signature agreement of candidate pairs.

use std::path::PathBuf;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rayon::prelude::*;

use super::arrays::{check_edges, contiguous, edges_in, edges_out};
use super::{run, to_pyerr, Int};
use crate::lsh::{self, Bands};
use crate::Error;

#[pyfunction]
#[pyo3(signature = (threshold, num_perm, *, false_positive_weight = 0.5, false_negative_weight = 0.5))]
fn lsh_params(
    py: Python<'_>,
    threshold: f64,
    num_perm: Int,
    false_positive_weight: f64,
    false_negative_weight: f64,
) -> PyResult<(usize, usize)> {
    let num_perm: usize = num_perm.py(py, "num_perm")?;
    let g = run(py, || {
        lsh::optimal_params(
            threshold,
            num_perm,
            false_positive_weight,
            false_negative_weight,
        )
    })?;
    Ok((g.bands, g.rows))
}

/// The (bands, rows) chosen for recall (see `lsh::recall_params`).
#[pyfunction]
#[pyo3(signature = (threshold, num_perm, *, max_miss = 0.001))]
fn lsh_recall_params(
    py: Python<'_>,
    threshold: f64,
    num_perm: Int,
    max_miss: f64,
) -> PyResult<(usize, usize)> {
    let num_perm: usize = num_perm.py(py, "num_perm")?;
    let g = run(py, || lsh::recall_params(threshold, num_perm, max_miss))?;
    Ok((g.bands, g.rows))
}

#[pyfunction]
#[pyo3(signature = (signatures, skip, *, bands, rows, window = Int(1)))]
fn lsh_candidates<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    skip: PyReadonlyArray1<'py, bool>,
    bands: Int,
    rows: Int,
    window: Int,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let (bands, rows): (usize, usize) = (bands.py(py, "bands")?, rows.py(py, "rows")?);
    let window: usize = window.py(py, "window")?;
    let k = signatures.as_array().ncols();
    let skip = skip.as_array().to_vec();
    let sigs = contiguous(&signatures, "signatures").map_err(|e| to_pyerr(py, e))?;
    if skip.len() * k != sigs.len() {
        return Err(to_pyerr(
            py,
            Error::param("skip", "must have one entry per signature"),
        ));
    }
    let edges = run(py, || {
        let g = Bands::new(bands, rows, k)?;
        Ok(lsh::candidate_pairs(sigs, k, g, &skip, window))
    })?;
    edges_out(py, edges)
}

/// Band keys of each signature: (n, bands) uint64.
#[pyfunction]
#[pyo3(signature = (signatures, *, bands, rows))]
fn band_keys<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    bands: Int,
    rows: Int,
) -> PyResult<Bound<'py, PyArray2<u64>>> {
    let (bands, rows): (usize, usize) = (bands.py(py, "bands")?, rows.py(py, "rows")?);
    let k = signatures.as_array().ncols();
    let sigs = contiguous(&signatures, "signatures").map_err(|e| to_pyerr(py, e))?;
    let n = sigs.len() / k.max(1);
    let keys = run(py, || {
        let g = Bands::new(bands, rows, k)?;
        Ok(lsh::band_keys(sigs, k, g))
    })?;
    PyArray1::from_vec(py, keys).reshape([n, bands])
}

/// Candidate pairs of one on-disk partition (see `lsh::bucket_pairs`), from the (key, doc) rows
/// of its files (see `lsh::rows`), read in parallel in the order given.
#[pyfunction]
#[pyo3(signature = (paths, *, window = Int(1)))]
fn partition_pairs<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    window: Int,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let window: usize = window.py(py, "window")?;
    let edges = run(py, || {
        let mut edges = lsh::bucket_pairs(lsh::rows::read_rows(&paths)?, window);
        crate::parallel::install(edges.len(), || edges.par_sort_unstable());
        edges.dedup();
        Ok(edges)
    })?;
    edges_out(py, edges)
}

/// The records of [`partition_rows`], and the bounds of each partition's.
type RowsOut<'py> = (Bound<'py, PyArray1<u8>>, Bound<'py, PyArray1<u64>>);

/// The (key, doc) records of documents `first..` in each partition (see `lsh::rows`): one uint8
/// array of 12-byte records, partition after partition, and the bounds (in records) of each.
#[pyfunction]
#[pyo3(signature = (keys, skip, *, first, partitions))]
fn partition_rows<'py>(
    py: Python<'py>,
    keys: PyReadonlyArray2<'py, u64>,
    skip: PyReadonlyArray1<'py, bool>,
    first: Int,
    partitions: Int,
) -> PyResult<RowsOut<'py>> {
    let first: u32 = first.py(py, "first")?;
    let partitions: usize = partitions.py(py, "partitions")?;
    let m = keys.as_array().ncols();
    let skip = skip.as_array().to_vec();
    let keys = contiguous(&keys, "keys").map_err(|e| to_pyerr(py, e))?;
    let (rows, bounds) = run(py, || {
        lsh::rows::partition_rows(keys, m, &skip, first, partitions)
    })?;
    Ok((PyArray1::from_vec(py, rows), PyArray1::from_vec(py, bounds)))
}

/// The fraction of equal slots for each edge.
#[pyfunction]
fn signature_agreement<'py>(
    py: Python<'py>,
    signatures: PyReadonlyArray2<'py, u32>,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let k = signatures.as_array().ncols();
    let sigs = contiguous(&signatures, "signatures").map_err(|e| to_pyerr(py, e))?;
    let n = sigs.len() / k.max(1);
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let out = run(py, || {
        check_edges(&edges, n)?;
        let row = |i: u32| &sigs[i as usize * k..(i as usize + 1) * k];
        Ok(crate::parallel::install(edges.len(), || {
            edges
                .par_iter()
                .map(|&(a, b)| lsh::agreement(row(a), row(b)))
                .collect()
        }))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lsh_params, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_recall_params, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(band_keys, m)?)?;
    m.add_function(wrap_pyfunction!(partition_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(partition_rows, m)?)?;
    m.add_function(wrap_pyfunction!(signature_agreement, m)?)?;
    Ok(())
}
