//! OGC API - Features (Part 1 Core, Part 2 CRS by Reference) under `/ogc`, for the GIS of chain partners (QGIS,
//! ArcGIS Pro, FME, GDAL's OAPIF driver):
//! - `/ogc` landing page, `/ogc/conformance`, `/ogc/api` (the OpenAPI 3.0 document of these paths,
//!   [`openapi`]), `/ogc/collections`, `/ogc/collections/{id}` ([`collections`]),
//!   `/ogc/collections/{id}/items` and `/items/{featureId}` ([`items`]);
//! - collections `buurten`, `wijken`, `gemeenten` and `areas` (custom areas): the published counts of the
//!   filter per area, read from the cached protected area table ([`super::AppState::protected_table`]), so they
//!   equal the tiles, statistics and exports; `hotspots`: the Gi* cells of the filter ([`super::hotspots`]);
//!   `incidents`: address-level points for analysts, of their granted categories, audited per page;
//! - `crs`, `bbox-crs` and the `Content-Crs` header ([`crs`]).
//!
//! Authentication is the API's ([`super::auth`]): an API token as Bearer or as the password of HTTP Basic (any
//! user name), the web session, or the public tenant. Every answer is JSON; a query parameter that a path does
//! not take is 400 naming it.

pub mod collections;
pub mod crs;
pub mod items;
pub mod openapi;

use super::error::ApiError;
use super::{AppState, Caller};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The conformance classes `/ogc` implements.
pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

/// Media types of the answers.
pub const JSON: &str = "application/json";
pub const GEOJSON: &str = "application/geo+json";
pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ogc", get(landing))
        .route("/ogc/", get(landing))
        .route("/ogc/conformance", get(conformance))
        .route("/ogc/api", get(openapi::document))
        .route("/ogc/collections", get(collections::list))
        .route("/ogc/collections/{id}", get(collections::one))
        .route("/ogc/collections/{id}/items", get(items::items))
        .route("/ogc/collections/{id}/items/{feature_id}", get(items::item))
}

/// The absolute URL of `/ogc` as the client reached it: `https` with `[tls]`, else `http`; the host from the
/// `Host` header when it is a plain host name or address with an optional port, else the listening address.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let scheme = if state.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_string)
        .unwrap_or_else(|| state.config.addr.to_string());
    format!("{scheme}://{host}/ogc")
}

/// 400 naming the first parameter of `params` not in `allowed`; 400 naming `f` for a format other than JSON.
pub fn check_params(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    for name in names {
        if name != "f" && !allowed.contains(&name.as_str()) {
            return Err(ApiError::param(
                name,
                format!(
                    "onbekende parameter '{name}'; hier toegestaan: {}",
                    std::iter::once("f")
                        .chain(allowed.iter().copied())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    match params.get("f").map(|f| f.trim().to_ascii_lowercase()) {
        None => Ok(()),
        Some(f) if ["json", "geojson", ""].contains(&f.as_str()) => Ok(()),
        Some(f) => Err(ApiError::param(
            "f",
            format!("formaat '{f}' wordt niet ondersteund: alleen json"),
        )),
    }
}

/// A link object.
pub fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": kind, "title": title})
}

/// `value` percent-encoded for a query string (RFC 3986 unreserved characters kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `params` as a query string (sorted by name, so links are stable), `?` included; empty without parameters.
pub fn query_string(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// A JSON answer with `content_type`.
pub fn json_response(body: Value, content_type: &'static str) -> Response {
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    resp
}

/// `GET /ogc`: the landing page.
async fn landing(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_params(&params, &[])?;
    let base = base_url(&state, &headers);
    let s = &caller.snapshot;
    Ok(json_response(
        json!({
            "title": format!("brandpunt: {}", s.tenant_name),
            "description": "Incidentcijfers per gebied, hotspots en (voor analisten) incidenten, als OGC API - Features",
            "links": [
                link(base.clone(), "self", JSON, "deze pagina"),
                link(format!("{base}/api"), "service-desc", OPENAPI, "de API-beschrijving (OpenAPI 3.0)"),
                link(format!("{base}/conformance"), "conformance", JSON, "de conformiteitsklassen"),
                link(format!("{base}/collections"), "data", JSON, "de collecties"),
            ],
        }),
        JSON,
    ))
}

/// `GET /ogc/conformance`.
async fn conformance(
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_params(&params, &[])?;
    Ok(json_response(json!({"conformsTo": CONFORMANCE}), JSON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameters_are_named() {
        let p = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_params(&p(&[("limit", "5"), ("f", "json")]), &["limit"]).is_ok());
        let err = check_params(&p(&[("limit", "5"), ("foo", "1")]), &["limit"]).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { parameter: Some(n), .. } if n == "foo"));
        let err = check_params(&p(&[("f", "html")]), &[]).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest { parameter: Some(n), .. } if n == "f"));
    }

    #[test]
    fn query_strings_are_sorted_and_encoded() {
        let q = query_string(&[
            ("offset".into(), "10".into()),
            ("bbox".into(), "5.1,52.0,5.2,52.1".into()),
            ("crs".into(), "http://x/y".into()),
        ]);
        assert_eq!(
            q,
            "?bbox=5.1%2C52.0%2C5.2%2C52.1&crs=http%3A%2F%2Fx%2Fy&offset=10"
        );
        assert_eq!(query_string(&[]), "");
    }
}
