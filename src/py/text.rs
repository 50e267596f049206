//! Bindings for normalization, word tokens, shingles and exact hashes of texts; the shingler
//! options shared with the MinHash and SimHash bindings.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use std::sync::Arc;

use arrow_array::StringArray;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyArray;

use super::arrow::TextColumn;
use super::{run, to_pyerr, Int};
use crate::exact;
use crate::text::{self, NormalizeOptions, ShingleKind, Shingler};

pub(super) fn opts(normalize: bool, fold_digits: bool, strip_accents: bool) -> NormalizeOptions {
    NormalizeOptions {
        enabled: normalize,
        fold_digits,
        strip_accents,
    }
}

pub(super) fn shingler(
    py: Python<'_>,
    tokenizer: &str,
    ngram: usize,
    o: NormalizeOptions,
) -> PyResult<Shingler> {
    let kind: ShingleKind = tokenizer.parse().map_err(|e| to_pyerr(py, e))?;
    Shingler::new(kind, ngram, o).map_err(|e| to_pyerr(py, e))
}

#[pyfunction]
#[pyo3(signature = (texts, *, normalize = true, fold_digits = false, strip_accents = false))]
fn normalize(
    py: Python<'_>,
    texts: AnyArray,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<PyArray> {
    let col = TextColumn::extract(py, texts)?;
    let o = opts(normalize, fold_digits, strip_accents);
    let arr = run(py, || {
        let (texts, _) = col.texts(true)?;
        let out: Vec<Option<String>> = crate::parallel::install(texts.len(), || {
            use rayon::prelude::*;
            texts
                .par_iter()
                .map(|t| t.map(|t| text::normalize(t, o)))
                .collect()
        });
        Ok(StringArray::from(out))
    })?;
    Ok(PyArray::from_array_ref(Arc::new(arr)))
}

#[pyfunction]
#[pyo3(signature = (text, *, normalize = true, fold_digits = false, strip_accents = false))]
fn tokenize(text: &str, normalize: bool, fold_digits: bool, strip_accents: bool) -> Vec<String> {
    let norm = text::normalize(text, opts(normalize, fold_digits, strip_accents));
    text::tokenize::tokens(&norm)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[pyfunction]
#[pyo3(signature = (text, *, ngram = Int(5), tokenizer = "word", normalize = true, fold_digits = false, strip_accents = false))]
fn shingles(
    py: Python<'_>,
    text: &str,
    ngram: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<Vec<String>> {
    let mut s = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    Ok(s.shingles(text))
}

/// Returns (hashes (n, 16) uint8 big-endian, empty (n,) bool).
#[pyfunction]
#[pyo3(signature = (texts, *, normalize = true, fold_digits = false, strip_accents = false))]
fn exact_hash<'py>(
    py: Python<'py>,
    texts: AnyArray,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<(Bound<'py, PyArray2<u8>>, Bound<'py, PyArray1<bool>>)> {
    let col = TextColumn::extract(py, texts)?;
    let o = opts(normalize, fold_digits, strip_accents);
    let (bytes, empty) = run(py, || {
        let (texts, _) = col.texts(true)?;
        let (h, empty) = exact::hashes(&texts, o);
        Ok((
            h.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>(),
            empty,
        ))
    })?;
    let n = empty.len();
    Ok((
        PyArray1::from_vec(py, bytes).reshape([n, 16])?,
        PyArray1::from_vec(py, empty),
    ))
}

/// Rows of a binary column that are not valid UTF-8.
#[pyfunction]
fn invalid_utf8_rows<'py>(py: Python<'py>, texts: AnyArray) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let col = TextColumn::extract(py, texts)?;
    let rows = run(py, || Ok(col.texts(false)?.1))?;
    Ok(PyArray1::from_vec(
        py,
        rows.into_iter().map(|r| r as u64).collect(),
    ))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add_function(wrap_pyfunction!(tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(shingles, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hash, m)?)?;
    m.add_function(wrap_pyfunction!(invalid_utf8_rows, m)?)?;
    Ok(())
}
