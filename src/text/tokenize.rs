//! Word tokenization: Unicode word segmentation (UAX #29), keeping only segments that contain a
//! letter or number, then splitting segments of unspaced scripts (see [`super::script`]) into
//! units of one character plus its combining marks.

use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use super::script::is_unspaced;

/// Calls `emit` with each token of `text`, in order, as a slice of `text`.
pub fn for_each_token<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    // Normalized ASCII text holds only letters, digits and single spaces; there UAX #29 words
    // are exactly the space-separated runs (letters and digits always join: WB5, WB8–WB10), so
    // the segmenter can be skipped. The check is one pass over the bytes.
    if text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
        for word in text.split(' ') {
            if !word.is_empty() {
                emit(word);
            }
        }
        return;
    }
    for word in text.unicode_words() {
        if !word.chars().any(is_unspaced) {
            emit(word);
            continue;
        }
        // Split into units: a character and the combining marks that follow it. A run of
        // spaced-script characters inside the word (rare: "中文abc") stays one unit.
        let mut start = 0;
        let mut prev_unspaced: Option<bool> = None;
        for (i, c) in word.char_indices() {
            if is_combining_mark(c) {
                continue;
            }
            let unspaced = is_unspaced(c);
            if let Some(p) = prev_unspaced {
                if p || unspaced {
                    emit(&word[start..i]);
                    start = i;
                }
            }
            prev_unspaced = Some(unspaced);
        }
        if start < word.len() {
            emit(&word[start..]);
        }
    }
}

/// The tokens of `text` as a vector (convenience for tests and the Python `tokenize`).
pub fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_token(text, |t| out.push(t));
    out
}

#[cfg(test)]
mod tests {
    use super::tokens;
    use unicode_segmentation::UnicodeSegmentation;

    #[test]
    fn ascii_fast_path_agrees_with_uax29() {
        for text in [
            "abc def 123 a1b2",
            "  lead and trail  ",
            "x",
            "",
            "9 lives 4ever",
        ] {
            let slow: Vec<&str> = text.unicode_words().collect();
            assert_eq!(tokens(text), slow, "{text:?}");
        }
    }

    #[test]
    fn splits_words() {
        assert_eq!(
            tokens("the quick brown fox"),
            ["the", "quick", "brown", "fox"]
        );
        assert_eq!(tokens("don't stop 3.14"), ["don't", "stop", "3.14"]);
        assert!(tokens("  ").is_empty());
    }

    #[test]
    fn splits_unspaced_scripts_into_characters() {
        assert_eq!(tokens("我爱北京"), ["我", "爱", "北", "京"]);
        assert_eq!(tokens("カタカナです"), ["カ", "タ", "カ", "ナ", "で", "す"]);
        // Thai: a consonant keeps its vowel and tone marks.
        assert_eq!(tokens("ที่นี่"), ["ที่", "นี่"]);
        assert_eq!(tokens("hello 世界 world"), ["hello", "世", "界", "world"]);
    }
}
