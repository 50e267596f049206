//! The text kernels on arbitrary bytes read as UTF-8 (lossy): normalization, word and character
//! shingles, MinHash signatures. No panic, and each against its definition: normalization as one
//! NFKC pass (the fast ASCII and mixed paths must agree with it), shingles as windows over the
//! normalized text's tokens or characters, the batched signature as the signature of the
//! shingles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmdedup::minhash::{signatures, MinHasher, Scheme, SplitMix64, MERSENNE61};
use mmdedup::text::tokenize::tokens;
use mmdedup::text::{normalize, NormalizeOptions, ShingleKind, Shingler};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The definition of the default normalization (`normalize`'s unit tests have the same).
fn reference_normalize(text: &str, fold_digits: bool) -> String {
    let mut out = String::new();
    let mut pending = false;
    for c in text.nfkc() {
        if !(c.is_alphanumeric() || is_combining_mark(c)) {
            pending = true;
            continue;
        }
        if pending && !out.is_empty() {
            out.push(' ');
        }
        pending = false;
        if fold_digits && c.is_numeric() {
            out.push('0');
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn reference_shingles(kind: ShingleKind, n: usize, norm: &str) -> Vec<String> {
    let units: Vec<String> = match kind {
        ShingleKind::Word => tokens(norm).into_iter().map(str::to_owned).collect(),
        ShingleKind::Char => norm.chars().map(String::from).collect(),
    };
    let sep = if kind == ShingleKind::Word { " " } else { "" };
    if units.is_empty() {
        return vec![];
    }
    if units.len() < n {
        return vec![units.join(sep)];
    }
    units.windows(n).map(|w| w.join(sep)).collect()
}

fn hasher(select: u8) -> MinHasher {
    let mut rng = SplitMix64::new(u64::from(select));
    let k = 1 + usize::from(select >> 2) % 24;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    match select & 3 {
        0 | 3 => MinHasher::native(k, u64::from(select)).unwrap(),
        1 => {
            for _ in 0..k {
                a.push(1 + rng.next() % (MERSENNE61 - 1));
                b.push(rng.next() % MERSENNE61);
            }
            MinHasher::datasketch(Scheme::DatasketchLegacy, a, b).unwrap()
        }
        _ => {
            for _ in 0..k {
                a.push(rng.next() >> 32);
                b.push(rng.next() >> 32);
            }
            MinHasher::datasketch(Scheme::DatasketchAffine32, a, b).unwrap()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, select, rest @ ..] = data else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let o = NormalizeOptions {
        enabled: flags & 1 != 0,
        fold_digits: flags & 2 != 0,
        strip_accents: flags & 4 != 0,
    };
    let kind = if flags & 8 != 0 {
        ShingleKind::Char
    } else {
        ShingleKind::Word
    };
    let n = 1 + usize::from(flags >> 4) % 6;

    let norm = normalize(&text, o);
    if o.enabled {
        assert!(!norm.starts_with(' ') && !norm.ends_with(' ') && !norm.contains("  "));
        if !o.strip_accents {
            assert_eq!(norm, reference_normalize(&text, o.fold_digits), "{text:?}");
        }
    } else {
        assert_eq!(norm, text);
    }

    let mut shingler = Shingler::new(kind, n, o).unwrap();
    let mut got = Vec::new();
    let count = shingler.for_each(&text, |s| {
        got.push(String::from_utf8(s.to_vec()).expect("shingles are UTF-8"))
    });
    assert_eq!(count, got.len());
    assert_eq!(got, reference_shingles(kind, n, &norm), "{text:?}");

    let h = hasher(*select);
    let mut out = vec![0u32; 2 * h.num_perm()];
    let counts = signatures(&[Some(&text), None], &shingler, &h, &mut out);
    assert_eq!(counts, [count as u32, 0]);
    let want = h.signature_of(got.iter().map(|s| s.as_bytes()));
    assert_eq!(out[..h.num_perm()], want[..]);
    assert!(out[h.num_perm()..].iter().all(|&v| v == u32::MAX));
});
