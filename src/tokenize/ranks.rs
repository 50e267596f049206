//! tiktoken-style byte-pair encoding: a rank file (`base64(token) rank` per line), a split
//! pattern and optional special tokens.
//!
//! The merge is tiktoken's (`_byte_pair_merge` in openai/tiktoken `src/lib.rs`): split the text
//! with the pattern, look each piece up whole, else start from single bytes and repeatedly merge
//! the adjacent pair whose concatenation has the lowest rank (the leftmost on ties) until no
//! adjacent pair has a rank. The rank of a token is its id.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use ahash::AHashMap;
use base64::Engine;
use fancy_regex::Regex;

use crate::{Error, Result};

/// The split patterns of OpenAI's encodings, as tiktoken 0.9+ writes them
/// (`tiktoken_ext/openai_public.py`).
pub const R50K_PATTERN: &str =
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
pub const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
pub const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+(?!\S)",
    r"|\s+",
);

/// The pattern of a known encoding name, or None.
pub fn preset(name: &str) -> Option<&'static str> {
    match name {
        "r50k_base" | "p50k_base" | "p50k_edit" | "gpt2" => Some(R50K_PATTERN),
        "cl100k_base" => Some(CL100K_PATTERN),
        "o200k_base" | "o200k_harmony" => Some(O200K_PATTERN),
        _ => None,
    }
}

/// Parses a rank file: one `base64(token) rank` per line; blank lines are skipped. Errors name
/// the 1-based line.
pub fn parse_ranks(data: &[u8]) -> Result<AHashMap<Vec<u8>, u32>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ranks = AHashMap::with_capacity(data.len() / 12);
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |reason: String| Error::Input(format!("line {}: {reason}", i + 1));
        let text = std::str::from_utf8(line).map_err(|_| bad("not ASCII text".into()))?;
        let mut parts = text.split_ascii_whitespace();
        let (Some(token), Some(rank), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad(format!(
                "expected `<base64 token> <rank>`, got {:?}",
                clip(text)
            )));
        };
        let token = b64
            .decode(token)
            .map_err(|e| bad(format!("invalid base64 {:?}: {e}", clip(token))))?;
        let rank: u32 = rank.parse().map_err(|_| {
            bad(format!(
                "rank {:?} is not an integer below 2^32",
                clip(rank)
            ))
        })?;
        if token.is_empty() {
            return Err(bad("empty token".into()));
        }
        if ranks.insert(token, rank).is_some() {
            return Err(bad("token listed twice".into()));
        }
    }
    if ranks.is_empty() {
        return Err(Error::Input("no ranks (empty file)".into()));
    }
    Ok(ranks)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Pieces kept per thread and encoder before the cache starts over.
const CACHE_PIECES: usize = 1 << 16;

/// The merged tokens of a piece: (id, byte offset in the piece).
type Merged = Box<[(u32, u32)]>;
type PieceCache = AHashMap<Box<[u8]>, Merged>;

