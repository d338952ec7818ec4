//! A small typed XML element tree, rendered once. IP-XACT (`component.xml`) and the SVG plots
//! are built as values of [`Element`] and written by [`render_document`], which escapes every
//! text and attribute, so no generated file is assembled by splicing strings.

use std::fmt::Write as _;

/// A child of an element.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Element(Element),
    Text(String),
    Comment(String),
}

/// An XML element: a (possibly prefixed) name, attributes in insertion order, children.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
}

impl Element {
    /// An empty element, e.g. `Element::new("spirit:component")`.
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// An element holding only text: `<name>text</name>`.
    pub fn leaf(name: &str, text: impl ToString) -> Self {
        Element::new(name).text(text)
    }

    /// Adds an attribute (kept in insertion order, as tools diffing the output expect).
    pub fn attr(mut self, name: &str, value: impl ToString) -> Self {
        self.attrs.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends a child element.
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Appends a child element when there is one.
    pub fn child_opt(mut self, child: Option<Element>) -> Self {
        if let Some(c) = child {
            self.children.push(Node::Element(c));
        }
        self
    }

    /// Appends child elements.
    pub fn children(mut self, children: impl IntoIterator<Item = Element>) -> Self {
        self.children
            .extend(children.into_iter().map(Node::Element));
        self
    }

    /// Appends a text node.
    pub fn text(mut self, text: impl ToString) -> Self {
        self.children.push(Node::Text(text.to_string()));
        self
    }

    /// Appends a comment.
    pub fn comment(mut self, text: &str) -> Self {
        self.children.push(Node::Comment(text.to_string()));
        self
    }

    /// Appends a child element in place.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// The element's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the element has no children at all.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = "  ".repeat(depth);
        let _ = write!(out, "{indent}<{}", self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"{}\"", escape(v, true));
        }
        if self.children.is_empty() {
            out.push_str("/>\n");
            return;
        }
        // Elements holding only text stay on one line, as XML writers (and Vivado) print them;
        // whitespace inside them would change the value.
        if self.children.iter().all(|c| matches!(c, Node::Text(_))) {
            out.push('>');
            for c in &self.children {
                if let Node::Text(t) = c {
                    out.push_str(&escape(t, false));
                }
            }
            let _ = writeln!(out, "</{}>", self.name);
            return;
        }
        out.push_str(">\n");
        for c in &self.children {
            match c {
                Node::Element(e) => e.write(out, depth + 1),
                Node::Text(t) => {
                    let _ = writeln!(out, "{indent}  {}", escape(t, false));
                }
                Node::Comment(t) => {
                    // `--` may not appear inside a comment.
                    let _ = writeln!(out, "{indent}  <!-- {} -->", t.replace("--", "- -"));
                }
            }
        }
        let _ = writeln!(out, "{indent}</{}>", self.name);
    }
}

/// Escapes `&`, `<`, `>` and, inside attributes, `"`.
fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            // XML 1.0 forbids other control characters even as references: show them.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {
                out.extend(c.escape_default())
            }
            _ => out.push(c),
        }
    }
    out
}

/// Renders a whole document: the XML declaration, then `root`, two spaces per level.
pub fn render_document(root: &Element) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    root.write(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_elements_with_escaping() {
        let e = Element::new("a:root")
            .attr("x", "1 < 2 & \"q\"")
            .child(Element::leaf("a:name", "ap_fixed<16,6>"))
            .child(Element::new("a:empty"))
            .comment("no -- here");
        assert_eq!(
            render_document(&e),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <a:root x=\"1 &lt; 2 &amp; &quot;q&quot;\">\n  \
             <a:name>ap_fixed&lt;16,6&gt;</a:name>\n  \
             <a:empty/>\n  \
             <!-- no - - here -->\n\
             </a:root>\n"
        );
    }
}
