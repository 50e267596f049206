//! The blocks of a search and the cost model that picks them.

/// One block: bits `shift..shift + width`, searched within `radius` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub shift: u32,
    pub width: u32,
    pub radius: u32,
}

impl Block {
    #[inline(always)]
    pub(super) fn mask(&self) -> u64 {
        if self.width == 64 {
            u64::MAX
        } else {
            ((1u64 << self.width) - 1) << self.shift
        }
    }

    #[inline(always)]
    pub(super) fn key(&self, v: u64) -> u64 {
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
pub(super) fn direct(width: u32, n: usize) -> bool {
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
