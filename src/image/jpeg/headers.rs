//! The segments before and between scans, each checked as `jpeg-decoder` checks it: the frame
//! header (SOF), scan headers (SOS), Huffman (DHT) and quantization (DQT) tables, the restart
//! interval (DRI), and the application segments that decide the colour transform or carry Exif.

use super::huffman::{Huffman, UNZIGZAG};
use super::markers::be16;
use super::upsample::upsampler;

/// One component of the frame, and what its scans have decoded into so far.
pub(super) struct Component {
    pub(super) id: u8,
    pub(super) h: u8,
    pub(super) v: u8,
    pub(super) tq: usize,
    /// Size in blocks: `ceil(width · h / (h_max · 8))` × the same for heights.
    pub(super) bw: usize,
    pub(super) bh: usize,
    /// Size in samples at the frame's scale (`jpeg-decoder`'s `component.size`):
    /// `ceil(width · h · scale / (h_max · 8))` × the same for heights; `bw` × `bh` at 1/8.
    pub(super) width: usize,
    pub(super) height: usize,
    /// At 1/8: the DC coefficient of each block (as stored, before dequantization), rows of `bw`.
    pub(super) dc: Vec<i16>,
    /// At 1/4 and 1/2: the samples, `scale` × `scale` per block, rows of `bw · scale`.
    pub(super) plane: Vec<u8>,
    pub(super) scanned: bool,
    /// Progressive: the successive-approximation bit position its DC scans have reached.
    pub(super) dc_al: Option<u8>,
}

/// The frame header (SOF) with its components.
pub(super) struct Frame {
    pub(super) width: usize,
    pub(super) height: usize,
    /// Output samples per block side: 1, 2 or 4 (`jpeg-decoder`'s `dct_scale`).
    pub(super) scale: usize,
    pub(super) progressive: bool,
    pub(super) baseline: bool,
    pub(super) comps: Vec<Component>,
    pub(super) h_max: u8,
    pub(super) v_max: u8,
    pub(super) mcu_w: usize,
    pub(super) mcu_h: usize,
}

/// The scan header, checked as `jpeg-decoder` checks it.
pub(super) struct Scan {
    pub(super) comps: Vec<usize>,
    pub(super) dc_tables: Vec<usize>,
    pub(super) ac_tables: Vec<usize>,
    pub(super) ss: u8,
    pub(super) se: u8,
    pub(super) ah: u8,
    pub(super) al: u8,
}

/// What the segments read so far define: the frame, the tables, and what the colour transform
/// and the caller need.
pub(super) struct Headers<'a> {
    pub(super) frame: Option<Frame>,
    /// Quantization tables in natural order.
    pub(super) quant: [Option<[u16; 64]>; 4],
    pub(super) dc: [Option<Huffman>; 4],
    pub(super) ac: [Option<Huffman>; 4],
    pub(super) restart_interval: usize,
    /// A JFIF APP0 segment was seen.
    pub(super) jfif: bool,
    /// The transform flag of an Adobe APP14 segment.
    pub(super) adobe: Option<u8>,
    /// The last `Exif` APP1 payload (from its TIFF header).
    pub(super) exif: Option<&'a [u8]>,
    /// Scans started so far.
    pub(super) scans: usize,
}

impl<'a> Headers<'a> {
    pub(super) fn new() -> Self {
        Headers {
            frame: None,
            quant: [None; 4],
            dc: Default::default(),
            ac: Default::default(),
            restart_interval: 0,
            jfif: false,
            adobe: None,
            exif: None,
            scans: 0,
        }
    }

