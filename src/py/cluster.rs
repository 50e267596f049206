//! Bindings for pair verification and clustering: shingle sets (of texts or of token lists,
//! and read back from a run's set files) and the exact Jaccard of candidate pairs, edges between
//! equal exact hashes, and connected components. Edges travel as (m, 2) uint32 arrays of row
//! indices.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;

use super::arrays::{check_edges, edges_in, edges_out, skip_mask};
use super::arrow::{TextColumn, TokenSets};
use super::text::{opts, shingler};
use super::{run, to_pyerr, Int};
use crate::minhash::TokenSets as _;
use crate::{cluster, sets, Error};
use xxhash_rust::xxh3::xxh3_64;

/// Exact Jaccard similarity of the shingle sets (as 64-bit hashes) of each edge's two texts; the
/// set of each text in an edge is made once.
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
    let sh = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    let col = TextColumn::extract(py, texts)?;
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let out = run(py, || {
        let (texts, _) = col.texts(true)?;
        check_edges(&edges, texts.len())?;
        // The texts in some edge, in row order; edges renumbered into them.
        let mut rows: Vec<u32> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
        rows.sort_unstable();
        rows.dedup();
        let picked: Vec<Option<&str>> = rows.iter().map(|&r| texts[r as usize]).collect();
        let at = |r: u32| rows.binary_search(&r).expect("row of an edge") as u32;
        let local: Vec<(u32, u32)> = edges.iter().map(|&(a, b)| (at(a), at(b))).collect();
        let (values, offsets) = sets::shingle_sets(&picked, &sh);
        Ok(sets::pair_jaccard(&values, &offsets, &local))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// Shingle sets of texts: (values (m,) uint64, offsets (n + 1,) uint64); text `i`'s sorted,
/// distinct xxh3-64 shingle hashes are `values[offsets[i]:offsets[i + 1]]`.
#[pyfunction]
#[pyo3(signature = (texts, *, ngram = Int(5), tokenizer = "word", normalize = true, fold_digits = false, strip_accents = false))]
fn shingle_sets<'py>(
    py: Python<'py>,
    texts: AnyArray,
    ngram: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<(Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u64>>)> {
    let sh = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    let col = TextColumn::extract(py, texts)?;
    let (values, offsets) = run(py, || {
        let (texts, _) = col.texts(true)?;
        Ok(sets::shingle_sets(&texts, &sh))
    })?;
    Ok((
        PyArray1::from_vec(py, values),
        PyArray1::from_vec(py, offsets),
    ))
}

/// Sets of ready-made tokens (a list column of str or bytes; null rows are empty): each token
/// hashed as one shingle is, as (values, offsets) like `shingle_sets`.
#[pyfunction]
fn token_sets<'py>(
    py: Python<'py>,
    sets: AnyArray,
) -> PyResult<(Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u64>>)> {
    let col = TokenSets::extract(py, sets)?;
    let (values, offsets) = run(py, || {
        let view = col.view()?;
        let rows: Vec<Vec<u64>> = (0..view.rows())
            .map(|r| {
                let mut set = Vec::new();
                view.for_each_token(r, |t| set.push(xxh3_64(t)));
                sets::finish_set(&mut set);
                set
            })
            .collect();
        Ok(sets::concat(rows))
    })?;
    Ok((
        PyArray1::from_vec(py, values),
        PyArray1::from_vec(py, offsets),
    ))
}

/// Exact Jaccard of each edge's two sets in a concatenated set column (see `shingle_sets`).
#[pyfunction]
fn set_jaccard<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, u64>,
    offsets: PyReadonlyArray1<'py, u64>,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let values = values
        .as_slice()
        .map_err(|_| to_pyerr(py, Error::param("values", "must be contiguous")))?;
    let offsets = offsets
        .as_slice()
        .map_err(|_| to_pyerr(py, Error::param("offsets", "must be contiguous")))?;
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let out = run(py, || {
        sets::check_offsets(values, offsets)?;
        check_edges(&edges, offsets.len() - 1)?;
        Ok(sets::pair_jaccard(values, offsets, &edges))
    })?;
    Ok(PyArray1::from_vec(py, out))
}

/// The distinct documents of `edges` (sorted) and the edges by position in them (see
/// `sets::edge_documents`).
#[pyfunction]
fn edge_documents<'py>(
    py: Python<'py>,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<(Bound<'py, PyArray1<u32>>, Bound<'py, PyArray2<u32>>)> {
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let (docs, local) = py.detach(|| sets::edge_documents(&edges));
    Ok((PyArray1::from_vec(py, docs), edges_out(py, local)?))
}

