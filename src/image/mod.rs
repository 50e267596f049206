//! Perceptual image hashes: ImageHash's aHash, dHash, pHash and wHash, and Meta's PDQ.
//!
//! An image is decoded once ([`decode`]) and goes through one of two front ends ([`Mode`]):
//! `Compatible` reproduces Pillow 13's arithmetic so hashes equal ImageHash 4.3's and the PDQ
//! reference's; `Canonical` hashes the image as displayed (EXIF orientation, alpha over
//! mid-gray) with an area-average reduction. Every requested hash of one image shares the decode,
//! the gray conversion and, for PDQ variants, the DCT.

pub mod canonical;
pub mod compat;
pub mod decode;
#[doc(hidden)]
pub mod fuzzing;
pub mod hashes;
mod jpeg;
pub mod pdq;
pub mod regions;
pub mod resample;
mod value;
pub mod wavelet;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;

use std::cell::OnceCell;

use crate::{Error, Result};
pub use decode::{decode, Decoded, DEFAULT_PIXEL_LIMIT};

/// Default decode memory of one batch ([`Limits::memory`]): 2 GiB.
pub const DEFAULT_DECODE_MEMORY: u64 = 2 << 30;

/// Default cap on the frames hashed per animation ([`Limits::max_frames`]).
pub const DEFAULT_MAX_FRAMES: usize = 1000;

/// What hashing a batch may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Images with more pixels are refused (all frames together with several frames).
    pub pixel_limit: u64,
    /// Bytes the images being decoded at the same time may hold together, as estimated from
    /// their headers ([`decode_cost`]): an image waits until enough of it is free, one larger
    /// than all of it decodes alone. Bounds the memory of the batch whatever the thread count.
    pub memory: u64,
    /// Frames hashed per animation (1: the first frame only).
    pub max_frames: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pixel_limit: DEFAULT_PIXEL_LIMIT,
            memory: DEFAULT_DECODE_MEMORY,
            max_frames: 1,
        }
    }
}
pub use pdq::Dihedral;
pub use value::{HashKind, HashSpec, HashValue, Mode};

/// Canonical mode works on planes of at most this side for the ImageHash family (wHash's scale
/// is capped to it), so for wHash a JPEG is decoded at the smallest scale keeping its shorter
/// side at least this long: the hashes do not depend on the stored resolution above it.
const CANONICAL_SIDE: u32 = 256;
/// pHash and aHash area-average the image down to a plane of `4 · hash_size` (pHash) or
/// `hash_size` (aHash) pixels a side; a JPEG is decoded at the smallest scale keeping its shorter
/// side at least this many times the plane's (and at least 64 pixels): for 8-bit hashes of 1080p
/// photos, 1/8, where the decoder computes only the block means (DC coefficients, no IDCT). dHash
/// keeps [`CANONICAL_SIDE`]: its bits compare neighbouring plane pixels and flip on smaller
/// changes.
const PLANE_MARGIN: u32 = 4;

/// The shorter side a canonical JPEG decode must keep for `spec`.
fn decode_side(spec: &HashSpec) -> u32 {
    let hs = spec.hash_size as u32;
    match spec.kind {
        HashKind::Pdq(_) => 0,
        HashKind::PHash | HashKind::PHashSimple => {
            (PLANE_MARGIN * 4 * hs).clamp(64, CANONICAL_SIDE)
        }
        HashKind::AHash => (PLANE_MARGIN * hs).clamp(64, CANONICAL_SIDE),
        HashKind::DHash | HashKind::DHashVertical | HashKind::WHash => CANONICAL_SIDE,
    }
}

/// PDQ works on a 512-pixel thumbnail; JPEGs are decoded with the longer side at least this.
const PDQ_SIDE: u32 = 512;

/// The per-image state shared by all hashes of one image.
struct Prepared<'a> {
    decoded: &'a Decoded,
    mode: Mode,
    /// Compatible: Pillow's `L` image.
    gray8: OnceCell<Vec<u8>>,
    /// Canonical: the oriented, composited image and its gray.
    rgb: OnceCell<canonical::Rgb<'a>>,
    gray_f: OnceCell<Vec<f32>>,
    pdq: OnceCell<Option<([[f32; 16]; 16], u8)>>,
}

impl<'a> Prepared<'a> {
    fn new(decoded: &'a Decoded, mode: Mode) -> Self {
        Self {
            decoded,
            mode,
            gray8: OnceCell::new(),
            rgb: OnceCell::new(),
            gray_f: OnceCell::new(),
            pdq: OnceCell::new(),
        }
    }

    fn size(&self) -> (usize, usize) {
        (
            self.decoded.width() as usize,
            self.decoded.height() as usize,
        )
    }

