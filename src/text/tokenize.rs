//! Word tokenization: Unicode word segmentation (UAX #29), keeping only segments that contain a
//! letter or number, then splitting segments of unspaced scripts (see [`super::script`]) into
//! units of one character plus its combining marks.

use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use super::script::is_unspaced;

/// Calls `emit` with each token of `text`, in order, as a slice of `text`.
///
/// Space-separated runs of ASCII letters and digits are words as they are (letters and digits
/// always join: WB5, WB8–WB10), so UAX #29 only runs over the rest, in regions that start at a
/// boundary no rule crosses: the start of the text, a run beginning with an ASCII character
/// right after a space (only Extend, Format and ZWJ characters attach to a preceding space, WB4),
/// or the spaces before a run that begins with another character. The tokens are exactly those
/// of UAX #29 over the whole text; normalized text in Latin script rarely needs the segmenter.
pub fn for_each_token<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let len = bytes.len();
    // Start of the region not yet segmented, if any.
    let mut region: Option<usize> = None;
    let mut i = 0;
    while i < len {
        let spaces = i;
        while i < len && bytes[i] == b' ' {
            i += 1;
        }
        if i == len {
            break;
        }
        let start = i;
        while i < len && bytes[i] != b' ' {
            i += 1;
        }
        if bytes[start].is_ascii() {
            if let Some(r) = region.take() {
                segment(&text[r..spaces], &mut emit);
            }
            if bytes[start..i].iter().all(u8::is_ascii_alphanumeric) {
                emit(&text[start..i]);
            } else {
                region = Some(start);
            }
        } else if region.is_none() {
            region = Some(spaces);
        }
    }
    if let Some(r) = region {
        segment(&text[r..], &mut emit);
    }
}

/// UAX #29 words of `text` with a letter or number, unspaced scripts split into characters.
fn segment<'a>(text: &'a str, emit: &mut impl FnMut(&'a str)) {
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

    /// The definition: UAX #29 over the whole text, unspaced scripts split.
    fn reference(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        super::segment(text, &mut |t| out.push(t));
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        // Spaces next to marks (U+0301, U+093E which is alphabetic), ZWJ, format characters,
        // ideographic space, CJK, Thai, punctuation and digits, normalized or not.
        #[test]
        fn regions_give_the_same_tokens_as_the_whole_text(
            text in "[a-c1 .,'_\u{301}\u{93e}\u{200d}\u{ad}\u{3000}\u{1f642}\u{1f1e6}中文ภาé\t]{0,30}"
        ) {
            proptest::prop_assert_eq!(tokens(&text), reference(&text));
            let norm = crate::text::normalize(&text, Default::default());
            proptest::prop_assert_eq!(tokens(&norm), reference(&norm));
        }
    }

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
