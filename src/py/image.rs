//! Bindings for perceptual image hashing. Images come as an Arrow binary column or as file paths
//! (read in parallel by the workers); every hash comes back as big-endian bytes per row, with
//! the decoded size and an error message for rows that failed.
#![allow(clippy::type_complexity)] // PyO3 signatures return tuples of arrays.

use std::borrow::Cow;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::input::AnyArray;

use super::arrays::{edges_out, skip_mask};
use super::arrow::TextColumn;
use super::{run, to_pyerr, Int};
use crate::image::regions::RegionSpec;
use crate::image::{
    hash_sources_frames_with, hash_sources_with, region_sources_with, Frames, HashKind, HashSpec,
    Hashed, Limits, Mode, DEFAULT_DECODE_MEMORY, DEFAULT_PIXEL_LIMIT,
};
use crate::{Error, Result};

/// Packs per-image results into Python: a dict with `hashes` (list of (n, nbytes) uint8 arrays,
/// one per method), `quality` ((n,) int16, -1 where not PDQ or failed), `width`, `height`
/// ((n,) uint32, 0 on failure) and `errors` (list of (row, message)).
fn pack<'py>(
    py: Python<'py>,
    specs: &[HashSpec],
    results: Vec<Result<Hashed>>,
) -> PyResult<Bound<'py, PyDict>> {
    let n = results.len();
    let widths: Vec<usize> = specs
        .iter()
        .map(|s| match s.kind {
            HashKind::Pdq(_) => 32,
            _ => (s.hash_size * s.hash_size).div_ceil(8),
        })
        .collect();
    let mut bytes: Vec<Vec<u8>> = widths.iter().map(|w| vec![0u8; n * w]).collect();
    let mut quality = vec![-1i16; n];
    let (mut width, mut height) = (vec![0u32; n], vec![0u32; n]);
    let mut errors: Vec<(usize, String)> = Vec::new();
    for (row, r) in results.into_iter().enumerate() {
        match r {
            Ok(h) => {
                width[row] = h.width;
                height[row] = h.height;
                for (j, v) in h.values.iter().enumerate() {
                    let b = v.to_bytes();
                    bytes[j][row * widths[j]..(row + 1) * widths[j]].copy_from_slice(&b);
                    if let Some(q) = v.quality {
                        quality[row] = q as i16;
                    }
                }
            }
            Err(e) => errors.push((row, e.to_string())),
        }
    }
    let d = PyDict::new(py);
    let arrays: Vec<Bound<'py, PyArray2<u8>>> = bytes
        .into_iter()
        .zip(&widths)
        .map(|(b, &w)| PyArray1::from_vec(py, b).reshape([n, w]))
        .collect::<PyResult<_>>()?;
    d.set_item("hashes", arrays)?;
    d.set_item("quality", PyArray1::from_vec(py, quality))?;
    d.set_item("width", PyArray1::from_vec(py, width))?;
    d.set_item("height", PyArray1::from_vec(py, height))?;
    d.set_item("errors", errors)?;
    Ok(d)
}

/// [`pack`] with one row per frame, and `item` (the input's position) and `frame` ((m,) uint32
/// each) to say whose frame a row holds. An item that failed has one row, frame 0.
/// `truncated` lists the items whose animation had more frames than were hashed.
fn pack_frames<'py>(
    py: Python<'py>,
    specs: &[HashSpec],
    results: Vec<Result<Frames>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut rows: Vec<Result<Hashed>> = Vec::with_capacity(results.len());
    let (mut item, mut frame, mut truncated) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in results.into_iter().enumerate() {
        let i = u32::try_from(i)
            .map_err(|_| to_pyerr(py, Error::param("images", "at most 2^32 images per call")))?;
        match r {
            Ok(Frames {
                frames,
                truncated: cut,
            }) => {
                if cut {
                    truncated.push(i);
                }
                for (f, h) in frames.into_iter().enumerate() {
                    item.push(i);
                    frame.push(f as u32);
                    rows.push(Ok(h));
                }
            }
            Err(e) => {
                item.push(i);
                frame.push(0);
                rows.push(Err(e));
            }
        }
    }
    let d = pack(py, specs, rows)?;
    d.set_item("item", PyArray1::from_vec(py, item))?;
    d.set_item("frame", PyArray1::from_vec(py, frame))?;
    d.set_item("truncated", PyArray1::from_vec(py, truncated))?;
    Ok(d)
}

