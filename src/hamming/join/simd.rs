//! The CPU-specific parts of the search: which build of the join loop runs (AVX2, popcnt or
//! generic), and the AVX2 kernel that compares eight values at once.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::search::{Job, Range};

impl Job<'_> {
    pub(super) fn run(&self, range: Range) -> Vec<(u32, u32)> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::env::var("NOAVX").is_err() {
                // SAFETY: the CPU supports both, checked just above.
                return unsafe { self.run_avx2(range) };
            }
            if std::arch::is_x86_feature_detected!("popcnt") {
                // SAFETY: as above.
                return unsafe { self.run_popcnt(range) };
            }
        }
        self.run_generic::<false>(range)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    unsafe fn run_avx2(&self, range: Range) -> Vec<(u32, u32)> {
        self.run_generic::<true>(range)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn run_popcnt(&self, range: Range) -> Vec<(u32, u32)> {
        self.run_generic::<false>(range)
    }
}

/// Bit `i` (of 8) is set when `popcount(x ^ ys[i]) <= k`.
///
/// # Safety
/// The CPU must support AVX2, and `ys..ys + 8` must be readable.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn near8(x: u64, ys: *const u64, k: u32) -> u32 {
    #[rustfmt::skip]
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let xv = _mm256_set1_epi64x(x as i64);
    let kv = _mm256_set1_epi64x(i64::from(k));
    let counts = |y: __m256i| {
        let v = _mm256_xor_si256(xv, y);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        let c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
        _mm256_sad_epu8(c, _mm256_setzero_si256())
    };
    // SAFETY: the caller guarantees 8 readable values.
    let (y0, y1) = unsafe {
        (
            _mm256_loadu_si256(ys.cast()),
            _mm256_loadu_si256(ys.add(4).cast()),
        )
    };
    let far0 = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(counts(y0), kv)));
    let far1 = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(counts(y1), kv)));
    !((far0 | (far1 << 4)) as u32) & 0xFF
}
