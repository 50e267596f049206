//! The little HTML that markdown documents embed: `<img>` tags and their attributes.

/// The `src` and `alt` attributes of an `<img ...>` tag; None for any other tag.
pub(crate) fn img_tag(tag: &str) -> Option<(String, String)> {
    let lower = tag.to_ascii_lowercase();
    let rest = lower.strip_prefix("<img")?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>') {
        return None;
    }
    Some((attr(tag, &lower, "src"), attr(tag, &lower, "alt")))
}

/// The value of attribute `name` (quoted or not) in `tag`; `lower` is `tag` lowercased, which
/// has the same byte offsets because only ASCII letters change.
fn attr(tag: &str, lower: &str, name: &str) -> String {
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| from + i) {
        from = i + name.len();
        let before_ok = i > 0 && bytes[i - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_at = tag.len() - after.len() + 1;
        let value = tag[value_at..].trim_start();
        let v = match value.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let inner = &value[1..];
                &inner[..inner.find(q).unwrap_or(inner.len())]
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_ascii_whitespace() || c == '>')
                    .unwrap_or(value.len());
                value[..end].trim_end_matches('/')
            }
        };
        return v.to_owned();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::img_tag;

    #[test]
    fn attributes_quoted_unquoted_and_cased() {
        let t = img_tag(r#"<IMG alt='A b' SRC="x.png">"#).unwrap();
        assert_eq!(t, ("x.png".into(), "A b".into()));
        assert_eq!(img_tag("<img src=y.jpg/>").unwrap().0, "y.jpg");
        assert_eq!(img_tag("<img data-src=\"z\">").unwrap().0, "");
        assert!(img_tag("<imgx src=a>").is_none());
        assert!(img_tag("<b>").is_none());
    }
}
