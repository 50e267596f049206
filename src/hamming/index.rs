//! One block's index for multi-index hashing: the positions of all values grouped by the value of
//! one bit range, looked up directly (narrow blocks) or by binary search (wide blocks).

pub(super) struct BlockIndex {
    width: u32,
    /// Positions ordered by block value.
    order: Vec<u32>,
    /// Narrow blocks: `offsets[v]..offsets[v + 1]` is the range of block value `v` in `order`.
    offsets: Option<Vec<u32>>,
    /// Wide blocks: the block value of each entry of `order`.
    keys: Vec<u64>,
}

/// Blocks up to this width get a direct offset table (4 · 2^22 bytes = 16 MiB at most).
const DIRECT_BITS: u32 = 22;

impl BlockIndex {
    pub(super) fn new(values: &[u64], shift: u32, width: u32) -> Self {
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        let key = |v: u64| (v >> shift) & mask;
        if width <= DIRECT_BITS && (1usize << width) <= 8 * values.len().max(1024) {
            // Counting sort into buckets.
            let mut offsets = vec![0u32; (1usize << width) + 1];
            for &v in values {
                offsets[key(v) as usize + 1] += 1;
            }
            for i in 1..offsets.len() {
                offsets[i] += offsets[i - 1];
            }
            let mut next = offsets.clone();
            let mut order = vec![0u32; values.len()];
            for (p, &v) in values.iter().enumerate() {
                let slot = &mut next[key(v) as usize];
                order[*slot as usize] = p as u32;
                *slot += 1;
            }
            BlockIndex {
                width,
                order,
                offsets: Some(offsets),
                keys: Vec::new(),
            }
        } else {
            let mut pairs: Vec<(u64, u32)> = values
                .iter()
                .enumerate()
                .map(|(p, &v)| (key(v), p as u32))
                .collect();
            pairs.sort_unstable();
            let (keys, order) = pairs.into_iter().unzip();
            BlockIndex {
                width,
                order,
                offsets: None,
                keys,
            }
        }
    }

    fn bucket(&self, v: u64) -> &[u32] {
        match &self.offsets {
            Some(off) => &self.order[off[v as usize] as usize..off[v as usize + 1] as usize],
            None => {
                let lo = self.keys.partition_point(|&k| k < v);
                let hi = lo + self.keys[lo..].partition_point(|&k| k == v);
                &self.order[lo..hi]
            }
        }
    }

    /// Calls `f` with every position whose block value is within `radius` bits of `v`.
    pub(super) fn for_each_within(&self, v: u64, radius: u32, mut f: impl FnMut(u32)) {
        flips(v, self.width, radius, 0, &mut |w| {
            for &p in self.bucket(w) {
                f(p);
            }
        });
    }
}

/// Enumerates every value within `radius` bit flips of `v`, flipping bits at `from..width` only.
fn flips(v: u64, width: u32, radius: u32, from: u32, f: &mut impl FnMut(u64)) {
    f(v);
    if radius == 0 {
        return;
    }
    for bit in from..width {
        flips(v ^ (1 << bit), width, radius - 1, bit + 1, f);
    }
}

#[cfg(test)]
mod tests {
    use super::flips;

    #[test]
    fn enumerates_the_hamming_ball() {
        let mut seen = Vec::new();
        flips(0, 6, 2, 0, &mut |w| seen.push(w));
        assert_eq!(seen.len(), 1 + 6 + 15);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 22);
        assert!(seen.iter().all(|w| w.count_ones() <= 2));
    }
}
