//! PDQ, Meta's 256-bit perceptual hash (ThreatExchange `pdq/`, "The TMK+PDQF and PDQ hashing
//! algorithms", Facebook 2019), following the C++ reference `pdqhashing.cpp` in `f32`:
//! float luma → two rounds of Jarosz box blur (Jarosz, "Fast image convolutions", SIGGRAPH 2001)
//! → 64 × 64 point sampling → the 16 × 16 lowest non-DC DCT coefficients → bits above their
//! (lower) median. The 8 dihedral variants come from sign flips and transposition of the DCT.

/// Below this many pixels on a side the reference refuses to hash: all-zero hash, quality 0.
const MIN_HASHABLE_DIM: usize = 5;

/// A PDQ hash: bit `k = 16 i + j` set when DCT coefficient `(i, j)` exceeds the median.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdq {
    pub bits: [bool; 256],
    /// 0–100; the reference discards hashes of quality ≤ 49.
    pub quality: u8,
}

/// The 8 dihedral transforms, in the reference's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Original,
    Rotate90,
    Rotate180,
    Rotate270,
    FlipX,
    FlipY,
    FlipPlus1,
    FlipMinus1,
}

impl Dihedral {
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];

    /// Coefficient `(i, j)` of the transformed image's DCT, read from the original's `b`.
    /// The basis functions are odd/even under reflection with the parity of their index, so a flip
    /// negates odd indices along its axis; a transposition swaps the indices.
    fn coef(self, b: &[[f32; 16]; 16], i: usize, j: usize) -> f32 {
        // `keep(c, v)`: `v` when `c` holds, `-v` otherwise.
        let keep = |c: bool, v: f32| if c { v } else { -v };
        match self {
            Dihedral::Original => b[i][j],
            Dihedral::Rotate90 => keep(i & 1 == 1, b[j][i]),
            Dihedral::Rotate180 => keep((i + j) & 1 == 0, b[i][j]),
            Dihedral::Rotate270 => keep(j & 1 == 1, b[j][i]),
            Dihedral::FlipX => keep(i & 1 == 1, b[i][j]),
            Dihedral::FlipY => keep(j & 1 == 1, b[i][j]),
            Dihedral::FlipPlus1 => b[j][i],
            Dihedral::FlipMinus1 => keep((i + j) & 1 == 0, b[j][i]),
        }
    }
}

/// The reference's window: `ceil(old / 128)`, half the span of one of the 64 output cells.
fn window(n: usize) -> usize {
    n.div_ceil(128)
}

