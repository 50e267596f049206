//! The marker structure of a JPEG file, walked as `jpeg-decoder` and libjpeg walk it: the next
//! marker, a scan's entropy-coded data skipped, truncation, and the frame size.

pub(super) fn be16(d: &[u8], p: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([
        *d.get(p)?,
        *d.get(p + 1)?,
    ])))
}

/// The next marker from `pos` as `jpeg-decoder` reads one between segments: bytes up to an `FF`
/// skipped, fill bytes skipped, `FF 00` passed over. Returns the code and the position after it.
pub(super) fn next_marker(d: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        pos += d.get(pos..)?.iter().position(|&b| b == 0xFF)? + 1;
        let mut b = *d.get(pos)?;
        pos += 1;
        while b == 0xFF {
            b = *d.get(pos)?;
            pos += 1;
        }
        if b != 0 {
            return Some((b, pos));
        }
    }
}

/// Skips the entropy-coded data of a progressive AC scan: the next marker other than `FF 00`
/// stuffing and restart markers.
pub(super) fn skip_scan(d: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    loop {
        let (m, p) = next_marker(d, pos)?;
        if !(0xD0..=0xD7).contains(&m) {
            return Some((m, p));
        }
        pos = p;
    }
}

/// Whether the data ends before the end-of-image marker, walking the file as libjpeg does
/// (Pillow then raises "image file is truncated"): segments skipped by their length, the
/// entropy-coded data of a scan up to the next marker other than a restart marker, stray bytes
/// between segments passed over. Corrupt data that still reaches an EOI is not truncation.
pub(crate) fn truncated(d: &[u8]) -> bool {
    let mut next = next_marker(d, 2);
    while let Some((marker, pos)) = next {
        next = match marker {
            0xD9 => return false,
            0xD0..=0xD8 | 0x01 => next_marker(d, pos),
            _ => {
                let Some(len) = be16(d, pos) else {
                    return true;
                };
                let end = pos + len.max(2);
                if end > d.len() {
                    return true;
                }
                if marker == 0xDA {
                    skip_scan(d, end)
                } else {
                    next_marker(d, end)
                }
            }
        };
    }
    true
}

/// The frame header of a JPEG: `(width, height, components)`, from the first SOF segment.
pub(crate) fn dimensions(d: &[u8]) -> Option<(u32, u32, u8)> {
    let mut pos = 2;
    loop {
        let (marker, p) = next_marker(d, pos)?;
        pos = p;
        if matches!(marker, 0xD0..=0xD9 | 0x01) {
            continue;
        }
        let len = be16(d, pos)?;
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            let seg = d.get(pos + 2..pos + len.max(2))?;
            let (h, w) = (be16(seg, 1)?, be16(seg, 3)?);
            return Some((w as u32, h as u32, *seg.get(5)?));
        }
        if marker == 0xDA {
            return None;
        }
        pos += len.max(2);
    }
}