    /// Reads one segment other than a scan (`seg`: its payload, after the length) for a decode
    /// at `scale`; `None` where `jpeg-decoder` must decode the file, including for a marker
    /// that is not a known table, frame or application segment.
    pub(super) fn segment(&mut self, marker: u8, seg: &'a [u8], scale: usize) -> Option<()> {
        match marker {
            0xC0..=0xC2 => {
                if self.frame.is_some() {
                    return None;
                }
                self.frame = Some(parse_sof(seg, marker, scale)?);
            }
            0xC4 => {
                let baseline = self.frame.as_ref().map(|f| f.baseline);
                parse_dht(seg, baseline, &mut self.dc, &mut self.ac)?;
            }
            0xDB => {
                // Tables redefined between scans would apply per scan: leave those to jpeg-decoder.
                if self.scans > 0 {
                    return None;
                }
                parse_dqt(seg, &mut self.quant)?;
            }
            0xDD => {
                if seg.len() != 2 {
                    return None;
                }
                self.restart_interval = be16(seg, 0)?;
            }
            0xE0 => {
                if seg.len() >= 5 {
                    match &seg[..5] {
                        b"JFIF\0" => self.jfif = true,
                        // Motion JPEG frames may omit their Huffman tables.
                        b"AVI1\0" => return None,
                        _ => {}
                    }
                }
            }
            0xE1 => {
                if let Some(payload) = seg.strip_prefix(b"Exif\0\0") {
                    self.exif = Some(payload);
                }
            }
            0xEE => {
                if seg.len() >= 12 && seg.starts_with(b"Adobe\0") {
                    if seg[11] > 2 {
                        return None;
                    }
                    self.adobe = Some(seg[11]);
                }
            }
            0xE2..=0xED | 0xEF | 0xFE => {}
            _ => return None,
        }
        Some(())
    }
}

pub(super) fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

fn parse_sof(seg: &[u8], marker: u8, scale: usize) -> Option<Frame> {
    // 8-bit samples; 1 (gray) or 3 components (CMYK takes the other path). Progressive frames
    // only at 1/8, where their AC scans are not needed.
    if seg.len() < 6 || seg[0] != 8 || (marker == 0xC2 && scale != 1) {
        return None;
    }
    let height = be16(seg, 1)?;
    let width = be16(seg, 3)?;
    let n = usize::from(seg[5]);
    if width == 0 || height == 0 || !(n == 1 || n == 3) || seg.len() != 6 + 3 * n {
        return None;
    }
    let mut comps: Vec<Component> = Vec::with_capacity(n);
    for c in seg[6..].chunks_exact(3) {
        let (h, v, tq) = (c[1] >> 4, c[1] & 15, usize::from(c[2]));
        if comps.iter().any(|o| o.id == c[0]) || !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return None;
        }
        if tq > 3 {
            return None;
        }
        comps.push(Component {
            id: c[0],
            h,
            v,
            tq,
            bw: 0,
            bh: 0,
            width: 0,
            height: 0,
            dc: Vec::new(),
            plane: Vec::new(),
            scanned: false,
            dc_al: None,
        });
    }
    let h_max = comps.iter().map(|c| c.h).max()?;
    let v_max = comps.iter().map(|c| c.v).max()?;
    for c in &mut comps {
        // jpeg-decoder refuses ratios its upsamplers cannot handle.
        upsampler(c.h, c.v, h_max, v_max, usize::MAX, usize::MAX)?;
        c.bw = ceil_div(width * usize::from(c.h), usize::from(h_max) * 8);
        c.bh = ceil_div(height * usize::from(c.v), usize::from(v_max) * 8);
        c.width = ceil_div(width * usize::from(c.h) * scale, usize::from(h_max) * 8);
        c.height = ceil_div(height * usize::from(c.v) * scale, usize::from(v_max) * 8);
        if scale == 1 {
            c.dc = vec![0; c.bw * c.bh];
        } else {
            c.plane = vec![0; c.bw * c.bh * scale * scale];
        }
    }
    Some(Frame {
        width,
        height,
        scale,
        progressive: marker == 0xC2,
        baseline: marker == 0xC0,
        mcu_w: ceil_div(width, usize::from(h_max) * 8),
        mcu_h: ceil_div(height, usize::from(v_max) * 8),
        comps,
        h_max,
        v_max,
    })
}

