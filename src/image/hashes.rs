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
/// A constant line gives exactly `2 n x` and zeros, as SciPy's FFT-based DCT does: summing the
/// cosines would leave rounding noise (±1e-13) in the zero coefficients, and the hashes compare
/// coefficients with their median, so flat images (and images constant along one axis) would
/// get bits from that noise where ImageHash gets 0.
fn dct_lines(
    src: &[f64],
    n: usize,
    keep: usize,
    lines: usize,
    line: usize,
    step: usize,
) -> Vec<f64> {
    let cos: Vec<f64> = (0..keep * n)
        .map(|i| {
            let (k, j) = ((i / n) as f64, (i % n) as f64);
            2.0 * (std::f64::consts::PI * k * (2.0 * j + 1.0) / (2.0 * n as f64)).cos()
        })
        .collect();
    let mut out = vec![0.0; lines * keep];
    for l in 0..lines {
        let first = src[l * line];
        if (1..n).all(|j| src[l * line + j * step] == first) {
            out[l * keep] = 2.0 * n as f64 * first;
            continue;
        }
        for k in 0..keep {
            let c = &cos[k * n..(k + 1) * n];
            out[l * keep + k] = (0..n).map(|j| c[j] * src[l * line + j * step]).sum();
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
    let low = dct_lines(&cols, n, hs, hs, 1, hs);
    // `low` is [k0][k1] with k0 the row frequency: row-major as ImageHash slices it.
    let m = median(&low);
    low.iter().map(|&c| c > m).collect()
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
