//! `jpeg-decoder`'s YCbCr → RGB conversions: its scalar arithmetic (by table lookups) and its
//! SSSE3 routine.

/// `jpeg-decoder`'s scalar YCbCr → RGB (BT.601, 20-bit fixed point): the definition that
/// [`YcbcrTables::scalar`] computes by lookups.
#[cfg(test)]
pub(super) fn ycbcr_scalar(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const SHIFT: i32 = 20;
    let f2f = |x: f32| (x * ((1 << SHIFT) as f32) + 0.5) as i32;
    let clamp = |v: i32| (v >> SHIFT).clamp(0, 255) as u8;
    let y = i32::from(y) * (1 << SHIFT) + (1 << (SHIFT - 1));
    let cb = i32::from(cb) - 128;
    let cr = i32::from(cr) - 128;
    [
        clamp(y + f2f(1.40200) * cr),
        clamp(y - f2f(0.34414) * cb - f2f(0.71414) * cr),
        clamp(y + f2f(1.77200) * cb),
    ]
}

/// `jpeg-decoder`'s SSSE3 YCbCr → RGB (16-bit lanes, 6 fractional bits, saturating), one pixel:
/// what [`ycbcr_ssse3_row`] computes eight pixels at a time.
#[cfg(test)]
pub(super) fn ycbcr_ssse3(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const SHIFT: u32 = 6;
    let mulhrs = |a: i16, b: i16| ((i32::from(a) * i32::from(b) + 0x4000) >> 15) as i16;
    let y = ((i16::from(y)) << SHIFT).saturating_add((1 << SHIFT) >> 1);
    let cb = (i16::from(cb) << SHIFT).saturating_sub(128 << SHIFT);
    let cr = (i16::from(cr) << SHIFT).saturating_sub(128 << SHIFT);
    let cr_140200 = mulhrs(cr, 13173).saturating_add(cr);
    let cb_034414 = mulhrs(cb, 11276);
    let cr_071414 = mulhrs(cr, 23401);
    let cb_177200 = mulhrs(cb, 25297).saturating_add(cb);
    let r = y.saturating_add(cr_140200);
    let g = y.saturating_sub(cb_034414.saturating_add(cr_071414));
    let b = y.saturating_add(cb_177200);
    let pack = |v: i16| (v >> SHIFT).clamp(0, 255) as u8;
    [pack(r), pack(g), pack(b)]
}

/// `jpeg-decoder`'s SSSE3 YCbCr → RGB of one row (`out` holds its pixels, the planes as many
/// samples or more), with the crate's instructions: the first `8 · (n / 8 - 1)` of its `n` pixels
/// (the crate leaves one vector's worth more to its scalar code), a count it returns.
///
/// # Safety
/// The CPU must support SSSE3.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "ssse3")]
unsafe fn ycbcr_ssse3_row(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) -> usize {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;
    const SHIFT: i32 = 6;
    let vecs = (out.len() / 3 / 8).saturating_sub(1);
    let load = |v: &[u8], i: usize| {
        let v: &[u8; 16] = v[i * 8..i * 8 + 16].try_into().unwrap();
        // SAFETY: 16 bytes are there to read.
        unsafe { _mm_loadu_si128(v.as_ptr().cast()) }
    };
    for i in 0..vecs {
        // Widen to 16 bits (a control byte of -0x7F gives 0), with 6 fractional bits.
        let shuf16 = _mm_setr_epi8(
            0, -0x7F, 1, -0x7F, 2, -0x7F, 3, -0x7F, 4, -0x7F, 5, -0x7F, 6, -0x7F, 7, -0x7F,
        );
        let y = _mm_slli_epi16(_mm_shuffle_epi8(load(y, i), shuf16), SHIFT);
        let cb = _mm_slli_epi16(_mm_shuffle_epi8(load(cb, i), shuf16), SHIFT);
        let cr = _mm_slli_epi16(_mm_shuffle_epi8(load(cr, i), shuf16), SHIFT);
        let c128 = _mm_set1_epi16(128 << SHIFT);
        let y = _mm_adds_epi16(y, _mm_set1_epi16((1 << SHIFT) >> 1));
        let cb = _mm_subs_epi16(cb, c128);
        let cr = _mm_subs_epi16(cr, c128);
        // cr · 1.402, cb · 0.34414, cr · 0.71414, cb · 1.772.
        let cr_140200 = _mm_adds_epi16(_mm_mulhrs_epi16(cr, _mm_set1_epi16(13173)), cr);
        let cb_034414 = _mm_mulhrs_epi16(cb, _mm_set1_epi16(11276));
        let cr_071414 = _mm_mulhrs_epi16(cr, _mm_set1_epi16(23401));
        let cb_177200 = _mm_adds_epi16(_mm_mulhrs_epi16(cb, _mm_set1_epi16(25297)), cb);
        let r = _mm_adds_epi16(y, cr_140200);
        let g = _mm_subs_epi16(y, _mm_adds_epi16(cb_034414, cr_071414));
        let b = _mm_adds_epi16(y, cb_177200);
        let zero = _mm_setzero_si128();
        let r = _mm_packus_epi16(_mm_srai_epi16(r, SHIFT), zero);
        let g = _mm_packus_epi16(_mm_srai_epi16(g, SHIFT), zero);
        let b = _mm_packus_epi16(_mm_srai_epi16(b, SHIFT), zero);
        // Interleave to RGB: 16 bytes, then the next 8.
        let shufr = _mm_setr_epi8(
            0, -0x7F, -0x7F, 1, -0x7F, -0x7F, 2, -0x7F, -0x7F, 3, -0x7F, -0x7F, 4, -0x7F, -0x7F, 5,
        );
        let shufg = _mm_setr_epi8(
            -0x7F, 0, -0x7F, -0x7F, 1, -0x7F, -0x7F, 2, -0x7F, -0x7F, 3, -0x7F, -0x7F, 4, -0x7F,
            -0x7F,
        );
        let shufb = _mm_alignr_epi8(shufg, shufg, 15);
        let rgb_low = _mm_or_si128(
            _mm_shuffle_epi8(r, shufr),
            _mm_or_si128(_mm_shuffle_epi8(g, shufg), _mm_shuffle_epi8(b, shufb)),
        );
        let shufr1 = _mm_add_epi8(shufb, _mm_set1_epi8(6));
        let shufg1 = _mm_add_epi8(shufr, _mm_set1_epi8(5));
        let shufb1 = _mm_add_epi8(shufg, _mm_set1_epi8(5));
        let rgb_hi = _mm_or_si128(
            _mm_shuffle_epi8(r, shufr1),
            _mm_or_si128(_mm_shuffle_epi8(g, shufg1), _mm_shuffle_epi8(b, shufb1)),
        );
        let mut data = [0u8; 32];
        // SAFETY: `data` has room for both 16-byte stores.
        unsafe {
            _mm_storeu_si128(data.as_mut_ptr().cast(), rgb_low);
            _mm_storeu_si128(data.as_mut_ptr().add(16).cast(), rgb_hi);
        }
        out[i * 24..i * 24 + 24].copy_from_slice(&data[..24]);
    }
    vecs * 8
}

