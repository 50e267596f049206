//! Scripts written without spaces between words. UAX #29 leaves runs of them as one "word" (or
//! Katakana runs, Thai phrases), so n-grams over such words would be whole sentences; mmdedup
//! splits them into characters instead, the unit CJK near-duplicate detection commonly uses.

/// True for characters of Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar and related blocks.
pub fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x19E0..=0x19FF    // Khmer symbols
        | 0x2E80..=0x2FDF    // CJK radicals, Kangxi radicals
        | 0x3005..=0x3007    // ideographic iteration mark, closing mark, number zero
        | 0x3021..=0x3029    // Hangzhou numerals
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3100..=0x312F    // Bopomofo
        | 0x31A0..=0x31FF    // Bopomofo extended, Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xA9E0..=0xA9FF    // Myanmar extended-B
        | 0xAA60..=0xAA7F    // Myanmar extended-A
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x1B000..=0x1B16F  // Kana supplement and extended
        | 0x20000..=0x323AF  // CJK extensions B..H
    )
}

#[cfg(test)]
mod tests {
    use super::is_unspaced;

    #[test]
    fn classifies_scripts() {
        for c in ['中', 'ひ', 'カ', 'ก', 'ສ', 'က', 'ក', '𠀀'] {
            assert!(is_unspaced(c), "{c}");
        }
        for c in ['a', 'é', 'я', 'ا', '한', '1', ' '] {
            assert!(!is_unspaced(c), "{c}");
        }
    }
}
