//! Byte- and text-level helpers shared by the readers: decoding, line numbers, CSV framing
//! checks, dates, and duplicate-id tracking.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use chrono::NaiveDate;

use super::FormatError;

/// `"{file} line {line}"`, the location every error names.
pub fn at_line(file: &str, line: usize) -> String {
    format!("{file} line {line}")
}

/// Collapses runs of whitespace (line breaks and tabs included) into single spaces and trims.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Drops a trailing parenthesised note without digits: "L191609 (Tunisia)" → "L191609",
/// while "F.5 (29) AR-11/2002" keeps its "(29)".
pub fn strip_trailing_note(s: &str) -> &str {
    let t = s.trim_end();
    if let Some(body) = t.strip_suffix(')')
        && let Some(open) = body.rfind('(')
        && !body[open..].bytes().any(|b| b.is_ascii_digit())
    {
        return t[..open].trim_end();
    }
    t
}

/// Byte offsets of line starts, to turn positions into 1-based line numbers.
pub struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub fn new(bytes: &[u8]) -> Self {
        let newlines = bytes
            .iter()
            .enumerate()
            .filter_map(|(i, &b)| (b == b'\n').then_some(i))
            .collect();
        Self { newlines }
    }

    /// The line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&nl| nl < offset) + 1
    }

    /// The line of the first byte at or after `offset` that is not a line break: a CSV
    /// record position may point at the `\n` of the previous row's CRLF.
    pub fn line_after(&self, bytes: &[u8], offset: usize) -> usize {
        let skip = bytes.get(offset..).map_or(0, |rest| {
            rest.iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count()
        });
        self.line_of(offset + skip)
    }

    /// The number of the last line (a final line break does not start a new line).
    pub fn last_line(&self, len: usize) -> usize {
        match self.newlines.last() {
            Some(&nl) if nl + 1 == len => self.newlines.len(),
            _ => self.newlines.len() + 1,
        }
    }
}

/// A [`BufRead`] that counts the line breaks and checks the UTF-8 of what is consumed from
/// it, so a reader that streams a file can name the line of any place it has reached without
/// holding the file.
pub struct LineCounter<R> {
    inner: R,
    tally: Tally,
}

/// What a [`LineCounter`] has seen.
#[derive(Default)]
struct Tally {
    /// Bytes consumed.
    consumed: u64,
    /// Line breaks consumed.
    newlines: usize,
    last: Option<u8>,
    /// The line breaks before the current stretch (see [`LineCounter::mark`]), and the
    /// offsets of those consumed since; nothing is kept before the first mark.
    mark: Option<usize>,
    recent: Vec<u64>,
    /// The lead bytes of a UTF-8 sequence cut by the end of a consumed chunk, and their line.
    partial: Vec<u8>,
    partial_line: usize,
    /// The line of the first byte that is not UTF-8.
    bad_utf8: Option<usize>,
}

impl Tally {
    fn count(&mut self, bytes: &[u8]) {
        let line = self.newlines + 1;
        self.check_utf8(bytes, line);
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                self.newlines += 1;
                if self.mark.is_some() {
                    self.recent.push(self.consumed + i as u64);
                }
            }
        }
        self.consumed += bytes.len() as u64;
        if let Some(&b) = bytes.last() {
            self.last = Some(b);
        }
    }

    /// Validates `bytes`, which start on `line`, carrying a cut sequence over to the next
    /// chunk.
    fn check_utf8(&mut self, mut bytes: &[u8], line: usize) {
        if self.bad_utf8.is_some() {
            return;
        }
        while !self.partial.is_empty() {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            self.partial.push(b);
            bytes = rest;
            match std::str::from_utf8(&self.partial) {
                Ok(_) => self.partial.clear(),
                Err(e) if e.error_len().is_some() => {
                    self.bad_utf8 = Some(self.partial_line);
                    return;
                }
                Err(_) => {}
            }
        }
        if let Err(e) = std::str::from_utf8(bytes) {
            let at = e.valid_up_to();
            let line = line + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            match e.error_len() {
                Some(_) => self.bad_utf8 = Some(line),
                None => {
                    self.partial = bytes[at..].to_vec();
                    self.partial_line = line;
                }
            }
        }
    }
}

