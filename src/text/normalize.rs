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
        // NFKC is the identity on ASCII, and every ASCII character is one byte: a byte loop
        // with the same rules as `push`.
        let mut bytes = std::mem::take(out).into_bytes();
        let mut pending = false;
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if pending && !bytes.is_empty() {
                    bytes.push(b' ');
                }
                pending = false;
                bytes.push(if opts.fold_digits && b.is_ascii_digit() {
                    b'0'
                } else {
                    b.to_ascii_lowercase()
                });
            } else {
                pending = true;
            }
        }
        // SAFETY: only ASCII bytes were pushed, so the buffer is valid UTF-8.
        *out = unsafe { String::from_utf8_unchecked(bytes) };
    } else {
        for c in text.nfkc() {
            push(c, out);
        }
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

    #[test]
    fn disabled_is_identity() {
        let o = NormalizeOptions {
            enabled: false,
            ..Default::default()
        };
        assert_eq!(normalize(" A, b ", o), " A, b ");
    }
}
