//! Shingle sets as sorted, distinct 64-bit hashes, and the exact Jaccard similarity of pairs of
//! them: the check behind `verify = "jaccard"`.
//!
//! A document's set is the xxh3-64 (seed 0) of each of its shingles, sorted, repeats removed.
//! Sets of many documents travel concatenated: document `i`'s hashes are
//! `values[offsets[i]..offsets[i + 1]]`, so they can be written to disk by one stage and read
//! back, a range per document, by another. Two distinct shingles collide with probability
//! 2^-64 per pair: the Jaccard of the hash sets is the Jaccard of the shingle sets.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::text::Shingler;
use crate::{Error, Result};

/// Sorts and deduplicates the hashes of one document's shingles in place.
pub fn finish_set(set: &mut Vec<u64>) {
    set.sort_unstable();
    set.dedup();
    set.shrink_to_fit();
}

/// The set of one text: its shingles' xxh3-64 hashes, sorted and distinct (empty for a text
/// without shingles).
pub fn shingle_set(shingler: &mut Shingler, text: &str) -> Vec<u64> {
    let mut set = Vec::new();
    shingler.for_each(text, |s| set.push(xxh3_64(s)));
    finish_set(&mut set);
    set
}

/// Concatenates per-document sets into `(values, offsets)` (`offsets` has one more entry than
/// there are sets).
pub fn concat(sets: Vec<Vec<u64>>) -> (Vec<u64>, Vec<u64>) {
    let mut offsets = Vec::with_capacity(sets.len() + 1);
    offsets.push(0u64);
    let total: usize = sets.iter().map(Vec::len).sum();
    let mut values = Vec::with_capacity(total);
    // Each set is freed once copied.
    for s in sets {
        values.extend_from_slice(&s);
        offsets.push(values.len() as u64);
    }
    (values, offsets)
}

/// The sets of many texts (null texts are empty), in parallel; the result does not depend on
/// the thread count.
pub fn shingle_sets(texts: &[Option<&str>], shingler: &Shingler) -> (Vec<u64>, Vec<u64>) {
    let sets: Vec<Vec<u64>> = crate::parallel::install(texts.len(), || {
        texts
            .par_iter()
            .with_min_len(16)
            .map_init(
                || shingler.clone(),
                |sh, t| shingle_set(sh, t.unwrap_or("")),
            )
            .collect()
    });
    concat(sets)
}

/// Exact Jaccard similarity of two sorted, distinct sets; 0 when both are empty.
pub fn sorted_jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    // Equal sets (exact copies, common among candidates) compare at memory speed.
    if a == b {
        return 1.0;
    }
    // Candidates' sets are mostly alike, so the branches of a plain merge predict well (a
    // merge without branches measured slower on them).
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Checks that `offsets` delimit `values`: non-decreasing, ending at `values.len()`.
pub fn check_offsets(values: &[u64], offsets: &[u64]) -> Result<()> {
    if offsets.is_empty() {
        return Err(Error::param("offsets", "needs at least one entry (0)"));
    }
    if offsets.windows(2).any(|w| w[0] > w[1]) || offsets[0] > values.len() as u64 {
        return Err(Error::param("offsets", "must be non-decreasing"));
    }
    if *offsets.last().expect("non-empty") > values.len() as u64 {
        return Err(Error::param("offsets", "point past the end of `values`"));
    }
    Ok(())
}

/// Exact Jaccard of each pair `(a, b)` of documents of a concatenated set column (see the
/// module's documentation), in parallel. Rows must be in range (`offsets.len() - 1` sets).
///
/// The pairs are compared group by group (documents joined by pairs, as connected components),
/// so that a group's sets are read from memory once and stay in cache while its pairs are
/// compared: in a list sorted by document, a document's partners lie far apart, and comparing
/// them in that order reads nearly every set from memory again. The results are written back
/// in the given order.
pub fn pair_jaccard(values: &[u64], offsets: &[u64], edges: &[(u32, u32)]) -> Vec<f64> {
    let sets: Vec<&[u64]> = offsets
        .windows(2)
        .map(|w| &values[w[0] as usize..w[1] as usize])
        .collect();
    pair_jaccard_of(&sets, edges)
}

