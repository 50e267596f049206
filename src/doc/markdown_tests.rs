use super::*;
use crate::doc::model::Kind;

/// (kind, plain text or alt, src, markdown slice) per segment.
fn segs(md: &str) -> Vec<(Kind, String, String, String)> {
    parse(md)
        .segments
        .into_iter()
        .map(|s| (s.kind, s.text, s.src, md[s.span].to_owned()))
        .collect()
}

fn t(text: &str, md: &str) -> (Kind, String, String, String) {
    (Kind::Text, text.into(), String::new(), md.into())
}

fn i(alt: &str, src: &str, md: &str) -> (Kind, String, String, String) {
    (Kind::Image, alt.into(), src.into(), md.into())
}

#[test]
fn paragraphs_are_segments_with_markup_stripped() {
    let md = "# Title\n\nSome *nested **strong** emphasis* and `code`.\n\n- one\n- two\n";
    assert_eq!(
        segs(md),
        vec![
            t("Title", "# Title"),
            t(
                "Some nested strong emphasis and code.",
                "Some *nested **strong** emphasis* and `code`."
            ),
            t("one", "- one"),
            t("two", "- two"),
        ]
    );
}

#[test]
fn links_are_text_and_images_split_their_paragraph() {
    let md = "See [the site](http://a.org) and ![a cat](cat.png \"title\") here.";
    assert_eq!(
        segs(md),
        vec![
            t("See the site and", "See [the site](http://a.org) and"),
            i("a cat", "cat.png", "![a cat](cat.png \"title\")"),
            t("here.", " here."),
        ]
    );
}

#[test]
fn image_inside_a_link() {
    let md = "[![logo](logo.png)](http://a.org)";
    let s = segs(md);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, Kind::Image);
    assert_eq!(s[0].2, "logo.png");
}

#[test]
fn reference_style_images_resolve() {
    let md = "Look: ![diagram][fig1]\n\n[fig1]: img/fig1.png";
    assert_eq!(
        segs(md),
        vec![
            t("Look:", "Look:"),
            i("diagram", "img/fig1.png", "![diagram][fig1]"),
        ]
    );
}

#[test]
fn html_img_tags_are_images() {
    let md = "Before <img src=\"a.png\" alt='An A'> after\n\n<div>\n<IMG SRC=b.jpg/>\n</div>\n";
    let s = segs(md);
    let kinds: Vec<Kind> = s.iter().map(|x| x.0).collect();
    assert_eq!(
        kinds,
        vec![Kind::Text, Kind::Image, Kind::Text, Kind::Image]
    );
    assert_eq!(s[1].1, "An A");
    assert_eq!(s[1].2, "a.png");
    assert_eq!(s[1].3, "<img src=\"a.png\" alt='An A'>");
    assert_eq!(s[3].2, "b.jpg");
}

#[test]
fn code_fences_keep_image_syntax_as_text() {
    let md = "```md\n![x](y.png)\n```\n\nInline `![a](b)` too.";
    assert_eq!(
        segs(md),
        vec![
            t("![x](y.png)", "```md\n![x](y.png)\n```"),
            t("Inline ![a](b) too.", "Inline `![a](b)` too."),
        ]
    );
}

#[test]
fn math_stays_text() {
    let md = "Euler: $e^{i\\pi} + 1 = 0$ and $a_1 * b_1$\n\n$$\\int_0^1 x\\,dx$$";
    let s = segs(md);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].1, "Euler: e^{i\\pi} + 1 = 0 and a_1 * b_1");
    assert_eq!(s[1].1, "\\int_0^1 x\\,dx");
}

#[test]
fn tables_are_one_segment() {
    let md = "| a | b |\n|---|---|\n| 1 | ![i](t.png) |\n\nafter";
    let s = segs(md);
    assert_eq!(s[0].0, Kind::Text);
    assert!(s[0].1.starts_with("a | b"), "{:?}", s[0].1);
    assert!(s.iter().any(|x| x.0 == Kind::Image && x.2 == "t.png"));
    assert_eq!(s.last().unwrap().1, "after");
}

