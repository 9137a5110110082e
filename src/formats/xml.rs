//! A streaming XML reader for list and registry files. It reads from any [`BufRead`] (a
//! `&[u8]` is one), holding one record at a time, checks well-formedness and UTF-8 as it goes
//! (matching end tags, a closed root, nothing after it) and hands each record element over as
//! a small tree of [`Node`]s that carry their line numbers. Element and attribute names are
//! local names (namespace prefixes dropped), so namespaced files read like plain ones.

use std::io::BufRead;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::record::Notes;
use super::text::{SeenIds, at_line, count_lines, read_error};
use super::{FormatError, ListRecord, Parsed};

/// The deepest element nesting accepted; list files use five or six levels, and a bound keeps
/// hostile input from exhausting the stack.
const MAX_DEPTH: usize = 32;

/// One element of a record.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// The text directly inside the element, entities resolved, untrimmed.
    pub text: String,
    pub children: Vec<Node>,
    pub line: usize,
}

impl Node {
    /// A non-blank attribute value, trimmed.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn children<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children(name).next()
    }

    /// The non-blank text of the first child called `name`, trimmed.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Node::text)
    }

    /// The element's own text, trimmed, if not blank.
    pub fn text(&self) -> Option<&str> {
        Some(self.text.trim()).filter(|t| !t.is_empty())
    }

    /// Every descendant reached by following `path` (element names, one level each).
    pub fn path<'a>(&'a self, path: &[&str]) -> Vec<&'a Node> {
        let mut level = vec![self];
        for step in path {
            level = level.into_iter().flat_map(|n| n.children(step)).collect();
        }
        level
    }
}

/// A kind of document: its root element and the paths of its record elements below the root.
pub struct Layout<'a> {
    pub root: &'a str,
    pub records: &'a [&'a [&'a str]],
}

/// A record element handed to the caller, with its file for error locations.
pub struct Record<'a> {
    pub file: &'a str,
    /// The index of the document's layout in those given to [`read_records`].
    pub layout: usize,
    pub node: Node,
}

impl Record<'_> {
    /// Where `at` (the record itself or one of its elements) is.
    pub fn at(&self, at: &Node) -> String {
        locate(self.file, at.line, Some(&self.node))
    }

    /// An error at `at`.
    pub fn error(&self, at: &Node, message: impl Into<String>) -> FormatError {
        FormatError::new(self.at(at), message)
    }
}

/// `"{file} line {line}"`, plus the record it is in.
fn locate(file: &str, line: usize, record: Option<&Node>) -> String {
    match record {
        Some(r) => format!(
            "{}, <{}> starting at line {}",
            at_line(file, line),
            r.name,
            r.line
        ),
        None => at_line(file, line),
    }
}

/// The parse state: elements open outside the record being captured, and that record.
struct State<'a> {
    file: &'a str,
    layouts: &'a [Layout<'a>],
    /// The layout whose root element is open (or was).
    layout: Option<usize>,
    open: Vec<(String, usize)>,
    capture: Vec<Node>,
    root_done: bool,
}