    fn rgb(&self) -> &canonical::Rgb<'a> {
        self.rgb.get_or_init(|| canonical::prepare(self.decoded))
    }

    /// The gray image resized to `out` (width, height), as `f32`.
    fn plane(&self, out: (usize, usize)) -> Vec<f32> {
        match self.mode {
            Mode::Compatible => {
                let g = self.gray8.get_or_init(|| compat::gray(self.decoded));
                let small = resample::resize(g, self.size(), 1, out, resample::Filter::Lanczos);
                small.into_iter().map(f32::from).collect()
            }
            Mode::Canonical => {
                let rgb = self.rgb();
                let g = self.gray_f.get_or_init(|| canonical::gray(rgb));
                flatten(canonical::resize(g, (rgb.width, rgb.height), out))
            }
        }
    }

    fn pdq_dct(&self) -> Option<([[f32; 16]; 16], u8)> {
        *self.pdq.get_or_init(|| match self.mode {
            Mode::Compatible => {
                let (rgb, w, h) = compat::pdq_thumbnail(self.decoded);
                pdq::dct16(&pdq::luma(&rgb), h, w)
            }
            Mode::Canonical => {
                let rgb = self.rgb();
                let (w, h) = (rgb.width, rgb.height);
                let luma = canonical::pdq_luma(rgb);
                match compat::thumbnail_size((w, h), 512) {
                    Some((tw, th)) => {
                        pdq::dct16(&canonical::resize(&luma, (w, h), (tw, th)), th, tw)
                    }
                    None => pdq::dct16(&luma, h, w),
                }
            }
        })
    }

    fn hash(&self, spec: &HashSpec) -> HashValue {
        if let HashKind::Pdq(variant) = spec.kind {
            let (bits, quality) = match self.pdq_dct() {
                Some((b, q)) => (pdq::bits(&b, q, variant).bits, q),
                None => ([false; 256], 0),
            };
            return HashValue {
                kind: spec.kind,
                bits: bits.to_vec(),
                quality: Some(quality),
            };
        }
        HashValue {
            kind: spec.kind,
            bits: gray_bits(spec, self.size(), self.mode, |out| self.plane(out)),
            quality: None,
        }
    }
}

/// The bits of an ImageHash-family hash (not PDQ) of a gray image of `(w, h)` pixels, whose
/// plane resized to any `out` size `plane(out)` gives.
fn gray_bits(
    spec: &HashSpec,
    (w, h): (usize, usize),
    mode: Mode,
    plane: impl Fn((usize, usize)) -> Vec<f32>,
) -> Vec<bool> {
    let hs = spec.hash_size;
    match spec.kind {
        HashKind::AHash => hashes::ahash(&plane((hs, hs))),
        HashKind::DHash => hashes::dhash(&plane((hs + 1, hs)), hs),
        HashKind::DHashVertical => hashes::dhash_vertical(&plane((hs, hs + 1)), hs),
        HashKind::PHash => hashes::phash(&plane((4 * hs, 4 * hs)), 4 * hs, hs),
        HashKind::PHashSimple => hashes::phash_simple(&plane((4 * hs, 4 * hs)), 4 * hs, hs),
        HashKind::WHash => {
            // ImageHash: the largest power of two not above the shorter side, at least hs.
            let mut natural = 1usize << (usize::BITS - 1 - w.min(h).leading_zeros());
            if mode == Mode::Canonical {
                natural = natural.min(CANONICAL_SIDE as usize);
            }
            let s = natural.max(hs);
            hashes::whash(&plane((s, s)), s, hs)
        }
        HashKind::Pdq(_) => unreachable!("PDQ is hashed from the RGB image"),
    }
}

/// A canonical plane within this many gray levels (of 255) of constant is made exactly constant.
///
/// A blank image's plane is constant only up to the rounding of the area average (`f32` sums of
/// hundreds of weights: a few thousandths of a level), and every hash would otherwise compare
/// that noise: blank placeholders of one colour would get arbitrary, different hashes. Made
/// constant, every hash of a flat image is that of ImageHash on a constant image (pHash
/// `8000000000000000`, the DC bit alone, or 0 for black; the others 0).
const FLAT_TOLERANCE: f32 = 1.0 / 32.0;

fn flatten(mut plane: Vec<f32>) -> Vec<f32> {
    let (lo, hi) = plane
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if hi - lo <= FLAT_TOLERANCE {
        // The whole gray level nearest the plane's: flat images of one colour hash alike.
        let v = ((lo + hi) / 2.0).round();
        plane.fill(v);
    }
    plane
}

/// All `specs` of one encoded image, in order, from a single decode.
pub fn hash_image(
    bytes: &[u8],
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
) -> Result<Vec<HashValue>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    hash_validated(bytes, specs, mode, pixel_limit)
}

