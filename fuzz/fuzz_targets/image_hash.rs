//! Any bytes through the whole image path: format sniffing, the decoders (our reduced-scale JPEG
//! decoder, jpeg-decoder, and the `image` crate's JPEG, PNG, WebP, GIF, BMP and TIFF), both front
//! ends and every hash; animations frame by frame. No panic (the library turns a caught decoder
//! panic into an error, but libFuzzer's panic hook aborts first, so those are found too), memory
//! bounded by the pixel limit (run with -rss_limit_mb=2048), and well-formed results.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mmdedup::image::{
    hash_image, hash_sources_frames, Dihedral, HashKind, HashSpec, HashValue, Mode,
};

/// Small enough that a hostile header cannot make the fuzzer slow; what this limit guards is
/// the same code at any limit.
const PIXEL_LIMIT: u64 = 1 << 22;

fn specs(select: u8) -> Vec<HashSpec> {
    let all = [
        HashSpec::new(HashKind::AHash, 8),
        HashSpec::new(HashKind::DHash, 8),
        HashSpec::new(HashKind::DHashVertical, 8),
        HashSpec::new(HashKind::PHash, 8),
        HashSpec::new(HashKind::PHashSimple, 8),
        HashSpec::new(HashKind::WHash, 8),
        HashSpec::pdq(),
        HashSpec::new(HashKind::Pdq(Dihedral::Rotate90), 16),
    ];
    // The set decides the scale canonical mode decodes JPEGs at: aHash alone gives 1/8.
    match select & 3 {
        0 => all.to_vec(),
        1 => vec![HashSpec::new(HashKind::AHash, 8)],
        2 => vec![
            HashSpec::new(HashKind::PHash, 16),
            HashSpec::new(HashKind::WHash, 4),
        ],
        _ => vec![HashSpec::new(HashKind::DHash, 12), HashSpec::pdq()],
    }
}

fn check(specs: &[HashSpec], values: &[HashValue]) {
    assert_eq!(values.len(), specs.len());
    for (s, v) in specs.iter().zip(values) {
        assert_eq!(v.kind, s.kind);
        let bits = match s.kind {
            HashKind::Pdq(_) => 256,
            _ => s.hash_size * s.hash_size,
        };
        assert_eq!(v.bits.len(), bits, "{:?}", s.kind);
        assert!(v.quality.is_none_or(|q| q <= 100), "{:?}", v.quality);
    }
}

fuzz_target!(init: common::let_caught_dependency_panics_unwind(), |data: &[u8]| {
    // The last byte picks the hashes (it is EOI's D9 in a JPEG, so aHash alone: 1/8).
    let specs = specs(data.last().copied().unwrap_or(0));
    for mode in [Mode::Compatible, Mode::Canonical] {
        if let Ok(values) = hash_image(data, &specs, mode, PIXEL_LIMIT) {
            check(&specs, &values);
        }
    }
    // Animations: every frame, in parallel over one item (other formats take the path above).
    let animated = [&b"GIF8"[..], b"RIFF", b"\x89PNG"]
        .iter()
        .any(|m| data.starts_with(m));
    if !animated {
        return;
    }
    let items = [data];
    let out = hash_sources_frames(
        &items,
        |b| Ok(std::borrow::Cow::Borrowed(*b)),
        &specs,
        Mode::Canonical,
        PIXEL_LIMIT,
        4,
    )
    .expect("valid specs");
    if let Ok(frames) = &out[0] {
        assert!((1..=4).contains(&frames.len()));
        for f in frames {
            assert!(f.width > 0 && f.height > 0);
            assert!(u64::from(f.width) * u64::from(f.height) <= PIXEL_LIMIT);
            check(&specs, &f.values);
        }
    }
});
