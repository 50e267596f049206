//! Shingling: word n-grams (tokens joined by one space) or character n-grams of the normalized
//! text. A text with fewer than `n` units yields one shingle made of all of them, so short texts
//! still have a signature; a text with no unit yields none (it is "empty").

use super::normalize::{normalize_into, NormalizeOptions};
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
        })
    }

    /// Calls `emit` with the UTF-8 bytes of every shingle of `text`, in order, repeats included.
    /// Returns the number of shingles.
    pub fn for_each(&mut self, text: &str, mut emit: impl FnMut(&[u8])) -> usize {
        normalize_into(text, self.normalize, &mut self.norm);
        let (n, norm, buf) = (self.n, self.norm.as_str(), &mut self.buf);
        match self.kind {
            ShingleKind::Word => word_shingles(norm, n, buf, &mut emit),
            ShingleKind::Char => char_shingles(norm, n, &mut emit),
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

fn word_shingles(text: &str, n: usize, buf: &mut Vec<u8>, emit: &mut impl FnMut(&[u8])) -> usize {
    // A ring of the last `n` tokens; each shingle is rebuilt into `buf` (a few dozen bytes).
    let mut ring: Vec<&str> = Vec::with_capacity(n);
    let mut seen = 0usize;
    let mut count = 0usize;
    for_each_token(text, |tok| {
        if ring.len() < n {
            ring.push(tok);
        } else {
            ring[seen % n] = tok;
        }
        seen += 1;
        if seen >= n {
            join_window(&ring, seen % n, buf);
            emit(buf);
            count += 1;
        }
    });
    if seen > 0 && seen < n {
        join_window(&ring, 0, buf);
        emit(buf);
        count += 1;
    }
    count
}

fn join_window(ring: &[&str], start: usize, buf: &mut Vec<u8>) {
    buf.clear();
    for i in 0..ring.len() {
        if i > 0 {
            buf.push(b' ');
        }
        buf.extend_from_slice(ring[(start + i) % ring.len()].as_bytes());
    }
}

fn char_shingles(text: &str, n: usize, emit: &mut impl FnMut(&[u8])) -> usize {
    if text.is_empty() {
        return 0;
    }
    // Byte offsets of character starts, so each window is a slice of `text`.
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
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

    #[test]
    fn rejects_zero_n() {
        assert!(Shingler::new(ShingleKind::Word, 0, NormalizeOptions::default()).is_err());
    }
}