/// The hashes asked for, the front end and the limits, from the Python arguments.
fn request(
    py: Python<'_>,
    methods: &[String],
    hash_size: Int,
    mode: &str,
    (pixel_limit, memory, frames): (Int, Int, Int),
) -> PyResult<(Vec<HashSpec>, Mode, Limits)> {
    let mode: Mode = mode.parse().map_err(|e| to_pyerr(py, e))?;
    let limits = Limits {
        pixel_limit: pixel_limit.py(py, "pixel_limit")?,
        memory: memory.py(py, "memory")?,
        max_frames: frames.py(py, "frames")?,
    };
    if limits.memory == 0 {
        return Err(to_pyerr(py, Error::param("memory", "must be positive")));
    }
    Ok((
        specs(py, methods, hash_size.py(py, "hash_size")?)?,
        mode,
        limits,
    ))
}

fn specs(py: Python<'_>, methods: &[String], hash_size: usize) -> PyResult<Vec<HashSpec>> {
    if methods.is_empty() {
        return Err(to_pyerr(
            py,
            Error::param("method", "name at least one hash"),
        ));
    }
    methods
        .iter()
        .map(|m| m.parse().map(|k| HashSpec::new(k, hash_size)))
        .collect::<Result<_>>()
        .map_err(|e| to_pyerr(py, e))
}

/// An item of a binary column: nulls are errors.
fn load_item<'a>(b: &'a Option<&[u8]>) -> Result<Cow<'a, [u8]>> {
    b.map(Cow::Borrowed)
        .ok_or_else(|| Error::Input("null image".into()))
}

/// A file, read by the worker thread that hashes it. Only regular files (after symlinks): a
/// FIFO would block the worker until something writes to it, a device could be endless.
fn load_path(p: &String) -> Result<Cow<'_, [u8]>> {
    let cannot = |e: &dyn std::fmt::Display| Error::Input(format!("cannot read {p}: {e}"));
    let meta = std::fs::metadata(p).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    std::fs::read(p).map(Cow::Owned).map_err(|e| cannot(&e))
}

/// Hashes of images given as an Arrow binary column (nulls are errors). With `frames` above 1,
/// a row per frame (see `pack_frames`). `memory` bounds the bytes the images decoded at the
/// same time hold together (estimated from their headers).
#[pyfunction]
#[pyo3(signature = (
    images, *, methods, hash_size = Int(8), mode = "canonical",
    pixel_limit = Int(DEFAULT_PIXEL_LIMIT as i128), frames = Int(1),
    memory = Int(DEFAULT_DECODE_MEMORY as i128)
))]
#[allow(clippy::too_many_arguments)]
fn image_hashes<'py>(
    py: Python<'py>,
    images: AnyArray,
    methods: Vec<String>,
    hash_size: Int,
    mode: &str,
    pixel_limit: Int,
    frames: Int,
    memory: Int,
) -> PyResult<Bound<'py, PyDict>> {
    let (specs, mode, limits) =
        request(py, &methods, hash_size, mode, (pixel_limit, memory, frames))?;
    let col = TextColumn::extract(py, images)?;
    if limits.max_frames > 1 {
        let results = run(py, || {
            let items = col.bytes()?;
            hash_sources_frames_with(&items, load_item, &specs, mode, limits)
        })?;
        return pack_frames(py, &specs, results);
    }
    let results = run(py, || {
        let items = col.bytes()?;
        hash_sources_with(&items, load_item, &specs, mode, limits)
    })?;
    pack(py, &specs, results)
}

/// Hashes of image files, read by the worker threads; as [`image_hashes`].
#[pyfunction]
#[pyo3(signature = (
    paths, *, methods, hash_size = Int(8), mode = "canonical",
    pixel_limit = Int(DEFAULT_PIXEL_LIMIT as i128), frames = Int(1),
    memory = Int(DEFAULT_DECODE_MEMORY as i128)
))]
#[allow(clippy::too_many_arguments)]
fn image_hashes_files<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    methods: Vec<String>,
    hash_size: Int,
    mode: &str,
    pixel_limit: Int,
    frames: Int,
    memory: Int,
) -> PyResult<Bound<'py, PyDict>> {
    let (specs, mode, limits) =
        request(py, &methods, hash_size, mode, (pixel_limit, memory, frames))?;
    if limits.max_frames > 1 {
        let results = run(py, || {
            hash_sources_frames_with(&paths, load_path, &specs, mode, limits)
        })?;
        return pack_frames(py, &specs, results);
    }
    let results = run(py, || {
        hash_sources_with(&paths, load_path, &specs, mode, limits)
    })?;
    pack(py, &specs, results)
}

