//! Reading text columns from any Arrow producer (PyArrow, Polars, DuckDB, ...) through the
//! PyCapsule interface, without copying the strings.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use pyo3::prelude::*;
use pyo3_arrow::input::AnyArray;

use crate::{Error, Result};

/// The chunks of a string or binary column, kept alive while borrowed.
pub(crate) struct TextColumn {
    chunks: Vec<ArrayRef>,
}

impl TextColumn {
    pub(crate) fn extract(py: Python<'_>, input: AnyArray) -> PyResult<Self> {
        let chunked = input.into_chunked_array().map_err(PyErr::from)?;
        let (chunks, field) = chunked.into_inner();
        match field.data_type() {
            t if is_bytes_like(t) => Ok(TextColumn { chunks }),
            other => Err(super::to_pyerr(
                py,
                Error::Input(format!(
                    "expected a string or binary column, got Arrow type {other}"
                )),
            )),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    /// Borrowed bytes, one per row (None for nulls); strings give their UTF-8 bytes.
    pub(crate) fn bytes(&self) -> Result<Vec<Option<&[u8]>>> {
        let mut out = Vec::with_capacity(self.len());
        for chunk in &self.chunks {
            push_bytes(chunk, &mut out)?;
        }
        Ok(out)
    }

    /// Borrowed texts, one per row (None for nulls). Binary values must be UTF-8: with
    /// `strict` an invalid one is an error naming its row, otherwise it reads as null and its
    /// row is listed in the second result.
    pub(crate) fn texts(&self, strict: bool) -> Result<(Vec<Option<&str>>, Vec<usize>)> {
        let mut out = Vec::with_capacity(self.len());
        let mut invalid = Vec::new();
        for chunk in &self.chunks {
            let base = out.len();
            match chunk.data_type() {
                DataType::Utf8 => out.extend(chunk.as_string::<i32>().iter()),
                DataType::LargeUtf8 => out.extend(chunk.as_string::<i64>().iter()),
                DataType::Utf8View => out.extend(chunk.as_string_view().iter()),
                DataType::Null => out.extend(std::iter::repeat_n(None, chunk.len())),
                DataType::Binary => decode(
                    chunk.as_binary::<i32>().iter(),
                    base,
                    strict,
                    &mut out,
                    &mut invalid,
                )?,
                DataType::LargeBinary => decode(
                    chunk.as_binary::<i64>().iter(),
                    base,
                    strict,
                    &mut out,
                    &mut invalid,
                )?,
                DataType::BinaryView => decode(
                    chunk.as_binary_view().iter(),
                    base,
                    strict,
                    &mut out,
                    &mut invalid,
                )?,
                other => return Err(Error::Input(format!("unsupported Arrow type {other}"))),
            }
        }
        Ok((out, invalid))
    }
}

/// String, binary (any offset width or view) or all-null: what [`push_bytes`] reads.
fn is_bytes_like(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::Null
    )
}

/// Appends the values of a string or binary array as bytes.
fn push_bytes<'a>(chunk: &'a ArrayRef, out: &mut Vec<Option<&'a [u8]>>) -> Result<()> {
    match chunk.data_type() {
        DataType::Binary => out.extend(chunk.as_binary::<i32>().iter()),
        DataType::LargeBinary => out.extend(chunk.as_binary::<i64>().iter()),
        DataType::BinaryView => out.extend(chunk.as_binary_view().iter()),
        DataType::Utf8 => out.extend(
            chunk
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(str::as_bytes)),
        ),
        DataType::LargeUtf8 => out.extend(
            chunk
                .as_string::<i64>()
                .iter()
                .map(|s| s.map(str::as_bytes)),
        ),
        DataType::Utf8View => {
            out.extend(chunk.as_string_view().iter().map(|s| s.map(str::as_bytes)))
        }
        DataType::Null => out.extend(std::iter::repeat_n(None, chunk.len())),
        other => return Err(Error::Input(format!("unsupported Arrow type {other}"))),
    }
    Ok(())
}

fn decode<'a>(
    values: impl Iterator<Item = Option<&'a [u8]>>,
    base: usize,
    strict: bool,
    out: &mut Vec<Option<&'a str>>,
    invalid: &mut Vec<usize>,
) -> Result<()> {
    for (i, v) in values.enumerate() {
        match v.map(std::str::from_utf8) {
            None => out.push(None),
            Some(Ok(s)) => out.push(Some(s)),
            Some(Err(e)) if strict => {
                return Err(Error::Row {
                    row: base + i,
                    reason: format!("invalid UTF-8: {e}"),
                })
            }
            Some(Err(_)) => {
                invalid.push(base + i);
                out.push(None);
            }
        }
    }
    Ok(())
}

/// A list column of strings or binary values (one token set per row), kept alive while borrowed.
pub(crate) struct TokenSets {
    chunks: Vec<ArrayRef>,
}