/// [`ycbcr_scalar`] as table lookups. Each channel is a luma term plus chroma terms, so it is
/// `(Y[y] + C[cb] + C'[cr]) >> 20`, clamped (a test checks every input).
pub(super) struct YcbcrTables {
    s_y: [i32; 256],
    s_r: [i32; 256],
    s_gb: [i32; 256],
    s_gr: [i32; 256],
    s_b: [i32; 256],
}

impl YcbcrTables {
    pub(super) fn get() -> &'static YcbcrTables {
        static TABLES: std::sync::OnceLock<YcbcrTables> = std::sync::OnceLock::new();
        TABLES.get_or_init(|| {
            let mut t = YcbcrTables {
                s_y: [0; 256],
                s_r: [0; 256],
                s_gb: [0; 256],
                s_gr: [0; 256],
                s_b: [0; 256],
            };
            let f2f = |x: f32| (x * ((1 << 20) as f32) + 0.5) as i32;
            for v in 0..256i32 {
                let i = v as usize;
                let c = v - 128;
                t.s_y[i] = v * (1 << 20) + (1 << 19);
                t.s_r[i] = f2f(1.40200) * c;
                t.s_gb[i] = f2f(0.34414) * c;
                t.s_gr[i] = f2f(0.71414) * c;
                t.s_b[i] = f2f(1.77200) * c;
            }
            t
        })
    }

    /// [`ycbcr_scalar`].
    #[inline(always)]
    pub(super) fn scalar(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let (y, cb, cr) = (usize::from(y), usize::from(cb), usize::from(cr));
        let clamp = |v: i32| (v >> 20).clamp(0, 255) as u8;
        let yy = self.s_y[y];
        [
            clamp(yy + self.s_r[cr]),
            clamp(yy - self.s_gb[cb] - self.s_gr[cr]),
            clamp(yy + self.s_b[cb]),
        ]
    }
}

/// YCbCr → RGB of one row as `jpeg-decoder` converts it on this machine: most of it by its
/// SSSE3 routine where the CPU has SSSE3, the rest (or all) by its scalar arithmetic.
pub(super) fn ycbcr_row(tables: &YcbcrTables, y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    #[allow(unused_mut)]
    let mut done = 0;
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if std::is_x86_feature_detected!("ssse3") {
        // SAFETY: the CPU supports SSSE3, checked just above.
        done = unsafe { ycbcr_ssse3_row(y, cb, cr, out) };
    }
    let pixels = out.chunks_exact_mut(3).zip(y.iter().zip(cb).zip(cr));
    for (px, ((&a, &b), &c)) in pixels.skip(done) {
        px.copy_from_slice(&tables.scalar(a, b, c));
    }
}
