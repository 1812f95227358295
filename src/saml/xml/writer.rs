//! A small XML writer: element and attribute names are `&'static str`
//! (never input), every value goes through an escaper, and elements close
//! in order because each body is a closure. What it writes is well-formed by
//! construction, whatever a value holds (a binding message may hold
//! `& < > " '`).

/// Builds one XML document (no declaration: SAML bindings carry the bytes).
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name a="v"…>` body `</name>`.
    pub fn element(&mut self, name: &'static str, attrs: &[(&'static str, &str)], body: impl FnOnce(&mut Self)) {
        self.open(name, attrs);
        self.out.push('>');
        body(self);
        self.close(name);
    }

    /// `<name a="v"…>text</name>`.
    pub fn text_element(&mut self, name: &'static str, attrs: &[(&'static str, &str)], text: &str) {
        self.element(name, attrs, |w| escape_text(text, &mut w.out));
    }

    /// `<name a="v"…/>`.
    pub fn empty(&mut self, name: &'static str, attrs: &[(&'static str, &str)]) {
        self.open(name, attrs);
        self.out.push_str("/>");
    }

    /// Embeds a complete element this crate built (and perhaps signed or
    /// encrypted): never input.
    pub fn built(&mut self, element: &str) {
        self.out.push_str(element);
    }

    pub fn finish(self) -> String {
        self.out
    }

    fn open(&mut self, name: &'static str, attrs: &[(&'static str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_attr(value, &mut self.out);
            self.out.push('"');
        }
    }

    fn close(&mut self, name: &'static str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
}

/// Characters XML 1.0 cannot carry at all, not even as references
/// (controls other than tab, LF, CR; U+FFFE, U+FFFF) become U+FFFD.
fn allowed(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

fn escape_text(value: &str, out: &mut String) {
    for c in value.chars() {
        match allowed(c) {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A literal CR would be read back as LF (XML 1.0 §2.11).
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(value: &str, out: &mut String) {
    for c in value.chars() {
        match allowed(c) {
            // Literal whitespace in an attribute is normalised to a space
            // (XML 1.0 §3.3.3); references keep it.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => escape_text(c.encode_utf8(&mut [0; 4]), out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped_and_the_document_stays_well_formed() {
        let nasty = "a&b<c>\"d'e\r\n\t\u{1}</x><!--";
        let mut w = Writer::new();
        w.element("r", &[("v", nasty)], |w| w.text_element("t", &[], nasty));
        let xml = w.finish();
        assert_eq!(
            xml,
            "<r v=\"a&amp;b&lt;c&gt;&quot;d&apos;e&#13;&#10;&#9;\u{FFFD}&lt;/x&gt;&lt;!--\">\
             <t>a&amp;b&lt;c&gt;&quot;d&apos;e&#13;\n\t\u{FFFD}&lt;/x&gt;&lt;!--</t></r>"
        );
        let doc = bergshamra::xml::uppsala::parse(&xml).unwrap();
        let root = doc.document_element().unwrap();
        assert_eq!(
            doc.element(root).unwrap().get_attribute("v"),
            Some("a&b<c>\"d'e\r\n\t\u{FFFD}</x><!--")
        );
        assert_eq!(doc.text_content_deep(root), "a&b<c>\"d'e\r\n\t\u{FFFD}</x><!--");
    }

    proptest::proptest! {
        #[test]
        fn any_value_reads_back_as_written_but_for_characters_xml_cannot_carry(value in "\\PC*|[\\x00-\\x7f]{0,40}") {
            let mut w = Writer::new();
            w.element("r", &[("v", &value)], |w| w.text_element("t", &[], &value));
            let xml = w.finish();
            let doc = bergshamra::xml::uppsala::parse(&xml).unwrap();
            let root = doc.document_element().unwrap();
            let expected: String = value.chars().map(allowed).collect();
            proptest::prop_assert_eq!(doc.element(root).unwrap().get_attribute("v"), Some(expected.as_str()));
            proptest::prop_assert_eq!(doc.text_content_deep(root), expected);
        }
    }
}
