//! One block's table: the values bucketed by block key.

use rayon::prelude::*;

use super::layout::Block;

/// Zeros after the last value, so the vector kernel may read whole windows of 8.
pub(super) const PAD: usize = 8;

/// One block's buckets: the values ordered by block key (stably, so by value within a bucket),
/// with their positions, and the nonempty keys.
pub(super) struct Table {
    /// Values in key order (then [`PAD`] zeros).
    pub(super) vals: Vec<u64>,
    /// Their positions in the searched slice.
    pub(super) pos: Vec<u32>,
    /// Distinct nonempty keys, ascending, and where each one's bucket starts (one more entry).
    pub(super) keys: Vec<u64>,
    pub(super) starts: Vec<u32>,
    /// Direct blocks: `offsets[key]..offsets[key + 1]` is the bucket of `key`.
    pub(super) offsets: Option<Vec<u32>>,
}

impl Table {
    /// `direct`: a direct offset table (else sorted keys searched by bisection).
    pub(super) fn new(values: &[u64], block: Block, direct: bool) -> Self {
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
    pub(super) fn bucket(&self, key: u64) -> (usize, usize) {
        match &self.offsets {
            Some(off) => (off[key as usize] as usize, off[key as usize + 1] as usize),
            None => match self.keys.binary_search(&key) {
                Ok(i) => (self.starts[i] as usize, self.starts[i + 1] as usize),
                Err(_) => (0, 0),
            },
        }
    }
}