/// All `specs` of an already decoded image.
pub fn hash_decoded(decoded: &Decoded, specs: &[HashSpec], mode: Mode) -> Result<Vec<HashValue>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    let p = Prepared::new(decoded, mode);
    Ok(specs.iter().map(|s| p.hash(s)).collect())
}

/// The hashes of one image and its size (as displayed, in canonical mode: EXIF orientations
/// 5–8 swap width and height).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub width: u32,
    pub height: u32,
    pub values: Vec<HashValue>,
}

fn hash_validated(
    bytes: &[u8],
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
) -> Result<Vec<HashValue>> {
    hash_sized(bytes, specs, mode, pixel_limit).map(|h| h.values)
}

fn hash_sized(bytes: &[u8], specs: &[HashSpec], mode: Mode, pixel_limit: u64) -> Result<Hashed> {
    // A decoder bug on hostile web data must cost one row, not the whole batch.
    std::panic::catch_unwind(|| {
        let reduced = match mode {
            // Canonical hashes are taken from small planes: decode JPEGs at a reduced scale.
            Mode::Canonical => {
                let pdq = specs.iter().any(|s| matches!(s.kind, HashKind::Pdq(_)));
                let min_side = specs.iter().map(decode_side).max().unwrap_or(0);
                let min_long = if pdq { PDQ_SIDE } else { 0 };
                decode::decode_jpeg_reduced(bytes, min_side, min_long, pixel_limit)
            }
            Mode::Compatible => None,
        };
        let decoded = match reduced {
            Some(d) => d?,
            None => decode(bytes, pixel_limit)?,
        };
        Ok(hashed(&decoded, specs, mode))
    })
    .unwrap_or_else(|_| Err(panicked()))
}

fn panicked() -> Error {
    Error::Input("cannot decode image: the decoder panicked".into())
}

/// The hashes of a decoded image, with its size as the front end sees it.
fn hashed(decoded: &Decoded, specs: &[HashSpec], mode: Mode) -> Hashed {
    let p = Prepared::new(decoded, mode);
    // The canonical front end hashes the image as displayed: report that size.
    let turned = mode == Mode::Canonical && decoded.orientation >= 5;
    let (w, h) = decoded.full_size;
    Hashed {
        width: if turned { h } else { w },
        height: if turned { w } else { h },
        values: specs.iter().map(|s| p.hash(s)).collect(),
    }
}

/// The hashes of the frames of one image: every frame of an animation up to
/// [`Limits::max_frames`], one for a still image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    pub frames: Vec<Hashed>,
    /// The animation has more frames than were hashed.
    pub truncated: bool,
}

/// The hashes of each frame of an animation (GIF, animated WebP, APNG), at most `max_frames`;
/// one entry for a still image. The first frame's hashes equal [`hash_image`]'s.
fn hash_frames_sized(
    bytes: &[u8],
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
    max_frames: usize,
) -> Result<Frames> {
    let animated = matches!(
        image::guess_format(bytes),
        Ok(image::ImageFormat::Gif | image::ImageFormat::WebP | image::ImageFormat::Png)
    );
    if max_frames <= 1 || !animated {
        return hash_sized(bytes, specs, mode, pixel_limit).map(|h| Frames {
            frames: vec![h],
            truncated: false,
        });
    }
    std::panic::catch_unwind(|| {
        let (frames, truncated) = decode::decode_frames_capped(bytes, pixel_limit, max_frames)?;
        Ok(Frames {
            frames: frames.iter().map(|d| hashed(d, specs, mode)).collect(),
            truncated,
        })
    })
    .unwrap_or_else(|_| Err(panicked()))
}

/// The bytes decoding and hashing `bytes` will hold at its peak, estimated from its header
/// alone: the encoded bytes, the decoded buffer (twice: the canonical front end may turn a copy),
/// and the front end's planes (compatible: the 8-bit gray, and PDQ's RGB; canonical: the RGB
/// copy and the `f32` gray, and PDQ's `f32` luma). A canonical JPEG is decoded at a reduced
/// scale, and costs at most its coefficients (progressive files: 2 bytes per sample). Only the
/// first frame of an animation is counted; unreadable headers cost their bytes (decoding will
/// fail). Measured: a 13000 × 13000 gray PNG peaks at 1.5 GB in canonical pHash, 9 bytes per
/// pixel as estimated here.
pub fn decode_cost(bytes: &[u8], specs: &[HashSpec], mode: Mode) -> u64 {
    let encoded = bytes.len() as u64;
    let Some(h) = decode::header(bytes) else {
        return encoded;
    };
    let pixels = u64::from(h.width) * u64::from(h.height);
    let pdq = specs.iter().any(|s| matches!(s.kind, HashKind::Pdq(_)));
    let decoded = 2 * u64::from(h.bytes_per_pixel);
    let per_pixel = match mode {
        Mode::Canonical if h.jpeg => 3,
        Mode::Canonical => decoded + 3 + 4 + if pdq { 4 } else { 0 },
        Mode::Compatible => decoded + 1 + if pdq { 4 } else { 0 },
    };
    encoded.saturating_add(pixels.saturating_mul(per_pixel))
}

