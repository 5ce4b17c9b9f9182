//! The client side of plain HTTP/1.1 that the protocols here need: one POST,
//! one answer, the connection closed. Witnesses are asked to cosign with it
//! (`witness_client`) and alerts go to webhooks with it (`watch::webhook`).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest answer body read.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Where to POST: `http://host:port[/path]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpTarget {
    pub(crate) host: String,
    /// The path, without a trailing `/` (empty for the root).
    pub(crate) path: String,
}

impl HttpTarget {
    /// Reads `http://host:port[/path]`; `None` for anything else.
    pub(crate) fn parse(url: &str) -> Option<HttpTarget> {
        let rest = url.strip_prefix("http://")?;
        let (host, path) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let clean = |text: &str| !text.bytes().any(|b| b.is_ascii_control() || b == b' ');
        if host.is_empty() || !clean(host) || !clean(path) {
            return None;
        }
        Some(HttpTarget {
            host: host.to_owned(),
            path: path.to_owned(),
        })
    }

    /// POSTs `body` to the path followed by `suffix`; returns the status and
    /// the answer's body (at most [`MAX_BODY`] bytes, as text).
    pub(crate) fn post(
        &self,
        suffix: &str,
        content_type: &str,
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<(u16, String)> {
        let address = self.host.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            )
        })?;
        let mut stream = TcpStream::connect_timeout(&address, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let path = format!("{}{suffix}", self.path);
        let path = if path.is_empty() { "/" } else { &path };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.host,
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut reader = BufReader::new(stream.take(MAX_BODY as u64 * 2));
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
        let mut length = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut answer = Vec::new();
        match length {
            Some(length) if length <= MAX_BODY => {
                answer.resize(length, 0);
                reader.read_exact(&mut answer)?;
            }
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "an answer larger than 64 KiB",
                ));
            }
            None => {
                reader.read_to_end(&mut answer)?;
            }
        }
        Ok((status, String::from_utf8_lossy(&answer).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_plain_http_with_a_host() {
        let target = HttpTarget::parse("http://127.0.0.1:9/hooks/audit/").unwrap();
        assert_eq!(target.host, "127.0.0.1:9");
        assert_eq!(target.path, "/hooks/audit");
        assert!(HttpTarget::parse("https://x").is_none());
        assert!(HttpTarget::parse("http:///x").is_none());
        assert!(HttpTarget::parse("http://a b/").is_none());
        assert!(HttpTarget::parse("http://a/\r\nX: y").is_none());
    }
}
