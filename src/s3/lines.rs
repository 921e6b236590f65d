//! An object's lines, streamed: [`Lines`], from [`lines`] (a `GetObject`) or any async reader.

use std::{fmt, io, pin::Pin};

use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

use super::ObjectCreated;

/// The longest line [`Lines`] keeps by default: 1 MiB. A longer one is reported and skipped.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

/// One line of an object: its text without the line ending (`\n` or `\r\n`), its number (the
/// first is 1) and the byte offset where it starts in the object's (decompressed) content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line's number, from 1.
    pub number: u64,
    /// Where the line starts, in bytes from the start of the content: for an object that is
    /// not compressed, `GetObject` with `Range: bytes={offset}-` starts reading at this line.
    pub offset: u64,
    /// The line, without its line ending.
    pub text: String,
}

impl Line {
    /// The line decoded as JSON into `T` (JSON Lines). The error names the line and the path
    /// of the field that fails, never the value.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, LineError> {
        // The fast decoder first; only a line that fails is decoded again to name the path
        // (which costs time on every field).
        if let Ok(value) = serde_json::from_str(&self.text) {
            return Ok(value);
        }
        crate::decode::json_slice::<T>(self.text.as_bytes()).map_err(|error| {
            let message = crate::decode::sanitize(&error.to_string());
            LineError::Invalid {
                number: self.number,
                offset: self.offset,
                reason: match error.path() {
                    Some(path) if !error.is_syntax() => format!("at {path}: {message}"),
                    _ => message,
                },
            }
        })
    }
}

impl Line {
    /// The line decoded as JSON into `T`, then validated (feature `validate`): a line that
    /// fails validation is [`LineError::Invalid`] listing every field that fails, never the
    /// values.
    #[cfg(feature = "validate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "validate")))]
    pub fn decode_valid<T: DeserializeOwned + validator::Validate>(&self) -> Result<T, LineError> {
        let value: T = self.decode()?;
        value.validate().map_err(|errors| {
            // The fields by the keys the line has: the line decoded again, only when it fails.
            let fields = match serde_json::from_str::<serde_json::Value>(&self.text) {
                Ok(sent) => crate::validation::describe_as_sent(&errors, &sent),
                Err(_) => crate::validation::describe(&errors),
            };
            LineError::Invalid {
                number: self.number,
                offset: self.offset,
                reason: format!("it does not validate: {fields}"),
            }
        })?;
        Ok(value)
    }
}

/// A line that could not be read or decoded. Every kind but [`Read`](LineError::Read) is about
/// one line, and the lines after it are read on.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineError {
    /// The line is longer than the maximum: it was skipped, not kept.
    TooLong {
        /// The line's number.
        number: u64,
        /// Where it starts.
        offset: u64,
        /// The maximum.
        max: usize,
    },
    /// The line is not UTF-8.
    NotUtf8 {
        /// The line's number.
        number: u64,
        /// Where it starts.
        offset: u64,
    },
    /// The line is not JSON, or not the type it was decoded into ([`Line::decode`]).
    Invalid {
        /// The line's number.
        number: u64,
        /// Where it starts.
        offset: u64,
        /// Why, with the path of the field that fails.
        reason: String,
    },
    /// The object could not be read on: the stream ends here.
    Read(io::Error),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong {
                number,
                offset,
                max,
            } => write!(
                f,
                "line {number} (at byte {offset}) is longer than {max} bytes: skipped"
            ),
            LineError::NotUtf8 { number, offset } => {
                write!(f, "line {number} (at byte {offset}) is not UTF-8")
            }
            LineError::Invalid {
                number,
                offset,
                reason,
            } => write!(
                f,
                "line {number} (at byte {offset}) does not decode: {reason}"
            ),
            LineError::Read(error) => write!(f, "the object could not be read on: {error}"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LineError::Read(error) => Some(error),
            _ => None,
        }
    }
}

/// The lines of a stream, with bounded memory: the stream is read in the chunks it comes in,
/// a line is kept only up to the maximum length, `\r\n` and `\n` both end a line, and a last
/// line without a line ending is a line.
pub struct Lines<R> {
    reader: R,
    number: u64,
    offset: u64,
    max: usize,
    line: Vec<u8>,
    done: bool,
}

