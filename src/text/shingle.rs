//! Shingling: word n-grams (tokens joined by one space) or character n-grams of the normalized
//! text. A text with fewer than `n` units yields one shingle made of all of them, so short texts
//! still have a signature; a text with no unit yields none (it is "empty").

use super::normalize::{ascii_run, normalize_into, trim_space, NormalizeOptions};
use super::tokenize::for_each_token;
use crate::{Error, Result};

/// The unit n-grams are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShingleKind {
    /// Word n-grams over [`super::tokenize`] tokens.
    Word,
    /// Character n-grams over the normalized text (spaces included).
    Char,
}

impl std::str::FromStr for ShingleKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "word" => Ok(ShingleKind::Word),
            "char" => Ok(ShingleKind::Char),
            _ => Err(Error::param(
                "tokenizer",
                format!("expected 'word' or 'char', got {s:?}"),
            )),
        }
    }
}

/// Turns texts into shingles. Holds reusable buffers: one per thread.
#[derive(Clone, Debug)]
pub struct Shingler {
    pub kind: ShingleKind,
    pub n: usize,
    pub normalize: NormalizeOptions,
    norm: String,
    buf: Vec<u8>,
    ring: Vec<Span>,
    starts: Vec<usize>,
}

impl Shingler {
    pub fn new(kind: ShingleKind, n: usize, normalize: NormalizeOptions) -> Result<Self> {
        if n == 0 {
            return Err(Error::param("ngram", "must be at least 1"));
        }
        Ok(Shingler {
            kind,
            n,
            normalize,
            norm: String::new(),
            buf: Vec::new(),
            ring: Vec::new(),
            starts: Vec::new(),
        })
    }

    /// Calls `emit` with the UTF-8 bytes of every shingle of `text`, in order, repeats included.
    /// Returns the number of shingles.
    pub fn for_each(&mut self, text: &str, mut emit: impl FnMut(&[u8])) -> usize {
        let o = self.normalize;
        if self.kind == ShingleKind::Word && o.enabled && !o.strip_accents && text.is_ascii() {
            return ascii_word_shingles(
                text.as_bytes(),
                self.n,
                o.fold_digits,
                &mut self.buf,
                &mut self.starts,
                &mut emit,
            );
        }
        normalize_into(text, o, &mut self.norm);
        let (n, norm) = (self.n, self.norm.as_str());
        match self.kind {
            ShingleKind::Word => word_shingles(norm, n, &mut self.ring, &mut self.buf, &mut emit),
            ShingleKind::Char => char_shingles(norm, n, &mut self.starts, &mut emit),
        }
    }

    /// The shingles of `text` as strings (for inspection and tests; the kernels never allocate
    /// one string per shingle).
    pub fn shingles(&mut self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each(text, |b| out.push(String::from_utf8_lossy(b).into_owned()));
        out
    }
}

/// Word shingles of ASCII text with default normalization: one branch-free pass normalizes
/// the bytes and records where each word starts ([`ascii_run`]; the words of normalized ASCII
/// are exactly its space-separated runs, as in [`for_each_token`]'s fast path). A shingle is
/// then the slice of the normalized bytes from its first word's start to its last word's end,
/// which is the words joined by one space: nothing is copied per shingle.
fn ascii_word_shingles(
    text: &[u8],
    n: usize,
    fold_digits: bool,
    out: &mut Vec<u8>,
    starts: &mut Vec<usize>,
    emit: &mut impl FnMut(&[u8]),
) -> usize {
    out.clear();
    starts.clear();
    ascii_run::<true>(text, fold_digits, out, false, starts);
    trim_space(out);
    let words = starts.len();
    if words == 0 {
        return 0;
    }
    if words < n {
        emit(out);
        return 1;
    }
    for i in 0..=words - n {
        // The word after the window starts one space after the window's end.
        let end = starts.get(i + n).map_or(out.len(), |&s| s - 1);
        emit(&out[starts[i]..end]);
    }
    words - n + 1
}

/// A word of the normalized text: its byte range.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: usize,
    end: usize,
}

fn word_shingles(
    text: &str,
    n: usize,
    ring: &mut Vec<Span>,
    buf: &mut Vec<u8>,
    emit: &mut impl FnMut(&[u8]),
) -> usize {
    // A ring of the last `n` words. Where their separators are single spaces (nearly always in
    // normalized text) a shingle is a slice of `text`; otherwise it is joined into `buf`.
    let bytes = text.as_bytes();
    ring.clear();
    ring.resize(n, Span::default());
    let (mut seen, mut slot) = (0usize, 0usize);
    // Words seen up to and including the last one not spaced from its predecessor.
    let mut last_gap = 0usize;
    let mut prev_end = 0usize;
    for_each_token(text, |tok| {
        let start = tok.as_ptr() as usize - text.as_ptr() as usize;
        let end = start + tok.len();
        let spaced = seen > 0 && start == prev_end + 1 && bytes[prev_end] == b' ';
        prev_end = end;
        ring[slot] = Span { start, end };
        seen += 1;
        slot = if slot + 1 == n { 0 } else { slot + 1 };
        if seen > 1 && !spaced {
            last_gap = seen;
        }
        if seen >= n {
            // The window is words seen-n+1 ..= seen; slice it when none but its first has a
            // gap that is not one space.
            if last_gap <= seen + 1 - n {
                emit(&bytes[ring[slot].start..end]);
            } else {
                join_window(bytes, ring, slot, buf);
                emit(buf);
            }
        }
    });
    if seen > 0 && seen < n {
        join_window(bytes, &ring[..seen], 0, buf);
        emit(buf);
        return 1;
    }
    seen.saturating_sub(n - 1)
}