/// [`pair_jaccard`] of sets given one slice each (wherever they lie: read into one column, or
/// in mapped files); edges must be in range.
pub fn pair_jaccard_of(sets: &[&[u64]], edges: &[(u32, u32)]) -> Vec<f64> {
    let group = groups(sets.len(), edges);
    crate::parallel::install(edges.len(), || {
        let mut order: Vec<u32> = (0..edges.len() as u32).collect();
        order.par_sort_unstable_by_key(|&e| {
            let (a, b) = edges[e as usize];
            (group[a as usize], a, b, e)
        });
        let found: Vec<f64> = order
            .par_iter()
            .with_min_len(64)
            .map(|&e| {
                let (a, b) = edges[e as usize];
                sorted_jaccard(sets[a as usize], sets[b as usize])
            })
            .collect();
        let mut out = vec![0.0; edges.len()];
        for (&e, j) in order.iter().zip(found) {
            out[e as usize] = j;
        }
        out
    })
}

/// For each of `n` documents, the smallest document it is joined to by `edges` (directly or
/// through others): union-find with path halving.
fn groups(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn root(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for &(a, b) in edges {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    (0..n as u32).map(|x| root(&mut parent, x)).collect()
}

/// The documents of `edges`, sorted and distinct, and each edge with its two documents
/// replaced by their positions in that list: what a caller needs to read each document's set
/// once and compare the pairs by position ([`pair_jaccard`]). Sorts in parallel.
pub fn edge_documents(edges: &[(u32, u32)]) -> (Vec<u32>, Vec<(u32, u32)>) {
    crate::parallel::install(edges.len(), || {
        let mut docs: Vec<u32> = edges.par_iter().flat_map_iter(|&(a, b)| [a, b]).collect();
        docs.par_sort_unstable();
        docs.dedup();
        let at = |d: u32| docs.binary_search(&d).expect("a document of the edges") as u32;
        let local = edges
            .par_iter()
            .with_min_len(1024)
            .map(|&(a, b)| (at(a), at(b)))
            .collect();
        (docs, local)
    })
}

/// Consecutive chunks of `edges` (given by position in a list of documents whose set sizes are
/// `sizes`) such that the distinct documents of each chunk hold at most `cap` values: what
/// comparing the chunk holds, however many edges share a document. Greedy, in order; an edge
/// whose two sets alone pass `cap` is a chunk of its own. Returns the bounds
/// `[0, .., edges.len()]` (`[0]` for no edges).
pub fn edge_chunks(edges: &[(u32, u32)], sizes: &[u64], cap: u64) -> Result<Vec<usize>> {
    if let Some(&(a, b)) = edges
        .iter()
        .find(|&&(a, b)| a.max(b) as usize >= sizes.len())
    {
        return Err(Error::param(
            "edges",
            format!(
                "({a}, {b}) names a document beyond the {} sizes",
                sizes.len()
            ),
        ));
    }
    // The chunk (counted from 1) that last took each document's set.
    let mut taken = vec![0u32; sizes.len()];
    let mut bounds = vec![0];
    let (mut chunk, mut held) = (1u32, 0u64);
    for (i, &(a, b)) in edges.iter().enumerate() {
        let cost = |chunk: u32| {
            let mut c = 0u64;
            if taken[a as usize] != chunk {
                c += sizes[a as usize];
            }
            if b != a && taken[b as usize] != chunk {
                c += sizes[b as usize];
            }
            c
        };
        let mut add = cost(chunk);
        if i > bounds[bounds.len() - 1] && held.saturating_add(add) > cap {
            bounds.push(i);
            chunk += 1;
            held = 0;
            add = cost(chunk);
        }
        held = held.saturating_add(add);
        taken[a as usize] = chunk;
        taken[b as usize] = chunk;
    }
    if !edges.is_empty() {
        bounds.push(edges.len());
    }
    Ok(bounds)
}

/// Checks that there is one length per start and that each range (`lengths[i]` values from
/// value `starts[i]`, after `header` bytes) lies within the file.
pub fn check_ranges(
    file: &std::fs::File,
    header: u64,
    starts: &[u64],
    lengths: &[u64],
) -> Result<()> {
    if starts.len() != lengths.len() {
        return Err(Error::param("lengths", "must have one entry per start"));
    }
    let held = file
        .metadata()
        .map_err(|e| Error::param("path", e.to_string()))?
        .len();
    let values = held.saturating_sub(header) / 8;
    match starts
        .iter()
        .zip(lengths)
        .find(|&(&s, &n)| s.checked_add(n).is_none_or(|end| end > values))
    {
        Some((&s, &n)) => Err(Error::param(
            "starts",
            format!("values {s}..{s}+{n} pass the end of the file ({values} values)"),
        )),
        None => Ok(()),
    }
}

/// Values of a file of little-endian u64s: for each `i`, `lengths[i]` values starting at value
/// `starts[i]` after the first `header` bytes, one after another into `out` (whose length must
/// be their sum). Plain reads (no mapping), several at once: the pages of `out` are first
/// touched by the threads that fill them.
pub fn read_ranges(
    file: &std::fs::File,
    header: u64,
    starts: &[u64],
    lengths: &[u64],
    out: &mut [u64],
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    check_ranges(file, header, starts, lengths)?;
    let total = lengths
        .iter()
        .try_fold(0u64, |t, &n| t.checked_add(n))
        .ok_or_else(|| Error::param("lengths", "sum beyond 2^64"))?;
    if total != out.len() as u64 {
        return Err(Error::param(
            "out",
            format!("holds {} values where the ranges hold {total}", out.len()),
        ));
    }
    let mut slices = Vec::with_capacity(starts.len());
    let mut rest = out;
    for &n in lengths {
        let (head, tail) = rest.split_at_mut(n as usize);
        slices.push(head);
        rest = tail;
    }
    crate::parallel::install(starts.len(), || {
        slices
            .into_par_iter()
            .zip(starts.par_iter())
            .with_min_len(16)
            .try_for_each(|(dst, &s)| {
                // Within the file: checked above.
                let at = header + s * 8;
                // Straight into `dst`, no buffer between: its bytes, then their byte order.
                // SAFETY: a u64 slice is valid as bytes (align 1) and any bytes are a valid u64.
                let bytes = unsafe {
                    std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<u8>(), dst.len() * 8)
                };
                file.read_exact_at(bytes, at)
                    .map_err(|e| Error::param("starts", format!("value {s}: {e}")))?;
                for d in dst.iter_mut() {
                    *d = u64::from_le(*d); // nothing on little-endian machines
                }
                Ok(())
            })
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::text::{NormalizeOptions, ShingleKind};

    fn shingler(n: usize) -> Shingler {
        Shingler::new(ShingleKind::Word, n, NormalizeOptions::default()).unwrap()
    }

    #[test]
    fn jaccard_of_sorted_sets() {
        assert_eq!(sorted_jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(sorted_jaccard(&[], &[]), 0.0);
        assert_eq!(sorted_jaccard(&[7], &[]), 0.0);
        assert_eq!(sorted_jaccard(&[1, 5], &[1, 5]), 1.0);
    }

    #[test]
    fn jaccard_equals_set_arithmetic() {
        // Pseudo-random sorted sets with overlaps, subsets and equal sets: the branch-free merge
        // and the equal-set shortcut against HashSet intersection and union.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..500 {
            let n = (next() % 60) as usize;
            let mut a: Vec<u64> = (0..n).map(|_| next() % 100).collect();
            let mut b: Vec<u64> = match case % 4 {
                0 => a.clone(),
                1 => a.iter().copied().filter(|x| x % 3 != 0).collect(),
                _ => (0..(next() % 60) as usize).map(|_| next() % 100).collect(),
            };
            for v in [&mut a, &mut b] {
                v.sort_unstable();
                v.dedup();
            }
            let (x, y): (HashSet<u64>, HashSet<u64>) =
                (a.iter().copied().collect(), b.iter().copied().collect());
            let union = x.union(&y).count();
            let want = if union == 0 {
                0.0
            } else {
                x.intersection(&y).count() as f64 / union as f64
            };
            assert_eq!(sorted_jaccard(&a, &b), want, "{a:?} {b:?}");
            assert_eq!(sorted_jaccard(&b, &a), want);
        }
    }

    #[test]
    fn sets_equal_hash_sets_of_shingles() {
        let texts = [
            Some("the quick brown fox jumps over the lazy dog the quick brown fox"),
            None,
            Some("the quick brown fox jumps over a lazy dog"),
            Some("!!"),
        ];
        let sh = shingler(3);
        let (values, offsets) = shingle_sets(&texts, &sh);
        assert_eq!(offsets.len(), 5);
        check_offsets(&values, &offsets).unwrap();
        let mut s = sh.clone();
        let naive: Vec<HashSet<u64>> = texts
            .iter()
            .map(|t| {
                let mut h = HashSet::new();
                s.for_each(t.unwrap_or(""), |x| {
                    h.insert(xxh3_64(x));
                });
                h
            })
            .collect();
        let edges = [(0, 2), (0, 1), (1, 3), (2, 0)];
        let got = pair_jaccard(&values, &offsets, &edges);
        for (&(a, b), j) in edges.iter().zip(got) {
            let (x, y) = (&naive[a as usize], &naive[b as usize]);
            let union = x.union(y).count();
            let want = if union == 0 {
                0.0
            } else {
                x.intersection(y).count() as f64 / union as f64
            };
            assert_eq!(j, want, "{a} {b}");
        }
    }

    #[test]
    fn edge_chunks_count_each_document_once_per_chunk() {
        // Documents 0..4 of sizes 5, 1, 1, 1, 9; a cap of 8 values.
        let sizes = [5, 1, 1, 1, 9];
        let edges = [(0, 1), (0, 2), (0, 3), (1, 2), (2, 4), (3, 4), (0, 1)];
        // Documents 0, 1, 2, 3 hold 8: the first chunk. (2, 4) alone holds 10, past the cap:
        // a chunk of its own; then (3, 4) and (0, 1) each start one, after a full chunk.
        assert_eq!(edge_chunks(&edges, &sizes, 8).unwrap(), vec![0, 4, 5, 6, 7]);
        assert_eq!(edge_chunks(&edges, &sizes, 100).unwrap(), vec![0, 7]);
        assert_eq!(edge_chunks(&[], &sizes, 8).unwrap(), vec![0]);
        assert_eq!(edge_chunks(&[(3, 3)], &sizes, 0).unwrap(), vec![0, 1]);
        // A chunk holding nothing so far still ends before an edge that would pass the cap.
        assert_eq!(
            edge_chunks(&[(1, 1), (0, 0)], &[2, 0], 0).unwrap(),
            vec![0, 1, 2]
        );
        assert!(edge_chunks(&[(0, 5)], &sizes, 8).is_err());
    }

    fn distinct_cost(edges: &[(u32, u32)], sizes: &[u64]) -> u64 {
        let docs: HashSet<u32> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
        docs.iter().map(|&d| sizes[d as usize]).sum()
    }

    proptest::proptest! {
        // Every chunk holds at most `cap` values of distinct documents (or is one edge), and
        // none could have taken the next edge too: the greedy chunks, counted from scratch.
        #[test]
        fn edge_chunks_are_full_and_within_the_cap(
            sizes in proptest::collection::vec(0u64..20, 1..12),
            raw in proptest::collection::vec((0u32..100, 0u32..100), 0..60),
            cap in 0u64..80,
        ) {
            let n = sizes.len() as u32;
            let edges: Vec<(u32, u32)> = raw.iter().map(|&(a, b)| (a % n, b % n)).collect();
            let bounds = edge_chunks(&edges, &sizes, cap).unwrap();
            proptest::prop_assert_eq!(bounds[0], 0);
            proptest::prop_assert_eq!(*bounds.last().unwrap(), edges.len());
            for w in bounds.windows(2) {
                let chunk = &edges[w[0]..w[1]];
                proptest::prop_assert!(!chunk.is_empty());
                proptest::prop_assert!(chunk.len() == 1 || distinct_cost(chunk, &sizes) <= cap);
                if w[1] < edges.len() {
                    let more = &edges[w[0]..=w[1]];
                    proptest::prop_assert!(distinct_cost(more, &sizes) > cap);
                }
            }
        }
    }

    #[test]
    fn edge_documents_index_the_distinct_documents() {
        let edges = [(9, 3), (3, 9), (100, 0), (3, 7), (7, 7)];
        let (docs, local) = edge_documents(&edges);
        assert_eq!(docs, vec![0, 3, 7, 9, 100]);
        for (&(a, b), &(x, y)) in edges.iter().zip(&local) {
            assert_eq!((docs[x as usize], docs[y as usize]), (a, b));
        }
        assert_eq!(edge_documents(&[]), (vec![], vec![]));
        // Large enough to run on the pool: the same as sorting on one thread.
        let many: Vec<(u32, u32)> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 7919, i % 613))
            .collect();
        let (docs, local) = edge_documents(&many);
        let mut want: Vec<u32> = many.iter().flat_map(|&(a, b)| [a, b]).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(docs, want);
        for (&(a, b), &(x, y)) in many.iter().zip(&local) {
            assert_eq!((docs[x as usize], docs[y as usize]), (a, b));
        }
    }

    #[test]
    fn rejects_bad_offsets() {
        assert!(check_offsets(&[1, 2], &[0, 3]).is_err());
        assert!(check_offsets(&[1, 2], &[0, 2, 1]).is_err());
        assert!(check_offsets(&[1, 2], &[]).is_err());
        assert!(check_offsets(&[1, 2], &[0, 1, 2]).is_ok());
    }

    #[test]
    fn read_ranges_in_parallel_equal_one_by_one() {
        use std::io::Write;
        let values: Vec<u64> = (0..10_000u64)
            .map(|v| v.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut f = tempfile_in_target();
        f.1.write_all(b"HEAD").unwrap();
        for v in &values {
            f.1.write_all(&v.to_le_bytes()).unwrap();
        }
        f.1.flush().unwrap();
        let file = std::fs::File::open(&f.0).unwrap();
        let starts: Vec<u64> = (0..500u64).map(|i| (i * 37) % 9_000).collect();
        let lengths: Vec<u64> = (0..500u64).map(|i| i % 23).collect();
        let mut out = vec![0u64; lengths.iter().sum::<u64>() as usize];
        read_ranges(&file, 4, &starts, &lengths, &mut out).unwrap();
        let want: Vec<u64> = starts
            .iter()
            .zip(&lengths)
            .flat_map(|(&s, &n)| values[s as usize..(s + n) as usize].iter().copied())
            .collect();
        assert_eq!(out, want);
        // Wrong output length, a range past the end of the file, an overflowing start.
        assert!(read_ranges(&file, 4, &starts, &lengths, &mut out[1..]).is_err());
        assert!(read_ranges(&file, 4, &[9_999], &[2], &mut [0, 0]).is_err());
        assert!(read_ranges(&file, 4, &[u64::MAX], &[1], &mut [0]).is_err());
        std::fs::remove_file(&f.0).unwrap();
    }

    fn tempfile_in_target() -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("mmdedup-ranges-{}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        (path, file)
    }
}
