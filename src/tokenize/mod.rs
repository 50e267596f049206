//! LLM tokenizers: count and encode texts with the tokenizer a model was trained with.
//!
//! Two kinds of files: a Hugging Face `tokenizer.json` (run by the `tokenizers` crate, so every
//! model type is exact) and a tiktoken-style rank file (our own byte-pair merge, see [`ranks`]).
//! [`batch`] runs either over many texts in mmdedup's thread pool.

pub mod batch;
pub mod hf;
pub mod ranks;

use crate::Result;

pub use hf::HfTokenizer;
pub use ranks::RankBpe;

/// A tokenizer of either kind.
// One per loaded file, shared behind an `Arc`: the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Tokenizer {
    Hf(HfTokenizer),
    Ranks(RankBpe),
}

impl Tokenizer {
    /// The number of tokens of `text`. `add_special_tokens` lets a `tokenizer.json`
    /// post-processor add its tokens (BOS, EOS, ...); rank files have none.
    pub fn count(&self, text: &str, add_special_tokens: bool) -> Result<usize> {
        match self {
            Tokenizer::Hf(t) => t.count(text, add_special_tokens),
            Tokenizer::Ranks(t) => {
                let mut n = 0;
                t.encode_with(text, |_, _| n += 1)?;
                Ok(n)
            }
        }
    }

    /// The token ids of `text`.
    pub fn ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        match self {
            Tokenizer::Hf(t) => t.ids(text, add_special_tokens),
            Tokenizer::Ranks(t) => {
                let mut ids = Vec::with_capacity(text.len() / 3);
                t.encode_with(text, |id, _| ids.push(id))?;
                Ok(ids)
            }
        }
    }

    /// Calls `emit(id, start)` per token of `text`, `start` being the byte offset where it
    /// begins (`usize::MAX` for tokens a post-processor adds).
    pub fn encode_with(
        &self,
        text: &str,
        add_special_tokens: bool,
        emit: impl FnMut(u32, usize),
    ) -> Result<()> {
        match self {
            Tokenizer::Hf(t) => t.encode_with(text, add_special_tokens, emit),
            Tokenizer::Ranks(t) => t.encode_with(text, emit),
        }
    }

    /// The vocabulary size (added and special tokens included).
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Hf(t) => t.vocab_size(),
            Tokenizer::Ranks(t) => t.vocab_size(),
        }
    }
}