pub(super) fn parse_sos(seg: &[u8], f: &Frame) -> Option<Scan> {
    let n = usize::from(*seg.first()?);
    if n == 0 || n > 4 || seg.len() != 4 + 2 * n {
        return None;
    }
    let mut scan = Scan {
        comps: Vec::with_capacity(n),
        dc_tables: Vec::with_capacity(n),
        ac_tables: Vec::with_capacity(n),
        ss: seg[1 + 2 * n],
        se: seg[2 + 2 * n],
        ah: seg[3 + 2 * n] >> 4,
        al: seg[3 + 2 * n] & 15,
    };
    for c in seg[1..1 + 2 * n].chunks_exact(2) {
        let i = f.comps.iter().position(|x| x.id == c[0])?;
        // Unique, in frame order.
        if scan.comps.last().is_some_and(|&last| i <= last) {
            return None;
        }
        let (td, ta) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        let max = if f.baseline { 1 } else { 3 };
        if td > max || ta > max {
            return None;
        }
        scan.comps.push(i);
        scan.dc_tables.push(td);
        scan.ac_tables.push(ta);
    }
    let blocks: usize = scan
        .comps
        .iter()
        .map(|&i| usize::from(f.comps[i].h) * usize::from(f.comps[i].v))
        .sum();
    if n > 1 && blocks > 10 {
        return None;
    }
    if scan.al >= 8 {
        return None;
    }
    if f.progressive {
        if scan.se > 63 || scan.ss > scan.se || (scan.ss == 0 && scan.se != 0) {
            return None;
        }
        if scan.ss != 0 && n != 1 {
            return None;
        }
        if scan.ah > 13 || (scan.ah != 0 && scan.ah != scan.al + 1) {
            return None;
        }
    } else {
        if scan.se == 0 {
            scan.se = 63;
        }
        if scan.ss != 0 || scan.se != 63 || scan.ah != 0 || scan.al != 0 {
            return None;
        }
    }
    Some(scan)
}

/// Parses a DHT segment into `dc` / `ac`, as `jpeg-decoder` accepts it.
fn parse_dht(
    mut seg: &[u8],
    baseline: Option<bool>,
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Option<()> {
    while seg.len() > 17 {
        let (class, index) = (seg[0] >> 4, usize::from(seg[0] & 15));
        if class > 1 || index > 3 || (baseline == Some(true) && index > 1) {
            return None;
        }
        let counts: [u8; 16] = seg[1..17].try_into().ok()?;
        let size: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if size == 0 || size > 256 || size > seg.len() - 17 {
            return None;
        }
        let table = Huffman::new(&counts, &seg[17..17 + size])?;
        if class == 0 {
            dc[index] = Some(table);
        } else {
            ac[index] = Some(table);
        }
        seg = &seg[17 + size..];
    }
    seg.is_empty().then_some(())
}

/// Parses a DQT segment into `quant` (natural order), as `jpeg-decoder` accepts it.
fn parse_dqt(mut s: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Option<()> {
    while !s.is_empty() {
        let (precision, index) = (usize::from(s[0] >> 4), usize::from(s[0] & 15));
        if precision > 1 || index > 3 || s.len() < 65 + 64 * precision {
            return None;
        }
        let table = &s[1..65 + 64 * precision];
        let value = |i: usize| match precision {
            0 => u16::from(table[i]),
            _ => u16::from_be_bytes([table[2 * i], table[2 * i + 1]]),
        };
        if (0..64).any(|i| value(i) == 0) {
            return None;
        }
        let mut table = [0u16; 64];
        for (k, &n) in UNZIGZAG.iter().enumerate() {
            table[usize::from(n)] = value(k);
        }
        quant[index] = Some(table);
        s = &s[65 + 64 * precision..];
    }
    Some(())
}