/// Wraps `input`, without a leading UTF-8 byte-order mark, in a [`LineCounter`].
pub fn count_lines(
    file: &str,
    mut input: impl BufRead,
) -> Result<LineCounter<impl BufRead>, FormatError> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let mut head = [0; 3];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(file, 1, &e)),
        }
    }
    let mut head = io::Cursor::new(head).take(n as u64);
    if head.get_ref().get_ref()[..n] == *BOM {
        head.consume(BOM.len());
    }
    Ok(LineCounter {
        inner: head.chain(input),
        tally: Tally::default(),
    })
}

/// The error of a failed read at `line`.
pub fn read_error(file: &str, line: usize, e: &io::Error) -> FormatError {
    FormatError::new(at_line(file, line), format!("cannot read the file: {e}"))
}

impl<R> LineCounter<R> {
    /// The line of the next byte.
    pub fn line(&self) -> usize {
        self.tally.newlines + 1
    }

    /// The number of the last line so far (a final line break does not start a new line).
    pub fn last_line(&self) -> usize {
        match self.tally.last {
            Some(b'\n') => self.tally.newlines,
            _ => self.tally.newlines + 1,
        }
    }

    /// Starts a stretch at the next byte: [`LineCounter::line_at`] finds the lines of the
    /// bytes from here on. The offsets of the line breaks since the mark are kept, so a
    /// reader that marks once marks at every event or record.
    pub fn mark(&mut self) {
        self.tally.mark = Some(self.tally.newlines);
        self.tally.recent.clear();
    }

    /// The line of the byte at `offset` (counted from the first byte after a byte-order
    /// mark), at or after the mark; an earlier offset counts as the mark's, and without a
    /// mark it is [`LineCounter::line`].
    pub fn line_at(&self, offset: u64) -> usize {
        match self.tally.mark {
            Some(newlines) => newlines + self.tally.recent.partition_point(|&p| p < offset) + 1,
            None => self.line(),
        }
    }

    /// An error naming the line of the first byte consumed that is not UTF-8, if any. To be
    /// called where what was consumed ends with a whole character (after a token that ends
    /// in ASCII, at the end of the input): a sequence left open there is an error too.
    pub fn check_utf8(&self, file: &str) -> Result<(), FormatError> {
        let open = !self.tally.partial.is_empty();
        match self
            .tally
            .bad_utf8
            .or(open.then_some(self.tally.partial_line))
        {
            Some(line) => Err(FormatError::new(at_line(file, line), "not valid UTF-8")),
            None => Ok(()),
        }
    }

    /// At the end of the input: [`LineCounter::check_utf8`], then the number of the last
    /// line.
    pub fn end(&self, file: &str) -> Result<usize, FormatError> {
        self.check_utf8(file)?;
        Ok(self.last_line())
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes consumed are the front of the buffer last filled, which `fill_buf` gives
        // again without reading.
        if let Ok(available) = self.inner.fill_buf() {
            self.tally.count(&available[..amt.min(available.len())]);
        }
        self.inner.consume(amt);
    }
}

/// The text of a list file: UTF-8 when valid (without a byte-order mark), else Latin-1.
pub fn decode_latin1_fallback(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The text of a file that must be UTF-8 (XML, JSON); the error names the first bad line.
pub fn decode_utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, FormatError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = LineIndex::new(bytes).line_of(e.valid_up_to());
        FormatError::new(at_line(file, line), "not valid UTF-8")
    })
}

/// A non-empty line-based file must end with a line break; otherwise its last row was cut.
pub fn require_final_newline(file: &str, text: &str, lines: &LineIndex) -> Result<(), FormatError> {
    if text.is_empty() || text.ends_with('\n') {
        return Ok(());
    }
    Err(FormatError::new(
        at_line(file, lines.last_line(text.len())),
        "the last row does not end with a line break: the file is cut short",
    ))
}

