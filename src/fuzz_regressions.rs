//! Inputs the fuzzers (`fuzz/`, `scripts/fuzz.sh`) found to crash or misbehave, kept as tests
//! once fixed.

use crate::tokenize::HfTokenizer;

#[test]
fn truncated_tokenizer_json_is_an_error_not_a_panic() {
    // tokenizers 0.23.2 panics (`expect("Helper")`) on a decoder section cut short.
    for data in [
        &br#"{"decoder":"#[..],
        br#"{"decoder": {"type": "ByteLevel", "add_pre"#,
    ] {
        let err = HfTokenizer::from_bytes(data).err().expect("an error");
        assert!(err.to_string().contains("not a tokenizer.json"), "{err}");
    }
}

#[test]
fn a_template_naming_an_undefined_special_token_is_an_error_not_a_panic() {
    // tokenizers 0.23.2 loads this, then panics ("no entry found for key") at every encode that
    // adds special tokens.
    let data = br#"{"post_processor":{"single":[{"SpecialToken":{"id":"","type_id":0}}],
        "pair":[],"special_tokens":{}},"model":{"vocab":[]}}"#;
    let t = HfTokenizer::from_bytes(data).unwrap();
    let err = t.ids("", true).unwrap_err().to_string();
    assert!(err.contains("panicked (no entry found for key)"), "{err}");
    assert!(t.encode_with("", true, |_, _| {}).is_err());
    assert_eq!(t.ids("", false).unwrap(), Vec::<u32>::new());
}
