//! The 2-D Haar transform as PyWavelets 1.x computes `wavedec2` / `waverec2` on square
//! power-of-two images, operation for operation, so that wHash's ties break as in ImageHash.
//!
//! PyWavelets' `dwtn` filters axis 0 then axis 1; its downsampling convolution forms
//! `h₀·x[2k+1] + h₁·x[2k]` with `h = ±1/√2`, and the inverse (`idwtn`, axis 1 first) adds the
//! approximation and the detail contributions in that order.

/// PyWavelets' Haar tap, `0.7071067811865476`.
const C: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// Detail bands of one level, each `n × n`: (`ad`, `da`, `dd`) in PyWavelets' key naming.
pub type Details = (Vec<f64>, Vec<f64>, Vec<f64>);

/// One analysis step along one axis of an `rows × cols` array; returns (low, high).
fn analyse(x: &[f64], rows: usize, cols: usize, axis0: bool) -> (Vec<f64>, Vec<f64>) {
    let (orows, ocols) = if axis0 {
        (rows / 2, cols)
    } else {
        (rows, cols / 2)
    };
    let mut lo = vec![0.0; orows * ocols];
    let mut hi = vec![0.0; orows * ocols];
    for r in 0..orows {
        for c in 0..ocols {
            let (a, b) = if axis0 {
                (x[2 * r * cols + c], x[(2 * r + 1) * cols + c])
            } else {
                (x[r * cols + 2 * c], x[r * cols + 2 * c + 1])
            };
            lo[r * ocols + c] = C * b + C * a;
            hi[r * ocols + c] = -C * b + C * a;
        }
    }
    (lo, hi)
}

/// One synthesis step along one axis: `lo`, `hi` are `rows × cols`; the result doubles that axis.
fn synthesise(lo: &[f64], hi: &[f64], rows: usize, cols: usize, axis0: bool) -> Vec<f64> {
    let (orows, ocols) = if axis0 {
        (rows * 2, cols)
    } else {
        (rows, cols * 2)
    };
    let mut out = vec![0.0; orows * ocols];
    for r in 0..rows {
        for c in 0..cols {
            let (a, d) = (lo[r * cols + c], hi[r * cols + c]);
            let (even, odd) = (C * a + C * d, C * a + -C * d);
            if axis0 {
                out[2 * r * ocols + c] = even;
                out[(2 * r + 1) * ocols + c] = odd;
            } else {
                out[r * ocols + 2 * c] = even;
                out[r * ocols + 2 * c + 1] = odd;
            }
        }
    }
    out
}

/// `pywt.wavedec2(x, 'haar', level=levels)` of an `n × n` array: the approximation and the detail
/// bands, coarsest first.
pub fn wavedec2(x: &[f64], n: usize, levels: usize) -> (Vec<f64>, Vec<Details>) {
    let mut a = x.to_vec();
    let mut size = n;
    let mut details = Vec::with_capacity(levels);
    for _ in 0..levels {
        let (lo, hi) = analyse(&a, size, size, true);
        let (aa, ad) = analyse(&lo, size / 2, size, false);
        let (da, dd) = analyse(&hi, size / 2, size, false);
        details.push((ad, da, dd));
        a = aa;
        size /= 2;
    }
    details.reverse();
    (a, details)
}

/// `pywt.waverec2([approx, *details], 'haar')`.
pub fn waverec2(approx: &[f64], details: &[Details]) -> Vec<f64> {
    let mut a = approx.to_vec();
    for (ad, da, dd) in details {
        let size = (ad.len() as f64).sqrt() as usize;
        let lo = synthesise(&a, ad, size, size, false);
        let hi = synthesise(da, dd, size, size, false);
        a = synthesise(&lo, &hi, size, size * 2, true);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_identity_up_to_rounding() {
        let n = 8;
        let x: Vec<f64> = (0..n * n).map(|i| ((i * 37) % 11) as f64 / 7.0).collect();
        let (a, d) = wavedec2(&x, n, 3);
        assert_eq!(a.len(), 1);
        let y = waverec2(&a, &d);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() < 1e-12);
        }
    }

    #[test]
    fn zeroing_the_top_band_subtracts_the_mean() {
        let n = 4;
        let x: Vec<f64> = (0..n * n).map(|i| i as f64).collect();
        let (_, d) = wavedec2(&x, n, 2);
        let y = waverec2(&[0.0], &d);
        for (p, q) in x.iter().zip(&y) {
            assert!((p - 7.5 - q).abs() < 1e-12);
        }
    }
}
