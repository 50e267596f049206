//! Bindings for MinHash signatures, of texts (shingled in Rust) or of ready-made token sets.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;

use super::arrow::{TextColumn, TokenSets};
use super::text::{opts, shingler};
use super::{run, to_pyerr, Int};
use crate::minhash::{
    set_signatures, signatures, signatures_and_sets, MinHasher, Scheme, TokenSets as _,
};
use crate::Error;

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

/// MinHash signatures and shingle sets of texts in one pass: (signatures, shingle counts, set
/// values, set offsets), as `minhash` and `shingle_sets` give them.
#[pyfunction]
#[pyo3(signature = (
    texts, *, num_perm = Int(128), ngram = Int(5), seed = Int(1), tokenizer = "word", normalize = true,
    fold_digits = false, strip_accents = false
))]
#[allow(clippy::too_many_arguments)]
fn minhash_with_sets<'py>(
    py: Python<'py>,
    texts: AnyArray,
    num_perm: Int,
    ngram: Int,
    seed: Int,
    tokenizer: &str,
    normalize: bool,
    fold_digits: bool,
    strip_accents: bool,
) -> PyResult<(
    Bound<'py, PyArray2<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
)> {
    let sh = shingler(
        py,
        tokenizer,
        ngram.py(py, "ngram")?,
        opts(normalize, fold_digits, strip_accents),
    )?;
    let (num_perm, seed) = (num_perm.py(py, "num_perm")?, seed.py(py, "seed")?);
    let hasher = MinHasher::native(num_perm, seed).map_err(|e| to_pyerr(py, e))?;
    let col = TextColumn::extract(py, texts)?;
    let k = hasher.num_perm();
    let (sigs, counts, values, offsets) = run(py, || {
        let (texts, _) = col.texts(true)?;
        let mut sigs = vec![0u32; texts.len() * k];
        let (counts, sets) = signatures_and_sets(&texts, &sh, &hasher, &mut sigs);
        let (values, offsets) = crate::sets::concat(sets);
        Ok((sigs, counts, values, offsets))
    })?;
    let n = counts.len();
    Ok((
        PyArray1::from_vec(py, sigs).reshape([n, k])?,
        PyArray1::from_vec(py, counts),
        PyArray1::from_vec(py, values),
        PyArray1::from_vec(py, offsets),
    ))
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

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minhash, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_sets, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_with_sets, m)?)?;
    Ok(())
}
