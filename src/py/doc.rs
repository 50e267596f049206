//! Bindings for interleaved documents: markdown to ordered text and image segments.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array};
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;
use pyo3_arrow::{PyArray, PyRecordBatch};

use super::arrow::TextColumn;
use super::run;
use crate::doc::{parse_batch, Kind};
use crate::Error;

/// Flat segments of every document: one row per segment with `doc` (the input row), `kind`
/// ("text" or "image"), `text` (plain text; null for images), `markdown` (the source slice),
/// `src` and `alt` (images; null for text), `before` (the source between the previous segment
/// and this one), `start` and `end` (byte offsets). Also, per document, `tail` (the source after
/// the last segment) and `dangling` (image links without a source, kept as text).
#[pyfunction]
fn parse_markdown(py: Python<'_>, docs: AnyArray) -> PyResult<(PyRecordBatch, PyArray, PyArray)> {
    let col = TextColumn::extract(py, docs)?;
    let (batch, tail, dangling) = run(py, || {
        let (texts, _) = col.texts(true)?;
        let parsed = parse_batch(&texts);
        let total: usize = parsed.iter().map(|p| p.segments.len()).sum();
        let mut doc = Vec::with_capacity(total);
        let mut kind = Vec::with_capacity(total);
        let mut text = Vec::with_capacity(total);
        let mut markdown = Vec::with_capacity(total);
        let (mut src, mut alt) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let mut before = Vec::with_capacity(total);
        let (mut start, mut end) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let mut tail = Vec::with_capacity(parsed.len());
        for (row, (p, md)) in parsed.iter().zip(&texts).enumerate() {
            let md = md.unwrap_or("");
            let mut at = 0;
            for s in &p.segments {
                doc.push(row as u32);
                markdown.push(&md[s.span.clone()]);
                before.push(&md[at..s.span.start]);
                at = s.span.end;
                start.push(s.span.start as u64);
                end.push(s.span.end as u64);
                match s.kind {
                    Kind::Text => {
                        kind.push("text");
                        text.push(Some(s.text.as_str()));
                        src.push(None);
                        alt.push(None);
                    }
                    Kind::Image => {
                        kind.push("image");
                        text.push(None);
                        src.push(Some(s.src.as_str()));
                        alt.push(Some(s.text.as_str()));
                    }
                }
            }
            tail.push(texts[row].map(|_| &md[at..]));
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("doc", Arc::new(UInt32Array::from(doc))),
            ("kind", Arc::new(StringArray::from(kind))),
            ("text", Arc::new(StringArray::from(text))),
            ("markdown", Arc::new(StringArray::from(markdown))),
            ("src", Arc::new(StringArray::from(src))),
            ("alt", Arc::new(StringArray::from(alt))),
            ("before", Arc::new(StringArray::from(before))),
            ("start", Arc::new(UInt64Array::from(start))),
            ("end", Arc::new(UInt64Array::from(end))),
        ];
        let batch = RecordBatch::try_from_iter(columns)
            .map_err(|e| Error::Input(format!("building the segment batch: {e}")))?;
        let dangling: Vec<u32> = parsed.iter().map(|p| p.dangling as u32).collect();
        Ok((batch, StringArray::from(tail), UInt32Array::from(dangling)))
    })?;
    Ok((
        PyRecordBatch::new(batch),
        PyArray::from_array_ref(Arc::new(tail)),
        PyArray::from_array_ref(Arc::new(dangling)),
    ))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_markdown, m)?)?;
    Ok(())
}
