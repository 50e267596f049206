//! Our reduced-scale JPEG decoder (src/image/jpeg/: 1/8 from the DC coefficients, 1/4 and 1/2 by
//! scaled IDCTs) against `jpeg-decoder`, the crate whose output it reproduces: whenever ours
//! returns pixels, they must be `jpeg-decoder`'s at that scale, byte for byte, with the same EXIF
//! block. No input may panic either decoder.
//!
//! Files reach our decoder as in `decode_jpeg_reduced`: after `jpeg-decoder` has read the header,
//! with the pixel limit checked and only for gray or YCbCr/RGB 8-bit frames, at the scale that
//! `jpeg-decoder` itself would choose for the requested size.
#![no_main]

mod common;

use std::io::Cursor;

use common::{guarded, let_caught_dependency_panics_unwind};
use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};
use libfuzzer_sys::fuzz_target;
use mmdedup::image::fuzzing::jpeg_reduced;

/// Pixels at full size; `decode_jpeg_reduced` refuses larger images before decoding (with the
/// caller's limit; this one keeps the fuzzer fast).
const PIXEL_LIMIT: u64 = 1 << 22;

/// `jpeg-decoder`'s scaled size (`ceil(len · scale / 8)`).
fn scaled(len: u16, scale: usize) -> u16 {
    (usize::from(len) * scale).div_ceil(8) as u16
}

// jpeg-decoder runs inside `hash_image`'s catch_unwind: its panics are errors there, and here.
fuzz_target!(init: let_caught_dependency_panics_unwind(), |data: &[u8]| {
    if !data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return;
    }
    let mut dec = Decoder::new(Cursor::new(data));
    if guarded(|| dec.read_info()).is_none_or(|r| r.is_err()) {
        return;
    }
    let Some(info) = dec.info() else { return };
    let (w, h) = (info.width, info.height);
    if w == 0
        || h == 0
        || u64::from(w) * u64::from(h) > PIXEL_LIMIT
        || !matches!(info.pixel_format, PixelFormat::L8 | PixelFormat::RGB24)
    {
        return;
    }
    let progressive = info.coding_process == CodingProcess::DctProgressive;
    for scale in [1usize, 2, 4] {
        // The scale jpeg-decoder picks for this size (`choose_idct_size`): the smallest at which
        // either side reaches it. Where that is a smaller one, ours is never asked for `scale`.
        let (rw, rh) = (scaled(w, scale), scaled(h, scale));
        let chosen = [1usize, 2, 4]
            .into_iter()
            .find(|&s| scaled(w, s) >= rw || scaled(h, s) >= rh);
        if chosen != Some(scale) {
            continue;
        }
        let Some((ow, oh, channels, pixels, exif)) = jpeg_reduced(data, scale) else {
            continue;
        };
        let mut jd = Decoder::new(Cursor::new(data));
        jd.read_info().expect("read_info succeeded once");
        let (sw, sh) = jd.scale(rw, rh).expect("a scale");
        assert_eq!(
            (ow, oh),
            (u32::from(sw), u32::from(sh)),
            "size at {scale}/8"
        );
        assert_eq!(
            channels == 1,
            info.pixel_format == PixelFormat::L8,
            "channels at {scale}/8"
        );
        let want = match guarded(|| jd.decode()) {
            // jpeg-decoder panicked: no answer to compare with (where ours gives one, the
            // library never runs jpeg-decoder on this file).
            None => continue,
            Some(Ok(p)) => p,
            // Documented leniency: corrupt AC data of progressive scans is never read at 1/8.
            Some(Err(_)) if progressive && scale == 1 => continue,
            Some(Err(e)) => panic!("ours decoded at {scale}/8 what jpeg-decoder refuses: {e}"),
        };
        if pixels != want {
            let first = pixels.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "pixels differ at {scale}/8 ({ow}×{oh}×{channels}): lengths {} and {}, first \
                 difference at byte {first:?}",
                pixels.len(),
                want.len()
            );
        }
        assert_eq!(exif, jd.exif_data(), "EXIF at {scale}/8");
    }
});
