//! Our decoder against `jpeg-decoder`, and its parts against their definitions.

use super::color::{ycbcr_row, ycbcr_scalar, ycbcr_ssse3, YcbcrTables};
use super::huffman::{skip_entry, Huffman, INVALID_RUN};
use super::idct::{idct_2x2, idct_4x4};
use super::*;
use crate::image::decode::decode_jpeg_reduced_with;
use crate::image::Decoded;
use image::codecs::jpeg::JpegEncoder;
use image::ExtendedColorType;

#[test]
fn colour_conversions_equal_jpeg_decoders_for_every_input() {
    let t = YcbcrTables::get();
    // Rows of 256 + 16 pixels: the SSSE3 routine converts the first 256.
    let cr: Vec<u8> = (0..=255u8).chain(0..16).collect();
    let mut out = vec![0u8; cr.len() * 3];
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    let ssse3 = std::is_x86_feature_detected!("ssse3");
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    let ssse3 = false;
    for y in 0..=255u8 {
        for cb in 0..=255u8 {
            for v in 0..=255u8 {
                assert_eq!(t.scalar(y, cb, v), ycbcr_scalar(y, cb, v));
            }
            let (ys, cbs) = (vec![y; cr.len()], vec![cb; cr.len()]);
            ycbcr_row(t, &ys, &cbs, &cr, &mut out);
            for (v, px) in out.chunks_exact(3).take(256).enumerate() {
                let want = if ssse3 {
                    ycbcr_ssse3(y, cb, v as u8)
                } else {
                    ycbcr_scalar(y, cb, v as u8)
                };
                assert_eq!(px, want, "{y} {cb} {v}");
            }
        }
    }
}

