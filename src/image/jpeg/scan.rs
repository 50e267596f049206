//! The scans: a scan header checked against the frame, then its entropy-coded data decoded (a
//! sequential scan, or at 1/8 a progressive DC scan) or skipped (a progressive AC scan).

use super::headers::{ceil_div, parse_sos, Component, Frame, Headers, Scan};
use super::huffman::{Bits, Huffman, UNZIGZAG};
use super::idct::{idct_2x2, idct_4x4};
use super::markers::{next_marker, skip_scan};

/// Reads the scan whose SOS segment is `seg` and whose data starts at `pos`. Returns the marker
/// that ends the scan's data (restart markers after it passed over, as `jpeg-decoder` does) and
/// the position after it.
pub(super) fn read_scan(d: &[u8], pos: usize, seg: &[u8], h: &mut Headers) -> Option<(u8, usize)> {
    let f = h.frame.as_mut()?;
    let scan = parse_sos(seg, f)?;
    if scan.comps.iter().any(|&i| h.quant[f.comps[i].tq].is_none()) {
        return None;
    }
    for &i in &scan.comps {
        let c = &mut f.comps[i];
        if f.progressive {
            if scan.ss == 0 {
                // A first DC scan, then refinements one bit at a time: jpeg-decoder stops
                // updating a component once its coefficients are complete.
                let expected = if scan.ah == 0 { None } else { Some(scan.ah) };
                if c.dc_al != expected {
                    return None;
                }
                c.dc_al = Some(scan.al);
            }
        } else if c.scanned {
            return None;
        }
        c.scanned = true;
    }
    h.scans += 1;
    let mut end = if f.progressive && scan.ss > 0 {
        if scan.ac_tables.iter().any(|&t| h.ac[t].is_none()) {
            return None;
        }
        skip_scan(d, pos)?
    } else {
        let plan = Plan::new(f, &scan, &h.dc, &h.ac, &h.quant)?;
        decode_scan(d, pos, f, &scan, &plan, h.restart_interval)?
    };
    // jpeg-decoder reads past restart markers that end a scan.
    while let (0xD0..=0xD7, p) = end {
        end = next_marker(d, p)?;
    }
    Some(end)
}

/// What decoding one scan needs, looked up once: per scan component its tables, and the MCU grid.
struct Plan<'t> {
    /// A progressive DC refinement scan: one bit per block.
    refine: bool,
    /// Sequential at 1/8: AC coefficients are decoded only to skip them.
    skip_ac: bool,
    scale: usize,
    al: u8,
    /// The last zigzag index the scaled IDCT reads (rows and columns below `scale`).
    last: usize,
    q: Vec<&'t [u16; 64]>,
    dc: Vec<&'t Huffman>,
    /// Empty for progressive scans, which never read AC data here.
    ac: Vec<&'t Huffman>,
    /// Several components, each with its `h` × `v` blocks per MCU; else one block per MCU.
    interleaved: bool,
    mcus_x: usize,
    mcus_y: usize,
}

impl<'t> Plan<'t> {
    /// `None` where a table is missing, or where `jpeg-decoder` would count the blocks of a
    /// non-interleaved scan differently.
    fn new(
        f: &Frame,
        scan: &Scan,
        dc: &'t [Option<Huffman>; 4],
        ac: &'t [Option<Huffman>; 4],
        quant: &'t [Option<[u16; 64]>; 4],
    ) -> Option<Self> {
        let skip_ac = !f.progressive;
        let scale = f.scale;
        let last = (0..64)
            .filter(|&k| {
                usize::from(UNZIGZAG[k] % 8) < scale && usize::from(UNZIGZAG[k] / 8) < scale
            })
            .max()
            .unwrap_or(0);
        let q: Vec<&[u16; 64]> = scan
            .comps
            .iter()
            .map(|&i| quant[f.comps[i].tq].as_ref())
            .collect::<Option<_>>()?;
        // jpeg-decoder wants the DC tables of refinement scans defined too.
        let dc_t: Vec<&Huffman> = scan
            .dc_tables
            .iter()
            .map(|&t| dc[t].as_ref())
            .collect::<Option<_>>()?;
        let ac_t: Vec<&Huffman> = if skip_ac {
            scan.ac_tables
                .iter()
                .map(|&t| ac[t].as_ref())
                .collect::<Option<_>>()?
        } else {
            Vec::new()
        };
        let interleaved = scan.comps.len() > 1;
        let (mcus_x, mcus_y) = if interleaved {
            (f.mcu_w, f.mcu_h)
        } else {
            let c = &f.comps[scan.comps[0]];
            // jpeg-decoder counts the blocks of a non-interleaved scan as the padded block grid
            // cut at the image's (not the component's) size; where that differs from the
            // standard count it would read the stream differently: leave such files to it.
            let jd_x = (f.mcu_w * usize::from(c.h)).min(ceil_div(f.width, 8));
            let jd_y = (f.mcu_h * usize::from(c.v)).min(ceil_div(f.height, 8));
            if (jd_x, jd_y) != (c.bw, c.bh) {
                return None;
            }
            (c.bw, c.bh)
        };
        Some(Plan {
            refine: f.progressive && scan.ah != 0,
            skip_ac,
            scale,
            al: scan.al,
            last,
            q,
            dc: dc_t,
            ac: ac_t,
            interleaved,
            mcus_x,
            mcus_y,
        })
    }