/// Finds a quoted CSV field that is never closed (the `csv` crate silently ends it at the end
/// of the input), so a file cut inside a quoted value is rejected.
pub fn check_csv_quotes(file: &str, text: &str) -> Result<(), FormatError> {
    let mut line = 1;
    let mut field_start = true;
    let mut open: Option<usize> = None;
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\n' {
            line += 1;
        }
        if open.is_some() {
            if b == b'"' && bytes.next_if_eq(&b'"').is_none() {
                open = None;
                field_start = false;
            }
            continue;
        }
        match b {
            b'"' if field_start => open = Some(line),
            b',' | b'\n' | b'\r' => field_start = true,
            _ => field_start = false,
        }
    }
    match open {
        None => Ok(()),
        Some(start) => Err(FormatError::new(
            at_line(file, start),
            "a quoted value is never closed: the file is cut short or malformed",
        )),
    }
}

/// The rows of a CSV text (no header handling), each with the line it starts on. The text
/// must end with a line break and close every quote; rows may have any number of fields.
pub fn csv_rows(file: &str, text: &str) -> Result<Vec<(usize, csv::StringRecord)>, FormatError> {
    let lines = LineIndex::new(text.as_bytes());
    require_final_newline(file, text, &lines)?;
    check_csv_quotes(file, text)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let line_of = |pos: Option<&csv::Position>| {
        let byte = pos.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        lines.line_after(text.as_bytes(), byte)
    };
    reader
        .records()
        .map(|row| {
            let row = row.map_err(|e| {
                FormatError::new(
                    at_line(file, line_of(e.position())),
                    format!("malformed CSV: {e}"),
                )
            })?;
            Ok((line_of(row.position()), row))
        })
        .collect()
}

/// An ISO 8601 calendar date, `YYYY-MM-DD`, optionally with the time-zone suffix XML Schema
/// allows on dates (`Z`, `-04:00`), as the UN list sometimes writes them.
pub fn iso_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let (date, zone) = (s.get(..10)?, s.get(10..)?);
    let zone_ok = zone.is_empty() || zone == "Z" || is_utc_offset(zone);
    if !zone_ok || !is_digits_with_dashes(date) {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

fn is_digits_with_dashes(date: &str) -> bool {
    date.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    })
}

fn is_utc_offset(zone: &str) -> bool {
    let b = zone.as_bytes();
    b.len() == 6
        && matches!(b[0], b'+' | b'-')
        && b[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
}

/// A `dd/mm/yyyy` date, as the UK list writes them.
pub fn dmy_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[2] == b'/'
        && b[5] == b'/'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(s, "%d/%m/%Y").ok()
}

/// An ISO 8601 date prefix as FollowTheMoney writes dates (`2023`, `2023-05`, `2023-05-07`,
/// or with a time after a `T`): the period it names, as its first day and the day after its
/// last.
pub fn iso_period(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let s = s.trim();
    let day = |d: NaiveDate| Some((d, d.succ_opt()?));
    match s.len() {
        4 if s.bytes().all(|b| b.is_ascii_digit()) => {
            let year: i32 = s.parse().ok()?;
            Some((
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            ))
        }
        7 => {
            let first = iso_date(&format!("{s}-01"))?;
            let next = first.checked_add_months(chrono::Months::new(1))?;
            Some((first, next))
        }
        10 => day(iso_date(s)?),
        n if n > 10 && s.as_bytes()[10] == b'T' => day(iso_date(s.get(..10)?)?),
        _ => None,
    }
}

/// Record ids seen so far, to reject duplicates with both places named.
#[derive(Default)]
pub struct SeenIds {
    first: HashMap<String, String>,
}

