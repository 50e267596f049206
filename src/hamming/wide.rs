//! Multi-index search for 256-bit hashes (PDQ): sixteen 16-bit blocks, each inside one 64-bit
//! word. Two hashes within distance `k` agree to within `⌊k/16⌋` bits on some block
//! (pigeonhole), so each block is probed with every value within that radius, as in the 64-bit
//! search; Meta's PDQ match threshold of 31 probes radius 1.

use rayon::prelude::*;

use super::index::BlockIndex;

const BLOCKS: usize = 16;

#[inline]
fn distance(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    (0..4).map(|w| (a[w] ^ b[w]).count_ones()).sum()
}

#[inline]
fn block(v: &[u64; 4], j: usize) -> u64 {
    (v[j / 4] >> (16 * (j % 4))) & 0xFFFF
}

/// Pairs of positions in `values` (distinct) within distance `k`.
pub(super) fn near_pairs_256(values: &[[u64; 4]], k: u32) -> Vec<(u32, u32)> {
    let t = k / BLOCKS as u32;
    let indexes: Vec<BlockIndex> = crate::parallel::install(values.len(), || {
        (0..BLOCKS)
            .into_par_iter()
            .map(|j| {
                let word: Vec<u64> = values.iter().map(|v| v[j / 4]).collect();
                BlockIndex::new(&word, 16 * (j % 4) as u32, 16)
            })
            .collect()
    });
    crate::parallel::install(values.len(), || {
        (0..values.len())
            .into_par_iter()
            .with_min_len(256)
            .flat_map_iter(|p| {
                let vp = &values[p];
                let mut found = Vec::new();
                for (j, idx) in indexes.iter().enumerate() {
                    idx.for_each_within(block(vp, j), t, |q| {
                        let q = q as usize;
                        if q <= p || distance(vp, &values[q]) > k {
                            return;
                        }
                        // Report the pair from the first block where it qualifies only.
                        let vq = &values[q];
                        if !(0..j).any(|i| (block(vp, i) ^ block(vq, i)).count_ones() <= t) {
                            found.push((p as u32, q as u32));
                        }
                    });
                }
                found
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::super::search_256;
    use super::distance;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_brute_force(
            base in prop::collection::vec(any::<[u64; 4]>(), 1..25),
            flips in prop::collection::vec((0usize..25, prop::collection::vec(0usize..256, 0..40)), 0..60),
            k in prop_oneof![Just(0u32), Just(8), Just(15), Just(31), Just(40)],
        ) {
            let mut hashes = base.clone();
            for (i, bits) in flips {
                let mut h = base[i % base.len()];
                for b in bits { h[b / 64] ^= 1 << (b % 64); }
                hashes.push(h);
            }
            let n = search_256(&hashes, k, &vec![false; hashes.len()]);
            // Connectivity equals brute force: union both edge sets and compare labels.
            let mut want = Vec::new();
            for i in 0..hashes.len() {
                for j in i + 1..hashes.len() {
                    if distance(&hashes[i], &hashes[j]) <= k { want.push((i as u32, j as u32)); }
                }
            }
            let got = crate::cluster::components(hashes.len(), &n.edges());
            prop_assert_eq!(got, crate::cluster::components(hashes.len(), &want));
            // And every reported near pair really is near.
            for &(a, b) in &n.near {
                prop_assert!(distance(&hashes[a as usize], &hashes[b as usize]) <= k);
            }
        }
    }
}