/// Test hook: `data` decoded as canonical hashing decodes a JPEG at a reduced scale, by our own
/// scaled decoder where it applies (`own`) or always by `jpeg-decoder`. `None` where the reduced
/// decode does not apply; else (width, height, channels, pixels, EXIF orientation, whether our
/// decoder produced it).
#[pyfunction]
#[pyo3(signature = (data, min_side, min_long = 0, own = true))]
fn _jpeg_reduced<'py>(
    py: Python<'py>,
    data: &[u8],
    min_side: u32,
    min_long: u32,
    own: bool,
) -> PyResult<Option<(u32, u32, u8, Bound<'py, PyBytes>, u8, bool)>> {
    let reduced = crate::image::decode::decode_jpeg_reduced_with(
        data,
        min_side,
        min_long,
        DEFAULT_PIXEL_LIMIT,
        own,
    );
    match reduced {
        None => Ok(None),
        Some(Err(e)) => Err(to_pyerr(py, e)),
        Some(Ok((d, used_own))) => {
            let channels = d.image.color().channel_count();
            Ok(Some((
                d.width(),
                d.height(),
                channels,
                PyBytes::new(py, d.image.as_bytes()),
                d.orientation,
                used_own,
            )))
        }
    }
}

/// The region spec, front end and limits from the Python arguments.
#[allow(clippy::too_many_arguments)]
fn region_request(
    py: Python<'_>,
    method: &str,
    hash_size: Int,
    mode: &str,
    (pixel_limit, memory): (Int, Int),
    segment_threshold: f64,
    min_segment_size: Int,
    segmentation_size: Int,
    max_regions: Int,
) -> PyResult<(RegionSpec, Mode, Limits)> {
    let (specs, mode, limits) = request(
        py,
        &[method.to_string()],
        hash_size,
        mode,
        (pixel_limit, memory, Int(1)),
    )?;
    let max_regions: usize = max_regions.py(py, "max_regions")?;
    let spec = RegionSpec {
        hash: specs[0],
        side: segmentation_size.py(py, "segmentation_size")?,
        threshold: segment_threshold as f32,
        min_size: min_segment_size.py(py, "min_segment_size")?,
        max_regions: (max_regions > 0).then_some(max_regions),
    };
    spec.validate().map_err(|e| to_pyerr(py, e))?;
    Ok((spec, mode, limits))
}

/// Region hashes as a dict: `offsets` ((n + 1,) uint64: image `i` owns
/// `hashes[offsets[i]:offsets[i + 1]]`), `hashes` (uint64) and `errors` (list of (row, message);
/// such rows own no hash).
fn pack_regions<'py>(
    py: Python<'py>,
    results: Vec<Result<Vec<u64>>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut offsets = Vec::with_capacity(results.len() + 1);
    offsets.push(0u64);
    let mut hashes = Vec::new();
    let mut errors: Vec<(usize, String)> = Vec::new();
    for (row, r) in results.into_iter().enumerate() {
        match r {
            Ok(h) => hashes.extend(h),
            Err(e) => errors.push((row, e.to_string())),
        }
        offsets.push(hashes.len() as u64);
    }
    let d = PyDict::new(py);
    d.set_item("offsets", PyArray1::from_vec(py, offsets))?;
    d.set_item("hashes", PyArray1::from_vec(py, hashes))?;
    d.set_item("errors", errors)?;
    Ok(d)
}

