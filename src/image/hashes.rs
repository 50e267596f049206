//! ImageHash 4.3's hashes (`imagehash/__init__.py`) over an already resized gray plane.
//!
//! aHash and dHash follow Krawetz ("Looks Like It", "Kind of Like That", hackerfactor.com 2011
//! and 2013), pHash the DCT variant of the same posts, wHash the Haar variant of the Avito
//! duplicate-ads Kaggle entry via PyWavelets. Planes are row-major `f32`; the compatible front end
//! fills them with exact 8-bit integers, so every comparison here matches NumPy's on `uint8`.
//! Bits come out row-major, first bit first.

use super::wavelet;

/// `numpy.median`: the middle value, or the mean of the two middle values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// aHash over an `hs × hs` plane: pixel > mean.
pub fn ahash(px: &[f32]) -> Vec<bool> {
    let mean = px.iter().map(|&v| f64::from(v)).sum::<f64>() / px.len() as f64;
    px.iter().map(|&v| f64::from(v) > mean).collect()
}

/// dHash over a plane `hs + 1` wide and `hs` high: right neighbour brighter.
pub fn dhash(px: &[f32], hs: usize) -> Vec<bool> {
    px.chunks_exact(hs + 1)
        .flat_map(|row| row.windows(2).map(|p| p[1] > p[0]))
        .collect()
}

/// Vertical dHash over a plane `hs` wide and `hs + 1` high: lower neighbour brighter.
pub fn dhash_vertical(px: &[f32], hs: usize) -> Vec<bool> {
    let rows: Vec<&[f32]> = px.chunks_exact(hs).collect();
    rows.windows(2)
        .flat_map(|r| r[0].iter().zip(r[1]).map(|(a, b)| b > a))
        .collect()
}

/// The first `keep` coefficients of SciPy's unnormalised DCT-II (`2 Σ x_n cos(πk(2n+1)/2N)`)
/// of each length-`n` line of `src`, where line `l` starts at `l * line` and steps by `step`.
///
/// Where SciPy's FFT-based DCT gives exact zeros, so does this: the hashes compare coefficients
/// with their median, and a symmetric image has many coefficients that are mathematically zero,
/// often the median itself; rounding noise (±1e-13) around them would give bits where ImageHash
/// gets 0. So
/// - a constant line gives exactly `2 n x` and zeros;
/// - the sum pairs `x_j` with its mirror `x_{n-1-j}` (`cos` of the mirror is `(-1)^k` times
///   `cos` of `j`): `C_k = 2 Σ_{j < n/2} cos(πk(2j+1)/2N) (x_j + (-1)^k x_{n-1-j})`, so a
///   symmetric line (or an antisymmetric one) has exactly zero odd (even) coefficients, as in
///   SciPy. The mirrored columns of a left-right symmetric image give bitwise equal first-pass
///   outputs, so the second pass inherits the symmetry exactly.
fn dct_lines(
    src: &[f64],
    n: usize,
    keep: usize,
    lines: usize,
    line: usize,
    step: usize,
) -> Vec<f64> {
    let half = n / 2;
    let cos: Vec<f64> = (0..keep * n)
        .map(|i| {
            let (k, j) = ((i / n) as f64, (i % n) as f64);
            2.0 * (std::f64::consts::PI * k * (2.0 * j + 1.0) / (2.0 * n as f64)).cos()
        })
        .collect();
    let mut out = vec![0.0; lines * keep];
    let (mut sum, mut diff) = (vec![0.0; half], vec![0.0; half]);
    for l in 0..lines {
        let at = |j: usize| src[l * line + j * step];
        let first = at(0);
        if (1..n).all(|j| at(j) == first) {
            out[l * keep] = 2.0 * n as f64 * first;
            continue;
        }
        for j in 0..half {
            sum[j] = at(j) + at(n - 1 - j);
            diff[j] = at(j) - at(n - 1 - j);
        }
        // The middle sample of an odd length is its own mirror; its cosine is 0 for odd k.
        let middle = if n % 2 == 1 { at(half) } else { 0.0 };
        for k in 0..keep {
            let c = &cos[k * n..k * n + half];
            let paired = if k % 2 == 0 { &sum } else { &diff };
            let mut acc: f64 = c.iter().zip(paired).map(|(a, b)| a * b).sum();
            if n % 2 == 1 && k % 2 == 0 {
                acc += cos[k * n + half] * middle;
            }
            out[l * keep + k] = acc;
        }
    }
    out
}

