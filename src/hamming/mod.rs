//! All pairs of 64-bit hashes within Hamming distance `k`, without an all-pairs scan.
//!
//! First equal hashes are grouped (real hash sets repeat heavily: logos, boilerplate). The
//! distinct values are then searched with multi-index hashing (Norouzi, Punjani & Fleet, "Fast
//! exact search in Hamming space with multi-index hashing", TPAMI 2014): the 64 bits are cut into
//! `m` blocks with radii `t_j`, `Σ (t_j + 1) > k`, so by the pigeonhole principle two hashes
//! within distance `k` differ by at most `t_j` bits on some block `j`. Each block is searched as
//! a self-join of buckets of equal block key ([`join`]); candidates are verified with a
//! popcount, and a pair is reported only from the first block where it qualifies, so no pair is
//! found twice. Blocks are about `log2(n)` bits wide: `m` comes from a cost model of probes
//! against candidates to verify.

mod index;
pub mod join;
mod regions;
mod wide;

pub use regions::{region_pairs, RegionPair};

use rayon::prelude::*;

/// The result of a search: edges between the first index of each group of equal hashes and its
/// other members, plus edges between group representatives within distance `k`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Neighbours {
    /// `(i, j)` with `i < j` and `hashes[i] == hashes[j]`; `i` is the smallest index of the group.
    pub equal: Vec<(u32, u32)>,
    /// `(i, j)` between group representatives with `0 < distance ≤ k`, sorted.
    pub near: Vec<(u32, u32)>,
}

impl Neighbours {
    /// All edges, equal first.
    pub fn edges(&self) -> Vec<(u32, u32)> {
        self.equal.iter().chain(&self.near).copied().collect()
    }
}

/// For each entry, the number of entries within distance `k` of it, itself included (0 for
/// skipped entries): the size of its group of equal hashes plus the sizes of the groups whose
/// representatives are near its own.
pub fn neighbour_counts(n: &Neighbours, skip: &[bool]) -> Vec<u64> {
    let len = skip.len();
    // Representative of every entry, and group sizes at the representatives.
    let mut rep: Vec<u32> = (0..len as u32).collect();
    let mut size = vec![0u64; len];
    for &(first, member) in &n.equal {
        rep[member as usize] = first;
    }
    for i in (0..len).filter(|&i| !skip[i]) {
        size[rep[i] as usize] += 1;
    }
    let mut near_total = vec![0u64; len];
    for &(a, b) in &n.near {
        near_total[a as usize] += size[b as usize];
        near_total[b as usize] += size[a as usize];
    }
    (0..len)
        .map(|i| {
            if skip[i] {
                0
            } else {
                size[rep[i] as usize] + near_total[rep[i] as usize]
            }
        })
        .collect()
}

/// Finds all pairs within distance `k` among `hashes` (entries with `skip[i]` take no part).
pub fn search(hashes: &[u64], k: u32, skip: &[bool]) -> Neighbours {
    group_then(hashes, skip, |values| {
        if k == 0 {
            Vec::new()
        } else {
            join::near_pairs(values, k)
        }
    })
}

/// [`search`] for 256-bit hashes (PDQ), given as four 64-bit words each.
pub fn search_256(hashes: &[[u64; 4]], k: u32, skip: &[bool]) -> Neighbours {
    group_then(hashes, skip, |values| {
        if k == 0 {
            Vec::new()
        } else {
            wide::near_pairs_256(values, k)
        }
    })
}

/// Groups equal hashes, then links group representatives with `near` (pairs of positions in
/// the sorted distinct values).
fn group_then<H: Ord + Copy + Send>(
    hashes: &[H],
    skip: &[bool],
    near: impl FnOnce(&[H]) -> Vec<(u32, u32)>,
) -> Neighbours {
    assert_eq!(hashes.len(), skip.len());
    let mut sorted: Vec<(H, u32)> = hashes
        .iter()
        .enumerate()
        .filter(|&(i, _)| !skip[i])
        .map(|(i, &h)| (h, i as u32))
        .collect();
    crate::parallel::install(sorted.len(), || sorted.par_sort_unstable());
    let mut equal = Vec::new();
    let mut values = Vec::new();
    let mut reps = Vec::new();
    for run in sorted.chunk_by(|a, b| a.0 == b.0) {
        let first = run[0].1;
        equal.extend(run[1..].iter().map(|&(_, i)| (first, i)));
        values.push(run[0].0);
        reps.push(first);
    }
    drop(sorted); // 12-16 bytes per hash, no longer needed during the search
    let near = if values.len() < 2 {
        Vec::new()
    } else {
        near(&values)
    };
    let mut near: Vec<(u32, u32)> = near
        .into_iter()
        .map(|(p, q)| {
            let (a, b) = (reps[p as usize], reps[q as usize]);
            (a.min(b), a.max(b))
        })
        .collect();
    near.sort_unstable();
    Neighbours { equal, near }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(hashes: &[u64], k: u32) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                if (hashes[i] ^ hashes[j]).count_ones() <= k {
                    out.push((i as u32, j as u32));
                }
            }
        }
        out
    }

    /// Every pair within k, expanded from the group/representative form.
    fn expand(hashes: &[u64], n: &Neighbours) -> Vec<(u32, u32)> {
        let mut uf_members: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for i in 0..hashes.len() as u32 {
            uf_members.entry(i).or_default();
        }
        for &(a, b) in &n.equal {
            uf_members.get_mut(&a).unwrap().push(b);
        }
        let group = |r: u32| -> Vec<u32> {
            let mut g = vec![r];
            g.extend(&uf_members[&r]);
            g
        };
        let mut out = Vec::new();
        let reps: Vec<u32> = (0..hashes.len() as u32)
            .filter(|i| !n.equal.iter().any(|&(_, b)| b == *i))
            .collect();
        for &r in &reps {
            let g = group(r);
            for x in 0..g.len() {
                for y in x + 1..g.len() {
                    out.push((g[x].min(g[y]), g[x].max(g[y])));
                }
            }
        }
        for &(a, b) in &n.near {
            for &x in &group(a) {
                for &y in &group(b) {
                    out.push((x.min(y), x.max(y)));
                }
            }
        }
        out.sort_unstable();
        out
    }

    proptest! {
        #[test]
        fn matches_brute_force(
            base in prop::collection::vec(any::<u64>(), 1..40),
            flips in prop::collection::vec((0usize..40, prop::collection::vec(0u32..64, 0..12)), 0..120),
            k in 0u32..13,
        ) {
            // Plant near-duplicates by flipping bits of base hashes, plus exact repeats.
            let mut hashes = base.clone();
            for (i, bits) in flips {
                let mut h = base[i % base.len()];
                for b in bits { h ^= 1 << b; }
                hashes.push(h);
            }
            let n = search(&hashes, k, &vec![false; hashes.len()]);
            prop_assert_eq!(expand(&hashes, &n), brute(&hashes, k));
        }
    }

    #[test]
    fn counts_neighbours_with_multiplicity() {
        // 0 and 1 equal, 2 one bit away, 3 far away, 4 skipped.
        let h = [0u64, 0, 1, u64::MAX, 0];
        let skip = [false, false, false, false, true];
        let n = search(&h, 1, &skip);
        assert_eq!(neighbour_counts(&n, &skip), vec![3, 3, 3, 1, 0]);
    }

    #[test]
    fn skipped_entries_take_no_part() {
        let h = [5u64, 5, 5, 7];
        let n = search(&h, 2, &[false, true, false, false]);
        assert_eq!(n.equal, vec![(0, 2)]);
        assert_eq!(n.near, vec![(0, 3)]);
    }
}
