//! Hugging Face `tokenizer.json` files, run by the `tokenizers` crate itself so that every
//! model, normalizer, pre-tokenizer and post-processor behaves exactly as in the Python library.

use tokenizers::{Model, OffsetReferential, OffsetType, PostProcessor, PreTokenizer, Tokenizer};

use crate::{Error, Result};

/// A `tokenizer.json` tokenizer.
pub struct HfTokenizer {
    inner: Tokenizer,
}

impl HfTokenizer {
    /// Loads a `tokenizer.json` from its bytes. Truncation and padding are switched off: counts
    /// are of whole texts.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        let mut inner = guarded("not a tokenizer.json", || {
            Tokenizer::from_bytes(data)
                .map_err(|e| Error::Input(format!("not a tokenizer.json: {e}")))
        })?;
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
    ///
    /// The library's own pipeline (added tokens, normalizer, pre-tokenizer, model) without
    /// building an `Encoding`, which costs about as much again in allocations; the
    /// post-processor only adds its fixed number of tokens, since truncation is off.
    pub fn count(&self, text: &str, add_special_tokens: bool) -> Result<usize> {
        guarded("cannot tokenize", || {
            self.count_unguarded(text, add_special_tokens)
        })
    }

    fn count_unguarded(&self, text: &str, add_special_tokens: bool) -> Result<usize> {
        let t = &self.inner;
        let err = |e: tokenizers::Error| Error::Input(e.to_string());
        let mut pre = t
            .get_added_vocabulary()
            .extract_and_normalize(t.get_normalizer(), text);
        if let Some(p) = t.get_pre_tokenizer() {
            p.pre_tokenize(&mut pre).map_err(err)?;
        }
        let model = t.get_model();
        pre.tokenize(|s| model.tokenize(s.get())).map_err(err)?;
        let mut n: usize = pre
            .get_splits(OffsetReferential::Normalized, OffsetType::None)
            .iter()
            .map(|(_, _, tokens)| tokens.as_ref().map_or(0, Vec::len))
            .sum();
        if add_special_tokens {
            n += t.get_post_processor().map_or(0, |p| p.added_tokens(false));
        }
        Ok(n)
    }

    /// Encodes `text`, calling `emit(id, start)` per token with the byte offset it starts at;
    /// tokens that the post-processor adds (BOS, EOS, ...) start at `usize::MAX`.
    pub fn encode_with(
        &self,
        text: &str,
        add_special_tokens: bool,
        mut emit: impl FnMut(u32, usize),
    ) -> Result<()> {
        let enc = guarded("cannot tokenize", || {
            self.inner
                .encode(text, add_special_tokens)
                .map_err(|e| Error::Input(e.to_string()))
        })?;
        let special = enc.get_special_tokens_mask();
        for (i, (&id, &(start, _))) in enc.get_ids().iter().zip(enc.get_offsets()).enumerate() {
            emit(id, if special[i] == 1 { usize::MAX } else { start });
        }
        Ok(())
    }

    /// The ids of `text`, without offsets.
    pub fn ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = guarded("cannot tokenize", || {
            self.inner
                .encode_fast(text, add_special_tokens)
                .map_err(|e| Error::Input(e.to_string()))
        })?;
        Ok(enc.get_ids().to_vec())
    }
}

/// A call into `tokenizers`, whose panics on malformed files become errors: it panics on a
/// `{"decoder":` cut short (an `expect` in its decoder deserializer) and, at every encode, on a
/// post-processor template that names a special token it does not define.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let why = (panic.downcast_ref::<&str>().copied())
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        Err(Error::Input(format!(
            "{what}: the tokenizers library panicked ({why})"
        )))
    })
}
