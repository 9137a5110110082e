//! Uploaded files: an import's body is one file, or each part of a `multipart/form-data` body
//! is one, read chunk by chunk into wherever the route keeps them (memory for list files,
//! temporary files on disk for registry files of any size).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use futures_util::StreamExt;

use super::error::ApiError;
use crate::formats::Files;

/// Where an upload's files go as they arrive.
pub(super) trait Upload {
    /// A new file named `name` starts; the chunks that follow are its content.
    fn start(&mut self, name: String) -> Result<(), ApiError>;
    fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError>;
}

/// Reads an upload into `into`: the raw body as one file named `name`, or each part of a
/// multipart body as a file named by its file name (else its field name). More than `limit`
/// bytes in all is refused with 413.
pub(super) async fn read_upload(
    req: Request,
    name: &str,
    limit: usize,
    into: &mut impl Upload,
) -> Result<(), ApiError> {
    let malformed = |message: String| ApiError::Malformed {
        message,
        field: None,
    };
    let mut total = 0usize;
    let mut counted = |chunk: &[u8]| {
        total += chunk.len();
        if total > limit {
            Err(ApiError::TooLarge(limit))
        } else {
            Ok(())
        }
    };
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        into.start(name.to_owned())?;
        let mut body = req.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| malformed(format!("cannot read the body: {e}")))?;
            counted(&chunk)?;
            into.write(&chunk)?;
        }
        return Ok(());
    }
    let mut parts = Multipart::from_request(req, &())
        .await
        .map_err(|r| malformed(r.body_text()))?;
    let failed = |e: axum::extract::multipart::MultipartError| malformed(e.body_text());
    while let Some(mut field) = parts.next_field().await.map_err(failed)? {
        let name = field
            .file_name()
            .or(field.name())
            .unwrap_or_default()
            .to_owned();
        into.start(name)?;
        while let Some(chunk) = field.chunk().await.map_err(failed)? {
            counted(&chunk)?;
            into.write(&chunk)?;
        }
    }
    Ok(())
}

/// List files, kept in memory (the list parsers take whole files).
#[derive(Default)]
pub(super) struct InMemory {
    files: Files,
    current: Option<(String, Vec<u8>)>,
}

impl InMemory {
    pub fn finish(mut self) -> Result<Files, ApiError> {
        self.close()?;
        Ok(self.files)
    }

    fn close(&mut self) -> Result<(), ApiError> {
        if let Some((name, bytes)) = self.current.take() {
            self.files
                .add(name, bytes)
                .map_err(|e| ApiError::invalid("file", "invalid_file", e.to_string()))?;
        }
        Ok(())
    }
}

impl Upload for InMemory {
    fn start(&mut self, name: String) -> Result<(), ApiError> {
        self.close()?;
        self.current = Some((name, Vec::new()));
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if let Some((_, bytes)) = &mut self.current {
            bytes.extend_from_slice(chunk);
        }
        Ok(())
    }
}

/// Registry files, spooled to a temporary folder that is removed when this is dropped, so
/// that an upload of any size is read from disk with bounded memory.
pub(super) struct Spooled {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    current: Option<BufWriter<File>>,
}

impl Spooled {
    pub fn new() -> Result<Self, ApiError> {
        let dir = tempfile::Builder::new()
            .prefix("ownergraph-upload-")
            .tempdir()
            .map_err(|e| ApiError::internal(format!("cannot make a spool folder: {e}")))?;
        Ok(Self {
            dir,
            files: Vec::new(),
            current: None,
        })
    }

    /// The files, in the order uploaded, each under its uploaded name.
    pub fn finish(&mut self) -> Result<Vec<PathBuf>, ApiError> {
        self.close()?;
        Ok(self.files.clone())
    }

    fn close(&mut self) -> Result<(), ApiError> {
        if let Some(mut w) = self.current.take() {
            w.flush().map_err(spool_failed)?;
        }
        Ok(())
    }
}

fn spool_failed(e: std::io::Error) -> ApiError {
    ApiError::internal(format!("cannot spool the upload: {e}"))
}

impl Upload for Spooled {
    fn start(&mut self, name: String) -> Result<(), ApiError> {
        self.close()?;
        // Each file in a folder of its own, so that it keeps its name (which the readers
        // quote in errors), whatever the other parts are called.
        let folder = self.dir.path().join(self.files.len().to_string());
        std::fs::create_dir(&folder).map_err(spool_failed)?;
        let safe: String = name
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let safe = match safe.as_str() {
            "" | "." | ".." => "upload".to_owned(),
            _ => safe,
        };
        let path = folder.join(safe);
        let file = File::create(&path).map_err(spool_failed)?;
        self.files.push(path);
        self.current = Some(BufWriter::with_capacity(1 << 16, file));
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if let Some(w) = &mut self.current {
            w.write_all(chunk).map_err(spool_failed)?;
        }
        Ok(())
    }
}
