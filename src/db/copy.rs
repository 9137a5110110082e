//! Reading query results with `COPY (...) TO STDOUT (FORMAT binary)`.
//!
//! Start-up reads every entity and ownership. Row by row through the extended protocol, each
//! value is described, checked and decoded on its own; binary `COPY` streams the rows as
//! length-prefixed fields in network byte order, several times faster to produce and to read.
//! The format (PostgreSQL documentation, "COPY", "Binary Format"): an 11-byte signature, a
//! 32-bit flags field, a 32-bit header-extension length and the extension; then per row a
//! 16-bit field count and per field a 32-bit length (-1 for NULL) and the bytes; a field count
//! of -1 ends the data. Values use each type's binary send format: `int8` and `float8` as 8
//! bytes, `bool` as 1, `date` as 4 (days since 2000-01-01), `text` as UTF-8.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::PgConnection;

use super::DbError;

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Runs `query` under binary `COPY` and calls `row` for each row, in order, with a reader over
/// its fields. Returns the number of rows.
pub(super) async fn for_each_row(
    conn: &mut PgConnection,
    query: &str,
    mut row: impl FnMut(&mut Fields<'_>) -> Result<(), DbError>,
) -> Result<u64, DbError> {
    let mut stream = conn
        .copy_out_raw(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await?;
    // Bytes of a row that a message cut; PostgreSQL sends one row per message, so this is
    // normally empty and rows are read straight from the messages.
    let mut carry: Vec<u8> = Vec::new();
    let mut header = true;
    let mut ended = false;
    let mut rows = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        let data: &[u8] = if carry.is_empty() {
            &chunk
        } else {
            carry.extend_from_slice(&chunk);
            &carry
        };
        let mut at = 0;
        if header {
            let Some(len) = header_len(data)? else {
                carry = data.to_vec();
                continue;
            };
            at = len;
            header = false;
        }
        while !ended {
            match row_len(&data[at..])? {
                None => break,
                Some(RowLen::End) => {
                    ended = true;
                    at += 2;
                }
                Some(RowLen::Row(len)) => {
                    let mut fields = Fields {
                        data: &data[at + 2..at + len],
                    };
                    row(&mut fields)?;
                    if !fields.data.is_empty() {
                        return Err(corrupt("a row has more fields than were read"));
                    }
                    rows += 1;
                    at += len;
                }
            }
        }
        carry = data[at..].to_vec();
    }
    if !ended || !carry.is_empty() {
        return Err(corrupt("the data ended inside a row"));
    }
    Ok(rows)
}

fn corrupt(what: &str) -> DbError {
    DbError::Corrupt(format!("binary COPY: {what}"))
}

/// The header's length, once all of it has arrived.
fn header_len(data: &[u8]) -> Result<Option<usize>, DbError> {
    if data.len() < 19 {
        return Ok(None);
    }
    if &data[..11] != SIGNATURE {
        return Err(corrupt("bad signature"));
    }
    let ext = u32::from_be_bytes(data[15..19].try_into().expect("4 bytes")) as usize;
    Ok((data.len() >= 19 + ext).then_some(19 + ext))
}

enum RowLen {
    Row(usize),
    End,
}

/// The length of the row at the start of `data` (its field count included), once all of it
/// has arrived.
fn row_len(data: &[u8]) -> Result<Option<RowLen>, DbError> {
    let Some(count) = data.get(..2) else {
        return Ok(None);
    };
    let count = i16::from_be_bytes(count.try_into().expect("2 bytes"));
    if count == -1 {
        return Ok(Some(RowLen::End));
    }
    if count < 0 {
        return Err(corrupt("negative field count"));
    }
    let mut at = 2;
    for _ in 0..count {
        let Some(len) = data.get(at..at + 4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
        at += 4 + usize::try_from(len.max(0)).expect("non-negative");
        if len < -1 {
            return Err(corrupt("negative field length"));
        }
    }
    Ok((data.len() >= at).then_some(RowLen::Row(at)))
}

/// The fields of one row, read in order with the getter of each column's type.
pub(super) struct Fields<'a> {
    data: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The next field's bytes, `None` for NULL.
    fn next(&mut self) -> Result<Option<&'a [u8]>, DbError> {
        let (len, rest) = self
            .data
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt("a row has fewer fields than were read"))?;
        let len = i32::from_be_bytes(*len);
        if len < 0 {
            self.data = rest;
            return Ok(None);
        }
        let (value, rest) = rest.split_at(len as usize);
        self.data = rest;
        Ok(Some(value))
    }

    fn fixed<const N: usize>(&mut self, what: &str) -> Result<Option<[u8; N]>, DbError> {
        self.next()?
            .map(|v| v.try_into().map_err(|_| corrupt(what)))
            .transpose()
    }

    fn required<T>(v: Option<T>) -> Result<T, DbError> {
        v.ok_or_else(|| corrupt("NULL in a column that has none"))
    }

    pub fn i64(&mut self) -> Result<i64, DbError> {
        Self::required(self.fixed::<8>("int8")?.map(i64::from_be_bytes))
    }

    pub fn f64_opt(&mut self) -> Result<Option<f64>, DbError> {
        Ok(self.fixed::<8>("float8")?.map(f64::from_be_bytes))
    }

    pub fn bool(&mut self) -> Result<bool, DbError> {
        Self::required(self.fixed::<1>("bool")?.map(|[b]| b != 0))
    }

    pub fn date_opt(&mut self) -> Result<Option<NaiveDate>, DbError> {
        let Some(days) = self.fixed::<4>("date")?.map(i32::from_be_bytes) else {
            return Ok(None);
        };
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
        epoch
            .checked_add_signed(chrono::Duration::days(days.into()))
            .map(Some)
            .ok_or_else(|| corrupt("a date out of range (infinity?)"))
    }

    pub fn str_opt(&mut self) -> Result<Option<&'a str>, DbError> {
        self.next()?
            .map(|v| std::str::from_utf8(v).map_err(|_| corrupt("text that is not UTF-8")))
            .transpose()
    }

    pub fn str(&mut self) -> Result<&'a str, DbError> {
        Self::required(self.str_opt()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream as PostgreSQL sends it: the header, rows, the trailer.
    fn encode(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&4u32.to_be_bytes());
        out.extend_from_slice(b"ext!");
        for r in rows {
            out.extend_from_slice(&(r.len() as i16).to_be_bytes());
            for f in r {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        out.extend_from_slice(v);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    #[test]
    fn rows_are_measured_only_once_complete() {
        let rows = vec![
            vec![
                Some(7i64.to_be_bytes().to_vec()),
                None,
                Some(b"abc".to_vec()),
            ],
            vec![Some(8i64.to_be_bytes().to_vec()), Some(b"".to_vec()), None],
        ];
        let data = encode(&rows);
        let h = header_len(&data).unwrap().unwrap();
        assert_eq!(h, 23);
        assert!(header_len(&data[..20]).unwrap().is_none());
        let Some(RowLen::Row(first)) = row_len(&data[h..]).unwrap() else {
            panic!("a row");
        };
        assert_eq!(first, 2 + 12 + 4 + 7);
        for cut in 0..first {
            assert!(
                row_len(&data[h..h + cut]).unwrap().is_none(),
                "cut at {cut}"
            );
        }
        let mut f = Fields {
            data: &data[h + 2..h + first],
        };
        assert_eq!(f.i64().unwrap(), 7);
        assert_eq!(f.str_opt().unwrap(), None);
        assert_eq!(f.str().unwrap(), "abc");
        assert!(f.data.is_empty());
        assert!(f.i64().is_err());
        let end = data.len() - 2;
        assert!(matches!(row_len(&data[end..]).unwrap(), Some(RowLen::End)));
    }

    #[test]
    fn values_decode_from_their_send_formats() {
        let date = 9_000i32.to_be_bytes().to_vec();
        let row = vec![
            Some(2.5f64.to_be_bytes().to_vec()),
            Some(vec![1]),
            Some(date),
            None,
        ];
        let data = encode(&[row]);
        let mut f = Fields {
            data: &data[23 + 2..data.len() - 2],
        };
        assert_eq!(f.f64_opt().unwrap(), Some(2.5));
        assert!(f.bool().unwrap());
        assert_eq!(f.date_opt().unwrap(), NaiveDate::from_ymd_opt(2024, 8, 22));
        assert_eq!(f.date_opt().unwrap(), None);
        let bad = i32::MAX.to_be_bytes();
        let mut f = Fields { data: &[] };
        let mut buf = 4i32.to_be_bytes().to_vec();
        buf.extend_from_slice(&bad);
        f.data = &buf;
        assert!(f.date_opt().is_err(), "infinity is not a date here");
    }
}
