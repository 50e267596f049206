//! The self-join of one block's table: each bucket with itself and with the buckets of the
//! larger keys within the block's radius, chunk by chunk or key range by key range.

use rayon::prelude::*;

use super::layout::Block;
use super::table::Table;

/// Every flip pattern of 1 to `radius` bits within `width` bits, ordered by its highest bit.
pub(super) fn flip_patterns(width: u32, radius: u32) -> Vec<u64> {
    fn rec(mask: u64, below: u32, left: u32, out: &mut Vec<u64>) {
        for bit in 0..below {
            let m = mask | (1 << bit);
            out.push(m);
            if left > 1 {
                rec(m, bit, left - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    if radius > 0 {
        for top in 0..width {
            out.push(1 << top);
            if radius > 1 {
                rec(1 << top, top, radius - 1, &mut out);
            }
        }
    }
    out
}

pub(super) fn search_blocks(
    values: &[u64],
    k: u32,
    blocks: &[Block],
    direct: impl Fn(u32) -> bool,
) -> Vec<(u32, u32)> {
    debug_assert!(blocks.iter().map(|b| b.radius + 1).sum::<u32>() > k);
    let mut out = Vec::new();
    for j in 0..blocks.len() {
        let table = Table::new(values, blocks[j], direct(blocks[j].width));
        let job = Job {
            table: &table,
            patterns: flip_patterns(blocks[j].width, blocks[j].radius)
                .into_iter()
                .map(|f| (f, 63 - f.leading_zeros()))
                .collect(),
            earlier: &blocks[..j],
            k,
        };
        let found: Vec<Vec<(u32, u32)>> = crate::parallel::install(values.len(), || {
            if table.offsets.is_some() {
                // Aligned chunks of the key space, each joined pattern by pattern.
                let cb: u32 = std::env::var("CB")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(CHUNK_BITS);
                let bits = blocks[j].width.min(cb);
                let chunks = 1usize << (blocks[j].width - bits);
                (0..chunks)
                    .into_par_iter()
                    .map(|c| job.run(Range::Chunk(c << bits, bits)))
                    .collect()
            } else {
                let nkeys = table.keys.len();
                let chunk = (nkeys / (64 * crate::parallel::num_threads()).max(1)).max(256);
                (0..nkeys.div_ceil(chunk))
                    .into_par_iter()
                    .map(|c| job.run(Range::Keys(c * chunk, ((c + 1) * chunk).min(nkeys))))
                    .collect()
            }
        });
        drop(job);
        drop(table);
        for f in found {
            out.extend(f);
        }
    }
    out
}

/// Direct tables are joined in aligned chunks of `2^CHUNK_BITS` keys: the chunk's own buckets
/// stay in cache while, for one flip pattern after another, the partner chunk streams past.
const CHUNK_BITS: u32 = 12;

/// Part of one block's join.
#[derive(Clone, Copy)]
pub(super) enum Range {
    /// Direct table: keys `start..start + 2^bits` (`start` aligned).
    Chunk(usize, u32),
    /// Sorted table: the nonempty keys at these indexes.
    Keys(usize, usize),
}

pub(super) struct Job<'a> {
    table: &'a Table,
    /// Flip patterns with their highest bit.
    patterns: Vec<(u64, u32)>,
    earlier: &'a [Block],
    k: u32,
}

impl Job<'_> {
    /// `VECTOR`: compare eight values at a time with AVX2 (only from [`Job::run_avx2`]).
    #[inline(always)]
    pub(super) fn run_generic<const VECTOR: bool>(&self, range: Range) -> Vec<(u32, u32)> {
        let mut found = Vec::new();
        match range {
            Range::Chunk(start, bits) => self.chunk::<VECTOR>(start, bits, &mut found),
            Range::Keys(lo, hi) => self.keys::<VECTOR>(lo, hi, &mut found),
        }
        found
    }

    /// Pairs with a value of bucket `a`: with the whole bucket `b` if `same` is false, with
    /// the later members of `a` itself if true.
    #[inline(always)]
    fn pairs<const VECTOR: bool>(
        &self,
        a: (usize, usize),
        b: (usize, usize),
        same: bool,
        found: &mut Vec<(u32, u32)>,
    ) {
        let vals = &self.table.vals;
        for i in a.0..a.1 {
            let vi = vals[i];
            let from = if same { i + 1 } else { b.0 };
            #[cfg(target_arch = "x86_64")]
            if VECTOR {
                let mut w = from;
                while w < b.1 {
                    // SAFETY: only reached from `run_avx2`, so AVX2 is there; `w < b.1 ≤ n`
                    // and `vals` holds `n + PAD` values, so the 8 values read exist.
                    let mut near = unsafe { super::simd::near8(vi, vals.as_ptr().add(w), self.k) };
                    if b.1 - w < 8 {
                        near &= (1u32 << (b.1 - w)) - 1;
                    }
                    while near != 0 {
                        let j = w + near.trailing_zeros() as usize;
                        self.emit(i, j, vi ^ vals[j], found);
                        near &= near - 1;
                    }
                    w += 8;
                }
                continue;
            }
            for (jj, &vj) in vals[from..b.1].iter().enumerate() {
                let x = vi ^ vj;
                if x.count_ones() <= self.k {
                    self.emit(i, from + jj, x, found);
                }
            }
        }
    }

    #[inline(always)]
    fn emit(&self, a: usize, b: usize, x: u64, found: &mut Vec<(u32, u32)>) {
        // Reported from the first block where the pair qualifies only.
        if self
            .earlier
            .iter()
            .all(|e| (x & e.mask()).count_ones() > e.radius)
        {
            let (p, q) = (self.table.pos[a], self.table.pos[b]);
            found.push((p.min(q), p.max(q)));
        }
    }

    #[inline(always)]
    fn chunk<const VECTOR: bool>(&self, start: usize, bits: u32, found: &mut Vec<(u32, u32)>) {
        let off = self.table.offsets.as_deref().expect("a direct table");
        let bucket = |v: usize| (off[v] as usize, off[v + 1] as usize);
        let end = start + (1usize << bits);
        for v in start..end {
            let a = bucket(v);
            if a.1 - a.0 > 1 {
                self.pairs::<VECTOR>(a, a, true, found);
            }
        }
        // Pattern by pattern: each bucket pairs with the larger key `v ^ f`, i.e. where the
        // highest flipped bit is 0 in `v`.
        for &(f, top) in &self.patterns {
            let f = f as usize;
            if top >= bits {
                if start >> top & 1 == 1 {
                    continue;
                }
                for v in start..end {
                    let a = bucket(v);
                    if a.1 > a.0 {
                        self.pairs::<VECTOR>(a, bucket(v ^ f), false, found);
                    }
                }
            } else {
                let run = 1usize << top;
                for base in (start..end).step_by(2 * run) {
                    for v in base..base + run {
                        let a = bucket(v);
                        if a.1 > a.0 {
                            self.pairs::<VECTOR>(a, bucket(v ^ f), false, found);
                        }
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn keys<const VECTOR: bool>(&self, lo: usize, hi: usize, found: &mut Vec<(u32, u32)>) {
        let t = self.table;
        for i in lo..hi {
            let v = t.keys[i];
            let a = (t.starts[i] as usize, t.starts[i + 1] as usize);
            self.pairs::<VECTOR>(a, a, true, found);
            for &(f, top) in &self.patterns {
                if v >> top & 1 == 0 {
                    self.pairs::<VECTOR>(a, t.bucket(v ^ f), false, found);
                }
            }
        }
    }
}
