//! Bindings for pair verification and clustering: exact Jaccard of candidate pairs, edges between
//! equal exact hashes, and connected components. Edges travel as (m, 2) uint32 arrays of row
//! indices.

use std::collections::HashSet;

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::arrays::{check_edges, edges_in, edges_out, skip_mask};
use super::arrow::TextColumn;
use super::{run, to_pyerr, Int};
use crate::text::{NormalizeOptions, ShingleKind, Shingler};
use crate::{cluster, Error};

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
    m.add_function(wrap_pyfunction!(jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(exact_duplicate_edges, m)?)?;
    m.add_function(wrap_pyfunction!(components, m)?)?;
    Ok(())
}
