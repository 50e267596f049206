//! NumPy arrays in and out of the bindings: skip masks, edge lists ((m, 2) uint32 arrays of row
//! indices) and C-contiguous matrices.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::to_pyerr;
use crate::{Error, Result};

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

pub(super) fn edges_in(edges: &PyReadonlyArray2<'_, u32>) -> Result<Vec<(u32, u32)>> {
    let view = edges.as_array();
    if view.ncols() != 2 {
        return Err(Error::param("edges", "must have shape (m, 2)"));
    }
    Ok(view.rows().into_iter().map(|r| (r[0], r[1])).collect())
}

pub(super) fn contiguous<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray2<'_, T>,
    name: &'static str,
) -> Result<&'a [T]> {
    a.as_slice()
        .map_err(|_| Error::param(name, "must be a C-contiguous array"))
}

pub(super) fn check_edges(edges: &[(u32, u32)], n: usize) -> Result<()> {
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
