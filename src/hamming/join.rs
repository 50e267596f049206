//! The near-pair search over distinct 64-bit values: multi-index hashing as a self-join, one
//! block at a time.
//!
//! `m` disjoint blocks of bits get radii `t_j` with `Σ (t_j + 1) > k`: two values within
//! distance `k` then differ by at most `t_j` bits on some block `j` (pigeonhole; the blocks need
//! not cover all 64 bits). For each block the values are bucketed by their block key, and every
//! bucket is joined with itself and with the buckets whose keys are within `t_j` bits of its own
//! and larger, so each pair of buckets meets once. The key space is walked in aligned chunks,
//! flip pattern by flip pattern: the chunk's buckets stay in cache while the partner chunk
//! streams past, instead of one random lookup per probe. Candidates are compared eight at a time
//! with AVX2 where the CPU has it. A pair is reported from the first block where it qualifies
//! only.
//!
//! The layout adapts to the number of values: a cost model of probes (bucket pairs looked at)
//! against candidate comparisons picks the block count and width, which comes out near
//! `log2(n)` bits (three 21-bit blocks at radius 2 for 10M values at k = 8; four 16-bit blocks
//! for 1M). Memory: the values, and one block's table at a time (12 bytes per value plus 4 bytes
//! per key of the block).

use rayon::prelude::*;

/// One block: bits `shift..shift + width`, searched within `radius` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub shift: u32,
    pub width: u32,
    pub radius: u32,
}

impl Block {
    #[inline(always)]
    fn mask(&self) -> u64 {
        if self.width == 64 {
            u64::MAX
        } else {
            ((1u64 << self.width) - 1) << self.shift
        }
    }

    #[inline(always)]
    fn key(&self, v: u64) -> u64 {
        (v & self.mask()) >> self.shift
    }
}

/// Blocks up to this width are indexed by a direct offset table (4 · 2^24 bytes = 64 MiB).
const DIRECT_BITS: u32 = 24;

/// Blocks of these widths side by side from bit 0, with radii summing to `k + 1 - m` (the least
/// the pigeonhole principle allows for `m` blocks); wider blocks get the larger radii. The
/// blocks need not cover all 64 bits: bits outside every block still count in the distance
/// (verification compares whole values), they only do not pick buckets.
pub fn layout(widths: &[u32], k: u32) -> Vec<Block> {
    assert!(widths.iter().sum::<u32>() <= 64 && widths.iter().all(|&w| w > 0));
    let m = widths.len() as u32;
    let spare = (k + 1).saturating_sub(m);
    let mut out = Vec::with_capacity(widths.len());
    let mut shift = 0u32;
    for &width in widths {
        out.push(Block {
            shift,
            width,
            radius: 0,
        });
        shift += width;
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((out[i].width, i)));
    for (rank, &i) in order.iter().enumerate() {
        out[i].radius = spare / m + u32::from((rank as u32) < spare % m);
    }
    out
}

/// `m` near-equal widths covering all 64 bits (the later ones wider).
pub fn cover(m: usize) -> Vec<u32> {
    let m = m as u32;
    (0..m).map(|j| 64 * (j + 1) / m - 64 * j / m).collect()
}

/// Values within `radius` bits of a `width`-bit key, the key itself included.
pub fn ball(width: u32, radius: u32) -> f64 {
    let mut total = 0.0;
    let mut c = 1.0;
    for e in 0..=radius.min(width) {
        total += c;
        c = c * f64::from(width - e) / f64::from(e + 1);
    }
    total
}

/// Whether a block gets a direct offset table for `n` values.
fn direct(width: u32, n: usize) -> bool {
    width <= DIRECT_BITS && (1usize << width) <= 16 * n.max(1 << 16)
}

