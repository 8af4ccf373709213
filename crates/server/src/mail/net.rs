//! Connections: DNS, TCP, TLS (implicit or upgraded), and bounded line I/O with the
//! I/O timeout, each error classified into a [`Failure`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::io::{AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::time::{timeout, timeout_at, Instant};
use tokio_rustls::client::TlsStream;

use super::tls::{is_rustls, tls_message};
use super::{Endpoint, Failure, FailureKind, Security, Timeouts, Tls};

/// A TCP connection, in clear text or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Plain(s) => s.local_addr().ok(),
            Stream::Tls(s) => s.get_ref().0.local_addr().ok(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Resolves and connects within `timeouts.connect`, then does the TLS handshake
/// (within `timeouts.io`) when the endpoint is implicit TLS.
pub(crate) async fn connect(ep: &Endpoint, tls: &Tls, t: &Timeouts) -> Result<Stream, Failure> {
    let tcp = connect_tcp(&ep.host, ep.port, t.connect).await?;
    match ep.security {
        Security::Tls => Ok(Stream::Tls(Box::new(
            handshake(tls, &ep.host, tcp, t.io).await?,
        ))),
        Security::Plain | Security::StartTls => Ok(Stream::Plain(tcp)),
    }
}

async fn connect_tcp(host: &str, port: u16, limit: Duration) -> Result<TcpStream, Failure> {
    let deadline = Instant::now() + limit;
    let host_only = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match timeout_at(deadline, resolve(host_only)).await {
        Err(_) => {
            return Err(Failure::new(
                FailureKind::Dns,
                "dns",
                format!("resolving {host} took longer than {}", secs(limit)),
            ))
        }
        Ok(Err(message)) => {
            return Err(Failure::new(
                FailureKind::Dns,
                "dns",
                format!("{host}: {message}"),
            ))
        }
        Ok(Ok(ips)) => ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    };
    let mut last = Failure::new(FailureKind::Dns, "dns", format!("{host}: no address"));
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => {
                // Commands are small request/answer exchanges: Nagle only adds latency.
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(e)) => {
                last = Failure::new(FailureKind::Refused, "connect", format!("{addr}: {e}"))
            }
            Err(_) => {
                return Err(Failure::new(
                    FailureKind::Timeout,
                    "connect",
                    format!("connecting to {addr} took longer than {}", secs(limit)),
                ))
            }
        }
    }
    Err(last)
}

/// getaddrinfo's text without tokio's "failed to lookup address information: " prefix.
/// How long a name's addresses (or its failure to resolve) are reused.
const DNS_TTL: Duration = Duration::from_secs(30);

type Resolved = Result<Vec<IpAddr>, String>;
/// One name's lookup: done once, then shared until it is older than [`DNS_TTL`].
type Lookup = Arc<OnceCell<(Instant, Resolved)>>;
type DnsCache = Mutex<HashMap<String, Lookup>>;

/// Names resolved a moment ago, failures included, each looked up once however many
/// connections wait for it: a profile's mailboxes share one server, and a burst of
/// identical lookups is what makes a resolver drop queries (and every one of them then
/// waits for its timeout).
fn dns_cache() -> &'static DnsCache {
    static CACHE: OnceLock<DnsCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

async fn resolve(host: &str) -> Resolved {
    let cell = {
        let mut cache = dns_cache().lock().unwrap_or_else(|e| e.into_inner());
        let fresh = cache
            .get(host)
            .filter(|c| c.get().is_none_or(|(at, _)| at.elapsed() < DNS_TTL))
            .cloned();
        match fresh {
            Some(c) => c,
            None => {
                let c = Arc::new(OnceCell::new());
                cache.insert(host.to_string(), c.clone());
                c
            }
        }
    };
    let (_, resolved) = cell
        .get_or_init(|| async {
            let r = match tokio::net::lookup_host((host, 0)).await {
                Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
                Err(e) => Err(dns_message(&e)),
            };
            (Instant::now(), r)
        })
        .await;
    resolved.clone()
}

