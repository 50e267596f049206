//! Our own JPEG decoder for reduced-scale decodes: 1/8 (canonical pHash / aHash), 1/4 (dHash)
//! and 1/2 (PDQ), with `jpeg-decoder` 0.3's output at that scale, byte for byte.
//!
//! At 1/8 every 8×8 block becomes one pixel, the block mean: the dequantized DC coefficient. The
//! `jpeg-decoder` crate computes it after decoding all of a block's coefficients; here only the DC
//! coefficient is kept: AC symbols of sequential scans are decoded just far enough to skip their
//! bits (one table lookup gives a symbol's code length plus the length of the bits that follow
//! it), and the AC scans of progressive JPEGs are skipped whole.
//!
//! At 1/4 and 1/2 (sequential frames only) each block's coefficients are decoded in full and
//! turned into 4×4 or 2×2 samples at once by the crate's reduced IDCTs (its integer arithmetic,
//! wrapping included), into component planes laid out as the crate lays them out (`bw · scale`
//! samples a row, of which the first `ceil(width · h · scale / (h_max · 8))` count). There is no
//! per-row hand-off to a thread pool, and nothing is allocated per block or row.
//!
//! At every scale the result reproduces the crate's chroma upsamplers (scale-independent: they
//! see only the planes' sizes) and its YCbCr → RGB conversion (including the SSSE3 variant it
//! uses for most of each row on x86). Anything this decoder does not handle exactly like that
//! crate gives `None`, and the caller decodes with `jpeg-decoder`: arithmetic coding, 12-bit or
//! lossless or hierarchical frames, progressive frames at 1/4 and 1/2, CMYK, redefined
//! quantization tables after the first scan, and any data that is not cleanly formed (invalid
//! codes, coefficient runs past the block's end, junk between a scan and its marker,
//! truncation). The one place it is more lenient is corrupt AC data in progressive scans at 1/8,
//! which it never reads.

mod color;
mod huffman;
mod idct;
#[cfg(test)]
mod tests;
mod upsample;

use color::{ycbcr_row, YcbcrTables};
use huffman::{Bits, Huffman, UNZIGZAG};
use idct::{idct_2x2, idct_4x4};
use upsample::{upsampler, Upsample};

/// A decoded reduced-scale image: gray (1 channel) or RGB (3), rows packed.
#[derive(Debug)]
pub(crate) struct ReducedImage<'a> {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
    /// The last `Exif` APP1 payload (from its TIFF header), as `jpeg-decoder` reports it.
    pub exif: Option<&'a [u8]>,
}

struct Component {
    id: u8,
    h: u8,
    v: u8,
    tq: usize,
    /// Size in blocks: `ceil(width · h / (h_max · 8))` × the same for heights.
    bw: usize,
    bh: usize,
    /// Size in samples at the frame's scale (`jpeg-decoder`'s `component.size`):
    /// `ceil(width · h · scale / (h_max · 8))` × the same for heights; `bw` × `bh` at 1/8.
    width: usize,
    height: usize,
    /// At 1/8: the DC coefficient of each block (as stored, before dequantization), rows of `bw`.
    dc: Vec<i16>,
    /// At 1/4 and 1/2: the samples, `scale` × `scale` per block, rows of `bw · scale`.
    plane: Vec<u8>,
    scanned: bool,
    /// Progressive: the successive-approximation bit position its DC scans have reached.
    dc_al: Option<u8>,
}

struct Frame {
    width: usize,
    height: usize,
    /// Output samples per block side: 1, 2 or 4 (`jpeg-decoder`'s `dct_scale`).
    scale: usize,
    progressive: bool,
    baseline: bool,
    comps: Vec<Component>,
    h_max: u8,
    v_max: u8,
    mcu_w: usize,
    mcu_h: usize,
}

/// The scan header, checked as `jpeg-decoder` checks it.
struct Scan {
    comps: Vec<usize>,
    dc_tables: Vec<usize>,
    ac_tables: Vec<usize>,
    ss: u8,
    se: u8,
    ah: u8,
    al: u8,
}

fn be16(d: &[u8], p: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *d.get(p)?,
        *d.get(p + 1)?,
    ])))
}

