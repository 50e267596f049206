//! Huffman decoding of JPEG entropy-coded data: the tables (with lookups for DC decoding and for
//! AC decoding or skipping) and the bit reader, as `jpeg-decoder` reads the data.

/// Natural (row-major) index of each zigzag position.
#[rustfmt::skip]
pub(super) const UNZIGZAG: [u8; 64] = [
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

/// A Huffman table with fast lookups for DC decoding and for AC skipping or decoding.
pub(super) struct Huffman {
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

pub(super) const INVALID_RUN: u16 = 0xFF;

impl Huffman {
    /// Builds the table from a DHT's counts and symbols; `None` where the counts overflow the code
    /// space (as `jpeg-decoder` refuses them).
    pub(super) fn new(counts: &[u8; 16], values: &[u8]) -> Option<Self> {
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
    pub(super) fn slow(&self, peek16: u32) -> Option<(u32, u8)> {
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

pub(super) fn skip_entry(code_len: u32, symbol: u8) -> u16 {
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
pub(super) struct Bits<'a> {
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
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
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
    pub(super) fn skip_ac(&mut self, t: &Huffman) -> Option<()> {
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
    pub(super) fn dc_diff(&mut self, t: &Huffman) -> Option<i16> {
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
    pub(super) fn ac(&mut self, t: &Huffman, block: &mut [i16; 64], last: usize) -> Option<()> {
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

    pub(super) fn bit(&mut self) -> Option<bool> {
        if self.n < 32 {
            self.refill()?;
        }
        let b = self.peek(1) == 1;
        self.consume(1);
        Some(b)
    }

    /// After the last block of a scan or restart interval: `Some((marker code, position after
    /// it))` when only padding (fewer than 8 bits) separates the data from a marker and no zero
    /// fill was consumed.
    pub(super) fn finish(&mut self) -> Option<(u8, usize)> {
        self.refill()?;
        let marker = self.marker?;
        (self.n >= self.fill && self.n - self.fill < 8).then_some(marker)
    }

    /// Continues after the marker that ended the data (a restart marker).
    pub(super) fn restart(&mut self) {
        if let Some((_, pos)) = self.marker.take() {
            self.pos = pos;
        }
        self.acc = 0;
        self.n = 0;
        self.fill = 0;
    }
}