/// pHash over an `n × n` plane (`n = 4 hs`): DCT along columns then rows, keep the `hs × hs`
/// lowest frequencies including DC, bit = coefficient > median.
pub fn phash(px: &[f32], n: usize, hs: usize) -> Vec<bool> {
    let x: Vec<f64> = px.iter().map(|&v| f64::from(v)).collect();
    // Along axis 0: one line per column; result indexed [column][k].
    let cols = dct_lines(&x, n, hs, n, 1, n);
    // Along axis 1 of the transposed result: line = frequency row k, samples over columns.
    let mut low = dct_lines(&cols, n, hs, hs, 1, hs);
    snap_zeros(&mut low, &x, n);
    // `low` is [k0][k1] with k0 the row frequency: row-major as ImageHash slices it.
    let m = median(&low);
    low.iter().map(|&c| c > m).collect()
}

/// Sets to exactly 0 the coefficients of an `n × n` plane's 2-D DCT that are zero up to the
/// rounding of the sums.
///
/// SciPy's FFT-based DCT gives exact zeros where a coefficient is mathematically zero (symmetries
/// beyond the mirror ones [`dct_lines`] pairs, such as a shape symmetric about both diagonals),
/// and those zeros are often the median. Every coefficient is bounded by `4 n² max|x|` and its
/// rounding error by about `2^-44` of that; a coefficient within `2^-40` of the bound is a zero
/// (a non-zero one that small would need a cancellation of 12 decimal digits among sums of
/// pixels).
fn snap_zeros(coefficients: &mut [f64], x: &[f64], n: usize) {
    let max = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = 4.0 * (n * n) as f64 * max * (-40f64).exp2();
    for c in coefficients.iter_mut().filter(|c| c.abs() <= tol) {
        *c = 0.0;
    }
}

/// ImageHash's `phash_simple`: DCT along rows only, keep rows `0..hs`, columns `1..=hs`, bit =
/// coefficient > mean.
pub fn phash_simple(px: &[f32], n: usize, hs: usize) -> Vec<bool> {
    let x: Vec<f64> = px.iter().map(|&v| f64::from(v)).collect();
    let d = dct_lines(&x, n, hs + 1, hs, n, 1);
    let low: Vec<f64> = d
        .chunks_exact(hs + 1)
        .flat_map(|r| r[1..].to_vec())
        .collect();
    let mean = low.iter().sum::<f64>() / low.len() as f64;
    low.iter().map(|&c| c > mean).collect()
}

/// wHash (Haar, `remove_max_haar_ll=True`) over an `s × s` plane, `s` and `hs` powers of two.
pub fn whash(px: &[f32], s: usize, hs: usize) -> Vec<bool> {
    let mut x: Vec<f64> = px.iter().map(|&v| f64::from(v) / 255.0).collect();
    // Removing the lowest band of the full decomposition subtracts the image mean, in PyWavelets'
    // floating-point order.
    let levels = s.trailing_zeros() as usize;
    let (_, details) = wavelet::wavedec2(&x, s, levels);
    x = wavelet::waverec2(&[0.0], &details);
    let (low, _) = wavelet::wavedec2(&x, s, levels - hs.trailing_zeros() as usize);
    let m = median(&low);
    low.iter().map(|&c| c > m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirror-symmetric and antisymmetric lines: exact zeros where SciPy has them.
    #[test]
    fn dct_of_symmetric_lines_has_exact_zeros() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in [8usize, 9, 32, 33] {
            for _ in 0..50 {
                let half: Vec<f64> = (0..n.div_ceil(2))
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x % 256) as f64
                    })
                    .collect();
                let sym: Vec<f64> = (0..n).map(|j| half[j.min(n - 1 - j)]).collect();
                let d = dct_lines(&sym, n, n.min(8), 1, n, 1);
                assert!(d.iter().skip(1).step_by(2).all(|&c| c == 0.0), "{n}: {d:?}");
                if n % 2 == 0 {
                    let anti: Vec<f64> = (0..n)
                        .map(|j| if j < n / 2 { sym[j] } else { -sym[j] })
                        .collect();
                    let d = dct_lines(&anti, n, 8, 1, n, 1);
                    assert!(d.iter().step_by(2).all(|&c| c == 0.0), "{n}: {d:?}");
                }
            }
        }
    }

    /// The mirror pairing changes nothing but the rounding: against the plain cosine sums.
    #[test]
    fn dct_matches_the_definition() {
        let n = 32;
        let src: Vec<f64> = (0..n * 3).map(|i| ((i * 37 + 11) % 251) as f64).collect();
        let d = dct_lines(&src, n, 8, 3, n, 1);
        for l in 0..3 {
            for k in 0..8 {
                let want: f64 = (0..n)
                    .map(|j| {
                        let a = std::f64::consts::PI * (k * (2 * j + 1)) as f64 / (2 * n) as f64;
                        2.0 * a.cos() * src[l * n + j]
                    })
                    .sum();
                assert!((d[l * 8 + k] - want).abs() < 1e-9, "{l} {k}");
            }
        }
    }
}
