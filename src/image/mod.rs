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
pub mod hashes;
mod jpeg;
pub mod pdq;
pub mod resample;
mod value;
pub mod wavelet;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;

use std::cell::OnceCell;

use rayon::prelude::*;

use crate::{Error, Result};
pub use decode::{decode, Decoded, DEFAULT_PIXEL_LIMIT};
pub use pdq::Dihedral;
pub use value::{HashKind, HashSpec, HashValue};

/// Which front end turns decoded pixels into the planes the hashes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Bit-identical to ImageHash 4.3 on Pillow 13 and to the PDQ reference (lossless formats).
    #[default]
    Compatible,
    /// Oriented, alpha composited onto mid-gray, 16-bit scaled, area-averaged.
    Canonical,
}

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
                canonical::resize(g, (rgb.width, rgb.height), out)
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
        let hs = spec.hash_size;
        let bits = match spec.kind {
            HashKind::AHash => hashes::ahash(&self.plane((hs, hs))),
            HashKind::DHash => hashes::dhash(&self.plane((hs + 1, hs)), hs),
            HashKind::DHashVertical => hashes::dhash_vertical(&self.plane((hs, hs + 1)), hs),
            HashKind::PHash => hashes::phash(&self.plane((4 * hs, 4 * hs)), 4 * hs, hs),
            HashKind::PHashSimple => {
                hashes::phash_simple(&self.plane((4 * hs, 4 * hs)), 4 * hs, hs)
            }
            HashKind::WHash => {
                let (w, h) = self.size();
                // ImageHash: the largest power of two not above the shorter side, at least hs.
                let mut natural = 1usize << (usize::BITS - 1 - w.min(h).leading_zeros());
                if self.mode == Mode::Canonical {
                    natural = natural.min(CANONICAL_SIDE as usize);
                }
                let s = natural.max(hs);
                hashes::whash(&self.plane((s, s)), s, hs)
            }
            HashKind::Pdq(variant) => {
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
        };
        HashValue {
            kind: spec.kind,
            bits,
            quality: None,
        }
    }
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

/// The hashes of each frame of an animation (GIF, animated WebP, APNG), at most `max_frames`;
/// one entry for a still image. The first frame's hashes equal [`hash_image`]'s.
fn hash_frames_sized(
    bytes: &[u8],
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
    max_frames: usize,
) -> Result<Vec<Hashed>> {
    let animated = matches!(
        image::guess_format(bytes),
        Ok(image::ImageFormat::Gif | image::ImageFormat::WebP | image::ImageFormat::Png)
    );
    if max_frames <= 1 || !animated {
        return hash_sized(bytes, specs, mode, pixel_limit).map(|h| vec![h]);
    }
    std::panic::catch_unwind(|| {
        let frames = decode::decode_frames(bytes, pixel_limit, max_frames)?;
        Ok(frames.iter().map(|d| hashed(d, specs, mode)).collect())
    })
    .unwrap_or_else(|_| Err(panicked()))
}

/// [`hash_frames_sized`] over any source of encoded bytes, in parallel, results in input order.
pub fn hash_sources_frames<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
    max_frames: usize,
) -> Result<Vec<Result<Vec<Hashed>>>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    Ok(per_item(items, |item| {
        hash_frames_sized(&load(item)?, specs, mode, pixel_limit, max_frames)
    }))
}

/// `f` of every item, in parallel, results in input order (independent of threads).
fn per_item<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    // One image costs as much as hundreds of text rows, so even small batches go parallel.
    let work = items
        .len()
        .saturating_mul(crate::parallel::PARALLEL_THRESHOLD);
    crate::parallel::install(work, || items.par_iter().map(f).collect())
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

/// [`hash_many`] over any source of encoded bytes (`load` may read a file), in parallel: the
/// reading of one item overlaps the decoding of others.
pub fn hash_sources<T: Sync>(
    items: &[T],
    load: impl Fn(&T) -> Result<std::borrow::Cow<'_, [u8]>> + Sync,
    specs: &[HashSpec],
    mode: Mode,
    pixel_limit: u64,
) -> Result<Vec<Result<Hashed>>> {
    specs.iter().try_for_each(HashSpec::validate)?;
    Ok(per_item(items, |item| {
        hash_sized(&load(item)?, specs, mode, pixel_limit)
    }))
}
