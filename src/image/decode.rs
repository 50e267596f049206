//! Decoding image bytes with the `image` crate, with a pixel limit checked before any pixel buffer
//! is allocated.
//!
//! The decoded pixels keep their stored layout (gray, gray + alpha, RGB, RGBA; 8 or 16 bits):
//! the compatible front end needs it to reproduce Pillow (which saturates 16-bit gray but takes the
//! high byte of 16-bit colour), and the canonical one to scale 16-bit samples properly. CMYK JPEGs
//! arrive as RGB: zune-jpeg applies the Adobe (inverted) convention with the same rounding as
//! Pillow's `CMYK;I` → RGB. GIF yields its first frame on the logical screen.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::{Error, Result};

/// Default pixel limit: 178,956,970 pixels, Pillow's `MAX_IMAGE_PIXELS` × 2 (where Pillow raises
/// `DecompressionBombError`).
pub const DEFAULT_PIXEL_LIMIT: u64 = 178_956_970;

/// A decoded image with what the front ends need to know about how it was stored.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Pixels in their stored layout, first frame only, no orientation applied.
    pub image: DynamicImage,
    /// EXIF orientation tag (1–8; 1 when absent or unreadable).
    pub orientation: u8,
    /// Whether the stored image has an alpha channel (including PNG `tRNS`).
    pub has_alpha: bool,
    /// Bits per sample of the decoded buffer (8 or 16; 32 for float TIFF).
    pub bit_depth: u8,
    /// The stored size; larger than `image` when a JPEG was decoded at a reduced scale.
    pub full_size: (u32, u32),
    /// Stored as palette indices (PNG colour type 3, GIF): Pillow holds these as mode `P`.
    pub palette: bool,
    /// A 16-bit gray PNG whose alpha comes from a `tRNS` colour key, not a stored channel: the
    /// decoder expands it to gray + alpha, Pillow keeps it as `I;16` (whose conversion to `L`
    /// saturates, where that of a stored 16-bit gray + alpha keeps the high byte).
    pub gray16_key: bool,
}

impl Decoded {
    pub fn width(&self) -> u32 {
        self.image.width()
    }

    pub fn height(&self) -> u32 {
        self.image.height()
    }
}

fn decode_error(e: impl std::fmt::Display) -> Error {
    Error::Input(format!("cannot decode image: {e}"))
}

/// A JPEG whose data ends before its end-of-image marker: refused whichever decoder would read
/// it, as Pillow refuses it ("image file is truncated"); the decoders themselves would fill the
/// missing rows silently (zune-jpeg) or hand the file on (`jpeg-decoder`, ours).
fn truncated_jpeg() -> Error {
    Error::Input("cannot decode image: image file is truncated".into())
}

/// What decoding an image will need, read from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    /// Bytes per pixel of the decoded buffer (stored layout).
    pub bytes_per_pixel: u8,
    pub jpeg: bool,
}

/// The header of `bytes` (no pixel is decoded); `None` when it cannot be read.
pub fn header(bytes: &[u8]) -> Option<Header> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let (width, height, components) = super::jpeg::dimensions(bytes)?;
        return Some(Header {
            width,
            height,
            // CMYK arrives as RGB.
            bytes_per_pixel: components.clamp(1, 3),
            jpeg: true,
        });
    }
    let decoder = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (width, height) = decoder.dimensions();
    Some(Header {
        width,
        height,
        bytes_per_pixel: decoder.color_type().bytes_per_pixel(),
        jpeg: false,
    })
}

