//! Markdown → segments (src/doc/): no panic on any text, and the invariants callers rely on to
//! write documents back: spans in order, disjoint, inside the input and on character
//! boundaries; images have a source, text segments none; plain text trimmed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmdedup::doc::{parse, parse_batch, Kind};

fuzz_target!(|data: &[u8]| {
    let md = String::from_utf8_lossy(data);
    let parsed = parse(&md);
    let mut at = 0;
    for s in &parsed.segments {
        let span = s.span.clone();
        assert!(
            at <= span.start && span.start <= span.end,
            "{:?}",
            parsed.segments
        );
        assert!(span.end <= md.len(), "{span:?} past {}", md.len());
        assert!(
            md.get(span.clone()).is_some(),
            "{span:?} not on char boundaries"
        );
        at = span.end;
        match s.kind {
            Kind::Image => assert!(!s.src.is_empty(), "{s:?}"),
            Kind::Text => {
                assert!(s.src.is_empty(), "{s:?}");
                assert_eq!(s.text, s.text.trim(), "{s:?}");
            }
        }
    }
    // The batch entry point gives the same result (and nulls nothing).
    if data.len() < 512 {
        let batch = parse_batch(&[Some(&md), None]);
        assert_eq!(batch[0], parsed);
        assert!(batch[1].segments.is_empty());
    }
});
