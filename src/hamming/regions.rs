//! Pairs of items (images) that own several hashes (regions) each, joined when enough of their
//! regions lie within distance `k` of one another: the matching of crop-resistant hashes.
//!
//! The regions are searched as one set of hashes ([`super::search`]: exact, no all-pairs
//! scan); each group of equal hashes and its near groups then give every region the items it
//! matches, and the matches are counted per item pair. Memory: the search's, plus one counter
//! per ordered pair of items that share a match (never per pair of regions).

use std::collections::HashMap;

use super::search;

/// Two items whose regions match: `a < b`, and `matches` = the smaller of (regions of `a` within
/// `k` of some region of `b`) and (regions of `b` within `k` of some region of `a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegionPair {
    pub a: u32,
    pub b: u32,
    pub matches: u32,
}

/// Every pair of distinct items with at least `min_matches` (≥ 1) matched regions on each side,
/// sorted. `items[i]` owns `hashes[i]`; rows with `skip[i]` take no part; regions of one item
/// never match each other.
pub fn region_pairs(
    hashes: &[u64],
    items: &[u32],
    skip: &[bool],
    k: u32,
    min_matches: u32,
) -> Vec<RegionPair> {
    assert_eq!(hashes.len(), items.len());
    let n = search(hashes, k, skip);
    let len = hashes.len();
    // Rows of each group of equal hashes, at its representative (its first row).
    let mut rep: Vec<u32> = (0..len as u32).collect();
    for &(first, member) in &n.equal {
        rep[member as usize] = first;
    }
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); len];
    for i in (0..len).filter(|&i| !skip[i]) {
        members[rep[i] as usize].push(i as u32);
    }
    let mut near: Vec<Vec<u32>> = vec![Vec::new(); len];
    for &(a, b) in &n.near {
        near[a as usize].push(b);
        near[b as usize].push(a);
    }
    // Directed counts: regions of `a` matching some region of `b`.
    let mut counts: HashMap<(u32, u32), u32> = HashMap::new();
    let mut matched: Vec<u32> = Vec::new();
    for g in 0..len {
        if members[g].is_empty() {
            continue;
        }
        matched.clear();
        for &h in std::iter::once(&(g as u32)).chain(&near[g]) {
            matched.extend(members[h as usize].iter().map(|&r| items[r as usize]));
        }
        matched.sort_unstable();
        matched.dedup();
        for &r in &members[g] {
            let a = items[r as usize];
            for &b in matched.iter().filter(|&&b| b != a) {
                *counts.entry((a, b)).or_insert(0) += 1;
            }
        }
    }
    let mut out: Vec<RegionPair> = counts
        .iter()
        .filter(|(&(a, b), _)| a < b)
        .map(|(&(a, b), &ab)| RegionPair {
            a,
            b,
            matches: ab.min(counts.get(&(b, a)).copied().unwrap_or(0)),
        })
        .filter(|p| p.matches >= min_matches.max(1))
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(hashes: &[u64], items: &[u32], skip: &[bool], k: u32, m: u32) -> Vec<RegionPair> {
        let n_items = items.iter().map(|&i| i + 1).max().unwrap_or(0);
        let count = |a: u32, b: u32| {
            (0..hashes.len())
                .filter(|&i| !skip[i] && items[i] == a)
                .filter(|&i| {
                    (0..hashes.len()).any(|j| {
                        !skip[j] && items[j] == b && (hashes[i] ^ hashes[j]).count_ones() <= k
                    })
                })
                .count() as u32
        };
        let mut out = Vec::new();
        for a in 0..n_items {
            for b in a + 1..n_items {
                let matches = count(a, b).min(count(b, a));
                if matches >= m.max(1) {
                    out.push(RegionPair { a, b, matches });
                }
            }
        }
        out
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            rows in proptest::collection::vec((0u32..12, 0u64..64, any::<u64>(), 0u8..10), 0..80),
            k in 0u32..10,
            m in 1u32..4,
        ) {
            // Hashes near a few centres, so that pairs within k are common.
            let centres = [0u64, u64::MAX, 0xF0F0_F0F0_0F0F_0F0F, 0x1234_5678_9ABC_DEF0];
            let hashes: Vec<u64> = rows
                .iter()
                .map(|&(_, c, noise, bits)| {
                    let flips = (0..bits).fold(0u64, |acc, i| acc | 1 << ((noise >> (6 * i)) % 64));
                    centres[c as usize % 4] ^ flips
                })
                .collect();
            let items: Vec<u32> = rows.iter().map(|r| r.0).collect();
            let skip: Vec<bool> = rows.iter().map(|r| r.1 == 63).collect();
            prop_assert_eq!(
                region_pairs(&hashes, &items, &skip, k, m),
                brute(&hashes, &items, &skip, k, m)
            );
        }
    }
}
