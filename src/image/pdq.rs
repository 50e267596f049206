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

/// `box1DFloat`: a running-sum box filter whose window shrinks at the ends to the samples present.
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

/// Two rounds of rows-then-columns box filtering, in place on `a` (`b` is scratch).
fn jarosz(a: &mut [f32], b: &mut [f32], rows: usize, cols: usize) {
    let (wr, wc) = (window(cols), window(rows));
    for _ in 0..2 {
        for r in 0..rows {
            let s = r * cols..(r + 1) * cols;
            box_1d(&a[s.clone()], &mut b[s], cols, 1, wr);
        }
        for c in 0..cols {
            box_1d(&b[c..], &mut a[c..], rows, cols, wc);
        }
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
