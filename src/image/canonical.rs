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

use std::borrow::Cow;

use image::metadata::Orientation;
use image::DynamicImage;

use super::compat::luma_l;
use super::decode::Decoded;

/// The background transparent pixels are composited onto.
pub const BACKGROUND: u8 = 128;

/// An oriented, composited 8-bit RGB image; borrowed from the decoded image when that is
/// already one.
pub struct Rgb<'a> {
    pub data: Cow<'a, [u8]>,
    pub width: usize,
    pub height: usize,
}

/// Applies orientation, scales 16-bit samples and composites alpha onto [`BACKGROUND`].
pub fn prepare(d: &Decoded) -> Rgb<'_> {
    let orientation =
        Orientation::from_exif(d.orientation).filter(|&o| o != Orientation::NoTransforms);
    let img = match orientation {
        Some(o) => {
            let mut img = d.image.clone();
            img.apply_orientation(o);
            Cow::Owned(img)
        }
        None => Cow::Borrowed(&d.image),
    };
    let (width, height) = (img.width() as usize, img.height() as usize);
    let scale = |v: u16| ((u32::from(v) + 128) >> 8).min(255) as u8;
    let data: Cow<'_, [u8]> = match img {
        Cow::Borrowed(DynamicImage::ImageRgb8(b)) => Cow::Borrowed(b.as_raw()),
        Cow::Owned(DynamicImage::ImageRgb8(b)) => Cow::Owned(b.into_raw()),
        img => Cow::Owned(match img.as_ref() {
            DynamicImage::ImageLuma8(b) => rgb(width * height, b.iter().map(|&v| [v; 3])),
            DynamicImage::ImageLuma16(b) => rgb(width * height, b.iter().map(|&v| [scale(v); 3])),
            DynamicImage::ImageRgb16(b) => b.iter().map(|&v| scale(v)).collect(),
            DynamicImage::ImageLumaA16(b) => rgb(
                width * height,
                b.pixels().map(|p| [composite16(p[0], p[1]); 3]),
            ),
            DynamicImage::ImageRgba16(b) => rgb(
                width * height,
                b.pixels()
                    .map(|p| [0, 1, 2].map(|c| composite16(p[c], p[3]))),
            ),
            other if other.color().has_alpha() => rgb(
                width * height,
                other
                    .to_rgba8()
                    .pixels()
                    .map(|p| [0, 1, 2].map(|c| composite8(p[c], p[3]))),
            ),
            other => other.to_rgb8().into_raw(),
        }),
    };
    Rgb {
        data,
        width,
        height,
    }
}

/// Packed RGB of `pixels` pixels, allocated once (a `flat_map` collect grows by doubling, and
/// held up to twice the image while it copied).
fn rgb(pixels: usize, px: impl Iterator<Item = [u8; 3]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(pixels * 3);
    px.for_each(|p| out.extend_from_slice(&p));
    out
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
pub fn gray(rgb: &Rgb<'_>) -> Vec<f32> {
    rgb.data
        .chunks_exact(3)
        .map(|p| f32::from(luma_l(p[0], p[1], p[2])))
        .collect()
}

/// PDQ's float luma (`0.299 R + 0.587 G + 0.114 B`).
pub fn pdq_luma(rgb: &Rgb<'_>) -> Vec<f32> {
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

/// Separable area-average (down) / bilinear (up) resize of a one-channel `f32` plane of
/// non-negative samples.
pub fn resize(src: &[f32], (w, h): (usize, usize), (ow, oh): (usize, usize)) -> Vec<f32> {
    // The row pass reads every output's taps as `t` weights from a flat table, the shorter ones
    // padded with zero weights over a zero-padded row: for non-negative samples `x + 0·v` is `x`,
    // so each output is the same left-to-right sum of products as over its own taps.
    let tx = taps(w, ow);
    let t = tx.iter().map(|(_, wt)| wt.len()).max().unwrap_or(1);
    let mut starts = Vec::with_capacity(ow);
    let mut weights = vec![0f32; ow * t];
    for ((s, wt), dst) in tx.iter().zip(weights.chunks_exact_mut(t)) {
        starts.push(*s);
        dst[..wt.len()].copy_from_slice(wt);
    }
    let mut row = vec![0f32; w + t];
    let mut tmp = vec![0f32; ow * h];
    for (y, dst) in tmp.chunks_exact_mut(ow).enumerate() {
        row[..w].copy_from_slice(&src[y * w..(y + 1) * w]);
        // A constant tap count per arm: `row_pass` is inlined and its loop unrolled.
        match t {
            1 => row_pass(&row, &starts, &weights, 1, dst),
            2 => row_pass(&row, &starts, &weights, 2, dst),
            3 => row_pass(&row, &starts, &weights, 3, dst),
            4 => row_pass(&row, &starts, &weights, 4, dst),
            5 => row_pass(&row, &starts, &weights, 5, dst),
            6 => row_pass(&row, &starts, &weights, 6, dst),
            7 => row_pass(&row, &starts, &weights, 7, dst),
            8 => row_pass(&row, &starts, &weights, 8, dst),
            9 => row_pass(&row, &starts, &weights, 9, dst),
            _ => row_pass(&row, &starts, &weights, t, dst),
        }
    }
    column_pass(&tmp, ow, h, oh)
}

/// One row of the row pass: output `x` is the left-to-right sum of the `t` products of
/// `weights[x·t..]` with `row[starts[x]..]`.
#[inline(always)]
fn row_pass(row: &[f32], starts: &[usize], weights: &[f32], t: usize, dst: &mut [f32]) {
    for ((d, &s), wt) in dst.iter_mut().zip(starts).zip(weights.chunks_exact(t)) {
        let px = &row[s..s + t];
        let mut acc = wt[0] * px[0];
        for k in 1..t {
            acc += wt[k] * px[k];
        }
        *d = acc;
    }
}

/// The column pass of [`resize`]: `tmp` (`ow` × `h`) to `ow` × `oh`.
fn column_pass(tmp: &[f32], ow: usize, h: usize, oh: usize) -> Vec<f32> {
    let ty = taps(h, oh);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The row pass as first written: each output the iterator sum of its own taps.
    fn resize_direct(src: &[f32], (w, h): (usize, usize), (ow, oh): (usize, usize)) -> Vec<f32> {
        let tx = taps(w, ow);
        let mut tmp = vec![0f32; ow * h];
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            for (x, (s, wt)) in tx.iter().enumerate() {
                tmp[y * ow + x] = wt.iter().zip(&row[*s..]).map(|(a, b)| a * b).sum();
            }
        }
        column_pass(&tmp, ow, h, oh)
    }

    #[test]
    fn padded_taps_give_the_same_bits() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let sizes = [
            (1, 1),
            (1, 7),
            (3, 2),
            (17, 9),
            (960, 540),
            (240, 135),
            (64, 48),
        ];
        let outs = [
            (1, 1),
            (9, 8),
            (32, 32),
            (512, 288),
            (5, 30),
            (100, 3),
            (64, 48),
        ];
        for &(w, h) in &sizes {
            // Flat areas (zeros included) and noise.
            let src: Vec<f32> = (0..w * h)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if i % 97 < 40 {
                        0.0
                    } else {
                        (x % 25_500) as f32 * 0.01
                    }
                })
                .collect();
            for &(ow, oh) in &outs {
                let (a, b) = (
                    resize(&src, (w, h), (ow, oh)),
                    resize_direct(&src, (w, h), (ow, oh)),
                );
                assert_eq!(a.len(), b.len());
                assert!(
                    a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{w}x{h} -> {ow}x{oh}"
                );
            }
        }
    }
}