/// Crop-resistant region hashes (see `crate::image::regions`) of images given as an Arrow binary
/// column (nulls are errors), or of files with `image_regions_files`.
#[pyfunction]
#[pyo3(signature = (
    images, *, method = "dhash", hash_size = Int(8), mode = "canonical",
    pixel_limit = Int(DEFAULT_PIXEL_LIMIT as i128), memory = Int(DEFAULT_DECODE_MEMORY as i128),
    segment_threshold = 128.0, min_segment_size = Int(500), segmentation_size = Int(300),
    max_regions = Int(0)
))]
#[allow(clippy::too_many_arguments)]
fn image_regions<'py>(
    py: Python<'py>,
    images: AnyArray,
    method: &str,
    hash_size: Int,
    mode: &str,
    pixel_limit: Int,
    memory: Int,
    segment_threshold: f64,
    min_segment_size: Int,
    segmentation_size: Int,
    max_regions: Int,
) -> PyResult<Bound<'py, PyDict>> {
    let (spec, mode, limits) = region_request(
        py,
        method,
        hash_size,
        mode,
        (pixel_limit, memory),
        segment_threshold,
        min_segment_size,
        segmentation_size,
        max_regions,
    )?;
    let col = TextColumn::extract(py, images)?;
    let results = run(py, || {
        let items = col.bytes()?;
        region_sources_with(&items, load_item, &spec, mode, limits)
    })?;
    pack_regions(py, results)
}

/// [`image_regions`] of image files, read by the worker threads.
#[pyfunction]
#[pyo3(signature = (
    paths, *, method = "dhash", hash_size = Int(8), mode = "canonical",
    pixel_limit = Int(DEFAULT_PIXEL_LIMIT as i128), memory = Int(DEFAULT_DECODE_MEMORY as i128),
    segment_threshold = 128.0, min_segment_size = Int(500), segmentation_size = Int(300),
    max_regions = Int(0)
))]
#[allow(clippy::too_many_arguments)]
fn image_regions_files<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    method: &str,
    hash_size: Int,
    mode: &str,
    pixel_limit: Int,
    memory: Int,
    segment_threshold: f64,
    min_segment_size: Int,
    segmentation_size: Int,
    max_regions: Int,
) -> PyResult<Bound<'py, PyDict>> {
    let (spec, mode, limits) = region_request(
        py,
        method,
        hash_size,
        mode,
        (pixel_limit, memory),
        segment_threshold,
        min_segment_size,
        segmentation_size,
        max_regions,
    )?;
    let results = run(py, || {
        region_sources_with(&paths, load_path, &spec, mode, limits)
    })?;
    pack_regions(py, results)
}

/// Pairs of items with at least `min_matches` regions within distance `k` on each side:
/// ((m, 2) uint32 item pairs, a < b, sorted; (m,) uint32 matched regions).
#[pyfunction]
#[pyo3(signature = (hashes, items, skip, *, k, min_matches = Int(1)))]
fn region_pairs<'py>(
    py: Python<'py>,
    hashes: PyReadonlyArray1<'py, u64>,
    items: PyReadonlyArray1<'py, u32>,
    skip: PyReadonlyArray1<'py, bool>,
    k: Int,
    min_matches: Int,
) -> PyResult<(Bound<'py, PyArray2<u32>>, Bound<'py, PyArray1<u32>>)> {
    let k: u32 = k.py(py, "k")?;
    let min_matches: u32 = min_matches.py(py, "min_matches")?;
    if min_matches == 0 {
        return Err(to_pyerr(
            py,
            Error::param("min_matches", "must be at least 1"),
        ));
    }
    let hashes = hashes.as_array().to_vec();
    let items = items.as_array().to_vec();
    if items.len() != hashes.len() {
        return Err(to_pyerr(
            py,
            Error::param("items", "must have one entry per hash"),
        ));
    }
    let skip = skip_mask(py, &skip, hashes.len())?;
    let pairs =
        py.detach(|| crate::hamming::region_pairs(&hashes, &items, &skip, k.min(64), min_matches));
    let matches = pairs.iter().map(|p| p.matches).collect();
    let edges = pairs.iter().map(|p| (p.a, p.b)).collect();
    Ok((edges_out(py, edges)?, PyArray1::from_vec(py, matches)))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(image_regions, m)?)?;
    m.add_function(wrap_pyfunction!(image_regions_files, m)?)?;
    m.add_function(wrap_pyfunction!(region_pairs, m)?)?;
    m.add("DEFAULT_PIXEL_LIMIT", DEFAULT_PIXEL_LIMIT)?;
    m.add("DEFAULT_DECODE_MEMORY", DEFAULT_DECODE_MEMORY)?;
    m.add_function(wrap_pyfunction!(image_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(image_hashes_files, m)?)?;
    m.add_function(wrap_pyfunction!(_jpeg_reduced, m)?)?;
    Ok(())
}
