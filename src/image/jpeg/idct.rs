//! `jpeg-decoder`'s reduced IDCTs (4×4 and 2×2 samples from an 8×8 block), its integer arithmetic
//! reproduced exactly.

/// `jpeg-decoder`'s `stbi_f2f`: a constant in 12-bit fixed point.
#[inline(always)]
fn f2f(x: f32) -> i32 {
    (x * 4096.0 + 0.5) as i32
}

/// `jpeg-decoder`'s `stbi_clamp`.
#[inline(always)]
fn clamp(x: i32) -> u8 {
    x.clamp(0, 255) as u8
}

/// `jpeg-decoder`'s `dequantize_and_idct_block_4x4` (after Dugad and Ahuja, as in libjpeg's
/// `jidctred.c`): the block's top-left 4 × 4 coefficients (`block` in natural order) to 4 × 4
/// samples at `out`, rows `stride` apart. Its arithmetic is wrapping `i32`, as the crate's.
// The constants are the crate's literals, rounded to `f32` as it rounds them.
#[allow(clippy::excessive_precision)]
pub(super) fn idct_4x4(block: &[i16; 64], q: &[u16; 64], out: &mut [u8], stride: usize) {
    let dq = |i: usize| i32::from(block[i]) * i32::from(q[i]);
    let (k0, k1, k2) = (f2f(0.541196100), f2f(-1.847759065), f2f(0.765366865));
    let mut temp = [0i32; 16];
    // Columns: 12-bit constants, 2 extra bits kept.
    for i in 0..4 {
        let (s0, s1, s2, s3) = (dq(i), dq(i + 8), dq(i + 16), dq(i + 24));
        let x0 = s0.wrapping_add(s2).wrapping_shl(2);
        let x2 = s0.wrapping_sub(s2).wrapping_shl(2);
        let p1 = s1.wrapping_add(s3).wrapping_mul(k0);
        let t0 = p1.wrapping_add(s3.wrapping_mul(k1)).wrapping_add(512) >> 10;
        let t2 = p1.wrapping_add(s1.wrapping_mul(k2)).wrapping_add(512) >> 10;
        temp[i] = x0.wrapping_add(t2);
        temp[i + 12] = x0.wrapping_sub(t2);
        temp[i + 4] = x2.wrapping_add(t0);
        temp[i + 8] = x2.wrapping_sub(t0);
    }
    // Rows: remove the 12 + 2 + 3 bits, rounding, and add 128.
    const FINAL: u32 = 17;
    let bias = (1i32 << (FINAL - 1)).wrapping_add(128 << FINAL);
    for (i, t) in temp.chunks_exact(4).enumerate() {
        let (s0, s1, s2, s3) = (t[0], t[1], t[2], t[3]);
        let x0 = s0.wrapping_add(s2).wrapping_shl(12).wrapping_add(bias);
        let x2 = s0.wrapping_sub(s2).wrapping_shl(12).wrapping_add(bias);
        let p1 = s1.wrapping_add(s3).wrapping_mul(k0);
        let t0 = p1.wrapping_add(s3.wrapping_mul(k1));
        let t2 = p1.wrapping_add(s1.wrapping_mul(k2));
        let row = &mut out[i * stride..i * stride + 4];
        row[0] = clamp(x0.wrapping_add(t2) >> FINAL);
        row[3] = clamp(x0.wrapping_sub(t2) >> FINAL);
        row[1] = clamp(x2.wrapping_add(t0) >> FINAL);
        row[2] = clamp(x2.wrapping_sub(t0) >> FINAL);
    }
}

/// `jpeg-decoder`'s `dequantize_and_idct_block_2x2`: the top-left 2 × 2 coefficients to 2 × 2
/// samples at `out`, rows `stride` apart; wrapping `i32` arithmetic.
pub(super) fn idct_2x2(block: &[i16; 64], q: &[u16; 64], out: &mut [u8], stride: usize) {
    let dq = |i: usize| i32::from(block[i]) * i32::from(q[i]);
    let (s00, s10, s01, s11) = (dq(0), dq(8), dq(1), dq(9));
    let bias = 4 + (128 << 3);
    let x0 = s00.wrapping_add(s10).wrapping_add(bias);
    let x2 = s00.wrapping_sub(s10).wrapping_add(bias);
    let x1 = s01.wrapping_add(s11);
    let x3 = s01.wrapping_sub(s11);
    out[0] = clamp(x0.wrapping_add(x1) >> 3);
    out[1] = clamp(x0.wrapping_sub(x1) >> 3);
    out[stride] = clamp(x2.wrapping_add(x3) >> 3);
    out[stride + 1] = clamp(x2.wrapping_sub(x3) >> 3);
}
