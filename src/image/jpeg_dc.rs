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

/// Natural (row-major) index of each zigzag position.
#[rustfmt::skip]
const UNZIGZAG: [u8; 64] = [
    0,  1,  8, 16,  9,  2,  3, 10,
   17, 24, 32, 25, 18, 11,  4,  5,
   12, 19, 26, 33, 40, 48, 41, 34,
   27, 20, 13,  6,  7, 14, 21, 28,
   35, 42, 49, 56, 57, 50, 43, 36,
   29, 22, 15, 23, 30, 37, 44, 51,
   58, 59, 52, 45, 38, 31, 39, 46,
   53, 60, 61, 54, 47, 55, 62, 63,
];

/// Bits resolved by one lookup in the Huffman tables; longer codes take the slow path.
const FAST_BITS: u32 = 9;

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

/// A Huffman table with fast lookups for DC decoding and for AC skipping or decoding.
struct Huffman {
    /// By the next [`FAST_BITS`] bits: code length (0: longer code) and symbol.
    fast: [(u8, u8); 1 << FAST_BITS],
    /// By the next [`FAST_BITS`] bits, for AC symbols: `bits | advance << 8`, where `bits` is the
    /// code length plus the magnitude bits that follow it and `advance` how far the coefficient
    /// index moves (run + 1; 16 for ZRL; 0 for end of block; [`INVALID_RUN`] for an end-of-band
    /// run, which sequential scans do not allow). 0: the code is longer than [`FAST_BITS`].
    skip: [u16; 1 << FAST_BITS],
    /// By the next [`FAST_BITS`] bits, for AC symbols whose code and magnitude bits both fit:
    /// `bits | run << 8 | value << 16` (`bits` as in `skip`, `value` the coefficient as `i16`
    /// bits). 0: decode the symbol by `fast` or `slow` (end of block, ZRL, longer codes).
    ac: [u32; 1 << FAST_BITS],
    /// Largest code of each length 1..=16 (-1: none), and the offset from a code to its symbol.
    maxcode: [i32; 17],
    delta: [i32; 17],
    values: Vec<u8>,
}

const INVALID_RUN: u16 = 0xFF;