    /// Decodes the block at `(x, y)` of component `c`, scan component `si`, whose DC predictor
    /// is `pred`: at 1/8 into its DC coefficient, at 1/4 and 1/2 into its samples. Blocks
    /// outside the component (MCU padding) are decoded and dropped.
    #[inline(always)]
    fn block(
        &self,
        bits: &mut Bits,
        c: &mut Component,
        si: usize,
        pred: &mut i16,
        (x, y): (usize, usize),
    ) -> Option<()> {
        let slot = (x < c.bw && y < c.bh).then(|| y * c.bw + x);
        if self.refine {
            if bits.bit()? {
                if let Some(s) = slot {
                    c.dc[s] |= 1 << self.al;
                }
            }
            return Some(());
        }
        *pred = pred.wrapping_add(bits.dc_diff(self.dc[si])?);
        let scale = self.scale;
        if scale == 1 {
            if let Some(s) = slot {
                c.dc[s] = *pred << self.al;
            }
            if self.skip_ac {
                bits.skip_ac(self.ac[si])?;
            }
            return Some(());
        }
        // Sequential (al = 0): the whole block, then its samples.
        let mut block = [0i16; 64];
        block[0] = *pred;
        bits.ac(self.ac[si], &mut block, self.last)?;
        if slot.is_some() {
            let stride = c.bw * scale;
            let out = &mut c.plane[(y * stride + x) * scale..];
            if scale == 4 {
                idct_4x4(&block, self.q[si], out, stride);
            } else {
                idct_2x2(&block, self.q[si], out, stride);
            }
        }
        Some(())
    }
}

/// Decodes one scan (sequential, or at 1/8 a progressive DC scan): at 1/8 into the components'
/// DC coefficients, at 1/4 and 1/2 into their sample planes by `jpeg-decoder`'s scaled IDCTs.
/// Returns the marker that ends the scan's data and the position after it.
fn decode_scan(
    d: &[u8],
    pos: usize,
    f: &mut Frame,
    scan: &Scan,
    plan: &Plan,
    restart_interval: usize,
) -> Option<(u8, usize)> {
    let mut bits = Bits::new(d, pos);
    let mut pred = [0i16; 4];
    let mut left = restart_interval;
    let mut expected_rst = 0u8;
    let total = plan.mcus_x * plan.mcus_y;
    for m in 0..total {
        if restart_interval > 0 {
            if left == 0 {
                if bits.finish()?.0 != 0xD0 + expected_rst {
                    return None;
                }
                bits.restart();
                pred = [0; 4];
                expected_rst = (expected_rst + 1) % 8;
                left = restart_interval;
            }
            left -= 1;
        }
        let (mx, my) = (m % plan.mcus_x, m / plan.mcus_x);
        for (si, &ci) in scan.comps.iter().enumerate() {
            let c = &mut f.comps[ci];
            let (bh, bv) = if plan.interleaved {
                (usize::from(c.h), usize::from(c.v))
            } else {
                (1, 1)
            };
            for v in 0..bv {
                for h in 0..bh {
                    let at = (mx * bh + h, my * bv + v);
                    plan.block(&mut bits, c, si, &mut pred[si], at)?;
                }
            }
        }
    }
    bits.finish()
}