/// Expected cost of searching `n` distinct values with these blocks, in units of one candidate
/// comparison. A probe (a bucket pair looked at, most of whose cost is branching on bucket sizes
/// that cannot be predicted) costs about ten comparisons, measured on 1M to 10M random values.
pub fn cost(n: usize, blocks: &[Block]) -> f64 {
    let nf = n as f64;
    blocks
        .iter()
        .map(|b| {
            let keys = 2f64.powi(b.width as i32);
            let ball = ball(b.width, b.radius);
            let probes = if direct(b.width, n) {
                // Every key of the table is visited, empty or not.
                keys * ball / 2.0 * 10.0
            } else {
                let nonempty = keys * -(-nf / keys).exp_m1();
                nonempty * ball / 2.0 * (10.0 + 2.0 * nonempty.log2().max(1.0))
            };
            let comparisons = nf * nf / keys * ball / 2.0;
            probes + comparisons + 4.0 * nf
        })
        .sum()
}

/// The layout with the lowest expected cost for `n` distinct values and distance `k`: `m` blocks
/// (1 to `k + 1`, at most 16) of `w` bits each, `w` up to `64 / m`, or covering all 64 bits.
/// With a few values per bucket, blocks come out a little narrower than `log2(n)` bits.
pub fn choose_layout(n: usize, k: u32) -> Vec<Block> {
    let mut best: Option<(f64, Vec<Block>)> = None;
    for m in 1..=(k as usize + 1).min(16) {
        let widest = 64 / m as u32;
        let candidates = (1..=widest)
            .map(|w| vec![w; m])
            .chain(std::iter::once(cover(m)));
        for widths in candidates {
            let blocks = layout(&widths, k);
            let c = cost(n, &blocks);
            if best.as_ref().is_none_or(|(b, _)| c < *b) {
                best = Some((c, blocks));
            }
        }
    }
    best.expect("at least one layout").1
}

/// Zeros after the last value, so the vector kernel may read whole windows of 8.
const PAD: usize = 8;

/// One block's buckets: the values ordered by block key (stably, so by value within a bucket),
/// with their positions, and the nonempty keys.
struct Table {
    /// Values in key order (then [`PAD`] zeros).
    vals: Vec<u64>,
    /// Their positions in the searched slice.
    pos: Vec<u32>,
    /// Distinct nonempty keys, ascending, and where each one's bucket starts (one more entry).
    keys: Vec<u64>,
    starts: Vec<u32>,
    /// Direct blocks: `offsets[key]..offsets[key + 1]` is the bucket of `key`.
    offsets: Option<Vec<u32>>,
}

impl Table {
    /// `direct`: a direct offset table (else sorted keys searched by bisection).
    fn new(values: &[u64], block: Block, direct: bool) -> Self {
        let n = values.len();
        if direct {
            // Counting sort by key.
            let size = 1usize << block.width;
            let mut offsets = vec![0u32; size + 1];
            for &v in values {
                offsets[block.key(v) as usize + 1] += 1;
            }
            for i in 1..offsets.len() {
                offsets[i] += offsets[i - 1];
            }
            let mut next = offsets[..size].to_vec();
            let mut vals = vec![0u64; n + PAD];
            let mut pos = vec![0u32; n];
            for (p, &v) in values.iter().enumerate() {
                let slot = &mut next[block.key(v) as usize];
                vals[*slot as usize] = v;
                pos[*slot as usize] = p as u32;
                *slot += 1;
            }
            drop(next);
            let mut keys = Vec::new();
            let mut starts = Vec::new();
            for key in 0..size {
                if offsets[key + 1] > offsets[key] {
                    keys.push(key as u64);
                    starts.push(offsets[key]);
                }
            }
            starts.push(n as u32);
            Table {
                vals,
                pos,
                keys,
                starts,
                offsets: Some(offsets),
            }
        } else {
            let mut order: Vec<(u64, u32)> = values
                .iter()
                .enumerate()
                .map(|(p, &v)| (block.key(v), p as u32))
                .collect();
            crate::parallel::install(n, || order.par_sort_unstable());
            let mut vals: Vec<u64> = order.iter().map(|&(_, p)| values[p as usize]).collect();
            vals.resize(n + PAD, 0);
            let pos = order.iter().map(|&(_, p)| p).collect();
            let mut keys = Vec::new();
            let mut starts = Vec::new();
            for (i, &(key, _)) in order.iter().enumerate() {
                if i == 0 || order[i - 1].0 != key {
                    keys.push(key);
                    starts.push(i as u32);
                }
            }
            starts.push(n as u32);
            Table {
                vals,
                pos,
                keys,
                starts,
                offsets: None,
            }
        }
    }