thread_local! {
    // Pieces that needed merging, per encoder (by `RankBpe::id`) and worker thread: the same
    // words come back throughout a corpus, and a lookup costs less than the merge.
    static MERGED: RefCell<AHashMap<u64, PieceCache>> =
        RefCell::new(AHashMap::new());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A tiktoken-style encoder.
pub struct RankBpe {
    id: u64,
    ranks: AHashMap<Vec<u8>, u32>,
    pattern: Regex,
    /// Special tokens, matched in the text before splitting (longest first), with their ids.
    specials: Option<(regex::Regex, AHashMap<String, u32>)>,
}

impl RankBpe {
    /// An encoder from ranks, a split pattern and special tokens. Every single byte needs a
    /// rank, so that any text can be encoded.
    pub fn new(
        ranks: AHashMap<Vec<u8>, u32>,
        pattern: &str,
        special_tokens: Vec<(String, u32)>,
    ) -> Result<Self> {
        if let Some(b) = (0..=255u8).find(|b| !ranks.contains_key(&[*b][..])) {
            return Err(Error::Input(format!(
                "byte 0x{b:02x} has no rank; a rank file must give every single byte one"
            )));
        }
        let pattern = Regex::new(pattern)
            .map_err(|e| Error::param("pattern", format!("not a valid regex: {e}")))?;
        let specials = if special_tokens.is_empty() {
            None
        } else {
            let mut names: Vec<&str> = special_tokens.iter().map(|(s, _)| s.as_str()).collect();
            if names.contains(&"") {
                return Err(Error::param("special_tokens", "a special token is empty"));
            }
            // Longest first, so a token that is a prefix of another never hides it.
            names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
            let alt: Vec<String> = names.iter().map(|s| regex::escape(s)).collect();
            let re = regex::Regex::new(&alt.join("|"))
                .map_err(|e| Error::param("special_tokens", e.to_string()))?;
            Some((re, special_tokens.into_iter().collect()))
        };
        Ok(RankBpe {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            ranks,
            pattern,
            specials,
        })
    }

    /// The number of tokens (ranks plus special tokens).
    pub fn vocab_size(&self) -> usize {
        self.ranks.len() + self.specials.as_ref().map_or(0, |(_, m)| m.len())
    }

    /// Encodes `text`, calling `emit(id, start)` per token with the byte offset it starts at.
    pub fn encode_with(&self, text: &str, mut emit: impl FnMut(u32, usize)) -> Result<()> {
        let mut start = 0;
        loop {
            let next = self
                .specials
                .as_ref()
                .and_then(|(re, ids)| re.find_at(text, start).map(|m| (m, ids)));
            let end = next.as_ref().map_or(text.len(), |(m, _)| m.start());
            // Like tiktoken, the pattern runs on the text up to the special token, so `$` can
            // match right before it.
            let chunk = &text[start..end];
            for m in self.pattern.find_iter(chunk) {
                let m = m.map_err(|e| Error::Input(format!("split pattern failed: {e}")))?;
                self.encode_piece(m.as_str().as_bytes(), start + m.start(), &mut emit);
            }
            match next {
                Some((m, ids)) => {
                    emit(ids[m.as_str()], m.start());
                    start = m.end();
                }
                None => return Ok(()),
            }
        }
    }

    /// Encodes one piece of the split, at byte offset `at` of the text.
    fn encode_piece(&self, piece: &[u8], at: usize, emit: &mut impl FnMut(u32, usize)) {
        if let Some(&id) = self.ranks.get(piece) {
            emit(id, at);
            return;
        }
        MERGED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= 4 && !cache.contains_key(&self.id) {
                cache.clear(); // encoders dropped long ago keep no memory
            }
            let mine = cache.entry(self.id).or_default();
            if let Some(tokens) = mine.get(piece) {
                for &(id, off) in tokens.iter() {
                    emit(id, at + off as usize);
                }
                return;
            }
            let bounds = byte_pair_merge(&self.ranks, piece);
            let tokens: Merged = bounds
                .windows(2)
                .map(|w| (self.ranks[&piece[w[0]..w[1]]], w[0] as u32))
                .collect();
            for &(id, off) in tokens.iter() {
                emit(id, at + off as usize);
            }
            if mine.len() >= CACHE_PIECES {
                mine.clear();
            }
            if piece.len() <= u32::MAX as usize {
                mine.insert(piece.into(), tokens);
            }
        })
    }
}

