//! The tokenizer loaders (src/tokenize/): any bytes as a tiktoken rank file and as a Hugging Face
//! `tokenizer.json`. No panic loading; what loads then encodes a few texts without panicking,
//! with counts that agree with the ids, and (rank files) tokens that spell the text back.
#![no_main]

mod common;

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use mmdedup::tokenize::ranks::{parse_ranks, preset};
use mmdedup::tokenize::{HfTokenizer, RankBpe, Tokenizer};

type Ranks = HashMap<Vec<u8>, u32>;

const TEXTS: [&str; 4] = [
    "",
    "Hello, world! It's 2024: 1234567 don't   \n\n  tabs\there",
    "日本語のテキスト, café naïve Ωmega 🙂 <|endoftext|> after",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb'll've're ",
];

const SPECIAL: &str = "<|endoftext|>";

/// `exact_count`: whether `count` must equal the number of ids. It must, except where a
/// post-processor's template leaves out the sequence itself (`"single": []` encodes any text
/// as no ids): `count` only adds the template's special tokens, so such (useless) files are
/// not checked.
fn encode_all(t: &Tokenizer, extra: &str, spell: Option<&Ranks>, exact_count: bool) {
    for text in TEXTS.iter().copied().chain([extra]) {
        for special in [false, true] {
            let Ok(ids) = t.ids(text, special) else {
                continue;
            };
            if let Ok(n) = t.count(text, special) {
                if exact_count {
                    assert_eq!(n, ids.len(), "count and ids of {text:?}");
                }
            }
            let mut starts = Vec::new();
            if t.encode_with(text, special, |id, at| starts.push((id, at)))
                .is_ok()
            {
                let got: Vec<u32> = starts.iter().map(|&(id, _)| id).collect();
                assert_eq!(got, ids, "encode_with and ids of {text:?}");
                for &(_, at) in &starts {
                    assert!(at == usize::MAX || at <= text.len(), "offset {at}");
                }
            }
            if let Some(ranks) = spell {
                // Rank files: the tokens spell the text, special tokens included.
                let by_id: HashMap<u32, &[u8]> = ranks
                    .iter()
                    .map(|(k, &v)| (v, k.as_slice()))
                    .chain([(u32::MAX, SPECIAL.as_bytes())])
                    .collect();
                let spelled: Vec<u8> = ids.iter().flat_map(|id| by_id[id].to_vec()).collect();
                assert_eq!(spelled, text.as_bytes(), "tokens of {text:?}");
                let mut last = None;
                for &(_, at) in &starts {
                    assert!(last.is_none_or(|l| l < at), "offsets not increasing");
                    last = Some(at);
                }
            }
        }
    }
}

fuzz_target!(init: common::let_caught_dependency_panics_unwind(), |data: &[u8]| {
    let extra: String = String::from_utf8_lossy(&data[..data.len().min(200)]).into_owned();
    // A rank file as given (usually refused: every byte needs a rank), then completed with the
    // missing bytes so the merge runs on the fuzzed ranks.
    if let Ok(ranks) = parse_ranks(data) {
        let pattern = preset(["gpt2", "cl100k_base", "o200k_base"][data.len() % 3]).unwrap();
        if let Ok(bpe) = RankBpe::new(ranks.clone(), pattern, vec![]) {
            encode_all(&Tokenizer::Ranks(bpe), &extra, None, true);
        }
        let mut full: Ranks = ranks.into_iter().collect();
        let mut next = full.values().max().map_or(0, |&m| m.saturating_add(1));
        for b in 0..=255u8 {
            full.entry(vec![b]).or_insert_with(|| {
                next = next.wrapping_add(1);
                next
            });
        }
        // Spelling back needs one token per id, and the special token's id free.
        let mut ids: Vec<u32> = full.values().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        let unique = ids.len() == full.len() && !full.values().any(|&v| v == u32::MAX);
        let specials = vec![(SPECIAL.to_owned(), u32::MAX)];
        let ranks = full.iter().map(|(k, &v)| (k.clone(), v)).collect();
        let bpe = RankBpe::new(ranks, pattern, specials).expect("every byte has a rank");
        encode_all(&Tokenizer::Ranks(bpe), &extra, unique.then_some(&full), true);
    }
    if let Ok(hf) = HfTokenizer::from_bytes(data) {
        let _ = hf.vocab_size();
        let _ = hf.token_to_id("a");
        let processed = data.windows(14).any(|w| w == b"post_processor");
        encode_all(&Tokenizer::Hf(hf), &extra, None, !processed);
    }
});