impl SeenIds {
    pub fn check(&mut self, id: &str, at: &str) -> Result<(), FormatError> {
        if let Some(first) = self.first.get(id) {
            return Err(FormatError::new(
                at,
                format!("duplicate id '{id}' (first at {first})"),
            ));
        }
        self.first.insert(id.to_owned(), at.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_collapses_whitespace() {
        assert_eq!(clean("  a \n\t b  "), "a b");
        assert_eq!(clean(""), "");
    }

    #[test]
    fn trailing_notes_without_digits_are_dropped() {
        assert_eq!(strip_trailing_note("L191609 (Tunisia)"), "L191609");
        assert_eq!(
            strip_trailing_note("F.5 (29) AR-11/2002 (Pakistan)"),
            "F.5 (29) AR-11/2002"
        );
        assert_eq!(strip_trailing_note("F.5 (29)"), "F.5 (29)");
        assert_eq!(strip_trailing_note("ABC"), "ABC");
    }

    #[test]
    fn line_numbers_come_from_byte_offsets() {
        let text = b"ab\r\ncd\r\nef";
        let lines = LineIndex::new(text);
        assert_eq!(lines.line_of(0), 1);
        assert_eq!(lines.line_of(3), 1);
        assert_eq!(lines.line_of(4), 2);
        assert_eq!(lines.line_after(text, 3), 2);
        assert_eq!(lines.last_line(text.len()), 3);
        assert_eq!(LineIndex::new(b"a\n").last_line(2), 1);
    }

    #[test]
    fn counted_lines_skip_a_byte_order_mark() {
        let mut input = count_lines("f", "\u{feff}a\nb\n".as_bytes()).unwrap();
        input.mark();
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        assert_eq!(text, "a\nb\n");
        assert_eq!((input.line(), input.end("f").unwrap()), (3, 2));
        let lines: Vec<usize> = (0..5).map(|at| input.line_at(at)).collect();
        assert_eq!(lines, [1, 1, 2, 2, 3]);
        // Two bytes of a mark are kept, and are no UTF-8.
        let mut cut = count_lines("f", &b"\xef\xbb"[..]).unwrap();
        let mut bytes = Vec::new();
        cut.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"\xef\xbb");
        assert_eq!(cut.end("f").unwrap_err().at, "f line 1");
    }

    #[test]
    fn latin1_is_the_fallback_for_invalid_utf8() {
        assert_eq!(decode_latin1_fallback(b"caf\xe9"), "café");
        assert_eq!(decode_latin1_fallback("café".as_bytes()), "café");
        assert_eq!(decode_latin1_fallback(b"\xEF\xBB\xBFx"), "x");
        let err = decode_utf8("f.xml", b"a\nb\xff").unwrap_err();
        assert_eq!(err.at, "f.xml line 2");
    }

    #[test]
    fn unclosed_quotes_and_missing_final_newlines_are_found() {
        assert!(check_csv_quotes("f", "a,\"b\"\"c\"\r\n").is_ok());
        assert!(check_csv_quotes("f", "a,b\"c\n").is_ok());
        let err = check_csv_quotes("f", "a,b\n\"c,d\nmore").unwrap_err();
        assert_eq!(err.at, "f line 2");
        let text = "a\nb";
        let err = require_final_newline("f", text, &LineIndex::new(text.as_bytes())).unwrap_err();
        assert_eq!(err.at, "f line 2");
    }

    #[test]
    fn dates_follow_their_style_strictly() {
        let d = NaiveDate::from_ymd_opt(2015, 4, 7).unwrap();
        assert_eq!(iso_date("2015-04-07"), Some(d));
        assert_eq!(iso_date("2015-04-07-04:00"), Some(d));
        assert_eq!(iso_date("2015-04-07Z"), Some(d));
        for bad in ["2015-4-7", "2015-04-31", "2015-04-07x", "07/04/2015", ""] {
            assert_eq!(iso_date(bad), None, "{bad}");
        }
        assert_eq!(dmy_date("07/04/2015"), Some(d));
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(iso_period("2015"), Some((ymd(2015, 1, 1), ymd(2016, 1, 1))));
        assert_eq!(
            iso_period("2015-12"),
            Some((ymd(2015, 12, 1), ymd(2016, 1, 1)))
        );
        assert_eq!(iso_period("2015-04-07"), Some((d, ymd(2015, 4, 8))));
        assert_eq!(
            iso_period("2015-04-07T10:00:00"),
            Some((d, ymd(2015, 4, 8)))
        );
        for bad in ["15", "2015-13", "2015-04-07 10:00", "abcd", "2015/04"] {
            assert_eq!(iso_period(bad), None, "{bad}");
        }
        for bad in ["7/4/2015", "00/04/2015", "2015-04-07", "31/02/2015"] {
            assert_eq!(dmy_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn duplicate_ids_name_the_first_place() {
        let mut seen = SeenIds::default();
        seen.check("1", "f line 1").unwrap();
        let err = seen.check("1", "f line 9").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f line 9: duplicate id '1' (first at f line 1)"
        );
    }
}
