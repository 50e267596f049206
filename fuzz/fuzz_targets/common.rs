//! Shared by the targets that go through code where mmdedup catches panics by design.

use std::collections::HashSet;
use std::panic::PanicHookInfo;
use std::sync::Mutex;

/// Whether a panic was raised inside a crates.io dependency (its file is under cargo's registry).
fn third_party(info: &PanicHookInfo<'_>) -> bool {
    info.location()
        .is_some_and(|l| l.file().contains("/registry/src/"))
}

/// libFuzzer's hook aborts at every panic, caught or not. mmdedup catches the panics of the
/// decoders and parsers it depends on (`image::hash_*` around decoding, `HfTokenizer::from_bytes`)
/// and turns them into errors: let those unwind (reported once per place). A third-party panic
/// that nothing catches still reaches libFuzzer's wrapper, which aborts; a panic raised in
/// mmdedup's own code (or the fuzz target's) aborts at once, as before.
pub fn let_caught_dependency_panics_unwind() {
    let abort = std::panic::take_hook();
    let seen = Mutex::new(HashSet::new());
    std::panic::set_hook(Box::new(move |info| {
        if !third_party(info) {
            return abort(info);
        }
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        if seen.lock().map_or(true, |mut s| s.insert(at)) {
            eprintln!("dependency panic (mmdedup must catch it, else the run aborts): {info}");
        }
    }));
}

/// Runs `f` as mmdedup runs the dependency calls it guards: a panic is an `Err`.
#[allow(dead_code)]
pub fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}
