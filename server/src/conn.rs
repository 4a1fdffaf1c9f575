//! Bounds on connections (issue 15, SPEC §8): at most so many open at once,
//! and a connection that goes quiet is closed, so slow or silent clients
//! (slowloris) cannot hold the server's connections or tasks.
//!
//! axum's `serve` gives hyper no timer, so hyper's own header-read timeout
//! is off; these bounds live in the listener instead: each accepted stream
//! holds a permit of the connection cap and has read deadlines.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The bounds.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Connections open at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// A new connection must send its first bytes within this.
    pub first_byte: Duration,
    /// A connection that sends nothing for this long is closed (live
    /// sockets answer the server's pings well within it).
    pub idle: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_connections: 4096,
            first_byte: Duration::from_secs(10),
            idle: Duration::from_secs(75),
        }
    }
}

/// A TCP listener with the bounds.
pub struct Bounded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    bounds: Bounds,
}

impl Bounded {
    /// Bounds `inner`.
    pub fn new(inner: TcpListener, bounds: Bounds) -> Self {
        Bounded {
            inner,
            permits: Arc::new(Semaphore::new(bounds.max_connections.max(1))),
            bounds,
        }
    }
}

impl axum::serve::Listener for Bounded {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // Wait for a free place before taking the next connection.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Guarded::new(stream, permit, self.bounds), addr);
                }
                // Out of file descriptors and the like: pause, go on.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection: its permit, and a deadline for its next read.
pub struct Guarded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    bounds: Bounds,
    deadline: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, bounds: Bounds) -> Self {
        Guarded {
            stream,
            _permit: permit,
            bounds,
            deadline: Box::pin(tokio::time::sleep(bounds.first_byte)),
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.bounds.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection sent nothing in time",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
