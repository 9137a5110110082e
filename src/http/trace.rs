//! Request ids and request logs.
//!
//! Every request gets an id: the caller's `x-request-id` when it is a sane token, else a new
//! UUID v7. The answer carries it back in `x-request-id`, and the request is handled inside a
//! span that holds it with the method and the matched route, so every line logged while the
//! request is handled carries them. One line says how each request was answered: its status
//! and latency.
//!
//! Must not break: the id in the span is the id in the answer.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller id kept; a longer one is replaced.
const MAX_ID_LEN: usize = 128;

/// The label of a request that matched no route: raw paths would make the label set as large
/// as what clients send.
const UNMATCHED: &str = "unmatched";

/// Wraps `router` so that its requests carry an id, in the answer and in every log line.
pub fn traced<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // Layers run outside in: the last added sees the request first.
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(span)
                .on_response(answered)
                .on_failure(failed),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewId))
        .layer(axum::middleware::map_request(drop_unsound_id))
}

/// The template of the route a request matched, for labels and logs.
pub fn route(req: &Request) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
}

/// The method, as a label: one the API knows, else `other`.
pub fn method(m: &Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|k| *k == m.as_str())
        .unwrap_or("other")
}

/// Whether a caller's id can be kept: 1 to 128 visible ASCII characters, so that it can be
/// logged and echoed as it is.
fn sound(id: &HeaderValue) -> bool {
    let b = id.as_bytes();
    (1..=MAX_ID_LEN).contains(&b.len()) && b.iter().all(|c| c.is_ascii_graphic())
}

/// Removes a caller's id that cannot be kept, so that a new one is made in its place.
async fn drop_unsound_id(mut req: Request) -> Request {
    if req.headers().get(&REQUEST_ID).is_some_and(|id| !sound(id)) {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// Makes a UUID v7 id: time-ordered, so ids sort by arrival in logs.
#[derive(Clone, Copy)]
struct NewId;

impl MakeRequestId for NewId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

fn span(req: &Request) -> Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = id,
        method = %req.method(),
        route = route(req),
    )
}

/// Milliseconds, to the microsecond.
fn millis(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e3
}

/// The one line per request, written in its span.
fn answered(res: &Response, latency: Duration, _: &Span) {
    let status = res.status().as_u16();
    let latency_ms = millis(latency);
    if res.status().is_server_error() {
        tracing::warn!(status, latency_ms, "request answered");
    } else {
        tracing::info!(status, latency_ms, "request answered");
    }
}

/// A 5xx is already in [`answered`]; only a failure that is not a status (a response body
/// that broke off) needs a line of its own.
fn failed(class: ServerErrorsFailureClass, latency: Duration, _: &Span) {
    if let ServerErrorsFailureClass::Error(error) = class {
        tracing::error!(
            %error,
            latency_ms = millis(latency),
            "response failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Log output kept in memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;
        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        /// Every line, each parsed as a JSON object.
        fn lines(&self) -> Vec<Value> {
            let bytes = self.0.lock().unwrap().clone();
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }
    }

    /// Drives one request through a traced router whose handler logs a line, under the JSON
    /// log format the service uses; returns the answer's id and the log lines.
    async fn handle(id: Option<&str>) -> (String, Vec<Value>) {
        let logs = Captured::default();
        let subscriber = crate::telemetry::json(EnvFilter::new("info"), logs.clone()).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = traced(Router::new().route(
            "/things/{id}",
            get(|| async {
                tracing::info!(answer = 42, "inside the handler");
                "ok"
            }),
        ));
        let mut req = axum::http::Request::get("/things/7");
        if let Some(id) = id {
            req = req.header(REQUEST_ID, id);
        }
        let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), 200);
        let echoed = res.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        (echoed, logs.lines())
    }

    fn line<'a>(lines: &'a [Value], message: &str) -> &'a Value {
        lines
            .iter()
            .find(|l| l["message"] == message)
            .unwrap_or_else(|| panic!("no line '{message}' in {lines:?}"))
    }

    /// A line logged inside a handler is one JSON object carrying the caller's request id,
    /// the method and the route template; the answer line adds status and latency.
    #[tokio::test]
    async fn lines_logged_while_handling_a_request_carry_its_id() {
        let (echoed, lines) = handle(Some("req-42")).await;
        assert_eq!(echoed, "req-42");
        let inside = line(&lines, "inside the handler");
        assert_eq!(inside["answer"], 42);
        assert_eq!(inside["span"]["request_id"], "req-42");
        assert_eq!(inside["span"]["method"], "GET");
        assert_eq!(inside["span"]["route"], "/things/{id}");
        assert_eq!(inside["level"], "INFO");
        let answered = line(&lines, "request answered");
        assert_eq!(answered["span"]["request_id"], "req-42");
        assert_eq!(answered["status"], 200);
        assert!(answered["latency_ms"].as_f64().unwrap() >= 0.0);
    }

    /// Without a caller id, the id made for the request is a UUID v7, and it is the one in the
    /// logs.
    #[tokio::test]
    async fn a_request_without_an_id_gets_a_uuid_v7_in_answer_and_logs() {
        let (echoed, lines) = handle(None).await;
        let id = uuid::Uuid::parse_str(&echoed).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(
            line(&lines, "inside the handler")["span"]["request_id"],
            echoed
        );
    }

    #[test]
    fn only_short_visible_ascii_ids_are_kept() {
        let ok = |s: &str| sound(&HeaderValue::from_str(s).unwrap());
        assert!(ok("0b6f2c1e-4b7a-4c7e-9d1a-2f7f0c9e8a11"));
        assert!(ok("abc:123/x_y"));
        assert!(!ok(""));
        assert!(!ok("two words"));
        assert!(!ok(&"x".repeat(129)));
        assert!(ok(&"x".repeat(128)));
        assert!(!sound(
            &HeaderValue::from_bytes("caf\u{e9}".as_bytes()).unwrap()
        ));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method(&Method::GET), "GET");
        assert_eq!(method(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
