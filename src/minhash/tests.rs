use super::*;
use crate::text::{NormalizeOptions, ShingleKind};
use proptest::prelude::*;
use std::collections::HashSet;

fn shingles(text: &str) -> Vec<Vec<u8>> {
    let mut s = Shingler::new(ShingleKind::Word, 2, NormalizeOptions::default()).unwrap();
    let mut out = Vec::new();
    s.for_each(text, |b| out.push(b.to_vec()));
    out
}

#[test]
fn empty_signature_is_all_max() {
    let h = MinHasher::native(16, 1).unwrap();
    assert_eq!(h.signature_of(std::iter::empty()), vec![u32::MAX; 16]);
}

#[test]
fn native_matches_definition() {
    let h = MinHasher::native(37, 7).unwrap();
    let sh = shingles("one two three four five six seven");
    let sig = h.signature_of(sh.iter().map(|s| s.as_slice()));
    let mut rng = SplitMix64::new(7);
    for (i, &slot) in sig.iter().enumerate() {
        let a = (rng.next() & 0xFFFF_FFFF) | 1;
        let b = rng.next() & 0xFFFF_FFFF;
        // In u64 arithmetic, reduced mod 2^32 at the end: independent of the u32 kernel.
        let want = sh
            .iter()
            .map(|s| (a * (xxh3_64(s) & 0xFFFF_FFFF) + b) % (1 << 32))
            .min()
            .unwrap();
        assert_eq!(slot as u64, want, "slot {i}");
    }
}

#[test]
fn sets_and_texts_give_the_same_signatures() {
    let texts = ["the quick brown fox jumps over the lazy dog", "", "a b"];
    let sh = Shingler::new(ShingleKind::Word, 3, NormalizeOptions::default()).unwrap();
    let h = MinHasher::native(40, 5).unwrap();
    let refs: Vec<Option<&str>> = texts.iter().map(|&t| Some(t)).collect();
    let mut from_text = vec![0; 3 * 40];
    let counts = signatures(&refs, &sh, &h, &mut from_text);
    let owned: Vec<Vec<Vec<u8>>> = texts
        .iter()
        .map(|t| {
            let mut out = Vec::new();
            sh.clone().for_each(t, |b| out.push(b.to_vec()));
            out
        })
        .collect();
    let sets: Vec<Option<Vec<&[u8]>>> = owned
        .iter()
        .map(|v| Some(v.iter().map(|s| s.as_slice()).collect()))
        .collect();
    let mut from_sets = vec![0; 3 * 40];
    assert_eq!(set_signatures(&sets[..], &h, &mut from_sets), counts);
    assert_eq!(from_text, from_sets);
    assert_eq!(counts, [7, 0, 1]);
    assert!(from_text[40..80].iter().all(|&v| v == u32::MAX));
}

#[test]
fn signatures_do_not_depend_on_threads_or_blocking() {
    let texts: Vec<String> = (0..600)
        .map(|i| format!("doc {i} ").repeat(i % 700 + 1))
        .collect();
    let refs: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
    let sh = Shingler::new(ShingleKind::Word, 3, NormalizeOptions::default()).unwrap();
    let h = MinHasher::native(64, 3).unwrap();
    let mut one = vec![0; texts.len() * 64];
    crate::parallel::set_num_threads(1).unwrap();
    signatures(&refs, &sh, &h, &mut one);
    let mut two = vec![0; texts.len() * 64];
    crate::parallel::set_num_threads(2).unwrap();
    signatures(&refs, &sh, &h, &mut two);
    assert_eq!(one, two);
    // Direct, unblocked computation of one long text agrees with the blocked kernel.
    let i = 599;
    let mut s2 = sh.clone();
    let mut all = Vec::new();
    s2.for_each(&texts[i], |b| all.push(b.to_vec()));
    assert!(all.len() > BLOCK);
    assert_eq!(
        h.signature_of(all.iter().map(|v| v.as_slice())),
        &one[i * 64..(i + 1) * 64]
    );
}

#[test]
fn signatures_and_sets_agree_with_each_pass_alone() {
    let long = "word ".repeat(3000) + "tail end";
    let texts: Vec<Option<&str>> = vec![
        Some("the quick brown fox jumps over the lazy dog"),
        None,
        Some(&long),
        Some("..."),
    ];
    let sh = Shingler::new(ShingleKind::Word, 3, NormalizeOptions::default()).unwrap();
    let mut a: Vec<u64> = vec![];
    let mut b: Vec<u64> = vec![];
    for (i, v) in [(3u64, 9u64), (5, 11), (7, 13), (9, 15)] {
        a.push(i);
        b.push(v);
    }
    for h in [
        MinHasher::native(64, 7).unwrap(),
        MinHasher::datasketch(Scheme::DatasketchAffine32, a, b).unwrap(),
    ] {
        let k = h.num_perm();
        let (mut one, mut two) = (vec![0u32; texts.len() * k], vec![0u32; texts.len() * k]);
        let counts = signatures(&texts, &sh, &h, &mut one);
        let (counts2, sets) = signatures_and_sets(&texts, &sh, &h, &mut two);
        assert_eq!(one, two);
        assert_eq!(counts, counts2);
        let (values, offsets) = crate::sets::shingle_sets(&texts, &sh);
        assert_eq!(crate::sets::concat(sets), (values, offsets));
    }
}

proptest! {
    // The fraction of equal slots estimates the Jaccard similarity: with k = 256 slots its
    // standard deviation is at most 1/32, so 5 standard deviations is a bound that fails
    // with probability under 1e-6 per case.
    #[test]
    fn estimate_is_close_to_exact_jaccard(
        common in prop::collection::hash_set(0u32..100_000, 0..300),
        only_a in prop::collection::hash_set(100_000u32..200_000, 0..300),
        only_b in prop::collection::hash_set(200_000u32..300_000, 0..300),
    ) {
        prop_assume!(!(common.is_empty() && only_a.is_empty() && only_b.is_empty()));
        prop_assume!(!common.is_empty() || (!only_a.is_empty() && !only_b.is_empty()));
        let a: HashSet<String> = common.iter().chain(&only_a).map(|x| x.to_string()).collect();
        let b: HashSet<String> = common.iter().chain(&only_b).map(|x| x.to_string()).collect();
        let exact = a.intersection(&b).count() as f64 / a.union(&b).count() as f64;
        let h = MinHasher::native(256, 42).unwrap();
        let sa = h.signature_of(a.iter().map(|s| s.as_bytes()));
        let sb = h.signature_of(b.iter().map(|s| s.as_bytes()));
        let est = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 256.0;
        prop_assert!((est - exact).abs() <= 5.0 / 32.0, "est {est} exact {exact}");
    }
}
