//! `jpeg-decoder`'s chroma upsamplers, row by row.

/// An upsampler: `(plane, width, height, stride, row, out_w, line)` fills `line` (at least
/// `out_w` samples) with output row `row` of a `width` × `height` plane with rows `stride` apart.
pub(super) type Upsample = fn(&[u8], usize, usize, usize, usize, usize, &mut [u8]);

/// `jpeg-decoder`'s choice of upsampler (`None`: a ratio it refuses), with the output size that
/// decides it (a 1-pixel-wide or -high output needs no upsampling along that axis).
pub(super) fn upsampler(
    h: u8,
    v: u8,
    h_max: u8,
    v_max: u8,
    out_w: usize,
    out_h: usize,
) -> Option<Upsample> {
    let h1 = h == h_max || out_w == 1;
    let v1 = v == v_max || out_h == 1;
    let h2 = h * 2 == h_max;
    let v2 = v * 2 == v_max;
    Some(match (h1, v1, h2, v2) {
        (true, true, _, _) => up_h1v1,
        (_, true, true, _) => up_h2v1,
        (true, _, _, true) => up_h1v2,
        (_, _, true, true) => up_h2v2,
        _ if h_max % h != 0 || v_max % v != 0 => return None,
        _ => match (h_max / h, v_max / v) {
            (2, 1) => up_generic::<2, 1>,
            (3, 1) => up_generic::<3, 1>,
            (4, 1) => up_generic::<4, 1>,
            (1, 2) => up_generic::<1, 2>,
            (1, 3) => up_generic::<1, 3>,
            (1, 4) => up_generic::<1, 4>,
            (2, 2) => up_generic::<2, 2>,
            (2, 3) => up_generic::<2, 3>,
            (2, 4) => up_generic::<2, 4>,
            (3, 2) => up_generic::<3, 2>,
            (3, 3) => up_generic::<3, 3>,
            (3, 4) => up_generic::<3, 4>,
            (4, 2) => up_generic::<4, 2>,
            (4, 3) => up_generic::<4, 3>,
            (4, 4) => up_generic::<4, 4>,
            (1, 1) => up_h1v1,
            _ => return None,
        },
    })
}

// The upsamplers below are `jpeg-decoder`'s, on planes of `w` × `h` with rows `stride` apart.
// They depend on the scale only through the plane's size.

fn up_h1v1(
    input: &[u8],
    _w: usize,
    _h: usize,
    stride: usize,
    row: usize,
    out_w: usize,
    out: &mut [u8],
) {
    out[..out_w].copy_from_slice(&input[row * stride..row * stride + out_w]);
}

fn up_h2v1(
    input: &[u8],
    w: usize,
    _h: usize,
    stride: usize,
    row: usize,
    _out_w: usize,
    out: &mut [u8],
) {
    let input = &input[row * stride..];
    if w == 1 {
        out[0] = input[0];
        out[1] = input[0];
        return;
    }
    out[0] = input[0];
    out[1] = ((u32::from(input[0]) * 3 + u32::from(input[1]) + 2) >> 2) as u8;
    for i in 1..w - 1 {
        let sample = 3 * u32::from(input[i]) + 2;
        out[i * 2] = ((sample + u32::from(input[i - 1])) >> 2) as u8;
        out[i * 2 + 1] = ((sample + u32::from(input[i + 1])) >> 2) as u8;
    }
    out[(w - 1) * 2] = ((u32::from(input[w - 1]) * 3 + u32::from(input[w - 2]) + 2) >> 2) as u8;
    out[(w - 1) * 2 + 1] = input[w - 1];
}

/// The rows `jpeg-decoder` blends for output row `row` of a 2× vertical upsampling.
fn near_far(row: usize, h: usize) -> (usize, usize) {
    let row_near = row as f32 / 2.0;
    let row_far = (row_near + row_near.fract() * 3.0 - 0.25).min((h - 1) as f32);
    (row_near as usize, row_far as usize)
}

fn up_h1v2(
    input: &[u8],
    _w: usize,
    h: usize,
    stride: usize,
    row: usize,
    out_w: usize,
    out: &mut [u8],
) {
    let (near, far) = near_far(row, h);
    let near = &input[near * stride..near * stride + out_w];
    let far = &input[far * stride..far * stride + out_w];
    for ((o, &a), &b) in out[..out_w].iter_mut().zip(near).zip(far) {
        *o = ((3 * u32::from(a) + u32::from(b) + 2) >> 2) as u8;
    }
}

fn up_h2v2(
    input: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    row: usize,
    _out_w: usize,
    out: &mut [u8],
) {
    let (near, far) = near_far(row, h);
    let near = &input[near * stride..];
    let far = &input[far * stride..];
    if w == 1 {
        let value = ((3 * u32::from(near[0]) + u32::from(far[0]) + 2) >> 2) as u8;
        out[0] = value;
        out[1] = value;
        return;
    }
    let mut t1 = 3 * u32::from(near[0]) + u32::from(far[0]);
    out[0] = ((t1 + 2) >> 2) as u8;
    for i in 1..w {
        let t0 = t1;
        t1 = 3 * u32::from(near[i]) + u32::from(far[i]);
        out[i * 2 - 1] = ((3 * t0 + t1 + 8) >> 4) as u8;
        out[i * 2] = ((3 * t1 + t0 + 8) >> 4) as u8;
    }
    out[w * 2 - 1] = ((t1 + 2) >> 2) as u8;
}

fn up_generic<const SH: usize, const SV: usize>(
    input: &[u8],
    w: usize,
    _h: usize,
    stride: usize,
    row: usize,
    _out_w: usize,
    out: &mut [u8],
) {
    let start = (row / SV) * stride;
    for (i, &val) in input[start..start + w].iter().enumerate() {
        out[i * SH..(i + 1) * SH].fill(val);
    }
}