fn dns_message(e: &io::Error) -> String {
    let text = e.to_string();
    match text.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

async fn handshake(
    tls: &Tls,
    host: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, Failure> {
    match timeout(limit, tls.handshake(host, tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.into_failure()),
        Err(_) => Err(Failure::new(
            FailureKind::Timeout,
            "tls",
            format!("no TLS handshake within {}", secs(limit)),
        )),
    }
}

/// A server's text made safe for messages: lossy UTF-8, no control characters, cut.
pub(crate) fn printable(b: &[u8], max_chars: usize) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(max_chars)
        .collect();
    if s.chars()
        .filter(|c| !c.is_control())
        .nth(max_chars)
        .is_some()
    {
        out.push('…');
    }
    out.trim().to_string()
}

pub(crate) fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub(crate) enum ReadError {
    Eof,
    TooLong,
    Io(io::Error),
}

/// One line without its CRLF (or bare LF). Never buffers more than `max` bytes.
pub(crate) async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await.map_err(ReadError::Io)?;
        if buf.is_empty() {
            return Err(ReadError::Eof);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if line.len() + i > max {
                    return Err(ReadError::TooLong);
                }
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            None => {
                let n = buf.len();
                if line.len() + n > max {
                    return Err(ReadError::TooLong);
                }
                line.extend_from_slice(buf);
                r.consume(n);
            }
        }
    }
}

/// A protocol conversation: buffered reads and writes under the I/O timeout. `stage`
/// names the step in progress; every failure carries it.
pub(crate) struct Conn<S = Stream> {
    io: BufReader<S>,
    timeout: Duration,
    pub(crate) stage: &'static str,
}

impl Conn<Stream> {
    pub(crate) async fn open(ep: &Endpoint, tls: &Tls, t: &Timeouts) -> Result<Conn, Failure> {
        Ok(Conn::new(connect(ep, tls, t).await?, t.io))
    }

    /// The TLS upgrade after the server agreed to STARTTLS/STLS.
    pub(crate) async fn start_tls(self, tls: &Tls, host: &str) -> Result<Conn, Failure> {
        if !self.io.buffer().is_empty() {
            // Bytes read before the handshake would be trusted as if they came over
            // TLS (the STARTTLS command-injection attack): refuse them.
            return Err(Failure::new(
                FailureKind::Protocol,
                self.stage,
                "the server sent data right after agreeing to start TLS",
            ));
        }
        let limit = self.timeout;
        match self.io.into_inner() {
            Stream::Plain(tcp) => Ok(Conn::new(
                Stream::Tls(Box::new(handshake(tls, host, tcp, limit).await?)),
                limit,
            )),
            Stream::Tls(_) => Err(Failure::new(
                FailureKind::Protocol,
                "tls",
                "the connection is already TLS",
            )),
        }
    }

    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl<S> Conn<S> {
    pub(crate) fn fail(&self, kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure::new(kind, self.stage, message)
    }

    fn timed_out(&self) -> Failure {
        self.fail(
            FailureKind::Timeout,
            format!("no answer within {}", secs(self.timeout)),
        )
    }

    fn io_failure(&self, e: &io::Error) -> Failure {
        if is_rustls(e) {
            self.fail(FailureKind::Tls, tls_message(e))
        } else {
            // A reset, a broken pipe: the connection is gone, whatever was said on it.
            self.fail(FailureKind::Closed, e.to_string())
        }
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    pub(crate) fn new(stream: S, timeout: Duration) -> Conn<S> {
        Conn {
            io: BufReader::with_capacity(16 * 1024, stream),
            timeout,
            stage: "greeting",
        }
    }

    pub(crate) async fn read_line(&mut self, max: usize) -> Result<Vec<u8>, Failure> {
        match timeout(self.timeout, read_line_bounded(&mut self.io, max)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(line)) => Ok(line),
            Ok(Err(ReadError::Eof)) => {
                Err(self.fail(FailureKind::Closed, "the server closed the connection"))
            }
            Ok(Err(ReadError::TooLong)) => Err(self.fail(
                FailureKind::Protocol,
                format!("the server sent a line longer than {max} bytes"),
            )),
            Ok(Err(ReadError::Io(e))) => Err(self.io_failure(&e)),
        }
    }

    pub(crate) async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, Failure> {
        let mut buf = vec![0; n];
        match timeout(self.timeout, self.io.read_exact(&mut buf)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(_)) => Ok(buf),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(self.fail(FailureKind::Closed, "the server closed the connection"))
            }
            Ok(Err(e)) => Err(self.io_failure(&e)),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(crate) async fn write_all(&mut self, data: &[u8]) -> Result<(), Failure> {
        let io = self.io.get_mut();
        let result = timeout(self.timeout, async {
            io.write_all(data).await?;
            io.flush().await
        })
        .await;
        match result {
            Err(_) => Err(self.timed_out()),
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.io_failure(&e)),
        }
    }

    /// Best effort (TLS close_notify, FIN); the conversation is already over.
    pub(crate) async fn close(mut self) {
        let limit = self.timeout.min(Duration::from_secs(2));
        let _ = timeout(limit, self.io.get_mut().shutdown()).await;
    }
}