fn join_window(text: &[u8], ring: &[Span], start: usize, buf: &mut Vec<u8>) {
    buf.clear();
    for i in 0..ring.len() {
        if i > 0 {
            buf.push(b' ');
        }
        let w = ring[(start + i) % ring.len()];
        buf.extend_from_slice(&text[w.start..w.end]);
    }
}

fn char_shingles(
    text: &str,
    n: usize,
    starts: &mut Vec<usize>,
    emit: &mut impl FnMut(&[u8]),
) -> usize {
    if text.is_empty() {
        return 0;
    }
    // Byte offsets of character starts, so each window is a slice of `text`.
    starts.clear();
    starts.extend(text.char_indices().map(|(i, _)| i));
    if starts.len() <= n {
        emit(text.as_bytes());
        return 1;
    }
    let count = starts.len() - n + 1;
    for i in 0..count {
        let end = starts.get(i + n).copied().unwrap_or(text.len());
        emit(&text.as_bytes()[starts[i]..end]);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(kind: ShingleKind, n: usize, text: &str) -> Vec<String> {
        Shingler::new(kind, n, NormalizeOptions::default())
            .unwrap()
            .shingles(text)
    }

    #[test]
    fn word_ngrams() {
        assert_eq!(
            sh(ShingleKind::Word, 3, "The quick, brown fox jumps!"),
            ["the quick brown", "quick brown fox", "brown fox jumps"]
        );
        assert_eq!(sh(ShingleKind::Word, 5, "Too short."), ["too short"]);
        assert!(sh(ShingleKind::Word, 5, " !! ").is_empty());
        assert_eq!(sh(ShingleKind::Word, 1, "a b a"), ["a", "b", "a"]);
    }

    #[test]
    fn cjk_word_ngrams_are_character_ngrams() {
        assert_eq!(
            sh(ShingleKind::Word, 2, "我爱北京"),
            ["我 爱", "爱 北", "北 京"]
        );
    }

    #[test]
    fn char_ngrams() {
        assert_eq!(sh(ShingleKind::Char, 3, "Ab, cd"), ["ab ", "b c", " cd"]);
        assert_eq!(sh(ShingleKind::Char, 9, "Abc"), ["abc"]);
        assert_eq!(sh(ShingleKind::Char, 2, "né"), ["né"]);
        assert!(sh(ShingleKind::Char, 2, "").is_empty());
    }

    /// The definition: the words of the normalized text, `n` at a time, joined by one space.
    fn reference(n: usize, o: NormalizeOptions, text: &str) -> Vec<String> {
        let norm = crate::text::normalize(text, o);
        let words = crate::text::tokenize::tokens(&norm);
        if words.is_empty() {
            return vec![];
        }
        if words.len() < n {
            return vec![words.join(" ")];
        }
        words.windows(n).map(|w| w.join(" ")).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        // Covers the fused ASCII path, slices of the normalized text and joined windows (words
        // separated by something other than one space: unspaced scripts, a mark after a space,
        // text that is not normalized).
        #[test]
        fn word_shingles_follow_the_definition(
            text in "[a-zA-Z0-9 ,.!_'\\-]{0,60}|[a-zA-Z0-9 ,.é中文カナ\u{301}\u{e34}ก]{0,40}",
            n in 1usize..6,
            enabled: bool,
            fold_digits: bool,
        ) {
            let o = NormalizeOptions { enabled, fold_digits, strip_accents: false };
            let mut s = Shingler::new(ShingleKind::Word, n, o).unwrap();
            let mut count = 0;
            let got = {
                let mut out = Vec::new();
                count += s.for_each(&text, |b| out.push(String::from_utf8(b.to_vec()).unwrap()));
                out
            };
            proptest::prop_assert_eq!(count, got.len());
            proptest::prop_assert_eq!(got, reference(n, o, &text));
        }
    }

    #[test]
    fn windows_across_unspaced_words_are_joined() {
        // "中文" is two words with no space between them: the shingle is joined, not sliced.
        assert_eq!(
            sh(ShingleKind::Word, 2, "ab 中文 cd"),
            ["ab 中", "中 文", "文 cd"]
        );
    }

    #[test]
    fn rejects_zero_n() {
        assert!(Shingler::new(ShingleKind::Word, 0, NormalizeOptions::default()).is_err());
    }
}