/// Decodes `bytes` (JPEG, PNG, WebP, GIF, BMP or TIFF, sniffed from the content).
///
/// Refuses images with more than `pixel_limit` pixels after reading only their header, and
/// truncated or corrupt data, with an [`Error::Input`] that says why.
pub fn decode(bytes: &[u8], pixel_limit: u64) -> Result<Decoded> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(decode_error)?;
    let format = reader
        .format()
        .ok_or_else(|| Error::Input("cannot decode image: unknown format".into()))?;
    let mut reader = reader;
    let mut limits = Limits::default();
    // Room for the largest layout (RGBA, 16 bits) of an image at the limit, plus the decoders'
    // own scratch; the explicit pixel check below is the real guard.
    limits.max_alloc = Some(pixel_limit.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > pixel_limit {
        return Err(Error::Input(format!(
            "image of {w}×{h} = {pixels} pixels exceeds the limit of {pixel_limit} pixels"
        )));
    }
    if pixels == 0 {
        return Err(Error::Input(
            "cannot decode image: zero width or height".into(),
        ));
    }
    if format == ImageFormat::Jpeg && super::jpeg::truncated(bytes) {
        return Err(truncated_jpeg());
    }
    let mut orientation = decoder.orientation().map_or(1, |o| o.to_exif());
    if format == ImageFormat::Png && orientation == 1 {
        // image 0.25 does not read PNG's eXIf chunk; Pillow's exif_transpose does.
        orientation = png_exif(bytes).and_then(exif_orientation).unwrap_or(1);
    }
    let image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    let color = image.color();
    // The decoders expand palettes; the IHDR colour type sits at byte 25 of a PNG.
    let palette = match format {
        ImageFormat::Png => bytes.get(25) == Some(&3),
        ImageFormat::Gif => true,
        _ => false,
    };
    // IHDR: bit depth at byte 24, colour type at byte 25 (0: gray, no alpha channel).
    let gray16_key = format == ImageFormat::Png
        && bytes.get(24..26) == Some(&[16, 0])
        && matches!(image, DynamicImage::ImageLumaA16(_));
    Ok(Decoded {
        palette,
        gray16_key,
        has_alpha: color.has_alpha(),
        bit_depth: (color.bits_per_pixel() / u16::from(color.channel_count())) as u8,
        orientation,
        full_size: (w, h),
        image,
    })
}

/// Decodes every frame of an animation (GIF, animated WebP, APNG), at most `max_frames` of them,
/// each composited onto the logical screen as the format's disposal rules say. The first frame is
/// exactly [`decode`]'s; the others are RGBA. A still image gives one frame.
///
/// The pixel limit bounds the frames together (each is screen-sized), so an animation of many
/// large frames is refused like one huge image.
pub fn decode_frames(bytes: &[u8], pixel_limit: u64, max_frames: usize) -> Result<Vec<Decoded>> {
    decode_frames_capped(bytes, pixel_limit, max_frames).map(|(frames, _)| frames)
}

/// [`decode_frames`], and whether frames were left out: the animation has more than
/// `max_frames` (found by decoding one frame past the cap).
pub fn decode_frames_capped(
    bytes: &[u8],
    pixel_limit: u64,
    max_frames: usize,
) -> Result<(Vec<Decoded>, bool)> {
    use image::AnimationDecoder;
    let first = decode(bytes, pixel_limit)?;
    if max_frames <= 1 {
        return Ok((vec![first], false));
    }
    let format = image::guess_format(bytes).map_err(decode_error)?;
    let cursor = Cursor::new(bytes);
    let frames = match format {
        ImageFormat::Gif => image::codecs::gif::GifDecoder::new(cursor)
            .map_err(decode_error)?
            .into_frames(),
        ImageFormat::WebP => {
            let d = image::codecs::webp::WebPDecoder::new(cursor).map_err(decode_error)?;
            if !d.has_animation() {
                return Ok((vec![first], false));
            }
            d.into_frames()
        }
        ImageFormat::Png => {
            let d = image::codecs::png::PngDecoder::new(cursor).map_err(decode_error)?;
            if !d.is_apng().map_err(decode_error)? {
                return Ok((vec![first], false));
            }
            d.apng().map_err(decode_error)?.into_frames()
        }
        _ => return Ok((vec![first], false)),
    };
    let (w, h) = first.full_size;
    let per_frame = u64::from(w) * u64::from(h);
    let mut out = vec![first];
    // The animation decoder yields the first frame again: skip it, keep `decode`'s.
    let mut frames = frames.enumerate().skip(1);
    for (i, frame) in frames.by_ref().take(max_frames - 1) {
        let frame = frame.map_err(|e| Error::Input(format!("cannot decode frame {i}: {e}")))?;
        let total = per_frame.saturating_mul(i as u64 + 1);
        if total > pixel_limit {
            return Err(Error::Input(format!(
                "animation of {w}×{h} frames exceeds the limit of {pixel_limit} pixels at frame {i}"
            )));
        }
        let buffer = frame.into_buffer();
        out.push(Decoded {
            image: DynamicImage::ImageRgba8(buffer),
            orientation: out[0].orientation,
            has_alpha: true,
            bit_depth: 8,
            full_size: (w, h),
            palette: false,
            gray16_key: false,
        });
    }
    // A frame past the cap that decodes means some were left out.
    let more = matches!(frames.next(), Some((_, Ok(_))));
    Ok((out, more))
}

