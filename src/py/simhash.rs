//! Bindings for SimHash fingerprints of texts.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;

use super::arrow::TextColumn;
use super::text::{opts, shingler};
use super::{run, Int};
use crate::simhash::fingerprints;

/// Returns (fingerprints (n,) uint64, shingle counts (n,) uint32).
#[pyfunction]
#[pyo3(signature = (texts, *, ngram = Int(3), tokenizer = "word", normalize = true, fold_digits = false, strip_accents = false))]
fn simhash<'py>(
    py: Python<'py>,
    texts: AnyArray,
    ngram: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<(Bound<'py, PyArray1<u64>>, Bound<'py, PyArray1<u32>>)> {
    let sh = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    let col = TextColumn::extract(py, texts)?;
    let (fps, counts) = run(py, || {
        let (texts, _) = col.texts(true)?;
        Ok(fingerprints(&texts, &sh))
    })?;
    Ok((PyArray1::from_vec(py, fps), PyArray1::from_vec(py, counts)))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simhash, m)?)?;
    Ok(())
}
