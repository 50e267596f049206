//! Bindings for candidate generation, pair verification and connected components. Edges travel
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.
//! as (m, 2) uint32 arrays of row indices.

use std::collections::HashSet;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::arrow::TextColumn;
use super::{run, to_pyerr, Int};
use crate::lsh::{self, Bands};
use crate::text::{NormalizeOptions, ShingleKind, Shingler};
use crate::{cluster, hamming, Error, Result};

/// The skip mask, checked to have one entry per hash.
pub(super) fn skip_mask(
    py: Python<'_>,
    skip: &PyReadonlyArray1<'_, bool>,
    n: usize,
) -> PyResult<Vec<bool>> {
    let skip = skip.as_array().to_vec();
    if skip.len() != n {
        return Err(to_pyerr(
            py,
            Error::param("skip", "must have one entry per hash"),
        ));
    }
    Ok(skip)
}

pub(super) fn edges_out<'py>(
    py: Python<'py>,
    edges: Vec<(u32, u32)>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let m = edges.len();
    let flat: Vec<u32> = edges.into_iter().flat_map(|(a, b)| [a, b]).collect();
    PyArray1::from_vec(py, flat).reshape([m, 2])
}

fn edges_in(edges: &PyReadonlyArray2<'_, u32>) -> Result<Vec<(u32, u32)>> {
    let view = edges.as_array();
    if view.ncols() != 2 {
        return Err(Error::param("edges", "must have shape (m, 2)"));
    }
    Ok(view.rows().into_iter().map(|r| (r[0], r[1])).collect())
}

fn contiguous<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray2<'_, T>,
    name: &'static str,
) -> Result<&'a [T]> {
    a.as_slice()
        .map_err(|_| Error::param(name, "must be a C-contiguous array"))
}

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

/// Candidate pairs from equal keys (see `lsh::bucket_pairs`); `docs` are row indices.
#[pyfunction]
#[pyo3(signature = (keys, docs, *, window = Int(1)))]
fn bucket_pairs<'py>(
    py: Python<'py>,
    keys: PyReadonlyArray1<'py, u64>,
    docs: PyReadonlyArray1<'py, u32>,
    window: Int,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let window: usize = window.py(py, "window")?;
    let (keys, docs) = (keys.as_array(), docs.as_array());
    if keys.len() != docs.len() {
        return Err(to_pyerr(
            py,
            Error::param("docs", "must have one entry per key"),
        ));
    }
    let keyed: Vec<(u64, u32)> = keys.iter().copied().zip(docs.iter().copied()).collect();
    let mut edges = py.detach(|| lsh::bucket_pairs(keyed, window));
    edges.sort_unstable();
    edges.dedup();
    edges_out(py, edges)
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

fn check_edges(edges: &[(u32, u32)], n: usize) -> Result<()> {
    match edges
        .iter()
        .find(|&&(a, b)| a as usize >= n || b as usize >= n)
    {
        Some(&(a, b)) => Err(Error::param(
            "edges",
            format!("edge ({a}, {b}) is out of range for {n} rows"),
        )),
        None => Ok(()),
    }
}

/// Exact Jaccard similarity of the shingle sets (as 64-bit hashes) of each edge's two texts.
#[pyfunction]
#[pyo3(signature = (texts, edges, *, ngram = Int(5), tokenizer = "word", normalize = true, fold_digits = false, strip_accents = false))]
#[allow(clippy::too_many_arguments)]
fn jaccard<'py>(
    py: Python<'py>,
    texts: AnyArray,
    edges: PyReadonlyArray2<'py, u32>,
    ngram: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let kind: ShingleKind = tokenizer.parse().map_err(|e| to_pyerr(py, e))?;
    let sh = Shingler::new(
        kind,
        ngram.py(py, "ngram")?,
        NormalizeOptions {
            enabled: normalize,
            fold_digits,
            strip_accents,
        },
    )
    .map_err(|e| to_pyerr(py, e))?;
    let col = TextColumn::extract(py, texts)?;
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let out = run(py, || {
        let (texts, _) = col.texts(true)?;
        check_edges(&edges, texts.len())?;
        Ok(crate::parallel::install(edges.len(), || {
            edges
                .par_iter()
                .map_init(
                    || sh.clone(),
                    |s, &(a, b)| {
                        let mut set = |i: u32| {
                            let mut h = HashSet::new();
                            s.for_each(texts[i as usize].unwrap_or(""), |x| {
                                h.insert(xxh3_64(x));
                            });
                            h
                        };
                        let (x, y) = (set(a), set(b));
                        let union = x.union(&y).count();
                        if union == 0 {
                            0.0
                        } else {
                            x.intersection(&y).count() as f64 / union as f64
                        }
                    },
                )
                .collect()
        }))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

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

/// Edges joining rows with equal 128-bit hashes ((n, 16) uint8) to the first such row.
#[pyfunction]
fn exact_duplicate_edges<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray2<'py, u8>,
    skip: PyReadonlyArray1<'py, bool>,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let view = hashes.as_array();
    if view.ncols() != 16 {
        return Err(to_pyerr(
            py,
            Error::param("hashes", "must have shape (n, 16)"),
        ));
    }
    let h: Vec<u128> = view
        .rows()
        .into_iter()
        .map(|r| {
            u128::from_be_bytes(
                r.iter()
                    .copied()
                    .collect::<Vec<u8>>()
                    .try_into()
                    .expect("16 bytes"),
            )
        })
        .collect();
    let skip = skip_mask(py, &skip, h.len())?;
    let edges = py.detach(|| crate::exact::duplicate_edges(&h, &skip));
    edges_out(py, edges)
}

/// Cluster labels (smallest member index, -1 for singletons) of the graph on `n` rows; `n`
/// at most 2^32 - 1 (rows are `u32`).
#[pyfunction]
fn components<'py>(
    py: Python<'py>,
    n: Int,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let n: u32 = n.py(py, "n")?;
    let n = n as usize;
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let labels = run(py, || {
        check_edges(&edges, n)?;
        Ok(cluster::components(n, &edges))
    })?;
    Ok(PyArray1::from_vec(py, labels))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(lsh_params, m)?)?;
    m.add_function(wrap_pyfunction!(lsh_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(band_keys, m)?)?;
    m.add_function(wrap_pyfunction!(bucket_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(signature_agreement, m)?)?;
    m.add_function(wrap_pyfunction!(jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(hamming_neighbours, m)?)?;
    m.add_function(wrap_pyfunction!(exact_duplicate_edges, m)?)?;
    m.add_function(wrap_pyfunction!(components, m)?)?;
    Ok(())
}