/// The boundaries of the tokens of `piece` (at least 2 bytes long): tiktoken's merge, with
/// `parts[i] = (start, rank of the pair starting there)`.
fn byte_pair_merge(ranks: &AHashMap<Vec<u8>, u32>, piece: &[u8]) -> Vec<usize> {
    let rank_of = |s: &[u8]| ranks.get(s).copied().unwrap_or(u32::MAX);
    let mut parts: Vec<(usize, u32)> = Vec::with_capacity(piece.len() + 1);
    let mut min = (u32::MAX, usize::MAX);
    for i in 0..piece.len() - 1 {
        let r = rank_of(&piece[i..i + 2]);
        if r < min.0 {
            min = (r, i);
        }
        parts.push((i, r));
    }
    parts.push((piece.len() - 1, u32::MAX));
    parts.push((piece.len(), u32::MAX));
    // The rank of merging parts i and i + 1 once part i + 1 is gone (hence i + 3).
    let pair_rank = |parts: &[(usize, u32)], i: usize| {
        if i + 3 < parts.len() {
            rank_of(&piece[parts[i].0..parts[i + 3].0])
        } else {
            u32::MAX
        }
    };
    while min.0 != u32::MAX {
        let i = min.1;
        if i > 0 {
            parts[i - 1].1 = pair_rank(&parts, i - 1);
        }
        parts[i].1 = pair_rank(&parts, i);
        parts.remove(i + 1);
        min = (u32::MAX, usize::MAX);
        for (j, &(_, r)) in parts[..parts.len() - 1].iter().enumerate() {
            if r < min.0 {
                min = (r, j);
            }
        }
    }
    parts.into_iter().map(|(start, _)| start).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_ranks(extra: &[&[u8]]) -> AHashMap<Vec<u8>, u32> {
        let mut r: AHashMap<Vec<u8>, u32> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for (i, t) in extra.iter().enumerate() {
            r.insert(t.to_vec(), 256 + i as u32);
        }
        r
    }

    fn encode(bpe: &RankBpe, text: &str) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        bpe.encode_with(text, |id, at| out.push((id, at))).unwrap();
        out
    }

    #[test]
    fn merges_lowest_rank_first() {
        // "ab" (256) merges before "bc" (257): "abc" -> ab, c.
        let bpe = RankBpe::new(bytes_ranks(&[b"ab", b"bc"]), r"\S+|\s+", vec![]).unwrap();
        assert_eq!(encode(&bpe, "abc"), vec![(256, 0), (b'c' as u32, 2)]);
        let bpe = RankBpe::new(bytes_ranks(&[b"bc", b"ab"]), r"\S+|\s+", vec![]).unwrap();
        assert_eq!(encode(&bpe, "abc"), vec![(b'a' as u32, 0), (256, 1)]);
    }

    #[test]
    fn specials_split_the_text() {
        let bpe = RankBpe::new(
            bytes_ranks(&[b"ab"]),
            CL100K_PATTERN,
            vec![("<|e|>".into(), 900), ("<|e|>x".into(), 901)],
        )
        .unwrap();
        assert_eq!(
            encode(&bpe, "ab<|e|>xab<|e|>"),
            vec![(256, 0), (901, 2), (256, 8), (900, 10)]
        );
    }

    #[test]
    fn every_preset_compiles() {
        for p in [R50K_PATTERN, CL100K_PATTERN, O200K_PATTERN] {
            RankBpe::new(bytes_ranks(&[]), p, vec![]).unwrap();
        }
    }

    #[test]
    fn bad_rank_files_name_the_line() {
        let err = parse_ranks(b"YQ== 0\n\nYg== x\n").unwrap_err().to_string();
        assert!(err.starts_with("line 3: rank"), "{err}");
        let err = parse_ranks(b"YQ== 0\n!!! 1\n").unwrap_err().to_string();
        assert!(err.starts_with("line 2: invalid base64"), "{err}");
        let err = parse_ranks(b"YQ==\n").unwrap_err().to_string();
        assert!(err.starts_with("line 1: expected"), "{err}");
        let missing = RankBpe::new(parse_ranks(b"YQ== 0\n").unwrap(), r"\S+", vec![]);
        assert!(missing.err().unwrap().to_string().contains("byte 0x00"));
    }
}