impl State<'_> {
    fn here(&self, line: usize) -> String {
        locate(self.file, line, self.capture.first())
    }

    /// The root elements accepted: `<A>`, or `<A>, <B> or <C>`.
    fn roots(&self) -> String {
        let names: Vec<String> = self
            .layouts
            .iter()
            .map(|l| format!("<{}>", l.root))
            .collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    fn start(&mut self, e: &BytesStart, line: usize) -> Result<(), FormatError> {
        let name = e.local_name().into_inner().to_owned();
        if self.root_done {
            return Err(FormatError::new(
                self.here(line),
                "content after the root element",
            ));
        }
        if self.open.len() + self.capture.len() >= MAX_DEPTH {
            return Err(FormatError::new(
                self.here(line),
                format!("elements nested more than {MAX_DEPTH} deep"),
            ));
        }
        if self.open.is_empty() {
            self.layout = self.layouts.iter().position(|l| l.root == name);
            if self.layout.is_none() {
                return Err(FormatError::new(
                    self.here(line),
                    format!(
                        "expected {} as the root element, found <{name}>",
                        self.roots()
                    ),
                ));
            }
        }
        let is_record = self.capture.is_empty()
            && self.layout.is_some_and(|i| {
                let path: Vec<&str> = self.open[1.min(self.open.len())..]
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .chain([name.as_str()])
                    .collect();
                self.layouts[i].records.contains(&path.as_slice())
            });
        if is_record || !self.capture.is_empty() {
            let attrs = attributes(e).map_err(|m| FormatError::new(self.here(line), m))?;
            self.capture.push(Node {
                name,
                attrs,
                text: String::new(),
                children: Vec::new(),
                line,
            });
        } else {
            self.open.push((name, line));
        }
        Ok(())
    }

    /// Closes the innermost element; returns a record when one is complete.
    fn end(&mut self) -> Option<Node> {
        if let Some(node) = self.capture.pop() {
            match self.capture.last_mut() {
                Some(parent) => parent.children.push(node),
                None => return Some(node),
            }
        } else {
            self.open.pop();
            self.root_done = self.open.is_empty();
        }
        None
    }

    fn text(&mut self, s: &str, line: usize) -> Result<(), FormatError> {
        match self.capture.last_mut() {
            Some(node) => node.text.push_str(s),
            None if (self.open.is_empty() || self.root_done) && !s.trim().is_empty() => {
                return Err(FormatError::new(
                    self.here(line),
                    "text outside the root element",
                ));
            }
            None => {}
        }
        Ok(())
    }

    /// At the end of input: every element must be closed, and there must have been a root.
    fn finish(&self, last_line: usize) -> Result<(), FormatError> {
        let innermost = self
            .capture
            .last()
            .map(|n| (n.name.as_str(), n.line))
            .or_else(|| self.open.last().map(|(n, l)| (n.as_str(), *l)));
        match innermost {
            Some((name, line)) => Err(FormatError::new(
                self.here(last_line),
                format!(
                    "the file ends inside <{name}> (opened at line {line}): it is cut short or an element is never closed"
                ),
            )),
            None if !self.root_done => Err(FormatError::new(
                at_line(self.file, last_line),
                format!("no {} root element", self.roots()),
            )),
            None => Ok(()),
        }
    }
}

fn attributes(e: &BytesStart) -> Result<Vec<(String, String)>, String> {
    e.attributes()
        .map(|a| {
            let a = a.map_err(|e| format!("malformed attribute: {e}"))?;
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| format!("malformed attribute value: {e}"))?;
            Ok((
                a.key.local_name().into_inner().to_owned(),
                value.into_owned(),
            ))
        })
        .collect()
}

/// Reads a list document: one [`ListRecord`] per record element, in source order, each id
/// once.
pub fn read_list(
    file: &str,
    bytes: &[u8],
    root: &str,
    records: &[&[&str]],
    record: fn(&Record, &mut Notes) -> Result<ListRecord, FormatError>,
) -> Result<Parsed, FormatError> {
    let mut notes = Notes::default();
    let mut seen = SeenIds::default();
    let mut out = Vec::new();
    read_records(file, bytes, &[Layout { root, records }], |rec| {
        let r = record(&rec, &mut notes)?;
        seen.check(r.id.as_str(), &rec.at(&rec.node))?;
        out.push(r);
        Ok(())
    })?;
    Ok(Parsed {
        records: out,
        graph: None,
        notes: notes.into_lines(),
    })
}

