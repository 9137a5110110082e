//! A streaming XML reader for list files. It checks well-formedness as it goes (matching end
//! tags, a closed root, nothing after it) and hands each record element over as a small tree
//! of [`Node`]s that carry their line numbers. Element and attribute names are local names
//! (namespace prefixes dropped), so namespaced files read like plain ones.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::record::Notes;
use super::text::{LineIndex, SeenIds, at_line, decode_utf8};
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

/// A record element handed to the caller, with its file for error locations.
pub struct Record<'a> {
    pub file: &'a str,
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
    root: &'a str,
    records: &'a [&'a [&'a str]],
    open: Vec<(String, usize)>,
    capture: Vec<Node>,
    root_done: bool,
}

impl State<'_> {
    fn here(&self, line: usize) -> String {
        locate(self.file, line, self.capture.first())
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
        if self.open.is_empty() && name != self.root {
            return Err(FormatError::new(
                self.here(line),
                format!(
                    "expected <{}> as the root element, found <{name}>",
                    self.root
                ),
            ));
        }
        let is_record = self.capture.is_empty() && {
            let path: Vec<&str> = self.open[1.min(self.open.len())..]
                .iter()
                .map(|(n, _)| n.as_str())
                .chain([name.as_str()])
                .collect();
            self.records.contains(&path.as_slice())
        };
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
                format!("no <{}> root element", self.root),
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

/// Reads `bytes` as an XML document whose root is `root`, calling `each` for every element
/// at one of the `records` paths (relative to the root), in document order.
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
    read_records(file, bytes, root, records, |rec| {
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

pub fn read_records(
    file: &str,
    bytes: &[u8],
    root: &str,
    records: &[&[&str]],
    mut each: impl FnMut(Record) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let text = decode_utf8(file, bytes)?;
    let lines = LineIndex::new(text.as_bytes());
    let mut reader = Reader::from_str(text);
    let mut state = State {
        file,
        root,
        records,
        open: Vec::new(),
        capture: Vec::new(),
        root_done: false,
    };
    loop {
        let line = lines.line_of(usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX));
        let event = reader.read_event().map_err(|e| {
            let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            FormatError::new(
                state.here(lines.line_of(pos)),
                format!("malformed XML: {e}"),
            )
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
            Event::Eof => return state.finish(lines.last_line(text.len())),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => None,
        };
        if let Some(node) = done {
            each(Record { file, node })?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xml: &str) -> Result<Vec<String>, FormatError> {
        let mut out = Vec::new();
        read_records(
            "t.xml",
            xml.as_bytes(),
            "list",
            &[&["group", "item"]],
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
}
