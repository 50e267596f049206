//! Normalization before shingling, after datatrove's `simplify_text`: Unicode NFKC, lowercase,
//! every character that is neither a letter, a number nor a combining mark becomes a space, and
//! runs of spaces collapse to one (no leading or trailing space). Optional: accents stripped
//! (NFD, combining marks removed) and digits folded to `0`.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Switches for [`normalize`]. The default is what every method uses unless told otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Apply NFKC, lowercasing and punctuation folding at all. Off, text is used as is.
    pub enabled: bool,
    /// Replace every numeric character (any script's digits, ², ½, ...) by `0`, so numbers that
    /// differ in value still match.
    pub fold_digits: bool,
    /// Remove accents and other combining marks (`café` → `cafe`).
    pub strip_accents: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            enabled: true,
            fold_digits: false,
            strip_accents: false,
        }
    }
}

/// Normalizes `text` into `out` (cleared first), so a caller can reuse one buffer for many texts.
pub fn normalize_into(text: &str, opts: NormalizeOptions, out: &mut String) {
    out.clear();
    if !opts.enabled {
        out.push_str(text);
        return;
    }
    // `pending_space` defers a separator until the next kept character, which collapses runs and
    // drops leading and trailing separators without a second pass.
    let mut pending_space = false;
    let mut push = |c: char, out: &mut String| {
        let keep = c.is_alphanumeric() || (!opts.strip_accents && is_combining_mark(c));
        if !keep {
            pending_space = true;
            return;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        if opts.fold_digits && c.is_numeric() {
            out.push('0');
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    };
    if opts.strip_accents {
        for c in text.nfkd() {
            if !is_combining_mark(c) {
                push(c, out);
            }
        }
        // Recompose what stripping left (Hangul syllables, for one, decompose under NFKD).
        let composed: String = out.nfc().collect();
        *out = composed;
    } else if text.is_ascii() {
        // NFKC is the identity on ASCII, and every ASCII character is one byte.
        let mut bytes = std::mem::take(out).into_bytes();
        ascii_into(text.as_bytes(), opts.fold_digits, &mut bytes, false);
        trim_space(&mut bytes);
        // SAFETY: only ASCII bytes were pushed, so the buffer is valid UTF-8.
        *out = unsafe { String::from_utf8_unchecked(bytes) };
    } else {
        let mut bytes = std::mem::take(out).into_bytes();
        normalize_mixed(text, opts.fold_digits, &mut bytes);
        // SAFETY: whole characters were pushed, so the buffer is valid UTF-8.
        *out = unsafe { String::from_utf8_unchecked(bytes) };
    }
}

/// The default normalization (no accent stripping) of text that is not all ASCII, appended to
/// the empty `out`. Runs of ASCII take the byte path; NFKC runs on the rest, in pieces cut just
/// before ASCII characters: NFKC never joins an ASCII character to what precedes it, so the
/// pieces normalize independently. The ASCII character right before a non-ASCII one goes with
/// the latter (it may compose with a following combining mark: `<` + U+0338 is `≮`).
fn normalize_mixed(text: &str, fold_digits: bool, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let len = bytes.len();
    // Spaces are written eagerly, at the first separator after a kept character (`open`: the
    // last byte out is a kept character), and a trailing one is removed at the end: the same
    // output as deferring each space to the next kept character.
    let mut open = false;
    let mut i = 0;
    while i < len {
        let Some(off) = bytes[i..].iter().position(|b| !b.is_ascii()) else {
            ascii_into(&bytes[i..], fold_digits, out, open);
            break;
        };
        let p = i + off;
        let s = if p > i { p - 1 } else { p };
        open = ascii_into(&bytes[i..s], fold_digits, out, open);
        // The piece ends before an ASCII character followed by another ASCII one (or the end).
        let mut q = p;
        loop {
            while q < len && !bytes[q].is_ascii() {
                q += 1;
            }
            if q + 1 >= len || bytes[q + 1].is_ascii() {
                break;
            }
            q += 1;
        }
        let q = q.min(len);
        for c in text[s..q].nfkc() {
            if !(c.is_alphanumeric() || is_combining_mark(c)) {
                if open {
                    out.push(b' ');
                }
                open = false;
                continue;
            }
            open = true;
            let mut utf8 = [0u8; 4];
            if fold_digits && c.is_numeric() {
                out.push(b'0');
            } else if c.is_uppercase() {
                for l in c.to_lowercase() {
                    out.extend_from_slice(l.encode_utf8(&mut utf8).as_bytes());
                }
            } else {
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
        i = q;
    }
    trim_space(out);
}

/// The normalized byte of each ASCII character: the letter lowercased or the digit (`0` when
/// folding digits); 0 for a separator.
const fn ascii_table(fold_digits: bool) -> [u8; 128] {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            if fold_digits {
                b'0'
            } else {
                c
            }
        } else if c.is_ascii_alphabetic() {
            c.to_ascii_lowercase()
        } else {
            0
        };
        b += 1;
    }
    t
}

static ASCII: [[u8; 128]; 2] = [ascii_table(false), ascii_table(true)];

/// Appends the default normalization of ASCII `text` to `out`, one byte per input byte without
/// branches: a kept character's normalized byte, or a space for the first separator after a kept
/// character (`open` says the last byte already out is one; the new value is returned). A
/// trailing space is the caller's to remove ([`trim_space`]).
#[inline]
pub(crate) fn ascii_into(text: &[u8], fold_digits: bool, out: &mut Vec<u8>, open: bool) -> bool {
    ascii_run::<false>(text, fold_digits, out, open, &mut Vec::new())
}

/// [`ascii_into`] that also appends the start in `out` of every word to `starts` (a word
/// continuing the last one already out, `open`, is not a new start).
#[inline(always)]
pub(crate) fn ascii_run<const STARTS: bool>(
    text: &[u8],
    fold_digits: bool,
    out: &mut Vec<u8>,
    mut open: bool,
    starts: &mut Vec<usize>,
) -> bool {
    let table = &ASCII[fold_digits as usize];
    let base = out.len();
    out.resize(base + text.len(), 0);
    let buf = &mut out[base..];
    let first = starts.len();
    if STARTS {
        starts.resize(first + text.len() / 2 + 1, 0);
    }
    let (mut j, mut nw) = (0usize, first);
    for &b in text {
        let c = table[(b & 0x7F) as usize];
        let kept = c != 0;
        // `j` never passes the input position, and a word needs a byte plus a separator, so
        // both writes are in bounds.
        buf[j] = if kept { c } else { b' ' };
        if STARTS {
            starts[nw] = base + j;
            nw += (kept & !open) as usize;
        }
        j += (kept | open) as usize;
        open = kept;
    }
    out.truncate(base + j);
    if STARTS {
        starts.truncate(nw);
    }
    open
}

/// Removes the trailing space that eager spacing leaves after a final separator.
#[inline]
pub(crate) fn trim_space(out: &mut Vec<u8>) {
    if out.last() == Some(&b' ') {
        out.pop();
    }
}

/// Normalizes one text; see the module documentation for the exact rules.
pub fn normalize(text: &str, opts: NormalizeOptions) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, opts, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s, NormalizeOptions::default())
    }

    #[test]
    fn folds_case_punctuation_and_space() {
        assert_eq!(
            n("  Hello,   WORLD!!\n\tIt's\u{00a0}me. "),
            "hello world it s me"
        );
        assert_eq!(n(""), "");
        assert_eq!(n("...!?"), "");
    }

    #[test]
    fn applies_nfkc() {
        // Full-width letters and the "fi" ligature are compatibility characters.
        assert_eq!(n("ＡＢＣ ﬁne"), "abc fine");
    }

    #[test]
    fn keeps_combining_marks_unless_stripping() {
        assert_eq!(n("Café naïve"), "café naïve");
        let o = NormalizeOptions {
            strip_accents: true,
            ..Default::default()
        };
        assert_eq!(normalize("Café naïve Ünïcödé", o), "cafe naive unicode");
        // Devanagari vowel signs are combining marks and stay attached.
        assert_eq!(n("नमस्ते दुनिया"), "नमस्ते दुनिया");
    }

    #[test]
    fn folds_digits_on_request() {
        let o = NormalizeOptions {
            fold_digits: true,
            ..Default::default()
        };
        assert_eq!(
            normalize("Call 555-1234 in 2024", o),
            "call 000 0000 in 0000"
        );
        assert_eq!(n("Call 555-1234"), "call 555 1234");
    }

    #[test]
    fn ascii_path_equals_the_general_rules() {
        // The same text with one non-ASCII character appended takes the general path.
        for text in [
            "Hello,  World! 42x",
            "  a--b__c  ",
            "UPPER lower 0123",
            "",
            "!!!",
        ] {
            for fold_digits in [false, true] {
                let o = NormalizeOptions {
                    fold_digits,
                    ..Default::default()
                };
                let general = normalize(&format!("{text} é"), o);
                let fast = normalize(text, o);
                assert_eq!(format!("{fast} é").trim_start(), general, "{text:?}");
            }
        }
    }

    /// The definition, one character at a time over the NFKC of the whole text.
    fn reference(text: &str, fold_digits: bool) -> String {
        let mut out = String::new();
        let mut pending = false;
        for c in text.nfkc() {
            if !(c.is_alphanumeric() || is_combining_mark(c)) {
                pending = true;
                continue;
            }
            if pending && !out.is_empty() {
                out.push(' ');
            }
            pending = false;
            if fold_digits && c.is_numeric() {
                out.push('0');
            } else if c.is_uppercase() {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        // ASCII runs next to combining marks that compose with them (`<` + U+0338 is `≮`,
        // `e` + U+0301 is `é`), compatibility characters, digits of other scripts.
        #[test]
        fn pieces_normalize_like_the_whole_text(
            text in "[aZ9<=> ,.\u{301}\u{338}\u{308}ﬁＡ①٣éÅǅ中\u{ad}]{0,30}",
            fold_digits: bool,
        ) {
            let o = NormalizeOptions { fold_digits, ..Default::default() };
            proptest::prop_assert_eq!(normalize(&text, o), reference(&text, fold_digits));
        }
    }

    #[test]
    fn composes_across_ascii() {
        assert_eq!(n("a<\u{338}b e\u{301}"), "a b é");
        assert_eq!(n("x\u{301}y"), "x\u{301}y");
    }

    #[test]
    fn disabled_is_identity() {
        let o = NormalizeOptions {
            enabled: false,
            ..Default::default()
        };
        assert_eq!(normalize(" A, b ", o), " A, b ");
    }
}
