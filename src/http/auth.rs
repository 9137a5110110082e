//! Who is calling, and may they: the `Authorization: Bearer <key>` of every request but
//! `/healthz` and `/readyz`, checked against the keys held in memory, then the route's
//! [`Permission`] against the key's role.
//!
//! The keys in memory are the store's usable keys (`db::keys::usable`), read at start-up and
//! again whenever a key is made or revoked on any instance (the store announces it) and on the
//! slow poll that covers lost announcements. Expiry is checked on every use.
//!
//! Must not break: a request the key does not allow never reaches its handler, and the
//! comparison of a presented secret with a stored one takes the same time wherever they differ.

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hashbrown::HashMap;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::AppState;
use crate::db::keys::StoredKey;
use crate::domain::{Permission, PresentedKey, Role};

/// The caller a request was authenticated as; handlers read it through [`super::extract::Actor`].
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's name: the actor the audit trail records.
    pub name: Arc<str>,
    pub role: Role,
}

/// The usable keys, by their public prefix.
#[derive(Default)]
pub struct KeyRing {
    keys: ArcSwap<HashMap<String, StoredKey>>,
}

impl KeyRing {
    /// Replaces the keys held with `keys`: what the store holds now.
    pub fn replace(&self, keys: Vec<StoredKey>) {
        let by_prefix = keys.into_iter().map(|k| (k.prefix.clone(), k)).collect();
        self.keys.store(Arc::new(by_prefix));
    }

    /// The caller an `Authorization` header names, or why it names none.
    pub fn authenticate(&self, header: Option<&[u8]>) -> Result<Caller, ApiError> {
        let Some(header) = header else {
            return Err(ApiError::Unauthorized(
                "this endpoint needs an API key: Authorization: Bearer <key>".into(),
            ));
        };
        let refused = || ApiError::Unauthorized("the API key is not valid".into());
        let text = std::str::from_utf8(header).map_err(|_| refused())?;
        let (scheme, token) = text.split_once(' ').ok_or_else(refused)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(refused());
        }
        let presented = PresentedKey::parse(token.trim()).ok_or_else(refused)?;
        let keys = self.keys.load();
        let stored = keys.get(presented.prefix).ok_or_else(refused)?;
        let same: bool = stored.secret_sha256.ct_eq(&presented.secret_sha256).into();
        if !same {
            return Err(refused());
        }
        if stored.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
            return Err(ApiError::Unauthorized("the API key has expired".into()));
        }
        Ok(Caller {
            name: Arc::clone(&stored.name),
            role: stored.role,
        })
    }
}

/// What a route asks of its caller; `None`: any valid key (the OpenAPI description, and
/// paths that match no route, which answer 404 only to a caller with a key).
pub fn required(method: &Method, path: Option<&str>) -> Option<Permission> {
    use Permission::*;
    let path = path?;
    Some(match (method, path) {
        (_, "/openapi.json") => return None,
        (&Method::POST, "/v1/screenings" | "/v1/match") => Screen,
        (&Method::POST, "/v1/alerts/{id}/decisions" | "/v1/possible-matches/{id}/decisions") => {
            Decide
        }
        (_, "/v1/policy") if method != Method::GET => Administer,
        (_, p) if p.starts_with("/v1/keys") => Administer,
        (&Method::GET | &Method::HEAD, _) => Read,
        _ => Operate,
    })
}

