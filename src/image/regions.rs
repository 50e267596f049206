//! Crop-resistant region hashes, after ImageHash's `crop_resistant_hash` (Jain, Hatzinakos et al.,
//! "Efficient Cropping-Resistant Robust Image Hashing", ARES 2014).
//!
//! The gray image is reduced to a `side × side` plane (300: ImageHash's), blurred (Gaussian,
//! σ = 2) and median-filtered (3 × 3), then cut into the 4-connected regions of pixels brighter
//! than a threshold ("hills", 128) and of the others ("valleys"): hills first, each kind in the
//! row-major order of its first pixel, as ImageHash finds them. Regions of more than
//! `min_size` pixels of the plane (500) are kept, or the whole image when none is; with
//! `max_regions`, the largest that many (ties in that order). Each region's bounding box,
//! scaled to the image and rounded as Pillow's `crop` rounds it (half to even), is hashed like a
//! whole image by the front end of the mode; regions whose plane is flat are left out. A crop of
//! an image keeps most of its regions, so it keeps most of their hashes. [`crate::hamming::
//! region_pairs`] finds the images that share enough of them.
//!
//! The compatible front end reduces and hashes with Pillow's arithmetic, so region hashes equal
//! ImageHash's wherever the regions do; the blur is a true Gaussian in `f32` (rounded to 8 bits
//! as Pillow's output is), not Pillow's three box passes, so regions can differ where a plane
//! pixel sits within a level of the threshold: on hard-edged shapes they agree.

use super::{canonical, compat, flatten, gray_bits, resample, HashKind, HashSpec, Mode, Prepared};
use crate::{Error, Result};

/// What region hashing computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionSpec {
    /// The hash of each region: an ImageHash-family hash of at most 64 bits.
    pub hash: HashSpec,
    /// Side of the segmentation plane.
    pub side: usize,
    /// Plane pixels brighter than this (0–255) are hills.
    pub threshold: f32,
    /// Regions of at most this many plane pixels are dropped.
    pub min_size: usize,
    /// Keep only this many regions, the largest.
    pub max_regions: Option<usize>,
}

impl RegionSpec {
    /// ImageHash's defaults: dHash (of `hash_size`), a 300-pixel plane, threshold 128, regions
    /// of more than 500 pixels, all of them.
    pub fn new(hash: HashSpec) -> Self {
        Self {
            hash,
            side: 300,
            threshold: 128.0,
            min_size: 500,
            max_regions: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.hash.validate()?;
        if matches!(self.hash.kind, HashKind::Pdq(_)) || self.hash.hash_size > 8 {
            return Err(Error::param(
                "region_method",
                "region hashes are 64-bit ImageHash-family hashes (hash_size at most 8), not PDQ",
            ));
        }
        if !(8..=4096).contains(&self.side) {
            return Err(Error::param(
                "segmentation_size",
                format!("must be in 8..=4096, got {}", self.side),
            ));
        }
        if !(0.0..=255.0).contains(&self.threshold) {
            return Err(Error::param(
                "segment_threshold",
                format!("must be in 0..=255, got {}", self.threshold),
            ));
        }
        if self.max_regions == Some(0) {
            return Err(Error::param("max_regions", "must be at least 1"));
        }
        Ok(())
    }
}

/// A region of the segmentation plane: its pixel count and bounding box (rows `r0..=r1`,
/// columns `c0..=c1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub pixels: usize,
    pub r0: usize,
    pub r1: usize,
    pub c0: usize,
    pub c1: usize,
}

