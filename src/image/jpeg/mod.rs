//! Our own JPEG decoder for reduced-scale decodes: 1/8 (canonical pHash / aHash), 1/4 (dHash)
//! and 1/2 (PDQ), with `jpeg-decoder` 0.3's output at that scale, byte for byte.
//!
//! At 1/8 every 8×8 block becomes one pixel, the block mean: the dequantized DC coefficient. The
//! `jpeg-decoder` crate computes it after decoding all of a block's coefficients; here only the DC
//! coefficient is kept: AC symbols of sequential scans are decoded just far enough to skip their
//! bits (one table lookup gives a symbol's code length plus the length of the bits that follow
//! it), and the AC scans of progressive JPEGs are skipped whole.
//!
//! At 1/4 and 1/2 (sequential frames only) each block's coefficients are decoded in full and
//! turned into 4×4 or 2×2 samples at once by the crate's reduced IDCTs (its integer arithmetic,
//! wrapping included), into component planes laid out as the crate lays them out (`bw · scale`
//! samples a row, of which the first `ceil(width · h · scale / (h_max · 8))` count). There is no
//! per-row hand-off to a thread pool, and nothing is allocated per block or row.
//!
//! At every scale the result reproduces the crate's chroma upsamplers (scale-independent: they
//! see only the planes' sizes) and its YCbCr → RGB conversion (including the SSSE3 variant it
//! uses for most of each row on x86). Anything this decoder does not handle exactly like that
//! crate gives `None`, and the caller decodes with `jpeg-decoder`: arithmetic coding, 12-bit or
//! lossless or hierarchical frames, progressive frames at 1/4 and 1/2, CMYK, redefined
//! quantization tables after the first scan, and any data that is not cleanly formed (invalid
//! codes, coefficient runs past the block's end, junk between a scan and its marker,
//! truncation). The one place it is more lenient is corrupt AC data in progressive scans at 1/8,
//! which it never reads.

mod color;
mod headers;
mod huffman;
mod idct;
mod markers;
mod scan;
#[cfg(test)]
mod tests;
mod upsample;

use color::{ycbcr_row, YcbcrTables};
use headers::{ceil_div, Frame, Headers};
use markers::{be16, next_marker};
pub(crate) use markers::{dimensions, truncated};
use scan::read_scan;
use upsample::{upsampler, Upsample};

/// A decoded reduced-scale image: gray (1 channel) or RGB (3), rows packed.
#[derive(Debug)]
pub(crate) struct ReducedImage<'a> {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
    /// The last `Exif` APP1 payload (from its TIFF header), as `jpeg-decoder` reports it.
    pub exif: Option<&'a [u8]>,
}

#[derive(Clone, Copy, PartialEq)]
enum Color {
    YCbCr,
    Rgb,
}

/// Decodes `d` at `scale`/8 (`scale` 1, 2 or 4: `jpeg-decoder`'s `dct_scale`); `None` where
/// `jpeg-decoder` must decode it.
pub(crate) fn decode(d: &[u8], scale: usize) -> Option<ReducedImage<'_>> {
    if !d.starts_with(&[0xFF, 0xD8]) || !matches!(scale, 1 | 2 | 4) {
        return None;
    }
    let mut h = read_segments(d, scale)?;
    let mut f = h.frame.take()?;
    if h.scans == 0 || f.comps.iter().any(|c| h.quant[c.tq].is_none()) {
        return None;
    }
    if !f.progressive && f.comps.iter().any(|c| !c.scanned) {
        return None;
    }
    let color = match f.comps.len() {
        1 => None,
        _ => Some(color_transform(&f, h.jfif, h.adobe)?),
    };
    if scale == 1 {
        dc_planes(&mut f, &h.quant)?;
    }
    let (out_w, out_h) = (ceil_div(f.width * scale, 8), ceil_div(f.height * scale, 8));
    let pixels = match color {
        None => gray_pixels(&f, out_w, out_h)?,
        Some(color) => color_pixels(&f, color, out_w, out_h)?,
    };
    Some(ReducedImage {
        width: out_w as u32,
        height: out_h as u32,
        channels: if color.is_some() { 3 } else { 1 },
        pixels,
        exif: h.exif,
    })
}