/// The next marker from `pos` as `jpeg-decoder` reads one between segments: bytes up to an `FF`
/// skipped, fill bytes skipped, `FF 00` passed over. Returns the code and the position after it.
fn next_marker(d: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        pos += d.get(pos..)?.iter().position(|&b| b == 0xFF)? + 1;
        let mut b = *d.get(pos)?;
        pos += 1;
        while b == 0xFF {
            b = *d.get(pos)?;
            pos += 1;
        }
        if b != 0 {
            return Some((b, pos));
        }
    }
}

/// Skips the entropy-coded data of a progressive AC scan: the next marker other than `FF 00`
/// stuffing and restart markers.
fn skip_scan(d: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        let (m, p) = next_marker(d, pos)?;
        if !(0xD0..=0xD7).contains(&m) {
            return Some((m, p));
        }
        pos = p;
    }
}

/// Whether the data ends before the end-of-image marker, walking the file as libjpeg does
/// (Pillow then raises "image file is truncated"): segments skipped by their length, the
/// entropy-coded data of a scan up to the next marker other than a restart marker, stray bytes
/// between segments passed over. Corrupt data that still reaches an EOI is not truncation.
pub(crate) fn truncated(d: &[u8]) -> bool {
    let mut next = next_marker(d, 2);
    while let Some((marker, pos)) = next {
        next = match marker {
            0xD9 => return false,
            0xD0..=0xD8 | 0x01 => next_marker(d, pos),
            _ => {
                let Some(len) = be16(d, pos) else {
                    return true;
                };
                let end = pos + len.max(2);
                if end > d.len() {
                    return true;
                }
                if marker == 0xDA {
                    skip_scan(d, end)
                } else {
                    next_marker(d, end)
                }
            }
        };
    }
    true
}

/// The frame header of a JPEG: `(width, height, components)`, from the first SOF segment.
pub(crate) fn dimensions(d: &[u8]) -> Option<(u32, u32, u8)> {
    let mut pos = 2;
    loop {
        let (marker, p) = next_marker(d, pos)?;
        pos = p;
        if matches!(marker, 0xD0..=0xD9 | 0x01) {
            continue;
        }
        let len = be16(d, pos)?;
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            let seg = d.get(pos + 2..pos + len.max(2))?;
            let (h, w) = (be16(seg, 1)?, be16(seg, 3)?);
            return Some((w as u32, h as u32, *seg.get(5)?));
        }
        if marker == 0xDA {
            return None;
        }
        pos += len.max(2);
    }
}

fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

fn parse_sof(seg: &[u8], marker: u8, scale: usize) -> Option<Frame> {
    // 8-bit samples; 1 (gray) or 3 components (CMYK takes the other path). Progressive frames
    // only at 1/8, where their AC scans are not needed.
    if seg.len() < 6 || seg[0] != 8 || (marker == 0xC2 && scale != 1) {
        return None;
    }
    let height = be16(seg, 1)?;
    let width = be16(seg, 3)?;
    let n = usize::from(seg[5]);
    if width == 0 || height == 0 || !(n == 1 || n == 3) || seg.len() != 6 + 3 * n {
        return None;
    }
    let mut comps: Vec<Component> = Vec::with_capacity(n);
    for c in seg[6..].chunks_exact(3) {
        let (h, v, tq) = (c[1] >> 4, c[1] & 15, usize::from(c[2]));
        if comps.iter().any(|o| o.id == c[0]) || !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return None;
        }
        if tq > 3 {
            return None;
        }
        comps.push(Component {
            id: c[0],
            h,
            v,
            tq,
            bw: 0,
            bh: 0,
            width: 0,
            height: 0,
            dc: Vec::new(),
            plane: Vec::new(),
            scanned: false,
            dc_al: None,
        });
    }
    let h_max = comps.iter().map(|c| c.h).max()?;
    let v_max = comps.iter().map(|c| c.v).max()?;
    for c in &mut comps {
        // jpeg-decoder refuses ratios its upsamplers cannot handle.
        upsampler(c.h, c.v, h_max, v_max, usize::MAX, usize::MAX)?;
        c.bw = ceil_div(width * usize::from(c.h), usize::from(h_max) * 8);
        c.bh = ceil_div(height * usize::from(c.v), usize::from(v_max) * 8);
        c.width = ceil_div(width * usize::from(c.h) * scale, usize::from(h_max) * 8);
        c.height = ceil_div(height * usize::from(c.v) * scale, usize::from(v_max) * 8);
        if scale == 1 {
            c.dc = vec![0; c.bw * c.bh];
        } else {
            c.plane = vec![0; c.bw * c.bh * scale * scale];
        }
    }
    Some(Frame {
        width,
        height,
        scale,
        progressive: marker == 0xC2,
        baseline: marker == 0xC0,
        mcu_w: ceil_div(width, usize::from(h_max) * 8),
        mcu_h: ceil_div(height, usize::from(v_max) * 8),
        comps,
        h_max,
        v_max,
    })
}

