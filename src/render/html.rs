//! Text primitives of the HTML pages: escaping, Dutch number formatting, the filter line.
//!
//! ```
//! use brandpunt::render::html::{escape, filter_description, fmt_nl};
//!
//! assert_eq!(escape("<b>&</b>"), "&lt;b&gt;&amp;&lt;/b&gt;");
//! assert_eq!(fmt_nl(3.456, 1), "3,5");
//! assert_eq!(filter_description("category=1.1.1&source=politie"), "category=1.1.1, source=politie");
//! assert_eq!(filter_description(""), "alle incidenten");
//! ```

/// Escape text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number with a decimal comma (Dutch), e.g. `3,5`.
pub fn fmt_nl(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}").replace('.', ",")
}

/// A filter's query string (`category=…&source=…`) as the pages show it: `alle incidenten` when empty, else the
/// parameters separated by commas (not escaped).
pub fn filter_description(query: &str) -> String {
    if query.is_empty() {
        "alle incidenten".to_string()
    } else {
        query.replace('&', ", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("Dorpsstraat"), "Dorpsstraat");
    }

    #[test]
    fn numbers_get_a_decimal_comma() {
        assert_eq!(fmt_nl(0.05, 2), "0,05");
        assert_eq!(fmt_nl(6.0, 0), "6");
        assert_eq!(fmt_nl(-1.25, 1), "-1,2");
    }
}
