//! Hugging Face `tokenizer.json` files, run by the `tokenizers` crate itself so that every
//! model, normalizer, pre-tokenizer and post-processor behaves exactly as in the Python library.

use tokenizers::Tokenizer;

use crate::{Error, Result};

/// A `tokenizer.json` tokenizer.
pub struct HfTokenizer {
    inner: Tokenizer,
}

impl HfTokenizer {
    /// Loads a `tokenizer.json` from its bytes. Truncation and padding are switched off: counts
    /// are of whole texts.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        let mut inner = Tokenizer::from_bytes(data)
            .map_err(|e| Error::Input(format!("not a tokenizer.json: {e}")))?;
        inner
            .with_truncation(None)
            .map_err(|e| Error::Input(e.to_string()))?;
        inner.with_padding(None);
        Ok(HfTokenizer { inner })
    }

    /// The vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id of a token of the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The number of tokens of `text` (what `len(tokenizer.encode(text).ids)` gives).
    pub fn count(&self, text: &str, add_special_tokens: bool) -> Result<usize> {
        let enc = self
            .inner
            .encode_fast(text, add_special_tokens)
            .map_err(|e| Error::Input(e.to_string()))?;
        Ok(enc.len())
    }

    /// Encodes `text`, calling `emit(id, start)` per token with the byte offset it starts at;
    /// tokens that the post-processor adds (BOS, EOS, ...) start at `usize::MAX`.
    pub fn encode_with(
        &self,
        text: &str,
        add_special_tokens: bool,
        mut emit: impl FnMut(u32, usize),
    ) -> Result<()> {
        let enc = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| Error::Input(e.to_string()))?;
        let special = enc.get_special_tokens_mask();
        for (i, (&id, &(start, _))) in enc.get_ids().iter().zip(enc.get_offsets()).enumerate() {
            emit(id, if special[i] == 1 { usize::MAX } else { start });
        }
        Ok(())
    }

    /// The ids of `text`, without offsets.
    pub fn ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, add_special_tokens)
            .map_err(|e| Error::Input(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }
}
