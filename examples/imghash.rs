//! Prints hashes of image files, one line per file and hash: `path kind size hex quality`.
//! For comparing against other implementations:
//! `cargo run --release --example imghash -- [--canonical] FILE...`

use _core::image::{hash_image, HashKind, HashSpec, Mode, DEFAULT_PIXEL_LIMIT};

fn main() {
    let mut mode = Mode::Compatible;
    let mut specs = Vec::new();
    for size in [8, 16] {
        for kind in [
            HashKind::AHash,
            HashKind::DHash,
            HashKind::DHashVertical,
            HashKind::PHash,
            HashKind::PHashSimple,
            HashKind::WHash,
        ] {
            specs.push(HashSpec::new(kind, size));
        }
    }
    specs.push(HashSpec::pdq());
    for arg in std::env::args().skip(1) {
        if arg == "--canonical" {
            mode = Mode::Canonical;
            continue;
        }
        let bytes = std::fs::read(&arg).expect("readable file");
        match hash_image(&bytes, &specs, mode, DEFAULT_PIXEL_LIMIT) {
            Ok(values) => {
                for (s, v) in specs.iter().zip(values) {
                    let q = v.quality.map_or(-1, i32::from);
                    println!("{arg} {:?} {} {} {q}", s.kind, s.hash_size, v.to_hex());
                }
            }
            Err(e) => println!("{arg} error {e}"),
        }
    }
}
