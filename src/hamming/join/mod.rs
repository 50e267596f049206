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
//!
//! The parts: [`layout`](mod@layout) (the blocks and the cost model that picks them), [`table`] (one
//! block's buckets), [`search`] (the self-join of one table), [`simd`] (the CPU-specific
//! kernels and their dispatch).

mod layout;
mod search;
mod simd;
mod table;
#[cfg(test)]
mod tests;

pub use layout::{ball, choose_layout, cost, cover, layout, Block};

use layout::direct;
use search::search_blocks;

/// The pairs of positions in `values` (distinct) within distance `k`, each reported once.
pub fn near_pairs(values: &[u64], k: u32) -> Vec<(u32, u32)> {
    near_pairs_with(values, k, &choose_layout(values.len(), k))
}

/// [`near_pairs`] with a given layout (which must satisfy the pigeonhole condition).
pub fn near_pairs_with(values: &[u64], k: u32, blocks: &[Block]) -> Vec<(u32, u32)> {
    search_blocks(values, k, blocks, |width| direct(width, values.len()))
}