/// The reference's `box1DFloat` (a running-sum box filter whose window shrinks at the ends to the
/// samples present) over `L` lanes in lockstep: lane `l`'s samples are at
/// `l · lane_stride + i · step`. Each lane sees exactly the reference's operations in its order,
/// so the results are bit-identical; across lanes the work is independent, so the sums pipeline
/// (and vectorize when the lanes are adjacent: the column pass).
fn box_lanes<const L: usize>(
    input: &[f32],
    out: &mut [f32],
    lane_stride: usize,
    len: usize,
    step: usize,
    full: usize,
) {
    let load = |i: usize| -> [f32; L] {
        let base = i * step;
        if lane_stride == 1 {
            input[base..base + L].try_into().expect("L lanes")
        } else {
            std::array::from_fn(|l| input[base + l * lane_stride])
        }
    };
    let mut store = |i: usize, sum: &[f32; L], count: usize| {
        let base = i * step;
        let c = count as f32;
        if lane_stride == 1 {
            for (o, s) in out[base..base + L].iter_mut().zip(sum) {
                *o = s / c;
            }
        } else {
            for (l, s) in sum.iter().enumerate() {
                out[base + l * lane_stride] = s / c;
            }
        }
    };
    let add = |sum: &mut [f32; L], v: [f32; L]| sum.iter_mut().zip(v).for_each(|(s, v)| *s += v);
    let sub = |sum: &mut [f32; L], v: [f32; L]| sum.iter_mut().zip(v).for_each(|(s, v)| *s -= v);
    let half = (full + 2) / 2;
    let mut sum = [0f32; L];
    let mut count = 0usize;
    let (mut li, mut ri, mut oi) = (0, 0, 0);
    for _ in 0..half - 1 {
        add(&mut sum, load(ri));
        count += 1;
        ri += 1;
    }
    for _ in 0..full - half + 1 {
        add(&mut sum, load(ri));
        count += 1;
        store(oi, &sum, count);
        ri += 1;
        oi += 1;
    }
    for _ in 0..len.saturating_sub(full) {
        add(&mut sum, load(ri));
        sub(&mut sum, load(li));
        store(oi, &sum, count);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..half - 1 {
        sub(&mut sum, load(li));
        count -= 1;
        store(oi, &sum, count);
        li += 1;
        oi += 1;
    }
}

/// [`box_lanes`] of `lanes` sequences (`len` samples `step` apart, lane `l` starting at
/// `l · lane_stride`), eight lanes at a time.
fn box_many(
    input: &[f32],
    out: &mut [f32],
    lanes: usize,
    lane_stride: usize,
    len: usize,
    step: usize,
    full: usize,
) {
    const L: usize = 8;
    let mut l = 0;
    while l + L <= lanes {
        let base = l * lane_stride;
        box_lanes::<L>(
            &input[base..],
            &mut out[base..],
            lane_stride,
            len,
            step,
            full,
        );
        l += L;
    }
    for l in l..lanes {
        let base = l * lane_stride;
        box_lanes::<1>(
            &input[base..],
            &mut out[base..],
            lane_stride,
            len,
            step,
            full,
        );
    }
}

/// Two rounds of rows-then-columns box filtering, in place on `a` (`b` is scratch).
fn jarosz(a: &mut [f32], b: &mut [f32], rows: usize, cols: usize) {
    let (wr, wc) = (window(cols), window(rows));
    for _ in 0..2 {
        box_many(a, b, rows, cols, cols, 1, wr);
        box_many(b, a, cols, 1, rows, cols, wc);
    }
}

/// `D[i][j] = sqrt(2/64) · cos(π/128 · (i + 1)(2j + 1))`, rounded as the reference rounds it.
fn dct_matrix() -> [[f32; 64]; 16] {
    let scale = (2.0f64 / 64.0).sqrt() as f32;
    let mut d = [[0f32; 64]; 16];
    for (i, row) in d.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
            *v = (f64::from(scale) * arg.cos()) as f32;
        }
    }
    d
}

/// The 16 × 16 DCT of the blurred, sampled luma and the quality; `None` for tiny images.
pub fn dct16(luma: &[f32], rows: usize, cols: usize) -> Option<([[f32; 16]; 16], u8)> {
    if rows < MIN_HASHABLE_DIM || cols < MIN_HASHABLE_DIM {
        return None;
    }
    let mut a = luma.to_vec();
    let mut scratch = vec![0f32; a.len()];
    jarosz(&mut a, &mut scratch, rows, cols);
    let mut s = [[0f32; 64]; 64];
    for (i, row) in s.iter_mut().enumerate() {
        let ii = ((i as f64 + 0.5) * rows as f64 / 64.0) as usize;
        for (j, v) in row.iter_mut().enumerate() {
            let jj = ((j as f64 + 0.5) * cols as f64 / 64.0) as usize;
            *v = a[ii * cols + jj];
        }
    }
    let quality = quality(&s);
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for i in 0..16 {
        for j in 0..64 {
            t[i][j] = (0..64).fold(0f32, |acc, k| acc + d[i][k] * s[k][j]);
        }
    }
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            b[i][j] = (0..64).fold(0f32, |acc, k| acc + t[i][k] * d[j][k]);
        }
    }
    Some((b, quality))
}

