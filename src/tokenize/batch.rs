//! Many texts at once, in mmdedup's thread pool. Results are per row and never depend on the
//! thread count; a text the tokenizer refuses is an error naming its row.

use rayon::prelude::*;

use super::Tokenizer;
use crate::{Error, Result};

fn at_row<T>(row: usize, r: Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        Error::Input(reason) | Error::Param { reason, .. } => Error::Row { row, reason },
        other => other,
    })
}

/// How much work `texts` are for [`crate::parallel::install`]: tokenizing costs by the byte,
/// so a few long documents are worth spreading over threads too (a kilobyte counts as a text).
fn work(texts: &[Option<&str>]) -> usize {
    texts.len() + texts.iter().flatten().map(|t| t.len() >> 10).sum::<usize>()
}

fn to_u32(row: usize, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Row {
        row,
        reason: format!("{n} tokens: more than a uint32 count holds"),
    })
}

/// Token counts of `texts` (0 for nulls).
pub fn count(
    tok: &Tokenizer,
    texts: &[Option<&str>],
    add_special_tokens: bool,
) -> Result<Vec<u32>> {
    crate::parallel::install(work(texts), || {
        texts
            .par_iter()
            .enumerate()
            .map(|(row, t)| match t {
                None => Ok(0),
                Some(t) => to_u32(row, at_row(row, tok.count(t, add_special_tokens))?),
            })
            .collect()
    })
}

/// Token ids of `texts` (None for nulls).
pub fn encode(
    tok: &Tokenizer,
    texts: &[Option<&str>],
    add_special_tokens: bool,
) -> Result<Vec<Option<Vec<u32>>>> {
    crate::parallel::install(work(texts), || {
        texts
            .par_iter()
            .enumerate()
            .map(|(row, t)| {
                t.map(|t| at_row(row, tok.ids(t, add_special_tokens)))
                    .transpose()
            })
            .collect()
    })
}

/// Per-document results of [`count_segments`].
pub struct SegmentCounts {
    /// Tokens of each whole text.
    pub totals: Vec<u32>,
    /// Tokens of each segment, all documents one after the other.
    pub segments: Vec<u32>,
    /// The ids of each text, when asked for.
    pub ids: Option<Vec<Vec<u32>>>,
}

/// Tokenizes each text once and splits its count over its segments.
///
/// Document `i` has the segment boundaries `bounds[offsets[i]..offsets[i + 1]]`: the byte
/// offsets where each of its `k` segments starts, then where the last one ends (`k + 1` values,
/// increasing; none when `k = 0`). A token belongs to the segment its first byte is in; tokens
/// before the first segment or after the last (a template's prefix and suffix) and those a
/// post-processor adds count only in the total. So segment counts add up to at most the total.
pub fn count_segments(
    tok: &Tokenizer,
    texts: &[Option<&str>],
    bounds: &[u64],
    offsets: &[usize],
    add_special_tokens: bool,
    keep_ids: bool,
) -> Result<SegmentCounts> {
    if offsets.len() != texts.len() + 1 || offsets.last().copied() != Some(bounds.len()) {
        return Err(Error::param(
            "offsets",
            "needs one more entry than texts, ending at the number of bounds",
        ));
    }
    let per_doc: Vec<(u32, Vec<u32>, Vec<u32>)> = crate::parallel::install(work(texts), || {
        texts
            .par_iter()
            .enumerate()
            .map(|(row, t)| {
                let b = &bounds[offsets[row]..offsets[row + 1]];
                let k = b.len().saturating_sub(1);
                let mut segs = vec![0u32; k];
                let mut ids = Vec::new();
                let mut total = 0usize;
                if let Some(t) = t {
                    let r = tok.encode_with(t, add_special_tokens, |id, start| {
                        total += 1;
                        if keep_ids {
                            ids.push(id);
                        }
                        let j = b.partition_point(|&s| s <= start as u64);
                        if j > 0 && j <= k {
                            segs[j - 1] += 1;
                        }
                    });
                    at_row(row, r)?;
                }
                Ok((to_u32(row, total)?, segs, ids))
            })
            .collect::<Result<_>>()
    })?;
    let mut out = SegmentCounts {
        totals: Vec::with_capacity(texts.len()),
        segments: Vec::with_capacity(bounds.len()),
        ids: keep_ids.then(|| Vec::with_capacity(texts.len())),
    };
    for (total, segs, ids) in per_doc {
        out.totals.push(total);
        out.segments.extend(segs);
        if let Some(all) = out.ids.as_mut() {
            all.push(ids);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::ranks::{RankBpe, CL100K_PATTERN};

    fn tok() -> Tokenizer {
        let ranks = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        Tokenizer::Ranks(RankBpe::new(ranks, CL100K_PATTERN, vec![("<img>".into(), 300)]).unwrap())
    }

    #[test]
    fn counts_split_over_segments() {
        let t = tok();
        // "[" + "ab" + "<img>" + "c" + "]": segments "ab", "<img>", "c"; "[" and "]" outside.
        let texts = [Some("[ab<img>c]"), None];
        let r = count_segments(&t, &texts, &[1, 3, 8, 9], &[0, 4, 4], false, true).unwrap();
        assert_eq!(r.totals, vec![6, 0]);
        assert_eq!(r.segments, vec![2, 1, 1]);
        assert_eq!(
            r.ids.unwrap()[0],
            vec![b'[' as u32, 97, 98, 300, 99, b']' as u32]
        );
        assert_eq!(count(&t, &texts, false).unwrap(), vec![6, 0]);
    }

    #[test]
    fn thread_count_does_not_change_counts() {
        let t = tok();
        let texts: Vec<String> = (0..600).map(|i| format!("text {i} <img> ok")).collect();
        let refs: Vec<Option<&str>> = texts.iter().map(|s| Some(s.as_str())).collect();
        let many = count(&t, &refs, false).unwrap();
        let one: Vec<u32> = refs
            .iter()
            .map(|s| t.count(s.unwrap(), false).unwrap() as u32)
            .collect();
        assert_eq!(many, one);
    }
}