impl<R> fmt::Debug for Lines<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("number", &self.number)
            .field("offset", &self.offset)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// The lines of `reader`, numbered from 1 at offset 0.
    pub fn new(reader: R) -> Self {
        Self::starting_at(reader, 1, 0)
    }

    /// The lines of `reader`, which starts at line `number`, byte `offset` of the content (a
    /// `GetObject` with a `Range`).
    pub fn starting_at(reader: R, number: u64, offset: u64) -> Self {
        Self {
            reader,
            number: number.saturating_sub(1),
            offset,
            max: DEFAULT_MAX_LINE,
            line: Vec::new(),
            done: false,
        }
    }

    /// The longest line kept (default 1 MiB); a longer one is [`LineError::TooLong`].
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max = bytes;
        self
    }

    /// The byte offset reached: where the next line starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of the last line read (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// The next line; `None` at the end of the stream (or after a read error).
    pub async fn next_line(&mut self) -> Option<Result<Line, LineError>> {
        if self.done {
            return None;
        }
        self.line.clear();
        let start = self.offset;
        let mut consumed: u64 = 0;
        let mut too_long = false;
        loop {
            let available = match self.reader.fill_buf().await {
                Ok(available) => available,
                Err(error) => {
                    self.done = true;
                    return Some(Err(LineError::Read(error)));
                }
            };
            if available.is_empty() {
                self.done = true;
                if consumed == 0 {
                    return None;
                }
                break;
            }
            let (chunk, ends) = match available.iter().position(|&byte| byte == b'\n') {
                Some(at) => (&available[..at], Some(at + 1)),
                None => (available, None),
            };
            if !too_long {
                if self.line.len() + chunk.len() > self.max {
                    too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            let used = ends.unwrap_or(available.len());
            self.reader.consume(used);
            consumed += used as u64;
            if ends.is_some() {
                break;
            }
        }
        self.offset = start + consumed;
        self.number += 1;
        let number = self.number;
        if too_long {
            return Some(Err(LineError::TooLong {
                number,
                offset: start,
                max: self.max,
            }));
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        match String::from_utf8(std::mem::take(&mut self.line)) {
            Ok(text) => Some(Ok(Line {
                number,
                offset: start,
                text,
            })),
            Err(_) => Some(Err(LineError::NotUtf8 {
                number,
                offset: start,
            })),
        }
    }
}

/// What [`lines`] reads: the object's body, decompressed when it is gzip.
pub type ObjectReader = Pin<Box<dyn AsyncBufRead + Send>>;

/// Reading an object failed before its first byte: `GetObject` was refused.
#[derive(Debug)]
pub struct GetObjectError {
    message: String,
}

impl fmt::Display for GetObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GetObjectError {}

/// The lines of `object`, streamed from `GetObject` with bounded memory (the body is read in
/// chunks, never whole). A gzip object (`Content-Encoding: gzip`, or a key ending in `.gz`) is
/// decompressed as it streams.
///
/// To resume an object that is not compressed at a line a previous run reached, pass that
/// line's number and offset as `from`: the read starts there with `Range: bytes={offset}-`. A
/// gzip object cannot be entered mid-stream: it is read from the start, and the lines before
/// `from`'s number are skipped.
pub async fn lines(
    client: &aws_sdk_s3::Client,
    object: &ObjectCreated,
    from: Option<(u64, u64)>,
) -> Result<Lines<ObjectReader>, GetObjectError> {
    let gzip_by_name = object.key.ends_with(".gz");
    let mut request = client.get_object().bucket(&object.bucket).key(&object.key);
    if let Some(version) = &object.version_id {
        request = request.version_id(version);
    }
    let ranged = from.filter(|&(_, offset)| offset > 0 && !gzip_by_name);
    if let Some((_, offset)) = ranged {
        request = request.range(format!("bytes={offset}-"));
    }
    let output = request.send().await.map_err(|error| GetObjectError {
        message: format!(
            "GetObject of s3://{}/{} failed: {}",
            object.bucket,
            object.key,
            crate::aws::describe(&error)
        ),
    })?;
    let gzip = gzip_by_name
        || output
            .content_encoding()
            .is_some_and(|encoding| encoding.eq_ignore_ascii_case("gzip"));
    let body = output.body.into_async_read();
    if gzip {
        let decoder = async_compression::tokio::bufread::GzipDecoder::new(body);
        let mut lines = Lines::new(Box::pin(BufReader::new(decoder)) as ObjectReader);
        if let Some((number, _)) = from {
            while lines.line_number() + 1 < number {
                if lines.next_line().await.is_none() {
                    break;
                }
            }
        }
        return Ok(lines);
    }
    let reader = Box::pin(body) as ObjectReader;
    Ok(match ranged {
        Some((number, offset)) => Lines::starting_at(reader, number, offset),
        None => Lines::new(reader),
    })
}
