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

/// The (bands, rows) chosen for recall: among the geometries with `b · r ≤ num_perm` that miss a
/// pair of Jaccard similarity exactly `threshold` with probability at most `max_miss`
/// (`(1 − t^r)^b ≤ max_miss`), the one with the smallest false-positive area below the
/// threshold (the fewest candidates to verify); ties go to the smallest b, then r. For each r
/// only the smallest sufficient b is a contender (the area grows with b). Where no geometry
/// reaches `max_miss`, the one missing least. Meant for exact verification of the candidates:
/// recall comes from the bands, precision from the check.
pub fn recall_params(threshold: f64, num_perm: usize, max_miss: f64) -> Result<Bands> {
    if !(threshold > 0.0 && threshold < 1.0) {
        return Err(Error::param(
            "threshold",
            format!("must be in (0, 1), got {threshold}"),
        ));
    }
    if num_perm < 2 {
        return Err(Error::param("num_perm", "must be at least 2 for LSH"));
    }
    if !(max_miss > 0.0 && max_miss < 1.0) {
        return Err(Error::param(
            "max_miss",
            format!("must be in (0, 1), got {max_miss}"),
        ));
    }
    let mut best: Option<(f64, usize, usize)> = None;
    let mut least_miss = (f64::INFINITY, num_perm, 1);
    for r in 1..=num_perm {
        let per_band = 1.0 - threshold.powi(r as i32);
        let most = num_perm / r;
        let miss_all = per_band.powi(most as i32);
        if miss_all < least_miss.0 {
            least_miss = (miss_all, most, r);
        }
        if miss_all > max_miss {
            continue;
        }
        // The smallest b with per_band^b <= max_miss (found by counting: no logarithm rounding).
        let mut b = ((max_miss.ln() / per_band.ln()).floor() as usize).clamp(1, most);
        while b > 1 && per_band.powi(b as i32 - 1) <= max_miss {
            b -= 1;
        }
        while per_band.powi(b as i32) > max_miss {
            b += 1;
        }
        let area = false_positive_area(threshold, b, r);
        if best.is_none_or(|(a, bb, _)| area < a || (area == a && b < bb)) {
            best = Some((area, b, r));
        }
    }
    let (_, bands, rows) = best.unwrap_or(least_miss);
    Ok(Bands { bands, rows })
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
    fn recall_choice_reaches_the_miss_rate() {
        for (t, b, r) in [(0.8, 18, 5), (0.9, 13, 8), (0.7, 26, 4)] {
            let g = recall_params(t, 128, 0.001).unwrap();
            assert_eq!((g.bands, g.rows), (b, r), "threshold {t}");
            assert!(1.0 - g.probability(t) <= 0.001, "threshold {t}");
            assert!(g.bands * g.rows <= 128);
        }
        // Unreachable: the geometry missing least (every slot its own band).
        let g = recall_params(0.3, 4, 1e-9).unwrap();
        assert_eq!((g.bands, g.rows), (4, 1));
        assert!(recall_params(0.8, 128, 0.0).is_err());
        assert!(recall_params(0.8, 128, f64::NAN).is_err());
        assert!(recall_params(1.0, 128, 0.001).is_err());
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