fn parse_sos(seg: &[u8], f: &Frame) -> Option<Scan> {
    let n = usize::from(*seg.first()?);
    if n == 0 || n > 4 || seg.len() != 4 + 2 * n {
        return None;
    }
    let mut scan = Scan {
        comps: Vec::with_capacity(n),
        dc_tables: Vec::with_capacity(n),
        ac_tables: Vec::with_capacity(n),
        ss: seg[1 + 2 * n],
        se: seg[2 + 2 * n],
        ah: seg[3 + 2 * n] >> 4,
        al: seg[3 + 2 * n] & 15,
    };
    for c in seg[1..1 + 2 * n].chunks_exact(2) {
        let i = f.comps.iter().position(|x| x.id == c[0])?;
        // Unique, in frame order.
        if scan.comps.last().is_some_and(|&last| i <= last) {
            return None;
        }
        let (td, ta) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        let max = if f.baseline { 1 } else { 3 };
        if td > max || ta > max {
            return None;
        }
        scan.comps.push(i);
        scan.dc_tables.push(td);
        scan.ac_tables.push(ta);
    }
    let blocks: usize = scan
        .comps
        .iter()
        .map(|&i| usize::from(f.comps[i].h) * usize::from(f.comps[i].v))
        .sum();
    if n > 1 && blocks > 10 {
        return None;
    }
    if scan.al >= 8 {
        return None;
    }
    if f.progressive {
        if scan.se > 63 || scan.ss > scan.se || (scan.ss == 0 && scan.se != 0) {
            return None;
        }
        if scan.ss != 0 && n != 1 {
            return None;
        }
        if scan.ah > 13 || (scan.ah != 0 && scan.ah != scan.al + 1) {
            return None;
        }
    } else {
        if scan.se == 0 {
            scan.se = 63;
        }
        if scan.ss != 0 || scan.se != 63 || scan.ah != 0 || scan.al != 0 {
            return None;
        }
    }
    Some(scan)
}

