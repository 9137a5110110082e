//! The listener and its connections: a deep accept backlog, a bound on how long a client may
//! take to send a request's headers or sit idle between requests, and a graceful drain.
//!
//! Without the bound, a client that opens a connection and sends its headers a byte at a
//! time, or never sends a request at all, holds a socket for as long as it likes; enough of
//! them use up the process's file descriptors and nobody else gets in. The request timeout
//! and the in-flight limit (`limits.rs`) start only once a request has arrived, so they
//! cannot see these clients.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};

/// Connections waiting to be accepted: a burst of thousands of clients at once waits here
/// (the kernel caps it at `net.core.somaxconn`) instead of being refused or reset.
const LISTEN_BACKLOG: u32 = 4096;

/// How long to wait before accepting again when accepting fails (out of file descriptors,
/// most often), so that the loop does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Lets the process hold as many connections as the system allows it: raises the soft limit
/// on open files to the hard one. The soft limit is often 1,024, which a burst of clients, or
/// of slow ones, reaches long before the hard limit. Returns the limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some() && limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the limit on open files");
        }
    }
    getrlimit(Resource::Nofile).current
}

pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `app` on `listener` until `stop` completes, then stops accepting and waits for the
/// connections to finish the requests they have begun (idle ones are closed at once).
///
/// A connection must deliver each request's headers within `header_timeout` of starting to
/// wait for them, which also closes a kept-alive connection that has been idle that long.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are small and sent whole: no reason to wait for more to fill a segment.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

#[cfg(test)]
mod tests {
    use rustix::process::{Resource, getrlimit, setrlimit};

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let start = getrlimit(Resource::Nofile);
        let Some(hard) = start.maximum else {
            return; // unlimited: nothing to raise to
        };
        let mut lowered = start;
        lowered.current = Some(hard.min(256));
        setrlimit(Resource::Nofile, lowered).unwrap();
        assert_eq!(super::raise_open_file_limit(), Some(hard));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
    }
}