impl Huffman {
    /// Builds the table from a DHT's counts and symbols; `None` where the counts overflow the code
    /// space (as `jpeg-decoder` refuses them).
    fn new(counts: &[u8; 16], values: &[u8]) -> Option<Self> {
        let mut t = Huffman {
            fast: [(0, 0); 1 << FAST_BITS],
            skip: [0; 1 << FAST_BITS],
            ac: [0; 1 << FAST_BITS],
            maxcode: [-1; 17],
            delta: [0; 17],
            values: values.to_vec(),
        };
        let mut code = 0u32;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = u32::from(counts[len as usize - 1]);
            if n > 0 {
                t.delta[len as usize] = k as i32 - code as i32;
                for _ in 0..n {
                    if code >= 1 << len {
                        return None;
                    }
                    let symbol = values[k];
                    if len <= FAST_BITS {
                        let shift = FAST_BITS - len;
                        let first = (code << shift) as usize;
                        let entry = skip_entry(len, symbol);
                        let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
                        for i in first..first + (1 << shift) {
                            t.fast[i] = (len as u8, symbol);
                            t.skip[i] = entry;
                            if size > 0 && len + size <= FAST_BITS {
                                let bits =
                                    (i as u32 >> (FAST_BITS - len - size)) & ((1 << size) - 1);
                                let value = extend(bits, size) as u16;
                                t.ac[i] = (len + size) | run << 8 | u32::from(value) << 16;
                            }
                        }
                    }
                    code += 1;
                    k += 1;
                }
                t.maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Some(t)
    }

    /// The symbol of a code longer than [`FAST_BITS`], given the next 16 bits, and its length.
    #[cold]
    fn slow(&self, peek16: u32) -> Option<(u32, u8)> {
        (FAST_BITS + 1..=16).find_map(|len| {
            let code = (peek16 >> (16 - len)) as i32;
            (code <= self.maxcode[len as usize])
                .then(|| {
                    Some((
                        len,
                        *self
                            .values
                            .get((code + self.delta[len as usize]) as usize)?,
                    ))
                })
                .flatten()
        })
    }
}

/// A coefficient from its magnitude category `s` (1..=15) and the `s` bits that follow.
#[inline]
fn extend(v: u32, s: u32) -> i16 {
    let v = v as i32;
    (if v < 1 << (s - 1) {
        v + (-1 << s) + 1
    } else {
        v
    }) as i16
}

fn skip_entry(code_len: u32, symbol: u8) -> u16 {
    let (r, s) = (u16::from(symbol >> 4), u16::from(symbol & 15));
    let advance = match (r, s) {
        (0, 0) => 0,
        (15, 0) => 16,
        (_, 0) => INVALID_RUN,
        _ => r + 1,
    };
    (code_len as u16 + s) | advance << 8
}

/// A reader of entropy-coded data: bytes with `FF 00` unstuffed, stopping at the first marker,
/// after which it supplies zero bits (as `jpeg-decoder` does) while counting them.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    /// Left-aligned bit buffer; bits below `n` are zero.
    acc: u64,
    n: u32,
    /// How many of the `n` buffered bits are zero fill past a marker.
    fill: u32,
    /// The marker that ended the data, and the position after it.
    marker: Option<(u8, usize)>,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
            fill: 0,
            marker: None,
        }
    }

    /// Fills the buffer beyond 56 bits; `None` at the end of the data (no marker).
    #[inline]
    fn refill(&mut self) -> Option<()> {
        while self.n <= 56 {
            if self.marker.is_some() {
                self.fill += 64 - self.n;
                self.n = 64;
                break;
            }
            if let Some(word) = self.data.get(self.pos..self.pos + 8) {
                let w = u64::from_be_bytes(word.try_into().ok()?);
                // No 0xFF byte among the eight: take as many whole bytes as fit.
                let inv = !w;
                let no_ff =
                    (inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080) == 0;
                if no_ff {
                    let k = (64 - self.n) / 8;
                    let v = if k == 8 { w } else { w >> (64 - 8 * k) };
                    self.acc |= v << (64 - self.n - 8 * k);
                    self.pos += k as usize;
                    self.n += 8 * k;
                    continue;
                }
            }
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            if b == 0xFF {
                let mut next = *self.data.get(self.pos)?;
                self.pos += 1;
                if next != 0 {
                    while next == 0xFF {
                        next = *self.data.get(self.pos)?;
                        self.pos += 1;
                    }
                    if next == 0 {
                        return None;
                    }
                    self.marker = Some((next, self.pos));
                    continue;
                }
            }
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
        Some(())
    }

    #[inline]
    fn peek(&self, count: u32) -> u32 {
        (self.acc >> (64 - count)) as u32
    }

    #[inline]
    fn consume(&mut self, count: u32) {
        self.acc <<= count;
        self.n -= count;
    }

    /// Decodes one symbol; at least 16 bits must be buffered.
    #[inline]
    fn symbol(&mut self, t: &Huffman) -> Option<u8> {
        let (len, sym) = t.fast[self.peek(FAST_BITS) as usize];
        if len > 0 {
            self.consume(u32::from(len));
            return Some(sym);
        }
        let (len, sym) = t.slow(self.peek(16))?;
        self.consume(len);
        Some(sym)
    }

    /// Skips the AC coefficients of one block (indices 1..=63).
    #[inline]
    fn skip_ac(&mut self, t: &Huffman) -> Option<()> {
        self.skip_ac_from(t, 1)
    }

    /// Skips a block's AC coefficients from index `k` on.
    #[inline]
    fn skip_ac_from(&mut self, t: &Huffman, mut k: u32) -> Option<()> {
        while k < 64 {
            if self.n < 32 {
                self.refill()?;
            }
            let mut e = t.skip[self.peek(FAST_BITS) as usize];
            if e == 0 {
                let (len, sym) = t.slow(self.peek(16))?;
                e = skip_entry(len, sym);
            }
            self.consume(u32::from(e & 0xFF));
            let advance = u32::from(e >> 8);
            if advance == 0 {
                return Some(());
            }
            k += advance;
        }
        (k == 64).then_some(())
    }

    /// A DC difference (magnitude category, then its bits).
    #[inline]
    fn dc_diff(&mut self, t: &Huffman) -> Option<i16> {
        if self.n < 32 {
            self.refill()?;
        }
        let s = u32::from(self.symbol(t)?);
        if s == 0 {
            return Some(0);
        }
        if s > 11 {
            return None;
        }
        let v = self.peek(s);
        self.consume(s);
        Some(extend(v, s))
    }

    /// Decodes the AC coefficients of one block (indices 1..=63) into `block`, in natural order,
    /// up to zigzag index `last` (those past it are skipped: the scaled IDCTs do not read them).
    /// Where `jpeg-decoder` would read a run past the block's end differently (it stops without
    /// reading the coefficient's bits), gives `None`, as [`Bits::skip_ac`] does.
    #[inline]
    fn ac(&mut self, t: &Huffman, block: &mut [i16; 64], last: usize) -> Option<()> {
        let mut k = 1usize;
        while k < 64 {
            if k > last {
                return self.skip_ac_from(t, k as u32);
            }
            if self.n < 32 {
                self.refill()?;
            }
            let e = t.ac[self.peek(FAST_BITS) as usize];
            let value = if e != 0 {
                self.consume(e & 0xFF);
                k += (e >> 8 & 0xFF) as usize;
                (e >> 16) as u16 as i16
            } else {
                let symbol = self.symbol(t)?;
                let (r, s) = (usize::from(symbol >> 4), u32::from(symbol & 15));
                if s == 0 {
                    match r {
                        0 => return Some(()),
                        15 => {
                            k += 16;
                            continue;
                        }
                        _ => return None,
                    }
                }
                k += r;
                if k > 63 {
                    return None;
                }
                let v = self.peek(s);
                self.consume(s);
                extend(v, s)
            };
            *block.get_mut(usize::from(*UNZIGZAG.get(k)?))? = value;
            k += 1;
        }
        (k == 64).then_some(())
    }

    fn bit(&mut self) -> Option<bool> {
        if self.n < 32 {
            self.refill()?;
        }
        let b = self.peek(1) == 1;
        self.consume(1);
        Some(b)
    }

    /// After the last block of a scan or restart interval: `Some(marker code)` when only padding
    /// (fewer than 8 bits) separates the data from a marker and no zero fill was consumed.
    fn finish(&mut self) -> Option<u8> {
        self.refill()?;
        let (marker, _) = self.marker?;
        (self.n >= self.fill && self.n - self.fill < 8).then_some(marker)
    }

    /// Continues after the marker that ended the data (a restart marker).
    fn restart(&mut self) {
        if let Some((_, pos)) = self.marker.take() {
            self.pos = pos;
        }
        self.acc = 0;
        self.n = 0;
        self.fill = 0;
    }
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
                if bits.finish()? != 0xD0 + expected_rst {
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
    let marker = bits.finish()?;
    Some((marker, bits.marker?.1))
}

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
fn idct_4x4(block: &[i16; 64], q: &[u16; 64], out: &mut [u8], stride: usize) {
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
fn idct_2x2(block: &[i16; 64], q: &[u16; 64], out: &mut [u8], stride: usize) {
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

/// An upsampler: `(plane, width, height, stride, row, out_w, line)` fills `line` (at least
/// `out_w` samples) with output row `row` of a `width` × `height` plane with rows `stride` apart.
type Upsample = fn(&[u8], usize, usize, usize, usize, usize, &mut [u8]);

/// `jpeg-decoder`'s choice of upsampler (`None`: a ratio it refuses), with the output size that
/// decides it (a 1-pixel-wide or -high output needs no upsampling along that axis).
fn upsampler(h: u8, v: u8, h_max: u8, v_max: u8, out_w: usize, out_h: usize) -> Option<Upsample> {
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

/// `jpeg-decoder`'s scalar YCbCr → RGB (BT.601, 20-bit fixed point): the definition that
/// [`YcbcrTables::scalar`] computes by lookups.
#[cfg(test)]
fn ycbcr_scalar(y: u8, cb: u8, cr: u8) -> [u8; 3] {
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
fn ycbcr_ssse3(y: u8, cb: u8, cr: u8) -> [u8; 3] {
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
struct YcbcrTables {
    s_y: [i32; 256],
    s_r: [i32; 256],
    s_gb: [i32; 256],
    s_gr: [i32; 256],
    s_b: [i32; 256],
}

impl YcbcrTables {
    fn get() -> &'static YcbcrTables {
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
    fn scalar(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
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
fn ycbcr_row(tables: &YcbcrTables, y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
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

#[cfg(test)]
mod tests {

    #[test]
    fn colour_conversions_equal_jpeg_decoders_for_every_input() {
        let t = YcbcrTables::get();
        // Rows of 256 + 16 pixels: the SSSE3 routine converts the first 256.
        let cr: Vec<u8> = (0..=255u8).chain(0..16).collect();
        let mut out = vec![0u8; cr.len() * 3];
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        let ssse3 = std::is_x86_feature_detected!("ssse3");
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        let ssse3 = false;
        for y in 0..=255u8 {
            for cb in 0..=255u8 {
                for v in 0..=255u8 {
                    assert_eq!(t.scalar(y, cb, v), ycbcr_scalar(y, cb, v));
                }
                let (ys, cbs) = (vec![y; cr.len()], vec![cb; cr.len()]);
                ycbcr_row(t, &ys, &cbs, &cr, &mut out);
                for (v, px) in out.chunks_exact(3).take(256).enumerate() {
                    let want = if ssse3 {
                        ycbcr_ssse3(y, cb, v as u8)
                    } else {
                        ycbcr_scalar(y, cb, v as u8)
                    };
                    assert_eq!(px, want, "{y} {cb} {v}");
                }
            }
        }
    }

    use super::*;
    use crate::image::decode::decode_jpeg_reduced_with;
    use crate::image::Decoded;
    use image::codecs::jpeg::JpegEncoder;
    use image::ExtendedColorType;

    /// A noisy gradient, encoded by the `image` crate's baseline encoder.
    fn encode(w: u32, h: u32, quality: u8, gray: bool, seed: u32) -> Vec<u8> {
        let channels = if gray { 1 } else { 3 };
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut pixels = Vec::with_capacity((w * h * channels) as usize);
        for y in 0..h {
            for x in 0..w {
                for c in 0..channels {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let v = (x * (c + 1) * 3 + y * 2) % 256 + state % 41;
                    pixels.push(v.min(255) as u8);
                }
            }
        }
        let mut out = Vec::new();
        let color = if gray {
            ExtendedColorType::L8
        } else {
            ExtendedColorType::Rgb8
        };
        JpegEncoder::new_with_quality(&mut out, quality)
            .encode(&pixels, w, h, color)
            .unwrap();
        out
    }

    /// `data` decoded by jpeg-decoder and by ours, with a shorter side of at least `min_side`.
    fn both(data: &[u8], min_side: u32) -> (Decoded, Decoded, bool) {
        let (old, _) = decode_jpeg_reduced_with(data, min_side, 0, u64::MAX, false)
            .unwrap()
            .unwrap();
        let (new, used) = decode_jpeg_reduced_with(data, min_side, 0, u64::MAX, true)
            .unwrap()
            .unwrap();
        (old, new, used)
    }

    #[test]
    fn equals_jpeg_decoder_on_encoded_images() {
        for (i, &(w, h)) in [(1, 1), (8, 8), (9, 17), (100, 75), (333, 251), (640, 480)]
            .iter()
            .enumerate()
        {
            for &quality in &[10u8, 60, 100] {
                for gray in [false, true] {
                    let data = encode(w, h, quality, gray, i as u32);
                    for scale in [1, 2, 4] {
                        // The shorter side at `scale`/8: that scale is chosen.
                        let min_side = (w.min(h) * scale).div_ceil(8);
                        let (old, new, used) = both(&data, min_side);
                        let what = format!("{w}×{h} q{quality} gray {gray} scale {scale}/8");
                        assert!(used, "{what}");
                        assert_eq!(old.image, new.image, "{what}");
                        assert_eq!(old.orientation, new.orientation);
                        if w.min(h) >= 75 {
                            assert_eq!(new.width(), (w * scale).div_ceil(8), "{what}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn scaled_idcts_equal_jpeg_decoders_arithmetic() {
        // A DC-only block: every sample is the 1×1 IDCT's value (DC · q / 8 + 128, rounded).
        let mut block = [0i16; 64];
        block[0] = 40;
        let q = [2u16; 64];
        let mut out = [0u8; 16];
        idct_4x4(&block, &q, &mut out, 4);
        assert_eq!(out, [138; 16]);
        idct_2x2(&block, &q, &mut out, 2);
        assert_eq!(out[..4], [138; 4]);
        // Saturated input wraps (as jpeg-decoder's `Wrapping` arithmetic does) without panicking.
        idct_4x4(&[i16::MAX; 64], &[u16::MAX; 64], &mut out, 4);
        idct_2x2(&[i16::MIN; 64], &[u16::MAX; 64], &mut out, 2);
        // A horizontal cosine: the 2×2 IDCT's columns differ by (x0 ± x1) >> 3.
        block[1] = 16;
        idct_2x2(&block, &q, &mut out, 2);
        assert_eq!(
            out[..4],
            [
                ((80 + 32 + 4 + 1024) >> 3) as u8,
                ((80 - 32 + 4 + 1024) >> 3) as u8,
                142,
                134
            ]
        );
    }

    #[test]
    fn truncated_or_corrupt_data_is_left_to_jpeg_decoder() {
        let data = encode(200, 160, 90, false, 7);
        for cut in [3, 20, data.len() / 2, data.len() - 3] {
            for scale in [1, 2, 4] {
                assert!(decode(&data[..cut], scale).is_none(), "cut at {cut}");
            }
        }
        let sos = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let body = sos + 2 + be16(&data, sos + 2).unwrap();
        // Sixteen one bits (stuffed): a code no Huffman table defines.
        let mut bad = data.clone();
        bad[body..body + 4].copy_from_slice(&[0xFF, 0x00, 0xFF, 0x00]);
        assert!(decode(&bad, 1).is_none());
        assert!(decode(&bad, 4).is_none());
        // Fill bytes before `00`: neither stuffing nor a marker.
        bad[body..body + 4].copy_from_slice(&[0xFF, 0xFF, 0x00, 0x00]);
        assert!(decode(&bad, 1).is_none());
        assert!(decode(&bad, 2).is_none());
    }

    #[test]
    fn huffman_tables_refuse_overfull_counts() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(Huffman::new(&counts, &[0, 1, 2]).is_none());
        counts[0] = 2;
        assert!(Huffman::new(&counts, &[0, 1]).is_some());
    }

    #[test]
    fn skip_entries() {
        // Code of 3 bits for run 2, size 5: 8 bits skipped, index advances 3.
        assert_eq!(skip_entry(3, 0x25), 8 | 3 << 8);
        assert_eq!(skip_entry(4, 0x00), 4);
        assert_eq!(skip_entry(11, 0xF0), 11 | 16 << 8);
        assert_eq!(skip_entry(5, 0x30) >> 8, INVALID_RUN);
    }

    #[test]
    fn simd_color_conversion_stays_within_one_of_scalar() {
        for y in (0..=255u8).step_by(5) {
            for cb in (0..=255u8).step_by(15) {
                for cr in (0..=255u8).step_by(15) {
                    let (a, b) = (ycbcr_scalar(y, cb, cr), ycbcr_ssse3(y, cb, cr));
                    for c in 0..3 {
                        assert!(a[c].abs_diff(b[c]) <= 2, "{y} {cb} {cr}: {a:?} {b:?}");
                    }
                }
            }
        }
    }
}