/// Reads the segments and decodes the scans from the start of the image to its end marker.
fn read_segments(d: &[u8], scale: usize) -> Option<Headers<'_>> {
    let mut h = Headers::new();
    let mut pos = 2;
    let mut previous = 0xD8u8;
    let mut pending: Option<(u8, usize)> = None;
    loop {
        let (marker, p) = match pending.take() {
            Some(m) => m,
            None => next_marker(d, pos)?,
        };
        pos = p;
        let has_length = !matches!(marker, 0xD0..=0xD9 | 0x01);
        let seg = if has_length {
            let len = be16(d, pos)?;
            if len < 2 {
                return None;
            }
            let seg = d.get(pos + 2..pos + len)?;
            pos += len;
            seg
        } else {
            &[][..]
        };
        match marker {
            0xDA => pending = Some(read_scan(d, pos, seg, &mut h)?),
            0xD0..=0xD7 => {
                if previous != 0xDA {
                    return None;
                }
            }
            0xD9 => return Some(h),
            _ => h.segment(marker, seg, scale)?,
        }
        previous = marker;
    }
}

/// At 1/8, each component's plane from its DC coefficients by `jpeg-decoder`'s 1×1 IDCT: the
/// dequantized DC coefficient, rounded, divided by 8.
fn dc_planes(f: &mut Frame, quant: &[Option<[u16; 64]>; 4]) -> Option<()> {
    for c in &mut f.comps {
        let q = i32::from(quant[c.tq]?[0]);
        c.plane =
            c.dc.iter()
                .map(|&v| ((i32::from(v) * q + 1024) / 8).clamp(0, 255) as u8)
                .collect();
    }
    Some(())
}

/// One component at full sampling: its plane is the output, cut to its size.
fn gray_pixels(f: &Frame, out_w: usize, out_h: usize) -> Option<Vec<u8>> {
    let (c, stride) = (&f.comps[0], f.comps[0].bw * f.scale);
    if c.width != out_w || c.height != out_h {
        return None;
    }
    let mut out = Vec::with_capacity(out_w * out_h);
    for row in c.plane.chunks_exact(stride).take(out_h) {
        out.extend_from_slice(&row[..out_w]);
    }
    Some(out)
}

/// Three components: each output row upsampled from the planes, then converted to RGB.
fn color_pixels(f: &Frame, color: Color, out_w: usize, out_h: usize) -> Option<Vec<u8>> {
    let ups: Vec<Upsample> = f
        .comps
        .iter()
        .map(|c| upsampler(c.h, c.v, f.h_max, f.v_max, out_w, out_h))
        .collect::<Option<_>>()?;
    let line = f.comps.iter().map(|c| c.width).max()? * usize::from(f.h_max);
    let mut lines = vec![vec![0u8; line]; 3];
    let mut out = vec![0u8; out_w * out_h * 3];
    let tables = YcbcrTables::get();
    for (row, o) in out.chunks_exact_mut(out_w * 3).enumerate() {
        for (i, c) in f.comps.iter().enumerate() {
            let stride = c.bw * f.scale;
            ups[i](
                &c.plane,
                c.width,
                c.height,
                stride,
                row,
                out_w,
                &mut lines[i],
            );
        }
        let (l0, l1, l2) = (&lines[0][..out_w], &lines[1][..out_w], &lines[2][..out_w]);
        match color {
            Color::Rgb => {
                let pixels = o.chunks_exact_mut(3).zip(l0.iter().zip(l1).zip(l2));
                for (px, ((&a, &b), &c)) in pixels {
                    px.copy_from_slice(&[a, b, c]);
                }
            }
            Color::YCbCr => ycbcr_row(tables, l0, l1, l2, o),
        }
    }
    Some(out)
}

/// `jpeg-decoder`'s colour transform of a 3-component frame (`None`: one it refuses).
fn color_transform(f: &Frame, jfif: bool, adobe: Option<u8>) -> Option<Color> {
    let ids = (f.comps[0].id, f.comps[1].id, f.comps[2].id);
    match ids {
        (1, 2, 3) => return Some(Color::YCbCr),
        (82, 71, 66) => return Some(Color::Rgb),
        (1, 34, 35) | (114, 103, 98) => return None,
        _ => {}
    }
    if jfif {
        return Some(Color::YCbCr);
    }
    match adobe {
        Some(0) => Some(Color::Rgb),
        Some(1) | None => Some(Color::YCbCr),
        _ => None,
    }
}