    /// The range in `vals` of the bucket with key `key` (empty if none).
    #[inline(always)]
    fn bucket(&self, key: u64) -> (usize, usize) {
        match &self.offsets {
            Some(off) => (off[key as usize] as usize, off[key as usize + 1] as usize),
            None => match self.keys.binary_search(&key) {
                Ok(i) => (self.starts[i] as usize, self.starts[i + 1] as usize),
                Err(_) => (0, 0),
            },
        }
    }
}

/// Every flip pattern of 1 to `radius` bits within `width` bits, ordered by its highest bit.
fn flip_patterns(width: u32, radius: u32) -> Vec<u64> {
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

/// The pairs of positions in `values` (distinct) within distance `k`, each reported once.
pub fn near_pairs(values: &[u64], k: u32) -> Vec<(u32, u32)> {
    near_pairs_with(values, k, &choose_layout(values.len(), k))
}

/// [`near_pairs`] with a given layout (which must satisfy the pigeonhole condition).
pub fn near_pairs_with(values: &[u64], k: u32, blocks: &[Block]) -> Vec<(u32, u32)> {
    search_blocks(values, k, blocks, |width| direct(width, values.len()))
}

fn search_blocks(
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
enum Range {
    /// Direct table: keys `start..start + 2^bits` (`start` aligned).
    Chunk(usize, u32),
    /// Sorted table: the nonempty keys at these indexes.
    Keys(usize, usize),
}

struct Job<'a> {
    table: &'a Table,
    /// Flip patterns with their highest bit.
    patterns: Vec<(u64, u32)>,
    earlier: &'a [Block],
    k: u32,
}

impl Job<'_> {
    fn run(&self, range: Range) -> Vec<(u32, u32)> {
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

    /// `VECTOR`: compare eight values at a time with AVX2 (only from [`Job::run_avx2`]).
    #[inline(always)]
    fn run_generic<const VECTOR: bool>(&self, range: Range) -> Vec<(u32, u32)> {
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
                    let mut near = unsafe { vector::near8(vi, vals.as_ptr().add(w), self.k) };
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

#[cfg(target_arch = "x86_64")]
mod vector {
    use std::arch::x86_64::*;

    /// Bit `i` (of 8) is set when `popcount(x ^ ys[i]) <= k`.
    ///
    /// # Safety
    /// The CPU must support AVX2, and `ys..ys + 8` must be readable.
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(values: &[u64], k: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for i in 0..values.len() {
            for j in i + 1..values.len() {
                if (values[i] ^ values[j]).count_ones() <= k {
                    out.push((i as u32, j as u32));
                }
            }
        }
        out
    }

    fn sorted(mut v: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
        v.sort_unstable();
        v
    }

    #[test]
    fn layouts_satisfy_the_pigeonhole_condition() {
        for k in 0..=40 {
            for m in 1..=16usize {
                let mut all = vec![cover(m)];
                all.extend((1..=64 / m as u32).map(|w| vec![w; m]));
                for widths in all {
                    let b = layout(&widths, k);
                    assert!(b.iter().map(|x| x.width).sum::<u32>() <= 64);
                    let slack: u32 = b.iter().map(|x| x.radius + 1).sum();
                    assert!(slack > k && slack <= (k + 1).max(m as u32), "k={k} {b:?}");
                    for pair in b.windows(2) {
                        assert_eq!(pair[0].shift + pair[0].width, pair[1].shift);
                    }
                }
            }
            assert_eq!(cover(3), vec![21, 21, 22]);
        }
    }

    #[test]
    fn the_layout_follows_log2_n() {
        // k = 8: 3 blocks of about log2(n) bits at radius 2 for millions of values.
        let big = choose_layout(10_000_000, 8);
        assert_eq!(big.len(), 3);
        assert!(big
            .iter()
            .all(|b| b.radius == 2 && (19..=23).contains(&b.width)));
        let mid = choose_layout(1_000_000, 8);
        assert!(mid.iter().all(|b| (16..=21).contains(&b.width)), "{mid:?}");
        // Far more values than fit any table: still a valid layout.
        let huge = choose_layout(1 << 34, 8);
        assert!(huge.iter().map(|b| b.radius + 1).sum::<u32>() > 8);
    }

    #[test]
    fn flip_patterns_are_the_ball_minus_the_centre() {
        let p = flip_patterns(6, 2);
        assert_eq!(p.len(), 6 + 15);
        let mut q = p.clone();
        q.sort_unstable();
        q.dedup();
        assert_eq!(q.len(), p.len());
        assert!(p
            .iter()
            .all(|&f| (1..=2).contains(&f.count_ones()) && f < 64));
        assert!(flip_patterns(9, 0).is_empty());
        assert_eq!(flip_patterns(21, 2).len() as f64, ball(21, 2) - 1.0);
    }

    fn values_strategy() -> impl Strategy<Value = Vec<u64>> {
        (
            prop::collection::vec(any::<u64>(), 1..30),
            prop::collection::vec((0usize..30, prop::collection::vec(0u32..64, 0..10)), 0..150),
        )
            .prop_map(|(base, flips)| {
                let mut v = base.clone();
                for (i, bits) in flips {
                    let mut h = base[i % base.len()];
                    for b in bits {
                        h ^= 1 << b;
                    }
                    v.push(h);
                }
                v.sort_unstable();
                v.dedup();
                v
            })
    }

    proptest! {
        /// Every layout the pigeonhole condition allows, direct and sorted tables alike, finds
        /// exactly the pairs brute force finds.
        #[test]
        fn every_layout_matches_brute_force(
            values in values_strategy(),
            k in 0u32..13,
            m in 1usize..10,
            width in 0u32..22,
        ) {
            // width 0: blocks covering all 64 bits; else m blocks of that width (or less).
            let widths = if width == 0 { cover(m) } else { vec![width.min(64 / m as u32); m] };
            let blocks = layout(&widths, k);
            // Keep each case small: visiting every key of a wide direct table is slow here.
            prop_assume!(blocks.iter().all(|b| {
                let keys = if direct(b.width, values.len()) { 2f64.powi(b.width as i32) } else { 200.0 };
                keys * ball(b.width, b.radius) < 2e5
            }));
            let got = sorted(near_pairs_with(&values, k, &blocks));
            prop_assert_eq!(got, brute(&values, k));
        }

        /// Values that agree on their high bits (few distinct block keys, large buckets).
        #[test]
        fn clustered_values_match_brute_force(
            prefix in any::<u64>(),
            low in prop::collection::vec(0u64..(1 << 12), 2..200),
            k in 0u32..10,
        ) {
            let mut values: Vec<u64> = low.iter().map(|&l| (prefix & !0xFFF) | l).collect();
            values.sort_unstable();
            values.dedup();
            let got = sorted(near_pairs(&values, k));
            prop_assert_eq!(got, brute(&values, k));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]

        /// Direct tables (walked in chunks) and sorted ones give the same pairs, for blocks
        /// wider than a chunk (patterns flipping bits on both sides of the chunk boundary).
        #[test]
        fn direct_and_sorted_tables_agree(
            values in values_strategy(),
            extra in prop::collection::vec(any::<u64>(), 0..2000),
            k in 4u32..9,
        ) {
            let mut values = values;
            // Many values sharing their low block keys, so buckets hold several.
            values.extend(extra.iter().map(|&x| x & 0xFFFF_FFFF_FFF0_0F0F));
            values.sort_unstable();
            values.dedup();
            let blocks = layout(&[14, 14, 14], k);
            let direct = sorted(search_blocks(&values, k, &blocks, |_| true));
            let bisect = sorted(search_blocks(&values, k, &blocks, |_| false));
            prop_assert_eq!(&direct, &bisect);
            prop_assert_eq!(direct, brute(&values, k));
        }
    }
}
