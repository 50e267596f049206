//! Bindings for LLM tokenizers: counts come back as uint32 numpy arrays, ids as Arrow
//! `list<uint32>`.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use std::sync::Arc;

use arrow_array::{ListArray, UInt32Array};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::PyArray;

use super::arrow::TextColumn;
use super::run;
use crate::tokenize::{batch, ranks, HfTokenizer, RankBpe, Tokenizer};
use crate::{Error, Result};

/// A tokenizer loaded from a `tokenizer.json` or a rank file; safe to share between threads.
#[pyclass(frozen, module = "mmdedup._core", name = "LlmTokenizer")]
struct LlmTokenizer {
    inner: Arc<Tokenizer>,
}

/// `list<uint32>` from one id list per row (None: a null row).
fn id_lists(rows: Vec<Option<Vec<u32>>>) -> Result<ListArray> {
    let mut offsets = Vec::with_capacity(rows.len() + 1);
    offsets.push(0i32);
    let total: usize = rows.iter().flatten().map(Vec::len).sum();
    let too_many = || Error::Input(format!("{total} ids: more than one list array holds"));
    let mut values = Vec::with_capacity(total);
    let mut valid = Vec::with_capacity(rows.len());
    for r in rows {
        valid.push(r.is_some());
        values.extend(r.unwrap_or_default());
        offsets.push(i32::try_from(values.len()).map_err(|_| too_many())?);
    }
    let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
    ListArray::try_new(
        Arc::new(Field::new("item", DataType::UInt32, false)),
        OffsetBuffer::new(offsets.into()),
        Arc::new(UInt32Array::from(values)),
        nulls,
    )
    .map_err(|e| Error::Input(format!("building the id lists: {e}")))
}

#[pymethods]
impl LlmTokenizer {
    /// Loads a Hugging Face `tokenizer.json` from its bytes.
    #[staticmethod]
    fn from_json(py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<Self> {
        let data = data.as_bytes().to_vec();
        let t = run(py, move || HfTokenizer::from_bytes(&data))?;
        Ok(LlmTokenizer {
            inner: Arc::new(Tokenizer::Hf(t)),
        })
    }

    /// Loads a tiktoken-style rank file from its bytes, with a split pattern (a regex or the
    /// name of an OpenAI encoding) and special tokens.
    #[staticmethod]
    #[pyo3(signature = (data, *, pattern, special_tokens))]
    fn from_ranks(
        py: Python<'_>,
        data: &Bound<'_, PyBytes>,
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
    ) -> PyResult<Self> {
        let data = data.as_bytes().to_vec();
        let pattern = ranks::preset(pattern).unwrap_or(pattern).to_owned();
        let t = run(py, move || {
            RankBpe::new(ranks::parse_ranks(&data)?, &pattern, special_tokens)
        })?;
        Ok(LlmTokenizer {
            inner: Arc::new(Tokenizer::Ranks(t)),
        })
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// The id of a token, or None (tokenizer.json only).
    fn token_to_id(&self, token: &str) -> Option<u32> {
        match self.inner.as_ref() {
            Tokenizer::Hf(t) => t.token_to_id(token),
            Tokenizer::Ranks(_) => None,
        }
    }

    #[pyo3(signature = (texts, *, add_special_tokens = true))]
    fn count<'py>(
        &self,
        py: Python<'py>,
        texts: AnyArray,
        add_special_tokens: bool,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let col = TextColumn::extract(py, texts)?;
        let tok = self.inner.clone();
        let counts = run(py, || {
            let (texts, _) = col.texts(true)?;
            batch::count(&tok, &texts, add_special_tokens)
        })?;
        Ok(PyArray1::from_vec(py, counts))
    }

    #[pyo3(signature = (texts, *, add_special_tokens = true))]
    fn encode(
        &self,
        py: Python<'_>,
        texts: AnyArray,
        add_special_tokens: bool,
    ) -> PyResult<PyArray> {
        let col = TextColumn::extract(py, texts)?;
        let tok = self.inner.clone();
        let lists = run(py, || {
            let (texts, _) = col.texts(true)?;
            id_lists(batch::encode(&tok, &texts, add_special_tokens)?)
        })?;
        Ok(PyArray::from_array_ref(Arc::new(lists)))
    }

    /// Returns (totals uint32, segment counts uint32, ids list<uint32> or None); see
    /// `batch::count_segments` for `bounds` and `offsets`.
    #[pyo3(signature = (texts, bounds, offsets, *, add_special_tokens = false, ids = false))]
    fn count_segments<'py>(
        &self,
        py: Python<'py>,
        texts: AnyArray,
        bounds: PyReadonlyArray1<'py, u64>,
        offsets: PyReadonlyArray1<'py, u64>,
        add_special_tokens: bool,
        ids: bool,
    ) -> PyResult<(
        Bound<'py, PyArray1<u32>>,
        Bound<'py, PyArray1<u32>>,
        Option<PyArray>,
    )> {
        let col = TextColumn::extract(py, texts)?;
        let bounds = bounds.as_array().to_vec();
        let offsets: Vec<usize> = offsets.as_array().iter().map(|&o| o as usize).collect();
        let tok = self.inner.clone();
        let (r, lists) = run(py, || {
            let (texts, _) = col.texts(true)?;
            let mut r =
                batch::count_segments(&tok, &texts, &bounds, &offsets, add_special_tokens, ids)?;
            let lists = r
                .ids
                .take()
                .map(|all| id_lists(all.into_iter().map(Some).collect()))
                .transpose()?;
            Ok((r, lists))
        })?;
        Ok((
            PyArray1::from_vec(py, r.totals),
            PyArray1::from_vec(py, r.segments),
            lists.map(|l| PyArray::from_array_ref(Arc::new(l))),
        ))
    }
}

/// The split pattern of a known encoding name, or None.
#[pyfunction]
fn tiktoken_pattern(name: &str) -> Option<&'static str> {
    ranks::preset(name)
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LlmTokenizer>()?;
    m.add_function(wrap_pyfunction!(tiktoken_pattern, m)?)?;
    Ok(())
}