/// Decodes a baseline or progressive JPEG directly at a reduced scale (1/2, 1/4 or 1/8, by
/// scaled IDCT), the smallest that keeps the shorter side at least `min_side` and the longer at
/// least `min_long`. `None` when the fast path does not apply (not a JPEG, CMYK, 16-bit, or
/// data the scaled decoder refuses): the caller then decodes at full size.
///
/// At 1/8, 1/4 and 1/2 our own decoder (`jpeg`) runs first; it yields the same pixels as
/// `jpeg-decoder` and leaves it every file it does not handle.
pub fn decode_jpeg_reduced(
    bytes: &[u8],
    min_side: u32,
    min_long: u32,
    pixel_limit: u64,
) -> Option<Result<Decoded>> {
    decode_jpeg_reduced_with(bytes, min_side, min_long, pixel_limit, true)
        .map(|r| r.map(|(d, _)| d))
}

/// [`decode_jpeg_reduced`], with our own scaled decoder allowed or not (tests compare it with
/// `jpeg-decoder`), and whether it produced the result.
pub(crate) fn decode_jpeg_reduced_with(
    bytes: &[u8],
    min_side: u32,
    min_long: u32,
    pixel_limit: u64,
    own_decoder: bool,
) -> Option<Result<(Decoded, bool)>> {
    use jpeg_decoder::{Decoder, PixelFormat};
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return None;
    }
    let mut dec = Decoder::new(Cursor::new(bytes));
    dec.read_info().ok()?;
    let info = dec.info()?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if u64::from(w) * u64::from(h) > pixel_limit {
        return Some(Err(Error::Input(format!(
            "image of {w}×{h} = {} pixels exceeds the limit of {pixel_limit} pixels",
            u64::from(w) * u64::from(h)
        ))));
    }
    // Before either decoder: ours and `jpeg-decoder` would give the file up, and the full-size
    // decode the caller falls back to would fill the missing rows.
    if super::jpeg::truncated(bytes) {
        return Some(Err(truncated_jpeg()));
    }
    if w == 0 || h == 0 || !matches!(info.pixel_format, PixelFormat::L8 | PixelFormat::RGB24) {
        return None;
    }
    let f = (f64::from(min_side) / f64::from(w.min(h)))
        .max(f64::from(min_long) / f64::from(w.max(h)))
        .min(1.0);
    let want = |n: u32| ((f64::from(n) * f).ceil() as u16).max(1);
    let (sw, sh) = dec.scale(want(w), want(h)).ok()?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    // jpeg-decoder's choice of scale (`choose_idct_size`): the smallest of 1/8, 1/4 and 1/2 at
    // which either side reaches the requested size; full size stays with it.
    let reaches = |s: u32| {
        (w * s).div_ceil(8) >= u32::from(want(w)) || (h * s).div_ceil(8) >= u32::from(want(h))
    };
    let scale = [1, 2, 4].into_iter().find(|&s| reaches(s));
    let own = match scale {
        Some(s) if own_decoder => {
            super::jpeg::decode(bytes, s as usize).filter(|d| (d.width, d.height) == (sw, sh))
        }
        _ => None,
    };
    let used_own = own.is_some();
    let (pixels, gray, exif) = match own {
        Some(d) => (d.pixels, d.channels == 1, d.exif),
        None => {
            let pixels = dec.decode().ok()?;
            (
                pixels,
                info.pixel_format == PixelFormat::L8,
                dec.exif_data(),
            )
        }
    };
    let image = if gray {
        image::GrayImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageLuma8)
    } else {
        image::RgbImage::from_raw(sw, sh, pixels).map(DynamicImage::ImageRgb8)
    }?;
    let orientation = exif.and_then(exif_orientation).unwrap_or(1);
    Some(Ok((
        Decoded {
            image,
            orientation,
            has_alpha: false,
            bit_depth: 8,
            full_size: (w, h),
            palette: false,
            gray16_key: false,
        },
        used_own,
    )))
}

/// The payload of a PNG's `eXIf` chunk, if one comes before the image data.
fn png_exif(bytes: &[u8]) -> Option<&[u8]> {
    let mut pos = 8;
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        let data = bytes.get(pos + 8..(pos + 8).checked_add(len)?)?;
        match kind {
            b"eXIf" => return Some(data),
            b"IDAT" | b"IEND" => return None,
            _ => pos += 12 + len,
        }
    }
    None
}

/// The orientation tag (0x0112) of IFD0 of a TIFF-structured EXIF block.
pub(crate) fn exif_orientation(tiff: &[u8]) -> Option<u8> {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let le = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |p: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(p..p + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |p: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(p..p + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    (0..entries).find_map(|e| {
        let p = ifd + 2 + 12 * e;
        (u16_at(p)? == 0x0112 && u16_at(p + 2)? == 3)
            .then(|| u16_at(p + 8))
            .flatten()
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| (1..=8).contains(v))
    })
}