/// Paths anyone may call: a load balancer's and an orchestrator's probes.
fn open(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Describes the key in the OpenAPI description: the bearer scheme, required by every
/// operation but the probes, with the 401, 403, 429 and 503 they may answer.
pub fn document(api: &mut utoipa::openapi::OpenApi) {
    use super::openapi::{answers, operations};
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
    let scheme = "api_key";
    api.components
        .get_or_insert_with(Default::default)
        .security_schemes
        .insert(
            scheme.into(),
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    for (path, item) in api.paths.paths.iter_mut() {
        if open(path) {
            continue;
        }
        for op in operations(item) {
            op.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);
            answers(op, "401", "No API key, or one that is not valid");
            answers(op, "403", "The key's role does not allow this request");
            answers(
                op,
                "429",
                "The key's request rate is spent; see Retry-After",
            );
            answers(
                op,
                "503",
                "At capacity, or not ready, or the database is not answering",
            );
        }
    }
}

/// Admits a request: a place among those in flight (else 503 at once), a valid key (else
/// 401), within the key's rate (else 429), and a role that allows the route (else 403). The
/// caller goes with the request to the handler; the place is held until it is answered.
pub async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if open(req.uri().path()) {
        return next.run(req).await;
    }
    let Some(_place) = state.gate.enter() else {
        return ApiError::Overloaded.into_response();
    };
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let caller = match state.keys.authenticate(header) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Err(wait) = state.gate.spend(&caller.name) {
        return ApiError::RateLimited(super::limits::retry_after(wait)).into_response();
    }
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    if let Some(p) = required(req.method(), path)
        && !caller.role.allows(p)
    {
        return ApiError::Forbidden(format!(
            "the key '{}' ({}) may not {} {}",
            caller.name,
            caller.role,
            req.method(),
            path.unwrap_or_default()
        ))
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewKey;

    fn ring(keys: &[(&NewKey, &str, Role, Option<chrono::DateTime<chrono::Utc>>)]) -> KeyRing {
        let ring = KeyRing::default();
        ring.replace(
            keys.iter()
                .map(|(k, name, role, expires_at)| StoredKey {
                    name: (*name).into(),
                    role: *role,
                    prefix: k.prefix.clone(),
                    secret_sha256: k.secret_sha256,
                    expires_at: *expires_at,
                })
                .collect(),
        );
        ring
    }

    fn code(r: Result<Caller, ApiError>) -> String {
        match r {
            Ok(c) => format!("ok {}", c.name),
            Err(ApiError::Unauthorized(m)) => format!("401 {m}"),
            Err(e) => format!("other {e}"),
        }
    }

    #[test]
    fn a_stored_key_names_its_caller_and_anything_else_is_refused() {
        let (a, b, gone) = (NewKey::generate(), NewKey::generate(), NewKey::generate());
        let past = chrono::Utc::now() - chrono::Duration::seconds(1);
        let r = ring(&[
            (&a, "signup", Role::Screener, None),
            (&gone, "old", Role::Admin, Some(past)),
        ]);
        let auth = |h: &str| code(r.authenticate(Some(h.as_bytes())));
        assert_eq!(auth(&format!("Bearer {}", a.text)), "ok signup");
        assert_eq!(auth(&format!("bearer  {} ", a.text)), "ok signup");
        assert_eq!(code(r.authenticate(None)).get(..3), Some("401"));
        for bad in [
            a.text.clone(),
            format!("Basic {}", a.text),
            format!("Bearer {}", b.text),
            // The right prefix with another secret.
            format!(
                "Bearer og_{}_{}",
                a.prefix,
                b.text.splitn(3, '_').nth(2).unwrap()
            ),
            "Bearer ".into(),
            "Bearer og_".into(),
        ] {
            assert_eq!(auth(&bad), "401 the API key is not valid", "{bad}");
        }
        assert_eq!(
            auth(&format!("Bearer {}", gone.text)),
            "401 the API key has expired"
        );
        assert!(r.authenticate(Some(b"\xff\xfe")).is_err());
        r.replace(Vec::new());
        assert_eq!(
            auth(&format!("Bearer {}", a.text)),
            "401 the API key is not valid"
        );
    }

    #[test]
    fn routes_ask_for_what_they_do() {
        use Permission::*;
        let cases = [
            (Method::POST, "/v1/screenings", Some(Screen)),
            (Method::POST, "/v1/match", Some(Screen)),
            (Method::GET, "/v1/screenings/{id}", Some(Read)),
            (Method::GET, "/v1/entities/{id}/owners", Some(Read)),
            (Method::GET, "/metrics", Some(Read)),
            (Method::GET, "/v1/audit/verify", Some(Read)),
            (Method::POST, "/v1/alerts/{id}/decisions", Some(Decide)),
            (
                Method::POST,
                "/v1/possible-matches/{id}/decisions",
                Some(Decide),
            ),
            (Method::POST, "/v1/entities", Some(Operate)),
            (Method::DELETE, "/v1/ownerships/{id}", Some(Operate)),
            (Method::POST, "/v1/imports", Some(Operate)),
            (Method::POST, "/v1/jobs/rescreen", Some(Operate)),
            (Method::GET, "/v1/policy", Some(Read)),
            (Method::PUT, "/v1/policy", Some(Administer)),
            (Method::GET, "/openapi.json", None),
        ];
        for (m, p, want) in cases {
            assert_eq!(required(&m, Some(p)), want, "{m} {p}");
        }
        assert_eq!(required(&Method::GET, None), None);
    }
}
