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

/// Solid images of many colours and sizes: every hash is that of a constant image, the same for
/// all (ImageHash's pHash: the DC bit alone, `8000000000000000`; 0 for black), in both modes.
#[test]
fn flat_images_hash_alike() {
    use ::image::{Rgb, RgbImage};
    let specs = all_specs();
    let colours = [
        [255, 255, 255],
        [128, 128, 128],
        [200, 10, 10],
        [3, 250, 77],
        [1, 1, 1],
    ];
    let sizes = [
        (64, 64),
        (100, 50),
        (300, 300),
        (5000, 1),
        (33, 17),
        (7, 640),
    ];
    for mode in [Mode::Compatible, Mode::Canonical] {
        let mut seen = Vec::new();
        for c in colours {
            for (w, h) in sizes {
                let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(c)));
                let v = hash_image(&png(&img), &specs[..6], mode, DEFAULT_PIXEL_LIMIT).unwrap();
                assert_eq!(v[3].to_hex(), "8000000000000000", "{mode:?} {c:?} {w}x{h}");
                let hex: Vec<String> = v.iter().map(HashValue::to_hex).collect();
                seen.push(hex);
            }
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{mode:?}: {seen:?}");
        let black = DynamicImage::ImageRgb8(RgbImage::new(40, 30));
        let v = hash_image(&png(&black), &specs[..6], mode, DEFAULT_PIXEL_LIMIT).unwrap();
        assert!(v.iter().all(|h| h.bits.iter().all(|&b| !b)), "{mode:?}");
    }
}

#[test]
fn truncated_jpegs_are_row_errors_in_both_modes() {
    let mut data = Vec::new();
    let img = gradient(300, 200).to_rgb8();
    ::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 90)
        .encode_image(&img)
        .unwrap();
    let specs = all_specs();
    for mode in [Mode::Compatible, Mode::Canonical] {
        assert!(hash_image(&data, &specs, mode, DEFAULT_PIXEL_LIMIT).is_ok());
        for cut in [2, 100, data.len() / 2] {
            let err = hash_image(&data[..data.len() - cut], &specs, mode, DEFAULT_PIXEL_LIMIT)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("image file is truncated"),
                "{mode:?} {cut}: {err}"
            );
        }
    }
}

/// An animated GIF of `n` frames, each a different shade.
fn gif(n: u8) -> Vec<u8> {
    use ::image::codecs::gif::GifEncoder;
    use ::image::{Delay, Frame};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        let frames = (0..n).map(|i| {
            let img = RgbaImage::from_fn(16, 12, |x, y| {
                Rgba([
                    (x * 9 + u32::from(i) * 40) as u8,
                    (y * 13) as u8,
                    i * 20,
                    255,
                ])
            });
            Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms(10, 1))
        });
        enc.encode_frames(frames).unwrap();
    }
    out
}

#[test]
fn frames_past_the_cap_are_reported() {
    let data = gif(5);
    let specs = [HashSpec::new(HashKind::DHash, 8)];
    let run = |max_frames| {
        let limits = Limits {
            max_frames,
            ..Limits::default()
        };
        let items = [data.as_slice()];
        let out = hash_sources_frames_with(
            &items,
            |b| Ok(std::borrow::Cow::Borrowed(*b)),
            &specs,
            Mode::Canonical,
            limits,
        )
        .unwrap();
        let f = out.into_iter().next().unwrap().unwrap();
        (f.frames.len(), f.truncated)
    };
    assert_eq!(run(3), (3, true));
    assert_eq!(run(4), (4, true));
    assert_eq!(run(5), (5, false));
    assert_eq!(run(1000), (5, false));
}

/// The decode memory only throttles: the same hashes under any budget and thread count, and
/// images costing more than half the budget never overlap.
#[test]
fn decode_memory_bounds_concurrency_not_results() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let good: Vec<Vec<u8>> = (1..30).map(|k| png(&gradient(40 + k, 30 + k))).collect();
    let items: Vec<&[u8]> = good.iter().map(|b| b.as_slice()).collect();
    let specs = all_specs();
    let base = hash_many(&items, &specs, Mode::Canonical, DEFAULT_PIXEL_LIMIT).unwrap();
    let cost = decode_cost(items[0], &specs, Mode::Canonical);
    assert!(cost > 20 * 30 * 9, "{cost}");
    for memory in [1, cost + cost / 2, u64::MAX] {
        let limits = Limits {
            memory,
            ..Limits::default()
        };
        let out = hash_sources_with(
            &items,
            |b| Ok(std::borrow::Cow::Borrowed(*b)),
            &specs,
            Mode::Canonical,
            limits,
        )
        .unwrap();
        assert_eq!(out.len(), base.len());
        for (a, b) in out.iter().zip(&base) {
            assert_eq!(a.as_ref().unwrap(), b.as_ref().unwrap());
        }
    }
    // The scheduler itself: with room for one item at a time, no two run together.
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let n: Vec<u32> = (0..64).collect();
    let out = crate::parallel::map_admitted(
        &n,
        |&i| (i, 60),
        100,
        |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(1));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        },
    );
    assert_eq!(out, n.iter().map(|i| i * 2).collect::<Vec<_>>());
    if crate::parallel::num_threads() > 1 {
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