/// Bounds of consecutive chunks of `edges` (positions in a list of documents with set sizes
/// `sizes`) whose distinct documents hold at most `cap` values each (see `sets::edge_chunks`).
#[pyfunction]
#[pyo3(signature = (edges, sizes, *, cap))]
fn edge_chunks<'py>(
    py: Python<'py>,
    edges: PyReadonlyArray2<'py, u32>,
    sizes: PyReadonlyArray1<'py, u64>,
    cap: u64,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let sizes = sizes.as_array().to_vec();
    let bounds = run(py, || sets::edge_chunks(&edges, &sizes, cap))?;
    Ok(PyArray1::from_vec(
        py,
        bounds.into_iter().map(|b| b as u64).collect(),
    ))
}

/// Little-endian u64 values of a file: for each `i`, `lengths[i]` values starting at value
/// `starts[i]` after the first `header` bytes, concatenated. Plain reads (no mapping), so a
/// caller's resident memory holds what it asked for and nothing around it.
#[pyfunction]
#[pyo3(signature = (path, starts, lengths, *, header = 0))]
fn read_u64_ranges<'py>(
    py: Python<'py>,
    path: std::path::PathBuf,
    starts: PyReadonlyArray1<'py, u64>,
    lengths: PyReadonlyArray1<'py, u64>,
    header: u64,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let (starts, lengths) = (starts.as_array().to_vec(), lengths.as_array().to_vec());
    let named = |e: Error| match e {
        Error::Param { name, reason } => {
            Error::param(name, format!("{}: {reason}", path.display()))
        }
        other => other,
    };
    let values = run(py, || {
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::param("path", format!("{}: {e}", path.display())))?;
        // Each range lies in the file (checked before anything is read), but ranges may overlap
        // (pairs of offsets), so the sum may pass the file's size. An allocation that fails is
        // an error, not an abort.
        sets::check_ranges(&file, header, &starts, &lengths).map_err(named)?;
        let total = lengths.iter().try_fold(0u64, |t, &n| t.checked_add(n));
        let total = usize::try_from(total.unwrap_or(u64::MAX))
            .map_err(|_| named(Error::param("lengths", "sum beyond memory")))?;
        let mut dst = Vec::new();
        dst.try_reserve_exact(total).map_err(|_| {
            named(Error::param(
                "lengths",
                format!("{total} values: out of memory"),
            ))
        })?;
        dst.resize(total, 0u64);
        sets::read_ranges(&file, header, &starts, &lengths, &mut dst).map_err(named)?;
        Ok(dst)
    })?;
    Ok(PyArray1::from_vec(py, values))
}

/// Exact Jaccard of each edge's two sets, the sets given as ranges of value arrays (a run's
/// set files, mapped, or the ranges read from them): `parts` holds `(values, starts, lengths)`,
/// set `k` of a part being `values[starts[k]..starts[k] + lengths[k]]`; the sets of all parts
/// are numbered one after another, and `edges` pairs those numbers. Nothing is copied: on a
/// mapped file, the pages the comparisons touch come straight from the page cache.
#[pyfunction]
fn set_jaccard_parts<'py>(
    py: Python<'py>,
    parts: Vec<(
        PyReadonlyArray1<'py, u64>,
        PyReadonlyArray1<'py, u64>,
        PyReadonlyArray1<'py, u64>,
    )>,
    edges: PyReadonlyArray2<'py, u32>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let mut sets: Vec<&[u64]> = Vec::new();
    for (i, (values, starts, lengths)) in parts.iter().enumerate() {
        let values = values
            .as_slice()
            .map_err(|_| to_pyerr(py, Error::param("parts", "values must be contiguous")))?;
        let (starts, lengths) = (starts.as_array(), lengths.as_array());
        if starts.len() != lengths.len() {
            let e = Error::param("parts", format!("part {i}: one length per start"));
            return Err(to_pyerr(py, e));
        }
        for (&s, &n) in starts.iter().zip(lengths.iter()) {
            match s.checked_add(n).filter(|&end| end <= values.len() as u64) {
                Some(end) => sets.push(&values[s as usize..end as usize]),
                None => {
                    let e = Error::param(
                        "parts",
                        format!(
                            "part {i}: values {s}..{s}+{n} pass its {} values",
                            values.len()
                        ),
                    );
                    return Err(to_pyerr(py, e));
                }
            }
        }
    }
    let edges = edges_in(&edges).map_err(|e| to_pyerr(py, e))?;
    let out = run(py, || {
        check_edges(&edges, sets.len())?;
        Ok(sets::pair_jaccard_of(&sets, &edges))
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
    m.add_function(wrap_pyfunction!(shingle_sets, m)?)?;
    m.add_function(wrap_pyfunction!(set_jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(edge_documents, m)?)?;
    m.add_function(wrap_pyfunction!(edge_chunks, m)?)?;
    m.add_function(wrap_pyfunction!(token_sets, m)?)?;
    m.add_function(wrap_pyfunction!(read_u64_ranges, m)?)?;
    m.add_function(wrap_pyfunction!(set_jaccard_parts, m)?)?;
    m.add_function(wrap_pyfunction!(exact_duplicate_edges, m)?)?;
    m.add_function(wrap_pyfunction!(components, m)?)?;
    Ok(())
}