/// Parses a DHT segment into `dc` / `ac`, as `jpeg-decoder` accepts it.
fn parse_dht(
    mut seg: &[u8],
    baseline: Option<bool>,
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Option<()> {
    while seg.len() > 17 {
        let (class, index) = (seg[0] >> 4, usize::from(seg[0] & 15));
        if class > 1 || index > 3 || (baseline == Some(true) && index > 1) {
            return None;
        }
        let counts: [u8; 16] = seg[1..17].try_into().ok()?;
        let size: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if size == 0 || size > 256 || size > seg.len() - 17 {
            return None;
        }
        let table = Huffman::new(&counts, &seg[17..17 + size])?;
        if class == 0 {
            dc[index] = Some(table);
        } else {
            ac[index] = Some(table);
        }
        seg = &seg[17 + size..];
    }
    seg.is_empty().then_some(())
}

/// Decodes one scan (sequential, or at 1/8 a progressive DC scan): at 1/8 into the components'
/// DC coefficients, at 1/4 and 1/2 into their sample planes by `jpeg-decoder`'s scaled IDCTs.
/// Returns the marker that ends the scan's data and the position after it.
#[allow(clippy::too_many_arguments)]
fn decode_scan(
    d: &[u8],
    pos: usize,
    f: &mut Frame,
    scan: &Scan,
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    quant: &[Option<[u16; 64]>; 4],
    restart_interval: usize,
) -> Option<(u8, usize)> {
    let refine = f.progressive && scan.ah != 0;
    let skip_ac = !f.progressive;
    let scale = f.scale;
    // The last zigzag index the scaled IDCT reads (rows and columns below `scale`).
    let last = (0..64)
        .filter(|&k| usize::from(UNZIGZAG[k] % 8) < scale && usize::from(UNZIGZAG[k] / 8) < scale)
        .max()
        .unwrap_or(0);
    let q: Vec<&[u16; 64]> = scan
        .comps
        .iter()
        .map(|&i| quant[f.comps[i].tq].as_ref())
        .collect::<Option<_>>()?;
    // jpeg-decoder wants the DC tables of refinement scans defined too.
    let dc_t: Vec<&Huffman> = scan
        .dc_tables
        .iter()
        .map(|&t| dc[t].as_ref())
        .collect::<Option<_>>()?;
    let ac_t: Vec<&Huffman> = if skip_ac {
        scan.ac_tables
            .iter()
            .map(|&t| ac[t].as_ref())
            .collect::<Option<_>>()?
    } else {
        Vec::new()
    };
    // Where each scan component's blocks go: (component, h, v) per MCU.
    let interleaved = scan.comps.len() > 1;
    let (mcus_x, mcus_y) = if interleaved {
        (f.mcu_w, f.mcu_h)
    } else {
        let c = &f.comps[scan.comps[0]];
        // jpeg-decoder counts the blocks of a non-interleaved scan as the padded block grid cut
        // at the image's (not the component's) size; where that differs from the standard count
        // it would read the stream differently: leave such files to it.
        let jd_x = (f.mcu_w * usize::from(c.h)).min(ceil_div(f.width, 8));
        let jd_y = (f.mcu_h * usize::from(c.v)).min(ceil_div(f.height, 8));
        if (jd_x, jd_y) != (c.bw, c.bh) {
            return None;
        }
        (c.bw, c.bh)
    };
    let mut bits = Bits::new(d, pos);
    let mut pred = [0i16; 4];
    let mut left = restart_interval;
    let mut expected_rst = 0u8;
    let total = mcus_x * mcus_y;
    for m in 0..total {
        if restart_interval > 0 {
            if left == 0 {
                if bits.finish()?.0 != 0xD0 + expected_rst {
                    return None;
                }
                bits.restart();
                pred = [0; 4];
                expected_rst = (expected_rst + 1) % 8;
                left = restart_interval;
            }
            left -= 1;
        }
        let (mx, my) = (m % mcus_x, m / mcus_x);
        for (si, &ci) in scan.comps.iter().enumerate() {
            let c = &mut f.comps[ci];
            let (bh, bv) = if interleaved {
                (usize::from(c.h), usize::from(c.v))
            } else {
                (1, 1)
            };
            for v in 0..bv {
                for h in 0..bh {
                    let (x, y) = (mx * bh + h, my * bv + v);
                    let slot = (x < c.bw && y < c.bh).then(|| y * c.bw + x);
                    if refine {
                        if bits.bit()? {
                            if let Some(s) = slot {
                                c.dc[s] |= 1 << scan.al;
                            }
                        }
                        continue;
                    }
                    pred[si] = pred[si].wrapping_add(bits.dc_diff(dc_t[si])?);
                    if scale == 1 {
                        if let Some(s) = slot {
                            c.dc[s] = pred[si] << scan.al;
                        }
                        if skip_ac {
                            bits.skip_ac(ac_t[si])?;
                        }
                        continue;
                    }
                    // Sequential (al = 0): the whole block, then its samples.
                    let mut block = [0i16; 64];
                    block[0] = pred[si];
                    bits.ac(ac_t[si], &mut block, last)?;
                    if slot.is_some() {
                        let stride = c.bw * scale;
                        let out = &mut c.plane[(y * stride + x) * scale..];
                        if scale == 4 {
                            idct_4x4(&block, q[si], out, stride);
                        } else {
                            idct_2x2(&block, q[si], out, stride);
                        }
                    }
                }
            }
        }
    }
    bits.finish()
}

#[derive(Clone, Copy, PartialEq)]
enum Color {
    YCbCr,
    Rgb,
}

/// Decodes `d` at `scale`/8 (`scale` 1, 2 or 4: `jpeg-decoder`'s `dct_scale`); `None` where
/// `jpeg-decoder` must decode it.
pub(crate) fn decode(d: &[u8], scale: usize) -> Option<ReducedImage<'_>> {
    if !d.starts_with(&[0xFF, 0xD8]) || !matches!(scale, 1 | 2 | 4) {
        return None;
    }
    let mut pos = 2;
    let mut frame: Option<Frame> = None;
    // Quantization tables in natural order.
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut restart_interval = 0usize;
    let (mut jfif, mut adobe, mut exif) = (false, None, None);
    let mut scans = 0usize;
    let mut previous = 0xD8u8;
    let mut pending: Option<(u8, usize)> = None;
    loop {
        let (marker, p) = match pending.take() {
            Some(m) => m,
            None => next_marker(d, pos)?,
        };
        pos = p;
        let has_length = !matches!(marker, 0xD0..=0xD9 | 0x01);
        let seg = if has_length {
            let len = be16(d, pos)?;
            if len < 2 {
                return None;
            }
            let seg = d.get(pos + 2..pos + len)?;
            pos += len;
            seg
        } else {
            &[][..]
        };
        match marker {
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return None;
                }
                frame = Some(parse_sof(seg, marker, scale)?);
            }
            0xC4 => parse_dht(seg, frame.as_ref().map(|f| f.baseline), &mut dc, &mut ac)?,
            0xDB => {
                // Tables redefined between scans would apply per scan: leave those to jpeg-decoder.
                if scans > 0 {
                    return None;
                }
                let mut s = seg;
                while !s.is_empty() {
                    let (precision, index) = (usize::from(s[0] >> 4), usize::from(s[0] & 15));
                    if precision > 1 || index > 3 || s.len() < 65 + 64 * precision {
                        return None;
                    }
                    let table = &s[1..65 + 64 * precision];
                    let value = |i: usize| match precision {
                        0 => u16::from(table[i]),
                        _ => u16::from_be_bytes([table[2 * i], table[2 * i + 1]]),
                    };
                    if (0..64).any(|i| value(i) == 0) {
                        return None;
                    }
                    let mut table = [0u16; 64];
                    for (k, &n) in UNZIGZAG.iter().enumerate() {
                        table[usize::from(n)] = value(k);
                    }
                    quant[index] = Some(table);
                    s = &s[65 + 64 * precision..];
                }
            }
            0xDD => {
                if seg.len() != 2 {
                    return None;
                }
                restart_interval = be16(seg, 0)?;
            }
            0xE0 => {
                if seg.len() >= 5 {
                    match &seg[..5] {
                        b"JFIF\0" => jfif = true,
                        // Motion JPEG frames may omit their Huffman tables.
                        b"AVI1\0" => return None,
                        _ => {}
                    }
                }
            }
            0xE1 => {
                if let Some(payload) = seg.strip_prefix(b"Exif\0\0") {
                    exif = Some(payload);
                }
            }
            0xEE => {
                if seg.len() >= 12 && seg.starts_with(b"Adobe\0") {
                    if seg[11] > 2 {
                        return None;
                    }
                    adobe = Some(seg[11]);
                }
            }
            0xE2..=0xED | 0xEF | 0xFE => {}
            0xDA => {
                let f = frame.as_mut()?;
                let scan = parse_sos(seg, f)?;
                if scan.comps.iter().any(|&i| quant[f.comps[i].tq].is_none()) {
                    return None;
                }
                for &i in &scan.comps {
                    let c = &mut f.comps[i];
                    if f.progressive {
                        if scan.ss == 0 {
                            // A first DC scan, then refinements one bit at a time: jpeg-decoder
                            // stops updating a component once its coefficients are complete.
                            let expected = if scan.ah == 0 { None } else { Some(scan.ah) };
                            if c.dc_al != expected {
                                return None;
                            }
                            c.dc_al = Some(scan.al);
                        }
                    } else if c.scanned {
                        return None;
                    }
                    c.scanned = true;
                }
                scans += 1;
                if f.progressive && scan.ss > 0 {
                    if scan.ac_tables.iter().any(|&t| ac[t].is_none()) {
                        return None;
                    }
                    pending = Some(skip_scan(d, pos)?);
                } else {
                    pending = Some(decode_scan(
                        d,
                        pos,
                        f,
                        &scan,
                        &dc,
                        &ac,
                        &quant,
                        restart_interval,
                    )?);
                }
                // jpeg-decoder reads past restart markers that end a scan.
                while let Some((0xD0..=0xD7, p)) = pending {
                    pending = Some(next_marker(d, p)?);
                }
            }
            0xD0..=0xD7 => {
                if previous != 0xDA {
                    return None;
                }
            }
            0xD9 => break,
            _ => return None,
        }
        previous = marker;
    }
    let mut f = frame?;
    if scans == 0 || f.comps.iter().any(|c| quant[c.tq].is_none()) {
        return None;
    }
    if !f.progressive && f.comps.iter().any(|c| !c.scanned) {
        return None;
    }
    let color = match f.comps.len() {
        1 => None,
        _ => Some(color_transform(&f, jfif, adobe)?),
    };
    if scale == 1 {
        // `jpeg-decoder`'s 1×1 IDCT: the dequantized DC coefficient, rounded, divided by 8.
        for c in &mut f.comps {
            let q = i32::from(quant[c.tq]?[0]);
            c.plane =
                c.dc.iter()
                    .map(|&v| ((i32::from(v) * q + 1024) / 8).clamp(0, 255) as u8)
                    .collect();
        }
    }
    let (out_w, out_h) = (ceil_div(f.width * scale, 8), ceil_div(f.height * scale, 8));
    let pixels = match color {
        None => {
            // One component at full sampling: its plane is the output, cut to its size.
            let (c, stride) = (&f.comps[0], f.comps[0].bw * scale);
            if c.width != out_w || c.height != out_h {
                return None;
            }
            let mut out = Vec::with_capacity(out_w * out_h);
            for row in c.plane.chunks_exact(stride).take(out_h) {
                out.extend_from_slice(&row[..out_w]);
            }
            out
        }
        Some(color) => {
            let ups: Vec<Upsample> = f
                .comps
                .iter()
                .map(|c| upsampler(c.h, c.v, f.h_max, f.v_max, out_w, out_h))
                .collect::<Option<_>>()?;
            let line = f.comps.iter().map(|c| c.width).max()? * usize::from(f.h_max);
            let mut lines = vec![vec![0u8; line]; 3];
            let mut out = vec![0u8; out_w * out_h * 3];
            let tables = YcbcrTables::get();
            for (row, o) in out.chunks_exact_mut(out_w * 3).enumerate() {
                for (i, c) in f.comps.iter().enumerate() {
                    let stride = c.bw * scale;
                    ups[i](
                        &c.plane,
                        c.width,
                        c.height,
                        stride,
                        row,
                        out_w,
                        &mut lines[i],
                    );
                }
                let (l0, l1, l2) = (&lines[0][..out_w], &lines[1][..out_w], &lines[2][..out_w]);
                match color {
                    Color::Rgb => {
                        let pixels = o.chunks_exact_mut(3).zip(l0.iter().zip(l1).zip(l2));
                        for (px, ((&a, &b), &c)) in pixels {
                            px.copy_from_slice(&[a, b, c]);
                        }
                    }
                    Color::YCbCr => ycbcr_row(tables, l0, l1, l2, o),
                }
            }
            out
        }
    };
    Some(ReducedImage {
        width: out_w as u32,
        height: out_h as u32,
        channels: if color.is_some() { 3 } else { 1 },
        pixels,
        exif,
    })
}

/// `jpeg-decoder`'s colour transform of a 3-component frame (`None`: one it refuses).
fn color_transform(f: &Frame, jfif: bool, adobe: Option<u8>) -> Option<Color> {
    let ids = (f.comps[0].id, f.comps[1].id, f.comps[2].id);
    match ids {
        (1, 2, 3) => return Some(Color::YCbCr),
        (82, 71, 66) => return Some(Color::Rgb),
        (1, 34, 35) | (114, 103, 98) => return None,
        _ => {}
    }
    if jfif {
        return Some(Color::YCbCr);
    }
    match adobe {
        Some(0) => Some(Color::Rgb),
        Some(1) | None => Some(Color::YCbCr),
        _ => None,
    }
}
