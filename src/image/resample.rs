//! Pillow's convolution resize (`libImaging/Resample.c`, Pillow 13) in its 8-bit fixed-point form,
//! reproduced bit for bit: coefficients computed in `f64`, normalised, rounded to 22 fractional
//! bits, accumulated in `i32` from a rounding bias of 2^21; passes run per axis with a `u8`
//! intermediate, and an axis whose size does not change is copied, not filtered.

/// Pillow's fixed-point precision for 8-bit images: 32 bits − 8 (sample) − 2 (headroom).
const PRECISION_BITS: u32 = 22;

/// The resampling filters Pillow uses here: LANCZOS (ImageHash) and BICUBIC (`thumbnail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Lanczos,
    Bicubic,
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Lanczos => 3.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        match self {
            // Half-open interval, as in Pillow's `lanczos_filter`.
            Filter::Lanczos if (-3.0..3.0).contains(&x) => sinc(x) * sinc(x / 3.0),
            Filter::Lanczos => 0.0,
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// Fixed-point taps of one output sample: the first input index and its weights.
struct Taps {
    start: usize,
    weights: Vec<i32>,
}

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`.
fn coefficients(in_size: usize, out_size: usize, filter: Filter) -> Vec<Taps> {
    // Pillow computes `in1 - in0` in `float`; exact for any size an image can have.
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ss = 1.0 / filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C's `(int)` truncates toward zero, and the sums can be negative before clamping.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let raw: Vec<f64> = (0..n)
                .map(|x| filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = raw.iter().sum();
            let one = f64::from(1u32 << PRECISION_BITS);
            let weights = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    if w < 0.0 {
                        (-0.5 + w * one) as i32
                    } else {
                        (0.5 + w * one) as i32
                    }
                })
                .collect();
            Taps {
                start: xmin,
                weights,
            }
        })
        .collect()
}

fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resamples one axis of an interleaved 8-bit image with `channels` samples per pixel.
fn pass(
    src: &[u8],
    (w, h): (usize, usize),
    channels: usize,
    out_len: usize,
    horizontal: bool,
    filter: Filter,
) -> Vec<u8> {
    let taps = coefficients(if horizontal { w } else { h }, out_len, filter);
    let (ow, oh) = if horizontal {
        (out_len, h)
    } else {
        (w, out_len)
    };
    let mut out = vec![0u8; ow * oh * channels];
    let bias = 1i32 << (PRECISION_BITS - 1);
    for y in 0..oh {
        for x in 0..ow {
            let t = &taps[if horizontal { x } else { y }];
            for c in 0..channels {
                let mut acc = bias;
                for (k, &wk) in t.weights.iter().enumerate() {
                    let (sx, sy) = if horizontal {
                        (t.start + k, y)
                    } else {
                        (x, t.start + k)
                    };
                    acc += i32::from(src[(sy * w + sx) * channels + c]) * wk;
                }
                out[(y * ow + x) * channels + c] = clip8(acc);
            }
        }
    }
    out
}

/// Pillow's `Image.resize((out_w, out_h), filter)` of an interleaved 8-bit image.
pub fn resize(
    src: &[u8],
    (w, h): (usize, usize),
    channels: usize,
    (out_w, out_h): (usize, usize),
    filter: Filter,
) -> Vec<u8> {
    debug_assert_eq!(src.len(), w * h * channels);
    let need_h = out_w != w;
    let need_v = out_h != h;
    // Pillow 13 starts with the vertical pass when it removes clearly more rows than columns.
    let vertical_first = h > out_h && (h - out_h) as i64 > 2 * (w as i64 - out_w as i64);
    match (need_h, need_v) {
        (false, false) => src.to_vec(),
        (true, false) => pass(src, (w, h), channels, out_w, true, filter),
        (false, true) => pass(src, (w, h), channels, out_h, false, filter),
        (true, true) if vertical_first => {
            let tmp = pass(src, (w, h), channels, out_h, false, filter);
            pass(&tmp, (w, out_h), channels, out_w, true, filter)
        }
        (true, true) => {
            let tmp = pass(src, (w, h), channels, out_w, true, filter);
            pass(&tmp, (out_w, h), channels, out_h, false, filter)
        }
    }
}

/// Pillow's NEAREST resize (`ImagingScaleAffine`): source index `int(x₀)` with `x₀` starting at
/// half a step and advanced by repeated addition, as Pillow does (multiplying instead picks a
/// different pixel at some exact boundaries).
pub fn resize_nearest(
    src: &[u8],
    (w, h): (usize, usize),
    channels: usize,
    (out_w, out_h): (usize, usize),
) -> Vec<u8> {
    let index = |n_in: usize, n_out: usize| -> Vec<usize> {
        let step = n_in as f64 / n_out as f64;
        let mut pos = step * 0.5;
        (0..n_out)
            .map(|_| {
                let i = (pos as usize).min(n_in - 1);
                pos += step;
                i
            })
            .collect()
    };
    let (xs, ys) = (index(w, out_w), index(h, out_h));
    let mut out = Vec::with_capacity(out_w * out_h * channels);
    for &y in &ys {
        for &x in &xs {
            let p = (y * w + x) * channels;
            out.extend_from_slice(&src[p..p + channels]);
        }
    }
    out
}
