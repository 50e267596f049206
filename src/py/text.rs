//! Bindings for normalization, tokenization and the per-document signatures.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use std::sync::Arc;

use arrow_array::StringArray;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyArray;

use super::arrow::{TextColumn, TokenSets};
use super::{run, to_pyerr, Int};
use crate::minhash::{set_signatures, signatures, MinHasher, Scheme, TokenSets as _};
use crate::simhash::fingerprints;
use crate::text::{self, NormalizeOptions, ShingleKind, Shingler};
use crate::{exact, Error};

fn opts(normalize: bool, fold_digits: bool, strip_accents: bool) -> NormalizeOptions {
    NormalizeOptions {
        enabled: normalize,
        fold_digits,
        strip_accents,
    }
}

fn shingler(
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

fn hasher(
    scheme: &str,
    num_perm: usize,
    seed: u64,
    a: Option<PyReadonlyArray1<'_, u64>>,
    b: Option<PyReadonlyArray1<'_, u64>>,
) -> crate::Result<MinHasher> {
    match scheme {
        "mmdedup" => MinHasher::native(num_perm, seed),
        "datasketch-legacy" | "datasketch-affine32" => {
            let kind = if scheme == "datasketch-legacy" {
                Scheme::DatasketchLegacy
            } else {
                Scheme::DatasketchAffine32
            };
            match (a, b) {
                (Some(a), Some(b)) => {
                    MinHasher::datasketch(kind, a.as_array().to_vec(), b.as_array().to_vec())
                }
                _ => Err(Error::param(
                    "a",
                    "datasketch schemes need the permutation arrays `a` and `b`",
                )),
            }
        }
        other => Err(Error::param(
            "scheme",
            format!(
                "expected 'mmdedup', 'datasketch-legacy' or 'datasketch-affine32', got {other:?}"
            ),
        )),
    }
}

/// Returns (signatures (n, num_perm) uint32, shingle counts (n,) uint32).
#[pyfunction]
#[pyo3(signature = (
    texts, *, num_perm = Int(128), ngram = Int(5), seed = Int(1), tokenizer = "word", normalize = true,
    fold_digits = false, strip_accents = false, scheme = "mmdedup", a = None, b = None
))]
#[allow(clippy::too_many_arguments)]
fn minhash<'py>(
    py: Python<'py>,
    texts: AnyArray,
    num_perm: Int,
    ngram: Int,
    seed: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
    scheme: &str,
    a: Option<PyReadonlyArray1<'py, u64>>,
    b: Option<PyReadonlyArray1<'py, u64>>,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray1<u32>>)> {
    let sh = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    let (num_perm, seed) = (num_perm.py(py, "num_perm")?, seed.py(py, "seed")?);
    let hasher = hasher(scheme, num_perm, seed, a, b).map_err(|e| to_pyerr(py, e))?;
    let col = TextColumn::extract(py, texts)?;
    let k = hasher.num_perm();
    let (sigs, counts) = run(py, || {
        let (texts, _) = col.texts(true)?;
        let mut sigs = vec![0u32; texts.len() * k];
        let counts = signatures(&texts, &sh, &hasher, &mut sigs);
        Ok((sigs, counts))
    })?;
    let n = counts.len();
    let sigs = PyArray1::from_vec(py, sigs).reshape([n, k])?;
    Ok((sigs, PyArray1::from_vec(py, counts)))
}

/// MinHash of ready-made token sets (a list column): (signatures, token counts).
#[pyfunction]
#[pyo3(signature = (sets, *, num_perm = Int(128), seed = Int(1), scheme = "mmdedup", a = None, b = None))]
fn minhash_sets<'py>(
    py: Python<'py>,
    sets: AnyArray,
    num_perm: Int,
    seed: Int,
    scheme: &str,
    a: Option<PyReadonlyArray1<'py, u64>>,
    b: Option<PyReadonlyArray1<'py, u64>>,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray1<u32>>)> {
    let (num_perm, seed) = (num_perm.py(py, "num_perm")?, seed.py(py, "seed")?);
    let hasher = hasher(scheme, num_perm, seed, a, b).map_err(|e| to_pyerr(py, e))?;
    let col = TokenSets::extract(py, sets)?;
    let k = hasher.num_perm();
    let (sigs, counts) = run(py, || {
        let sets = col.view()?;
        let mut sigs = vec![0u32; sets.rows() * k];
        let counts = set_signatures(&sets, &hasher, &mut sigs);
        Ok((sigs, counts))
    })?;
    let n = counts.len();
    Ok((
        PyArray1::from_vec(py, sigs).reshape([n, k])?,
        PyArray1::from_vec(py, counts),
    ))
}

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
    m.add_function(wrap_pyfunction!(minhash, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_sets, m)?)?;
    m.add_function(wrap_pyfunction!(simhash, m)?)?;
    m.add_function(wrap_pyfunction!(exact_hash, m)?)?;
    m.add_function(wrap_pyfunction!(invalid_utf8_rows, m)?)?;
    Ok(())
}