/// Count of significant gradients between neighbouring samples, scaled to 0–100.
fn quality(s: &[[f32; 64]; 64]) -> u8 {
    let step = |u: f32, v: f32| (((u - v) * 100.0 / 255.0) as i32).abs();
    let mut sum = 0i32;
    for pair in s.windows(2) {
        for (&u, &v) in pair[0].iter().zip(&pair[1]) {
            sum += step(u, v);
        }
    }
    for row in s {
        for j in 0..63 {
            sum += step(row[j], row[j + 1]);
        }
    }
    (sum / 90).min(100) as u8
}

/// The hash of one dihedral variant of a DCT from [`dct16`].
pub fn bits(b: &[[f32; 16]; 16], quality: u8, variant: Dihedral) -> Pdq {
    let mut c = [0f32; 256];
    for (k, v) in c.iter_mut().enumerate() {
        *v = variant.coef(b, k / 16, k % 16);
    }
    // Torben's median returns the lower median, an element of the data.
    let mut sorted = c;
    sorted.sort_by(f32::total_cmp);
    let median = sorted[127];
    let mut out = [false; 256];
    for (o, &v) in out.iter_mut().zip(&c) {
        *o = v > median;
    }
    Pdq { bits: out, quality }
}

/// PDQ of a row-major `f32` luma plane.
pub fn hash(luma: &[f32], rows: usize, cols: usize) -> Pdq {
    match dct16(luma, rows, cols) {
        Some((b, q)) => bits(&b, q, Dihedral::Original),
        None => Pdq {
            bits: [false; 256],
            quality: 0,
        },
    }
}

/// The reference's float luma of 8-bit RGB.
pub fn luma(rgb: &[u8]) -> Vec<f32> {
    rgb.chunks_exact(3)
        .map(|p| {
            0.299f32 * f32::from(p[0]) + 0.587f32 * f32::from(p[1]) + 0.114f32 * f32::from(p[2])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's `box1DFloat`, one sequence at a time, as first written.
    fn box_1d(input: &[f32], out: &mut [f32], len: usize, stride: usize, full: usize) {
        let half = (full + 2) / 2;
        let (mut li, mut ri, mut oi) = (0, 0, 0);
        let mut sum = 0f32;
        let mut count = 0usize;
        for _ in 0..half - 1 {
            sum += input[ri];
            count += 1;
            ri += stride;
        }
        for _ in 0..full - half + 1 {
            sum += input[ri];
            count += 1;
            out[oi] = sum / count as f32;
            ri += stride;
            oi += stride;
        }
        for _ in 0..len.saturating_sub(full) {
            sum += input[ri];
            sum -= input[li];
            out[oi] = sum / count as f32;
            li += stride;
            ri += stride;
            oi += stride;
        }
        for _ in 0..half - 1 {
            sum -= input[li];
            count -= 1;
            out[oi] = sum / count as f32;
            li += stride;
            oi += stride;
        }
    }

    /// The lockstep filter equals the one-lane filter bit for bit, in both pass directions.
    #[test]
    fn box_many_matches_box_1d() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for (rows, cols) in [(5, 5), (9, 17), (64, 64), (288, 512), (512, 37), (23, 8)] {
            let input: Vec<f32> = (0..rows * cols)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 25_500) as f32 / 100.0
                })
                .collect();
            for full in [1, 2, 3, window(cols), window(rows), 5] {
                let full = full.min(rows).min(cols).max(1);
                let (mut want, mut got) = (vec![0f32; rows * cols], vec![0f32; rows * cols]);
                for r in 0..rows {
                    let s = r * cols..(r + 1) * cols;
                    box_1d(&input[s.clone()], &mut want[s], cols, 1, full);
                }
                box_many(&input, &mut got, rows, cols, cols, 1, full);
                assert!(want
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                for c in 0..cols {
                    box_1d(&input[c..], &mut want[c..], rows, cols, full);
                }
                box_many(&input, &mut got, cols, 1, rows, cols, full);
                assert!(want
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }
}
