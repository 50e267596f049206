use super::layout::{ball, choose_layout, cover, direct, layout};
use super::near_pairs;
use super::near_pairs_with;
use super::search::{flip_patterns, search_blocks};
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