/// The regions of a `side × side` plane (see the module documentation), before `max_regions`.
pub fn segments(px: &[f32], side: usize, threshold: f32, min_size: usize) -> Vec<Segment> {
    let n = side * side;
    debug_assert_eq!(px.len(), n);
    let hill: Vec<bool> = px.iter().map(|&v| v > threshold).collect();
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for phase in [true, false] {
        for start in 0..n {
            if seen[start] || hill[start] != phase {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut s = Segment {
                pixels: 0,
                r0: start / side,
                r1: start / side,
                c0: start % side,
                c1: start % side,
            };
            while let Some(i) = stack.pop() {
                let (r, c) = (i / side, i % side);
                s.pixels += 1;
                s.r0 = s.r0.min(r);
                s.r1 = s.r1.max(r);
                s.c0 = s.c0.min(c);
                s.c1 = s.c1.max(c);
                let mut visit = |j: usize| {
                    if !seen[j] && hill[j] == phase {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if r > 0 {
                    visit(i - side);
                }
                if r + 1 < side {
                    visit(i + side);
                }
                if c > 0 {
                    visit(i - 1);
                }
                if c + 1 < side {
                    visit(i + 1);
                }
            }
            if s.pixels > min_size {
                out.push(s);
            }
        }
    }
    out
}

/// Gaussian blur (σ = `sigma`, radius `ceil(3σ)`, edges replicated), separable, in `f32`.
fn gaussian(px: &[f32], side: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as isize;
    let mut w: Vec<f32> = (-radius..=radius)
        .map(|x| (-((x * x) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= total);
    let at = |i: isize| i.clamp(0, side as isize - 1) as usize;
    let mut tmp = vec![0f32; px.len()];
    for r in 0..side {
        for c in 0..side {
            tmp[r * side + c] = (-radius..=radius)
                .zip(&w)
                .map(|(d, &wk)| wk * px[r * side + at(c as isize + d)])
                .sum();
        }
    }
    let mut out = vec![0f32; px.len()];
    for r in 0..side {
        for c in 0..side {
            out[r * side + c] = (-radius..=radius)
                .zip(&w)
                .map(|(d, &wk)| wk * tmp[at(r as isize + d) * side + c])
                .sum();
        }
    }
    out
}

/// 3 × 3 median filter, edges replicated (Pillow's `MedianFilter(3)`).
fn median3(px: &[f32], side: usize) -> Vec<f32> {
    let at = |i: isize| i.clamp(0, side as isize - 1) as usize;
    let mut out = vec![0f32; px.len()];
    for r in 0..side as isize {
        for c in 0..side as isize {
            let mut v = [0f32; 9];
            for (k, (dr, dc)) in (-1..=1)
                .flat_map(|dr| (-1..=1).map(move |dc| (dr, dc)))
                .enumerate()
            {
                v[k] = px[at(r + dr) * side + at(c + dc)];
            }
            v.sort_by(f32::total_cmp);
            out[r as usize * side + c as usize] = v[4];
        }
    }
    out
}

/// The gray image a front end hashes regions of.
enum Gray<'a> {
    /// Compatible: Pillow's `L` image.
    U8(&'a [u8]),
    /// Canonical: the oriented, composited gray.
    F32(&'a [f32]),
}

impl Gray<'_> {
    /// The sub-image `x0..x1` × `y0..y1` of an image `w` wide, resized to `out`.
    fn plane(
        &self,
        w: usize,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        out: (usize, usize),
    ) -> Vec<f32> {
        let rows = y0..y1;
        let size = (x1 - x0, y1 - y0);
        match self {
            Gray::U8(g) => {
                let crop: Vec<u8> = rows
                    .flat_map(|y| g[y * w + x0..y * w + x1].iter().copied())
                    .collect();
                let small = resample::resize(&crop, size, 1, out, resample::Filter::Lanczos);
                small.into_iter().map(f32::from).collect()
            }
            Gray::F32(g) => {
                let crop: Vec<f32> = rows
                    .flat_map(|y| g[y * w + x0..y * w + x1].iter().copied())
                    .collect();
                flatten(canonical::resize(&crop, size, out))
            }
        }
    }
}

/// Python's `round` (half to even), as Pillow's `crop` rounds its box.
fn round_even(v: f64) -> usize {
    v.round_ties_even().max(0.0) as usize
}

/// The region hashes of one prepared image, in region order, each as the integer of its hex
/// string (first bit most significant). A region whose hash plane is flat (one gray level, up
/// to [`flatten`]'s tolerance in canonical mode) is left out: its hash (0 for dHash) says
/// nothing of its content, and would match every flat region of every other image.
pub(super) fn region_hashes(p: &Prepared<'_>, spec: &RegionSpec) -> Vec<u64> {
    let (gray, (w, h)) = match p.mode {
        Mode::Compatible => (
            Gray::U8(p.gray8.get_or_init(|| compat::gray(p.decoded))),
            p.size(),
        ),
        Mode::Canonical => {
            let rgb = p.rgb();
            let g = p.gray_f.get_or_init(|| canonical::gray(rgb));
            (Gray::F32(g), (rgb.width, rgb.height))
        }
    };
    let side = spec.side;
    let mut plane = gray.plane(w, (0, 0, w, h), (side, side));
    if p.mode == Mode::Compatible {
        // Pillow's filters write 8-bit images.
        plane = gaussian(&plane, side, 2.0)
            .into_iter()
            .map(|v| v.round().clamp(0.0, 255.0))
            .collect();
    } else {
        plane = gaussian(&plane, side, 2.0);
    }
    let plane = median3(&plane, side);
    let mut segs = segments(&plane, side, spec.threshold, spec.min_size);
    if segs.is_empty() {
        segs.push(Segment {
            pixels: side * side,
            r0: 0,
            r1: side - 1,
            c0: 0,
            c1: side - 1,
        });
    }
    if let Some(m) = spec.max_regions {
        segs.sort_by_key(|s| std::cmp::Reverse(s.pixels));
        segs.truncate(m);
    }
    let (sw, sh) = (w as f64 / side as f64, h as f64 / side as f64);
    segs.iter()
        .filter_map(|s| {
            let x0 = round_even(s.c0 as f64 * sw).min(w - 1);
            let y0 = round_even(s.r0 as f64 * sh).min(h - 1);
            let x1 = round_even((s.c1 + 1) as f64 * sw).clamp(x0 + 1, w);
            let y1 = round_even((s.r1 + 1) as f64 * sh).clamp(y0 + 1, h);
            let bbox = (x0, y0, x1, y1);
            let flat = std::cell::Cell::new(false);
            let bits = gray_bits(&spec.hash, (x1 - x0, y1 - y0), p.mode, |out| {
                let plane = gray.plane(w, bbox, out);
                flat.set(plane.iter().all(|&v| v == plane[0]));
                plane
            });
            let hash = bits.iter().fold(0u64, |acc, &b| (acc << 1) | u64::from(b));
            (!flat.get()).then_some(hash)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Components against a union-find over the same 4-neighbour graph.
    #[test]
    fn segments_are_the_connected_components() {
        let side = 23;
        let mut x = 0x9e37_79b9u64;
        for _ in 0..20 {
            let px: Vec<f32> = (0..side * side)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x % 3 == 0 {
                        200.0
                    } else {
                        10.0
                    }
                })
                .collect();
            let mut parent: Vec<usize> = (0..side * side).collect();
            fn find(p: &mut [usize], mut i: usize) -> usize {
                while p[i] != i {
                    p[i] = p[p[i]];
                    i = p[i];
                }
                i
            }
            for i in 0..side * side {
                for j in [i + 1, i + side] {
                    let same_row = j != i + 1 || (i + 1) % side != 0;
                    if j < side * side && same_row && (px[i] > 128.0) == (px[j] > 128.0) {
                        let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
            let mut sizes = std::collections::BTreeMap::new();
            for i in 0..side * side {
                *sizes.entry(find(&mut parent, i)).or_insert(0usize) += 1;
            }
            let segs = segments(&px, side, 128.0, 0);
            assert_eq!(segs.len(), sizes.len());
            assert_eq!(
                segs.iter().map(|s| s.pixels).sum::<usize>(),
                side * side,
                "every pixel in one segment"
            );
            // Hills first, each in the order of its first pixel.
            let firsts: Vec<(bool, usize)> = sizes
                .keys()
                .map(|&root| (px[root] <= 128.0, root))
                .collect();
            let mut order = firsts.clone();
            order.sort();
            let got: Vec<usize> = segs.iter().map(|s| s.pixels).collect();
            let want: Vec<usize> = order.iter().map(|(_, r)| sizes[r]).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn median_and_blur_keep_constants() {
        let px = vec![77.0f32; 100];
        assert!(median3(&px, 10).iter().all(|&v| v == 77.0));
        assert!(gaussian(&px, 10, 2.0)
            .iter()
            .all(|&v| (v - 77.0).abs() < 1e-3));
    }
}
