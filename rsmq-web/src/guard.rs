//! Authentication, read-only mode, the audit log and the security headers.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{Ctx, Shared};

/// Authentication and the security headers, on every route (the fallback too).
pub(crate) async fn guard(State(ctx): Shared, req: Request, next: Next) -> Response {
    let mut res = match &ctx.config.token {
        Some(token) if !authorized(&req, token) => {
            let mut res = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid Authorization: Bearer token is required",
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
        }
        _ => next.run(req).await,
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn authorized(req: &Request, token: &str) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    constant_time_eq(&value[7..], token.as_bytes())
}

/// Compares in time that depends on the lengths only, never on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// A new CSRF token: 32 random bytes from the operating system, in hex.
pub(crate) fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Ctx {
    /// Refuses a change in read-only mode, and logs the change otherwise.
    pub(crate) fn mutation(
        &self,
        route: &'static str,
        qname: &str,
        id: Option<&str>,
    ) -> Result<(), ApiError> {
        if self.config.read_only {
            tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, "refused: read-only");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "readOnly",
                "this API is read-only",
            ));
        }
        tracing::info!(target: "rsmq_web::audit", route, queue = qname, id, "change");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