impl TokenSets {
    pub(crate) fn extract(py: Python<'_>, input: AnyArray) -> PyResult<Self> {
        let chunked = input.into_chunked_array().map_err(PyErr::from)?;
        let (chunks, field) = chunked.into_inner();
        let inner = match field.data_type() {
            DataType::List(f) | DataType::LargeList(f) => f.data_type().clone(),
            other => {
                return Err(super::to_pyerr(
                    py,
                    Error::Input(format!(
                        "expected a list column of strings, got Arrow type {other}"
                    )),
                ))
            }
        };
        match inner {
            t if is_bytes_like(&t) => Ok(TokenSets { chunks }),
            other => Err(super::to_pyerr(
                py,
                Error::Input(format!(
                    "expected lists of strings or bytes, got lists of {other}"
                )),
            )),
        }
    }

    /// The token sets, read in place: no copy of the strings or of the row structure.
    pub(crate) fn view(&self) -> Result<SetsView<'_>> {
        let mut rows = Vec::new();
        let mut values = Vec::with_capacity(self.chunks.len());
        for chunk in &self.chunks {
            let v = values.len();
            let push_rows = |offsets: &mut dyn Iterator<Item = (usize, usize)>,
                             rows: &mut Vec<Option<Row>>| {
                for (row, (start, end)) in offsets.enumerate() {
                    rows.push((!chunk.is_null(row)).then_some(Row {
                        values: v,
                        start,
                        end,
                    }));
                }
            };
            let child = match chunk.data_type() {
                DataType::List(_) => {
                    let l = chunk.as_list::<i32>();
                    let o = l.value_offsets();
                    push_rows(
                        &mut o.windows(2).map(|w| (w[0] as usize, w[1] as usize)),
                        &mut rows,
                    );
                    l.values()
                }
                DataType::LargeList(_) => {
                    let l = chunk.as_list::<i64>();
                    let o = l.value_offsets();
                    push_rows(
                        &mut o.windows(2).map(|w| (w[0] as usize, w[1] as usize)),
                        &mut rows,
                    );
                    l.values()
                }
                other => return Err(Error::Input(format!("unsupported Arrow type {other}"))),
            };
            values.push(Values::new(child)?);
        }
        Ok(SetsView { rows, values })
    }
}

/// One row of a list column: a range of its chunk's values.
#[derive(Clone, Copy)]
pub(crate) struct Row {
    values: usize,
    start: usize,
    end: usize,
}

/// The values (tokens) of one chunk of a list column.
enum Values<'a> {
    Str(&'a arrow_array::StringArray),
    LargeStr(&'a arrow_array::LargeStringArray),
    StrView(&'a arrow_array::StringViewArray),
    Bin(&'a arrow_array::BinaryArray),
    LargeBin(&'a arrow_array::LargeBinaryArray),
    BinView(&'a arrow_array::BinaryViewArray),
    Null,
}

impl<'a> Values<'a> {
    fn new(a: &'a ArrayRef) -> Result<Self> {
        Ok(match a.data_type() {
            DataType::Utf8 => Values::Str(a.as_string::<i32>()),
            DataType::LargeUtf8 => Values::LargeStr(a.as_string::<i64>()),
            DataType::Utf8View => Values::StrView(a.as_string_view()),
            DataType::Binary => Values::Bin(a.as_binary::<i32>()),
            DataType::LargeBinary => Values::LargeBin(a.as_binary::<i64>()),
            DataType::BinaryView => Values::BinView(a.as_binary_view()),
            DataType::Null => Values::Null,
            other => return Err(Error::Input(format!("unsupported Arrow type {other}"))),
        })
    }

    /// Calls `f` with the non-null values `range`; returns how many.
    #[inline]
    fn for_each(&self, range: std::ops::Range<usize>, mut f: impl FnMut(&[u8])) -> usize {
        /// One loop per array type; the null check only where the array has nulls.
        #[inline(always)]
        fn each<'b, A: Array>(
            a: &'b A,
            range: std::ops::Range<usize>,
            value: impl Fn(usize) -> &'b [u8],
            f: &mut impl FnMut(&[u8]),
        ) -> usize {
            if a.null_count() == 0 {
                let n = range.len();
                range.for_each(|j| f(value(j)));
                return n;
            }
            let mut n = 0;
            for j in range {
                if !a.is_null(j) {
                    f(value(j));
                    n += 1;
                }
            }
            n
        }
        match *self {
            Values::Str(a) => each(a, range, |j| a.value(j).as_bytes(), &mut f),
            Values::LargeStr(a) => each(a, range, |j| a.value(j).as_bytes(), &mut f),
            Values::StrView(a) => each(a, range, |j| a.value(j).as_bytes(), &mut f),
            Values::Bin(a) => each(a, range, |j| a.value(j), &mut f),
            Values::LargeBin(a) => each(a, range, |j| a.value(j), &mut f),
            Values::BinView(a) => each(a, range, |j| a.value(j), &mut f),
            Values::Null => 0,
        }
    }
}

/// A list column's token sets, borrowed from the Arrow buffers (null tokens are skipped).
pub(crate) struct SetsView<'a> {
    rows: Vec<Option<Row>>,
    values: Vec<Values<'a>>,
}

impl crate::minhash::TokenSets for SetsView<'_> {
    fn rows(&self) -> usize {
        self.rows.len()
    }

    fn for_each_token(&self, row: usize, f: impl FnMut(&[u8])) -> usize {
        match self.rows[row] {
            Some(r) => self.values[r.values].for_each(r.start..r.end, f),
            None => 0,
        }
    }
}