/// [`hash_sources_frames_with`] with the default decode memory, the frames alone.
pub fn hash_sources_frames<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
    max_frames: usize,
) -> Result<Vec<Result<Vec<Hashed>>>> {
    let limits = Limits {
        pixel_limit,
        max_frames,
        ..Limits::default()
    };
    let out = hash_sources_frames_with(items, load, specs, mode, limits)?;
    Ok(out.into_iter().map(|r| r.map(|f| f.frames)).collect())
}

/// [`hash_frames_sized`] over any source of encoded bytes, in parallel under the decode memory
/// of `limits` (see [`crate::parallel::map_admitted`]), results in input order.
pub fn hash_sources_frames_with<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    limits: Limits,
) -> Result<Vec<Result<Frames>>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    Ok(admitted(items, load, specs, mode, limits.memory, |b| {
        hash_frames_sized(b, specs, mode, limits.pixel_limit, limits.max_frames)
    }))
}

/// `f` of every item's bytes, in parallel, the decode memory bounded by `memory`, results in
/// input order (independent of threads and of `memory`).
fn admitted<'a, T: Sync, R: Send>(
    items: &'a [T],
    load: impl Fn(&'a T) -> Result<std::borrow::Cow<'a, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    memory: u64,
    f: impl Fn(&[u8]) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    crate::parallel::map_admitted(
        items,
        |item| {
            let loaded = load(item);
            let cost = loaded.as_ref().map_or(0, |b| decode_cost(b, specs, mode));
            (loaded, cost)
        },
        memory,
        |loaded| f(&loaded?),
    )
}

/// [`hash_image`] over a batch, in parallel, results in input order (independent of threads).
///
/// The outer error reports invalid `specs`; each item's own error (undecodable, too many pixels)
/// is its entry's.
pub fn hash_many(
    items: &[&[u8]],
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
) -> Result<Vec<Result<Hashed>>> {
    hash_sources(
        items,
        |b| Ok(std::borrow::Cow::Borrowed(*b)),
        specs,
        mode,
        pixel_limit,
    )
}

/// [`hash_sources_with`] with the default decode memory.
pub fn hash_sources<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
) -> Result<Vec<Result<Hashed>>> {
    let limits = Limits {
        pixel_limit,
        ..Limits::default()
    };
    hash_sources_with(items, load, specs, mode, limits)
}

/// [`hash_many`] over any source of encoded bytes (`load` may read a file), in parallel: the
/// reading of one item overlaps the decoding of others, and the images being decoded at once
/// hold at most `limits.memory` bytes together (as estimated by [`decode_cost`]).
pub fn hash_sources_with<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    limits: Limits,
) -> Result<Vec<Result<Hashed>>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    Ok(admitted(items, load, specs, mode, limits.memory, |b| {
        hash_sized(b, specs, mode, limits.pixel_limit)
    }))
}

/// Canonical region hashing decodes a JPEG at the smallest scale keeping its shorter side at
/// least this many times the segmentation plane's.
const REGION_MARGIN: u32 = 2;

/// The region hashes ([`regions::region_hashes`]) of every item's image, in parallel under the
/// decode memory of `limits`, results in input order (independent of threads and of memory).
pub fn region_sources_with<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    spec: &regions::RegionSpec,
    mode: Mode,
    limits: Limits,
) -> Result<Vec<Result<Vec<u64>>>> {
    spec.validate()?;
    let specs = [spec.hash];
    Ok(admitted(
        items,
        load,
        &specs,
        mode,
        limits.memory,
        |bytes| {
            std::panic::catch_unwind(|| {
                let reduced = match mode {
                    Mode::Canonical => {
                        let side = REGION_MARGIN * spec.side as u32;
                        decode::decode_jpeg_reduced(bytes, side, 0, limits.pixel_limit)
                    }
                    Mode::Compatible => None,
                };
                let decoded = match reduced {
                    Some(d) => d?,
                    None => decode(bytes, limits.pixel_limit)?,
                };
                Ok(regions::region_hashes(&Prepared::new(&decoded, mode), spec))
            })
            .unwrap_or_else(|_| Err(panicked()))
        },
    ))
}
