//! Choosing (bands, rows) for a similarity threshold exactly as datasketch's `MinHashLSH` does:
//! minimise `w_fp · ∫₀ᵗ P(s) ds + w_fn · ∫ₜ¹ (1 − P(s)) ds` over `b · r ≤ num_perm`, with the
//! integrals taken by datasketch's midpoint rule (step 0.001, accumulating `x += 0.001`), and
//! ties going to the first (smallest b, then smallest r).

use super::Bands;
use crate::{Error, Result};

fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let p = 0.001;
    let mut area = 0.0;
    let mut x = a;
    while x < b {
        area += f(x + 0.5 * p) * p;
        x += p;
    }
    area
}

/// Area under the candidate-probability curve below the threshold.
pub fn false_positive_area(threshold: f64, b: usize, r: usize) -> f64 {
    integrate(
        |s| 1.0 - (1.0 - s.powf(r as f64)).powf(b as f64),
        0.0,
        threshold,
    )
}

/// Area above the curve beyond the threshold.
pub fn false_negative_area(threshold: f64, b: usize, r: usize) -> f64 {
    integrate(
        |s| 1.0 - (1.0 - (1.0 - s.powf(r as f64)).powf(b as f64)),
        threshold,
        1.0,
    )
}

/// The (bands, rows) datasketch would pick for `threshold` and `num_perm`.
pub fn optimal_params(threshold: f64, num_perm: usize, w_fp: f64, w_fn: f64) -> Result<Bands> {
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::param(
            "threshold",
            format!("must be in (0, 1), got {threshold}"),
        ));
    }
    if num_perm < 2 {
        return Err(Error::param("num_perm", "must be at least 2 for LSH"));
    }
    // Written so that NaN fails every comparison, and infinities fail the sum.
    if !(w_fp >= 0.0 && w_fn >= 0.0 && (w_fp + w_fn - 1.0).abs() <= 1e-9) {
        return Err(Error::param(
            "weights",
            format!(
                "false positive and negative weights must be non-negative and sum to 1, got \
                 {w_fp} and {w_fn}"
            ),
        ));
    }
    let mut best = (f64::INFINITY, 0, 0);
    for b in 1..=num_perm {
        for r in 1..=num_perm / b {
            let err = w_fp * false_positive_area(threshold, b, r)
                + w_fn * false_negative_area(threshold, b, r);
            if err < best.0 {
                best = (err, b, r);
            }
        }
    }
    Ok(Bands {
        bands: best.1,
        rows: best.2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_datasketch_choices() {
        // The values datasketch's MinHashLSH picks at num_perm = 128.
        for (t, b, r) in [(0.5, 25, 5), (0.8, 9, 13), (0.9, 5, 25)] {
            let g = optimal_params(t, 128, 0.5, 0.5).unwrap();
            assert_eq!((g.bands, g.rows), (b, r), "threshold {t}");
        }
    }

    #[test]
    fn rejects_bad_threshold() {
        assert!(optimal_params(1.0, 128, 0.5, 0.5).is_err());
        assert!(optimal_params(0.0, 128, 0.5, 0.5).is_err());
        assert!(optimal_params(f64::NAN, 128, 0.5, 0.5).is_err());
    }

    #[test]
    fn rejects_nan_and_infinite_weights() {
        let (nan, inf) = (f64::NAN, f64::INFINITY);
        for (a, b) in [
            (nan, 0.5),
            (0.5, nan),
            (nan, nan),
            (inf, -inf),
            (inf, 0.0),
            (-0.5, 1.5),
        ] {
            let err = optimal_params(0.8, 128, a, b).unwrap_err();
            assert!(err.to_string().contains("weights"), "{a} {b}: {err}");
        }
    }
}