#[test]
fn dangling_image_links_stay_text_and_are_counted() {
    let p = parse("A ![no src]() here and ![missing][nope].");
    assert_eq!(p.dangling, 2);
    assert_eq!(p.segments.len(), 1);
    assert_eq!(p.segments[0].kind, Kind::Text);
    assert!(p.segments[0].text.starts_with("A no src here"));
    assert_eq!(p.segments[0].span, 0..40);
}

#[test]
fn nested_lists_give_one_segment_per_item() {
    let md = "- a\n  - b\n- c";
    let s: Vec<String> = segs(md).into_iter().map(|x| x.1).collect();
    assert_eq!(s, vec!["a", "b", "c"]);
}

#[test]
fn spans_are_ordered_and_disjoint() {
    let md = "# H\n\n> quote ![q](q.png)\n\n1. x\n2. ![y](y.png)\n\n---\n\ntext <b>bold</b>";
    let p = parse(md);
    let mut last = 0;
    for s in &p.segments {
        assert!(s.span.start >= last && s.span.end >= s.span.start, "{p:?}");
        last = s.span.end;
    }
    assert_eq!(p.segments.last().unwrap().text, "text bold");
}

#[test]
fn empty_and_blank_documents_have_no_segments() {
    assert!(parse("").segments.is_empty());
    assert!(parse("\n\n  \n").segments.is_empty());
    assert_eq!(parse_batch(&[None, Some("x")])[1].segments.len(), 1);
}

proptest::proptest! {
    #[test]
    fn spans_are_ordered_disjoint_and_on_char_boundaries(
        md in "([-#>*_`$|!()\\[\\]<>/ =\"'\n]|img|src|a|é|漢|\\.png|    |```|http://x){0,60}"
    ) {
        let p = parse(&md);
        let mut at = 0;
        for s in &p.segments {
            proptest::prop_assert!(at <= s.span.start && s.span.start <= s.span.end);
            proptest::prop_assert!(s.span.end <= md.len());
            proptest::prop_assert!(md.is_char_boundary(s.span.start) && md.is_char_boundary(s.span.end));
            at = s.span.end;
        }
    }
}

/// Rebuilds `md` from its segments and the gaps between them.
fn rebuilt(md: &str, p: &Parsed) -> String {
    let mut out = String::new();
    let mut at = 0;
    for s in &p.segments {
        out.push_str(&md[at..s.span.start]);
        out.push_str(&md[s.span.clone()]);
        at = s.span.end;
    }
    out.push_str(&md[at..]);
    out
}

#[test]
fn documents_over_a_window_are_parsed_in_windows() {
    // Paragraphs with images, a reference defined only at the end, and a fence with blank lines.
    let mut md = String::from("![first][late]\n\n```\n![in code](x.png)\n\n\n```\n\n");
    let para = "Some *text* with `code` and ![img](a.png) in it.\n\n";
    while md.len() < 3 * WINDOW {
        md.push_str(para);
    }
    md.push_str("[late]: late.png\n");
    let windows = windows(&md);
    assert!(windows.len() >= 3, "{}", windows.len());
    assert!(windows.iter().all(|w| w.len() <= WINDOW));
    assert!(windows.windows(2).all(|w| w[0].end == w[1].start));
    let p = parse(&md);
    assert_eq!(rebuilt(&md, &p), md);
    // Cuts fall between paragraphs: every paragraph is intact.
    let images = p.segments.iter().filter(|s| s.kind == Kind::Image).count();
    assert_eq!(images, 1 + md.matches(para).count());
    assert_eq!(p.segments[0].src, "late.png");
    assert_eq!(p.segments[1].text, "![in code](x.png)");
    assert_eq!(p.dangling, 0);
}

#[test]
fn one_huge_table_or_line_is_cut_anyway() {
    let n = 400_000;
    let table = format!(
        "|{}\n|{}\n{}",
        "a|".repeat(n),
        "-|".repeat(n),
        format!("|{}\n", "b|".repeat(n)).repeat(3)
    );
    let line = "*a* ".repeat(WINDOW);
    for md in [table, line] {
        let p = parse(&md);
        assert!(p.segments.len() >= 2);
        assert_eq!(rebuilt(&md, &p), md);
        assert!(windows(&md).iter().all(|w| w.len() <= WINDOW));
    }
}
