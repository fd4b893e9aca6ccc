//! The session cookie and the CSRF rule for requests it authenticates: reading the cookie from request headers,
//! the `Set-Cookie` values that install and remove it, and [`csrf_ok`]. Used by the login handlers
//! ([`super::session`]), the authentication extractor ([`super::auth`]) and the rate limiter
//! ([`super::security`]); it depends on none of them.

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "brandpunt_sessie";
/// Header that marks a request as sent by the web app (CSRF protection for cookie sessions).
pub const APP_HEADER: &str = "x-brandpunt";

/// The value of the session cookie in `headers`, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.trim().to_string())
}

/// The `Set-Cookie` value that installs session `id`.
pub fn set_cookie(id: &str, secure: bool) -> String {
    let mut c = format!("{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path=/");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let mut c = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// CSRF check for a request authenticated by the session cookie: safe methods pass; others need
/// `X-Brandpunt: 1` or an `Origin` whose host (and port) equals the request's `Host`.
pub fn csrf_ok(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if headers
        .get(APP_HEADER)
        .is_some_and(|v| v.as_bytes() == b"1")
    {
        return true;
    }
    let (Some(origin), Some(host)) = (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    !authority.is_empty() && authority.eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        assert_eq!(session_cookie(&h), None);
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; brandpunt_sessie=abc_-9; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc_-9"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("x=1"));
        h.append(COOKIE, HeaderValue::from_static("brandpunt_sessie=zz"));
        assert_eq!(session_cookie(&h).as_deref(), Some("zz"));
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("xbrandpunt_sessie=zz; brandpunt_sessie="),
        );
        assert_eq!(session_cookie(&h), None);
        assert_eq!(
            set_cookie("ID", false),
            "brandpunt_sessie=ID; HttpOnly; SameSite=Strict; Path=/"
        );
        assert!(set_cookie("ID", true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    #[test]
    fn csrf_needs_same_origin_or_the_app_header_for_unsafe_methods() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert!(csrf_ok(&Method::GET, &h(&[])));
        assert!(!csrf_ok(&Method::POST, &h(&[])));
        assert!(!csrf_ok(&Method::DELETE, &h(&[("host", "kaart.nl")])));
        assert!(csrf_ok(&Method::POST, &h(&[("x-brandpunt", "1")])));
        assert!(!csrf_ok(&Method::POST, &h(&[("x-brandpunt", "0")])));
        assert!(csrf_ok(
            &Method::PUT,
            &h(&[
                ("host", "kaart.nl:8443"),
                ("origin", "https://kaart.nl:8443")
            ])
        ));
        assert!(!csrf_ok(
            &Method::PUT,
            &h(&[("host", "kaart.nl:8443"), ("origin", "https://kaart.nl")])
        ));
        assert!(!csrf_ok(
            &Method::POST,
            &h(&[
                ("host", "kaart.nl"),
                ("origin", "https://kaart.nl.boos.example")
            ])
        ));
        assert!(!csrf_ok(
            &Method::POST,
            &h(&[("host", "kaart.nl"), ("origin", "null")])
        ));
    }
}
