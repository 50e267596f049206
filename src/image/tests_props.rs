//! Properties of decoding, the front ends and the batch API on images built in memory.

use std::io::Cursor;

use ::image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, Rgba, RgbaImage};
use proptest::prelude::*;

use super::resample::{resize, Filter};
use super::*;

fn png(img: &DynamicImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

fn gradient(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
        Luma([((x * 7 + y * 3) % 256) as u8])
    }))
}

fn all_specs() -> Vec<HashSpec> {
    let mut s: Vec<HashSpec> = [
        HashKind::AHash,
        HashKind::DHash,
        HashKind::DHashVertical,
        HashKind::PHash,
        HashKind::PHashSimple,
        HashKind::WHash,
    ]
    .into_iter()
    .map(|k| HashSpec::new(k, 8))
    .collect();
    s.push(HashSpec::pdq());
    s
}

proptest! {
    #[test]
    fn resize_to_same_size_is_identity(w in 1usize..20, h in 1usize..20, seed in any::<u64>()) {
        let src: Vec<u8> = (0..w * h).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 56) as u8).collect();
        prop_assert_eq!(resize(&src, (w, h), 1, (w, h), Filter::Lanczos), src);
    }

    #[test]
    fn constant_stays_constant(
        w in 1usize..40, h in 1usize..40, ow in 1usize..40, oh in 1usize..40, v in any::<u8>(),
    ) {
        let src = vec![v; w * h];
        for f in [Filter::Lanczos, Filter::Bicubic] {
            prop_assert!(resize(&src, (w, h), 1, (ow, oh), f).iter().all(|&p| p == v));
        }
        let fsrc = vec![f32::from(v); w * h];
        let out = canonical::resize(&fsrc, (w, h), (ow, oh));
        prop_assert!(out.iter().all(|&p| (p - f32::from(v)).abs() < 1e-3));
    }
}

#[test]
fn truncated_and_corrupt_bytes_are_errors() {
    let bytes = png(&gradient(64, 48));
    for cut in [10, 40, bytes.len() / 2, bytes.len() - 13] {
        let err = decode(&bytes[..cut], DEFAULT_PIXEL_LIMIT).unwrap_err();
        assert!(err.to_string().starts_with("cannot decode image"), "{err}");
    }
    let err = decode(b"not an image at all", DEFAULT_PIXEL_LIMIT).unwrap_err();
    assert!(err.to_string().contains("unknown format"), "{err}");
}

#[test]
fn pixel_limit_refuses_before_decoding() {
    let bytes = png(&gradient(100, 100));
    let err = decode(&bytes, 9_999).unwrap_err();
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    assert!(decode(&bytes, 10_000).is_ok());
}

/// Black icons whose shape lives only in alpha, as icon sets often store them.
fn icon(shape: impl Fn(i32, i32) -> bool) -> Vec<u8> {
    let img = RgbaImage::from_fn(64, 64, |x, y| {
        let a = if shape(x as i32 - 32, y as i32 - 32) {
            255
        } else {
            0
        };
        Rgba([0, 0, 0, a])
    });
    png(&DynamicImage::ImageRgba8(img))
}

#[test]
fn transparent_icons_hash_apart_in_canonical_mode() {
    let icons = [
        icon(|x, y| x * x + y * y < 400),
        icon(|x, y| x.abs() < 6 || y.abs() < 6),
        icon(|x, y| x > y),
    ];
    let specs = all_specs();
    let hashes = |mode| -> Vec<Vec<HashValue>> {
        icons
            .iter()
            .map(|b| hash_image(b, &specs, mode, DEFAULT_PIXEL_LIMIT).unwrap())
            .collect()
    };
    let compat = hashes(Mode::Compatible);
    // Pillow drops alpha: every icon is a black square.
    assert!(compat.windows(2).all(|w| w[0] == w[1]));
    let canon = hashes(Mode::Canonical);
    for (i, a) in canon.iter().enumerate() {
        for b in &canon[i + 1..] {
            for (x, y) in a.iter().zip(b) {
                assert_ne!(x.bits, y.bits, "{:?}", x.kind);
            }
        }
    }
}

#[test]
fn sixteen_bit_gray_saturates_when_compatible_and_scales_when_canonical() {
    let img: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(16, 16, |x, _| Luma([(x as u16) * 4096]));
    let d = decode(&png(&DynamicImage::ImageLuma16(img)), DEFAULT_PIXEL_LIMIT).unwrap();
    assert_eq!(d.bit_depth, 16);
    let compat = compat::gray(&d);
    assert_eq!(&compat[..3], &[0, 255, 255]);
    let canon = canonical::gray(&canonical::prepare(&d));
    assert_eq!(&canon[..3], &[0.0, 16.0, 32.0]);
}

#[test]
fn orientation_is_applied_only_in_canonical_mode() {
    let mut d = decode(&png(&gradient(40, 20)), DEFAULT_PIXEL_LIMIT).unwrap();
    d.orientation = 6;
    let rgb = canonical::prepare(&d);
    assert_eq!((rgb.width, rgb.height), (20, 40));
    // Hand-built EXIF IFD0 with orientation 6, in both byte orders.
    let le = [
        b"II*\0\x08\0\0\0\x01\0".as_slice(),
        b"\x12\x01\x03\0\x01\0\0\0\x06\0\0\0",
    ]
    .concat();
    let be = [
        b"MM\0*\0\0\0\x08\0\x01".as_slice(),
        b"\x01\x12\0\x03\0\0\0\x01\0\x06\0\0",
    ]
    .concat();
    assert_eq!(decode::exif_orientation(&le), Some(6));
    assert_eq!(decode::exif_orientation(&be), Some(6));
    assert_eq!(decode::exif_orientation(&le[..12]), None);
}

#[test]
fn hex_is_right_aligned_like_imagehash() {
    let v = HashValue {
        kind: HashKind::AHash,
        bits: vec![true, false, false, false, false, false, false, false, true],
        quality: None,
    };
    // int('100000001', 2) == 257 → '{:0>3x}' == '101'
    assert_eq!(v.to_hex(), "101");
    assert_eq!(v.to_bytes(), vec![1, 1]);
    assert_eq!(v.to_u64(), Some(257));
}

#[test]
fn batch_keeps_order_and_per_item_errors() {
    let good: Vec<Vec<u8>> = (1..6).map(|k| png(&gradient(30 + k, 25 + 2 * k))).collect();
    let mut items: Vec<&[u8]> = good.iter().map(|b| b.as_slice()).collect();
    items.insert(2, b"garbage");
    let specs = all_specs();
    let out = hash_many(&items, &specs, Mode::Compatible, DEFAULT_PIXEL_LIMIT).unwrap();
    assert!(out[2].is_err());
    for (i, item) in items.iter().enumerate().filter(|&(i, _)| i != 2) {
        let one = hash_image(item, &specs, Mode::Compatible, DEFAULT_PIXEL_LIMIT).unwrap();
        assert_eq!(out[i].as_ref().unwrap().values, one);
    }
    let bad = [HashSpec::new(HashKind::WHash, 6)];
    assert!(hash_many(&items, &bad, Mode::Compatible, DEFAULT_PIXEL_LIMIT).is_err());
}