/// Reads `input` as an XML document whose root is that of one of the `layouts`, calling
/// `each` for every element at one of that layout's record paths (relative to the root), in
/// document order. Memory holds one record and the elements open around it.
pub fn read_records(
    file: &str,
    input: impl BufRead,
    layouts: &[Layout],
    mut each: impl FnMut(Record) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let mut reader = Reader::from_reader(count_lines(file, input)?);
    let mut state = State {
        file,
        layouts,
        layout: None,
        open: Vec::new(),
        capture: Vec::new(),
        root_done: false,
    };
    let mut buf = Vec::new();
    loop {
        buf.clear();
        reader.get_mut().mark();
        let line = reader.get_ref().line();
        let event = reader.read_event_into(&mut buf);
        let lines = reader.get_ref();
        lines.check_utf8(file)?;
        let event = event.map_err(|e| {
            let line = lines.line_at(reader.error_position());
            match e {
                quick_xml::Error::Io(e) => read_error(file, line, &e),
                e => FormatError::new(state.here(line), format!("malformed XML: {e}")),
            }
        })?;
        let done = match event {
            Event::Start(e) => {
                state.start(&e, line)?;
                None
            }
            Event::Empty(e) => {
                state.start(&e, line)?;
                state.end()
            }
            Event::End(_) => state.end(),
            Event::Text(t) => {
                state.text(&t.xml10_content(), line)?;
                None
            }
            Event::CData(t) => {
                state.text(&t.xml10_content(), line)?;
                None
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => resolve_predefined_entity(&r).map(str::to_owned),
                    Err(_) => None,
                };
                let s = resolved.ok_or_else(|| {
                    FormatError::new(state.here(line), format!("unknown entity '&{};'", &*r))
                })?;
                state.text(&s, line)?;
                None
            }
            Event::Eof => return state.finish(lines.end(file)?),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => None,
        };
        if let Some(node) = done {
            each(Record {
                file,
                layout: state.layout.unwrap_or_default(),
                node,
            })?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testing::{STEPS, Trickle};

    fn names(xml: &str) -> Result<Vec<String>, FormatError> {
        let whole = names_from(xml.as_bytes());
        for step in STEPS {
            assert_eq!(
                names_from(Trickle::new(xml.as_bytes(), step)),
                whole,
                "{xml:?} by {step}"
            );
        }
        whole
    }

    fn names_from(input: impl BufRead) -> Result<Vec<String>, FormatError> {
        let mut out = Vec::new();
        read_records(
            "t.xml",
            input,
            &[Layout {
                root: "list",
                records: &[&["group", "item"]],
            }],
            |r| {
                out.push(format!(
                    "{}:{}:{}",
                    r.node.child_text("name").unwrap_or("-"),
                    r.node.line,
                    r.node.attr("id").unwrap_or("-")
                ));
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn records_come_with_text_attributes_and_lines() {
        let xml = "<?xml version=\"1.0\"?>\n<x:list xmlns:x=\"urn:x\">\n<x:group>\n<x:item x:id=\" 7 \"><x:name>A &amp; B&#33;</x:name></x:item>\n<item><name><![CDATA[C<D]]></name></item><other/></x:group>\n</x:list>\n";
        assert_eq!(names(xml).unwrap(), ["A & B!:4:7", "C<D:5:-"]);
    }

    #[test]
    fn broken_documents_are_rejected_with_a_line() {
        let deep = "<list>".repeat(40);
        let cases = [
            (
                "<list><group><item>\n<name>x</name>\n",
                "t.xml line 2, <item> starting at line 1",
            ),
            (
                "<list>\n<group><item><name>x</item></group></list>",
                "t.xml line 2, <item> starting at line 2",
            ),
            ("<list></list>\n<list/>", "t.xml line 2"),
            ("<other/>", "t.xml line 1"),
            (deep.as_str(), "t.xml line 1"),
            ("", "t.xml line 1"),
            (
                "<list>\n<group><item>&bogus;</item></group></list>",
                "t.xml line 2, <item> starting at line 2",
            ),
        ];
        for (xml, at) in cases {
            let err = names(xml).unwrap_err();
            assert_eq!(err.at, at, "{xml:?}: {err}");
        }
    }

    #[test]
    fn utf8_is_checked_as_the_file_streams() {
        let good = "\u{feff}<list>\n<group><item><name>caf\u{e9} \u{1f600}</name></item></group>\n</list>\n";
        assert_eq!(names(good).unwrap(), ["caf\u{e9} \u{1f600}:2:-"]);
        let cases: [&[u8]; 4] = [
            b"<list>\n<group><item><name>x</name></item>\n<item><name>\xff</name></item></group></list>",
            b"<list>\n<group>\n<item \xc3=\"1\"/></group></list>",
            b"<list>\n<group></group></list>\n\xc3",
            b"<list>\n<group></group>\n<!-- \xe2\x82 --></list>",
        ];
        for bytes in cases {
            let whole = names_from(bytes).unwrap_err();
            assert_eq!(
                whole.to_string(),
                "t.xml line 3: not valid UTF-8",
                "{bytes:?}"
            );
            for step in STEPS {
                assert_eq!(names_from(Trickle::new(bytes, step)).unwrap_err(), whole);
            }
        }
    }
}
