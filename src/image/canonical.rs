//! The canonical front end: what an image looks like when displayed, reduced by exact area
//! averaging. Not tied to any library's arithmetic, so it is free to be both faster and more
//! faithful than the compatible one:
//! - EXIF orientation is applied, so a rotated-by-metadata photo hashes like its pixels look.
//! - Alpha is composited onto mid-gray (128, 128, 128). Icons often keep their shape only in
//!   alpha over constant colour; dropping alpha hashes them all alike, and compositing onto white
//!   (or black) erases white (or black) glyphs. Mid-gray keeps both visible.
//! - 16-bit samples are scaled (`(v + 128) >> 8`), never clipped.
//! - Reduction is an area average (box filter of the exact footprint), upsizing is bilinear; both
//!   in `f32` without intermediate rounding.

use image::metadata::Orientation;
use image::DynamicImage;

use super::compat::luma_l;
use super::decode::Decoded;

/// The background transparent pixels are composited onto.
pub const BACKGROUND: u8 = 128;

/// An oriented, composited 8-bit RGB image.
pub struct Rgb {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
}

/// Applies orientation, scales 16-bit samples and composites alpha onto [`BACKGROUND`].
pub fn prepare(d: &Decoded) -> Rgb {
    let orientation =
        Orientation::from_exif(d.orientation).filter(|&o| o != Orientation::NoTransforms);
    let img = match orientation {
        Some(o) => {
            let mut img = d.image.clone();
            img.apply_orientation(o);
            std::borrow::Cow::Owned(img)
        }
        None => std::borrow::Cow::Borrowed(&d.image),
    };
    let (width, height) = (img.width() as usize, img.height() as usize);
    let scale = |v: u16| ((u32::from(v) + 128) >> 8).min(255) as u8;
    let data = match img.as_ref() {
        DynamicImage::ImageRgb8(b) => b.as_raw().clone(),
        DynamicImage::ImageLuma8(b) => b.iter().flat_map(|&v| [v; 3]).collect(),
        DynamicImage::ImageLuma16(b) => b.iter().flat_map(|&v| [scale(v); 3]).collect(),
        DynamicImage::ImageRgb16(b) => b.iter().map(|&v| scale(v)).collect(),
        DynamicImage::ImageLumaA16(b) => b
            .pixels()
            .flat_map(|p| [composite16(p[0], p[1]); 3])
            .collect(),
        DynamicImage::ImageRgba16(b) => b
            .pixels()
            .flat_map(|p| [0, 1, 2].map(|c| composite16(p[c], p[3])))
            .collect(),
        other if other.color().has_alpha() => other
            .to_rgba8()
            .pixels()
            .flat_map(|p| [0, 1, 2].map(|c| composite8(p[c], p[3])))
            .collect(),
        other => other.to_rgb8().into_raw(),
    };
    Rgb {
        data,
        width,
        height,
    }
}

fn composite8(c: u8, a: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(a));
    ((c * a + u32::from(BACKGROUND) * (255 - a) + 127) / 255) as u8
}

fn composite16(c: u16, a: u16) -> u8 {
    let (c, a) = (u64::from(c), u64::from(a));
    let bg = u64::from(BACKGROUND) * 257;
    let v = (c * a + bg * (65535 - a) + 32767) / 65535;
    ((v + 128) >> 8).min(255) as u8
}

/// Full-resolution gray with Pillow's `L` weights, as `f32`.
pub fn gray(rgb: &Rgb) -> Vec<f32> {
    rgb.data
        .chunks_exact(3)
        .map(|p| f32::from(luma_l(p[0], p[1], p[2])))
        .collect()
}

/// PDQ's float luma (`0.299 R + 0.587 G + 0.114 B`).
pub fn pdq_luma(rgb: &Rgb) -> Vec<f32> {
    rgb.data
        .chunks_exact(3)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// Per output sample: first input index and `f32` weights summing to 1.
fn taps(n_in: usize, n_out: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            if scale >= 1.0 {
                // Exact footprint [o·s, (o+1)·s): interior pixels weigh 1, edge ones their overlap.
                let (lo, hi) = (o as f64 * scale, (o + 1) as f64 * scale);
                let (first, last) = (lo.floor() as usize, (hi.ceil() as usize).min(n_in));
                let w = (first..last)
                    .map(|i| ((hi.min(i as f64 + 1.0) - lo.max(i as f64)) / scale) as f32)
                    .collect();
                (first, w)
            } else {
                // Upsizing: linear interpolation between pixel centres.
                let c = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, (n_in - 1) as f64);
                let i = (c.floor() as usize).min(n_in.saturating_sub(2));
                let t = (c - i as f64) as f32;
                if n_in == 1 {
                    (0, vec![1.0])
                } else {
                    (i, vec![1.0 - t, t])
                }
            }
        })
        .collect()
}

/// Separable area-average (down) / bilinear (up) resize of a one-channel `f32` plane.
pub fn resize(src: &[f32], (w, h): (usize, usize), (ow, oh): (usize, usize)) -> Vec<f32> {
    let tx = taps(w, ow);
    let ty = taps(h, oh);
    let mut tmp = vec![0f32; ow * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for (x, (s, wt)) in tx.iter().enumerate() {
            tmp[y * ow + x] = wt.iter().zip(&row[*s..]).map(|(a, b)| a * b).sum();
        }
    }
    let mut out = vec![0f32; ow * oh];
    for (y, (s, wt)) in ty.iter().enumerate() {
        let dst = &mut out[y * ow..(y + 1) * ow];
        for (k, &wk) in wt.iter().enumerate() {
            let row = &tmp[(s + k) * ow..(s + k + 1) * ow];
            for (d, &v) in dst.iter_mut().zip(row) {
                *d += wk * v;
            }
        }
    }
    out
}