/// A noisy gradient, encoded by the `image` crate's baseline encoder.
fn encode(w: u32, h: u32, quality: u8, gray: bool, seed: u32) -> Vec<u8> {
    let channels = if gray { 1 } else { 3 };
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut pixels = Vec::with_capacity((w * h * channels) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let v = (x * (c + 1) * 3 + y * 2) % 256 + state % 41;
                pixels.push(v.min(255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let color = if gray {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode(&pixels, w, h, color)
        .unwrap();
    out
}

/// `data` decoded by jpeg-decoder and by ours, with a shorter side of at least `min_side`.
fn both(data: &[u8], min_side: u32) -> (Decoded, Decoded, bool) {
    let (old, _) = decode_jpeg_reduced_with(data, min_side, 0, u64::MAX, false)
        .unwrap()
        .unwrap();
    let (new, used) = decode_jpeg_reduced_with(data, min_side, 0, u64::MAX, true)
        .unwrap()
        .unwrap();
    (old, new, used)
}

#[test]
fn equals_jpeg_decoder_on_encoded_images() {
    for (i, &(w, h)) in [(1, 1), (8, 8), (9, 17), (100, 75), (333, 251), (640, 480)]
        .iter()
        .enumerate()
    {
        for &quality in &[10u8, 60, 100] {
            for gray in [false, true] {
                let data = encode(w, h, quality, gray, i as u32);
                for scale in [1, 2, 4] {
                    // The shorter side at `scale`/8: that scale is chosen.
                    let min_side = (w.min(h) * scale).div_ceil(8);
                    let (old, new, used) = both(&data, min_side);
                    let what = format!("{w}×{h} q{quality} gray {gray} scale {scale}/8");
                    assert!(used, "{what}");
                    assert_eq!(old.image, new.image, "{what}");
                    assert_eq!(old.orientation, new.orientation);
                    if w.min(h) >= 75 {
                        assert_eq!(new.width(), (w * scale).div_ceil(8), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn scaled_idcts_equal_jpeg_decoders_arithmetic() {
    // A DC-only block: every sample is the 1×1 IDCT's value (DC · q / 8 + 128, rounded).
    let mut block = [0i16; 64];
    block[0] = 40;
    let q = [2u16; 64];
    let mut out = [0u8; 16];
    idct_4x4(&block, &q, &mut out, 4);
    assert_eq!(out, [138; 16]);
    idct_2x2(&block, &q, &mut out, 2);
    assert_eq!(out[..4], [138; 4]);
    // Saturated input wraps (as jpeg-decoder's `Wrapping` arithmetic does) without panicking.
    idct_4x4(&[i16::MAX; 64], &[u16::MAX; 64], &mut out, 4);
    idct_2x2(&[i16::MIN; 64], &[u16::MAX; 64], &mut out, 2);
    // A horizontal cosine: the 2×2 IDCT's columns differ by (x0 ± x1) >> 3.
    block[1] = 16;
    idct_2x2(&block, &q, &mut out, 2);
    assert_eq!(
        out[..4],
        [
            ((80 + 32 + 4 + 1024) >> 3) as u8,
            ((80 - 32 + 4 + 1024) >> 3) as u8,
            142,
            134
        ]
    );
}

#[test]
fn truncated_or_corrupt_data_is_left_to_jpeg_decoder() {
    let data = encode(200, 160, 90, false, 7);
    for cut in [3, 20, data.len() / 2, data.len() - 3] {
        for scale in [1, 2, 4] {
            assert!(decode(&data[..cut], scale).is_none(), "cut at {cut}");
        }
    }
    let sos = data.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let body = sos + 2 + be16(&data, sos + 2).unwrap();
    // Sixteen one bits (stuffed): a code no Huffman table defines.
    let mut bad = data.clone();
    bad[body..body + 4].copy_from_slice(&[0xFF, 0x00, 0xFF, 0x00]);
    assert!(decode(&bad, 1).is_none());
    assert!(decode(&bad, 4).is_none());
    // Fill bytes before `00`: neither stuffing nor a marker.
    bad[body..body + 4].copy_from_slice(&[0xFF, 0xFF, 0x00, 0x00]);
    assert!(decode(&bad, 1).is_none());
    assert!(decode(&bad, 2).is_none());
}

#[test]
fn huffman_tables_refuse_overfull_counts() {
    let mut counts = [0u8; 16];
    counts[0] = 3; // three 1-bit codes
    assert!(Huffman::new(&counts, &[0, 1, 2]).is_none());
    counts[0] = 2;
    assert!(Huffman::new(&counts, &[0, 1]).is_some());
}

#[test]
fn skip_entries() {
    // Code of 3 bits for run 2, size 5: 8 bits skipped, index advances 3.
    assert_eq!(skip_entry(3, 0x25), 8 | 3 << 8);
    assert_eq!(skip_entry(4, 0x00), 4);
    assert_eq!(skip_entry(11, 0xF0), 11 | 16 << 8);
    assert_eq!(skip_entry(5, 0x30) >> 8, INVALID_RUN);
}

#[test]
fn simd_color_conversion_stays_within_one_of_scalar() {
    for y in (0..=255u8).step_by(5) {
        for cb in (0..=255u8).step_by(15) {
            for cr in (0..=255u8).step_by(15) {
                let (a, b) = (ycbcr_scalar(y, cb, cr), ycbcr_ssse3(y, cb, cr));
                for c in 0..3 {
                    assert!(a[c].abs_diff(b[c]) <= 2, "{y} {cb} {cr}: {a:?} {b:?}");
                }
            }
        }
    }
}

#[test]
fn data_ending_before_eoi_is_truncated() {
    for gray in [false, true] {
        let data = encode(120, 90, 85, gray, 3);
        assert!(!truncated(&data));
        // Junk after EOI (a trailer, a second image) is not truncation.
        let mut trailer = data.clone();
        trailer.extend_from_slice(b"\0\0trailer");
        assert!(!truncated(&trailer));
        // Only EOI missing: Pillow raises "image file is truncated" too.
        for cut in [1, 2, 3, 50, data.len() / 2, data.len() - 40, 4] {
            assert!(truncated(&data[..data.len() - cut]), "cut {cut}");
        }
        // A segment length past the end.
        assert!(truncated(&data[..22]));
        assert_eq!(dimensions(&data), Some((120, 90, if gray { 1 } else { 3 })));
        // Both decoders, and the full-size decode the caller falls back to, refuse it.
        let cut = &data[..data.len() - 2];
        for own in [false, true] {
            let r = decode_jpeg_reduced_with(cut, 12, 0, u64::MAX, own).expect("a JPEG");
            let err = r.map(|_| ()).unwrap_err().to_string();
            assert!(err.contains("image file is truncated"), "{err}");
        }
        let err = crate::image::decode(cut, u64::MAX).unwrap_err().to_string();
        assert!(err.contains("image file is truncated"), "{err}");
    }
}
