//! Conformance against the reference vectors in `shared/conformance/` (beside the repository in
//! CI), and properties of the front ends.

use super::*;
use std::path::PathBuf;

const CONFORMANCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/conformance");

/// The conformance directory, or `None` (with a note) where this checkout has none.
fn conformance(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(CONFORMANCE).join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("note: {} absent, conformance test skipped", dir.display());
        None
    }
}

/// `{"key": "value", ...}` of flat JSON objects of strings, without a JSON dependency.
fn flat_json(text: &str) -> Vec<(String, String)> {
    let quoted: Vec<&str> = text.split('"').skip(1).step_by(2).collect();
    quoted
        .chunks(2)
        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
        .collect()
}

fn hex(bytes: &[u8], spec: HashSpec, mode: Mode) -> HashValue {
    let mut v = hash_image(bytes, &[spec], mode, DEFAULT_PIXEL_LIMIT).unwrap();
    v.pop().unwrap()
}

fn distance(a: &str, b: &str) -> u32 {
    a.chars()
        .zip(b.chars())
        .map(|(x, y)| (x.to_digit(16).unwrap() ^ y.to_digit(16).unwrap()).count_ones())
        .sum()
}

#[test]
fn imagehash_vectors() {
    let Some(dir) = conformance("imagehash") else {
        return;
    };
    let bytes = std::fs::read(dir.join("imagehash.png")).unwrap();
    let expected = flat_json(&std::fs::read_to_string(dir.join("expected.json")).unwrap());
    assert!(expected.len() >= 9);
    for (name, want) in expected {
        let (kind, size) = match name.as_str() {
            "average_hash" => (HashKind::AHash, 8),
            "average_hash_16" => (HashKind::AHash, 16),
            "phash" => (HashKind::PHash, 8),
            "phash_16" => (HashKind::PHash, 16),
            "phash_simple" => (HashKind::PHashSimple, 8),
            "dhash" => (HashKind::DHash, 8),
            "dhash_16" => (HashKind::DHash, 16),
            "dhash_vertical" => (HashKind::DHashVertical, 8),
            "whash" => (HashKind::WHash, 8),
            other => panic!("unknown vector {other}"),
        };
        let got = hex(&bytes, HashSpec::new(kind, size), Mode::Compatible).to_hex();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn pdq_vectors() {
    let Some(dir) = conformance("pdq") else {
        return;
    };
    let expected = flat_json(&std::fs::read_to_string(dir.join("expected.json")).unwrap());
    assert_eq!(expected.len(), 18);
    let mut report = Vec::new();
    for (file, want) in expected {
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        let h = hex(&bytes, HashSpec::pdq(), Mode::Compatible);
        let d = distance(&h.to_hex(), &want);
        let q = h.quality.unwrap();
        report.push(format!("{file}: distance {d}, quality {q}"));
        // Meta's conformance rule: within 10 bits where quality is at least 80. JPEGs are decoded
        // by zune-jpeg rather than libjpeg-turbo, so pixels (not arithmetic) can differ.
        if q >= 80 {
            assert!(d <= 10, "{file}: distance {d} (quality {q})");
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn pdq_dihedral_variants_match_transformed_files() {
    let Some(dir) = conformance("pdq") else {
        return;
    };
    let expected = flat_json(&std::fs::read_to_string(dir.join("expected.json")).unwrap());
    let bytes = std::fs::read(dir.join("reg-test-input/dih/bridge-1-original.jpg")).unwrap();
    let specs: Vec<HashSpec> = Dihedral::ALL
        .iter()
        .map(|&d| HashSpec::new(HashKind::Pdq(d), 16))
        .collect();
    let got = hash_image(&bytes, &specs, Mode::Compatible, DEFAULT_PIXEL_LIMIT).unwrap();
    let files = [
        "1-original",
        "2-rotate-90",
        "3-rotate-180",
        "4-rotate-270",
        "5-flipx",
    ];
    let files = [&files[..], &["6-flipy", "7-flip-plus-1", "8-flip-minus-1"]].concat();
    for (i, file) in files.iter().enumerate() {
        let key = format!("reg-test-input/dih/bridge-{file}.jpg");
        let want = &expected.iter().find(|(k, _)| *k == key).unwrap().1;
        let d: Vec<u32> = got.iter().map(|h| distance(&h.to_hex(), want)).collect();
        // The files were re-encoded after transforming, so the variants are near, not equal
        // (0–18 bits: sampling and the box blur are not mirror-symmetric); every other variant is far.
        assert!(d[i] <= 20, "{file}: {d:?}");
        assert!(
            d.iter().enumerate().all(|(j, &x)| j == i || x > 64),
            "{file}: {d:?}"
        );
    }
}

#[test]
fn hash_kinds_and_modes_parse_what_they_print() {
    let mut kinds = vec![
        HashKind::AHash,
        HashKind::DHash,
        HashKind::DHashVertical,
        HashKind::PHash,
        HashKind::PHashSimple,
        HashKind::WHash,
    ];
    kinds.extend(Dihedral::ALL.map(HashKind::Pdq));
    for k in kinds {
        assert_eq!(k.to_string().parse::<HashKind>().unwrap(), k);
    }
    assert_eq!(
        "pdq_flipx".parse::<HashKind>().unwrap().to_string(),
        "pdq_flipx"
    );
    assert_eq!(HashKind::Pdq(Dihedral::Original).to_string(), "pdq");
    assert_eq!(
        "pdq_original".parse::<HashKind>().unwrap(),
        HashKind::Pdq(Dihedral::Original)
    );
    let err = "pdq_mirror".parse::<HashKind>().unwrap_err().to_string();
    assert!(err.starts_with("invalid parameter `method`: unknown hash \"pdq_mirror\""));
    for m in [Mode::Canonical, Mode::Compatible] {
        assert_eq!(m.to_string().parse::<Mode>().unwrap(), m);
    }
    let err = "fast".parse::<Mode>().unwrap_err().to_string();
    assert_eq!(
        err,
        "invalid parameter `mode`: expected 'canonical' or 'compatible', got \"fast\""
    );
}
