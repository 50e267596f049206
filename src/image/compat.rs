//! The compatible front end: Pillow 13's arithmetic, so that hashes equal ImageHash 4.3's and the
//! PDQ reference's (`pdqhashing`, which shrinks with `Image.thumbnail((512, 512))` first).
//!
//! No EXIF transpose and no alpha compositing, as `Image.open` + `convert` do not do them.
//! Bit-exact for lossless formats; JPEG and lossy WebP go through different decoders than
//! Pillow's libjpeg-turbo/libwebp and may differ by ±1 in some pixels.

use image::DynamicImage;

use super::decode::Decoded;
use super::resample::{resize, resize_nearest, Filter};

/// Pillow's `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16` (ITU-R 601-2 in 16-bit fixed point).
#[inline]
pub fn luma_l(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 0x8000) >> 16) as u8
}

/// Pillow's 8-bit RGB for an image as `Image.open` would hold it, plus its alpha if any.
///
/// Pillow opens 16-bit colour PNG/TIFF as 8-bit by keeping the high byte (`RGB;16B`), which is
/// what `>> 8` does; 16-bit gray stays `I;16` and saturates when converted (see [`gray`]).
fn rgb_alpha(d: &Decoded) -> (Vec<u8>, Option<Vec<u8>>) {
    let hi = |v: u16| (v >> 8) as u8;
    let sat = |v: u16| v.min(255) as u8;
    match &d.image {
        DynamicImage::ImageLuma8(b) => (b.iter().flat_map(|&v| [v; 3]).collect(), None),
        DynamicImage::ImageLuma16(b) => (b.iter().flat_map(|&v| [sat(v); 3]).collect(), None),
        DynamicImage::ImageLumaA8(b) => split(b.pixels().map(|p| [p[0], p[0], p[0], p[1]])),
        // Pillow's `I;16` (colour key in `info`): saturated, alpha not part of the image.
        DynamicImage::ImageLumaA16(b) if d.gray16_key => {
            (b.pixels().flat_map(|p| [sat(p[0]); 3]).collect(), None)
        }
        DynamicImage::ImageLumaA16(b) => {
            split(b.pixels().map(|p| [hi(p[0]), hi(p[0]), hi(p[0]), hi(p[1])]))
        }
        DynamicImage::ImageRgb8(b) => (b.as_raw().clone(), None),
        DynamicImage::ImageRgba8(b) => split(b.pixels().map(|p| p.0)),
        DynamicImage::ImageRgb16(b) => (b.iter().map(|&v| hi(v)).collect(), None),
        DynamicImage::ImageRgba16(b) => {
            split(b.pixels().map(|p| [hi(p[0]), hi(p[1]), hi(p[2]), hi(p[3])]))
        }
        other if other.color().has_alpha() => split(other.to_rgba8().pixels().map(|p| p.0)),
        other => (other.to_rgb8().into_raw(), None),
    }
}

fn split(px: impl Iterator<Item = [u8; 4]>) -> (Vec<u8>, Option<Vec<u8>>) {
    let (mut rgb, mut alpha) = (Vec::new(), Vec::new());
    for [r, g, b, a] in px {
        rgb.extend_from_slice(&[r, g, b]);
        alpha.push(a);
    }
    (rgb, Some(alpha))
}

/// `Image.convert('L')`: full-resolution 8-bit gray, alpha dropped.
pub fn gray(d: &Decoded) -> Vec<u8> {
    match &d.image {
        DynamicImage::ImageLuma8(b) => b.as_raw().clone(),
        // Pillow's `I;16` → `L` saturates instead of scaling.
        DynamicImage::ImageLuma16(b) => b.iter().map(|&v| v.min(255) as u8).collect(),
        DynamicImage::ImageLumaA8(b) => b.pixels().map(|p| p[0]).collect(),
        DynamicImage::ImageLumaA16(b) if d.gray16_key => {
            b.pixels().map(|p| p[0].min(255) as u8).collect()
        }
        DynamicImage::ImageLumaA16(b) => b.pixels().map(|p| (p[0] >> 8) as u8).collect(),
        _ => {
            let (rgb, _) = rgb_alpha(d);
            rgb.chunks_exact(3)
                .map(|p| luma_l(p[0], p[1], p[2]))
                .collect()
        }
    }
}

/// `img.thumbnail((512, 512))` then `convert('RGB')`: the PDQ reference's pre-shrink.
///
/// Returns `(rgb, width, height)`. Pillow resizes palette (`P`) images with NEAREST whatever the
/// filter asked, and RGBA premultiplied (`RGBa`), dividing back before alpha is dropped. Not
/// reproduced: Pillow's JPEG draft (DCT-domain) decode and `reduce` step, which only start at
/// 2048 px on the long side.
pub fn pdq_thumbnail(d: &Decoded) -> (Vec<u8>, usize, usize) {
    let (w, h) = (d.width() as usize, d.height() as usize);
    let (rgb, alpha) = rgb_alpha(d);
    let Some((tw, th)) = thumbnail_size((w, h), 512) else {
        return (rgb, w, h);
    };
    match alpha {
        _ if d.palette => (resize_nearest(&rgb, (w, h), 3, (tw, th)), tw, th),
        None => (resize(&rgb, (w, h), 3, (tw, th), Filter::Bicubic), tw, th),
        Some(alpha) => {
            let mut rgba = Vec::with_capacity(w * h * 4);
            for (p, &a) in rgb.chunks_exact(3).zip(&alpha) {
                rgba.extend(p.iter().map(|&c| mul_div_255(c, a)));
                rgba.push(a);
            }
            let small = resize(&rgba, (w, h), 4, (tw, th), Filter::Bicubic);
            let out = small
                .chunks_exact(4)
                .flat_map(|p| {
                    let a = u32::from(p[3]);
                    let un = |c: u8| match a {
                        0 | 255 => c,
                        _ => (u32::from(c) * 255 / a).min(255) as u8,
                    };
                    [un(p[0]), un(p[1]), un(p[2])]
                })
                .collect();
            (out, tw, th)
        }
    }
}

/// Pillow's `MULDIV255`: `round(a · b / 255)` in integers.
fn mul_div_255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// Pillow's `thumbnail` target size: fit in `max × max`, keep the aspect ratio, rounding to the
/// neighbour whose ratio is closer. `None` when the image already fits.
pub fn thumbnail_size((w, h): (usize, usize), max: usize) -> Option<(usize, usize)> {
    if max >= w && max >= h {
        return None;
    }
    let aspect = w as f64 / h as f64;
    let round = |n: f64, err: &dyn Fn(f64) -> f64| {
        let (lo, hi) = (n.floor(), n.ceil());
        // Python's `min` keeps the first of equal keys.
        let best = if err(hi) < err(lo) { hi } else { lo };
        (best as usize).max(1)
    };
    let m = max as f64;
    // Pillow's `x / y >= aspect` for the square box `max × max`.
    if 1.0 >= aspect {
        let x = round(m * aspect, &|n| (aspect - n / m).abs());
        Some((x, max))
    } else {
        let y = round(m / aspect, &|n| {
            if n == 0.0 {
                0.0
            } else {
                (aspect - m / n).abs()
            }
        });
        Some((max, y))
    }
}
