//! OGC WMS 1.1.1 and 1.3.0 over HTTP (`GET /wms?SERVICE=WMS&REQUEST=GetCapabilities|GetMap`) for Tableau and
//! other GIS clients, and `GET /bi/tableau.tms`, a ready Tableau map source over the XYZ PNG tiles.
//!
//! The protocol (parameters, validation, the capabilities document, exception reports) is [`crate::wms`]; this
//! module extracts the query, calls it, renders the map layers ([`super::raster`]) and answers. GetMap takes
//! the layers of [`RASTER_LAYERS`] (`kde`, `hotspots`, `buurten`) plus the common filters and the layer
//! parameters (`cell`, `bandwidth`, `bins`, `metric`) in any letter case. Errors are `ServiceExceptionReport`
//! XML ([`WmsError::report_xml`]) with HTTP 400.
//!
//! Access: callers without address-level rights get the layers within the viewer limits
//! ([`RasterLayer::resolved`]) and a GetMap finer than the tiles of [`crate::access::VIEWER_MAX_SURFACE_ZOOM`]
//! ([`equivalent_zoom`], from the horizontal resolution) is refused with a JSON 403 (an authorisation answer,
//! not a WMS exception).
//!
//! The `buurten` layer follows the caller, like the XYZ tiles: exact classes for analysts and admins, the
//! protected choropleth (withheld buurten in the neutral grey class) for viewers and anonymous callers
//! ([`wms_layer`]).

use super::error::ApiError;
use super::filter::Filter;
use super::raster::{png_response, render_map_png, RasterLayer, RASTER_LAYERS};
use super::security::ClientInfo;
use super::AppState;
use super::Caller;
use crate::dataset::Snapshot;
use crate::wms::{
    capabilities_xml, equivalent_zoom, layer_title, lowercase_keys, operation, parse_get_map,
    xml_escape, Capabilities, ExceptionCode, Operation, WmsError, WmsVersion,
};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/wms", get(wms))
        .route("/bi/tableau.tms", get(tableau_tms))
}

impl IntoResponse for WmsError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.version.exception_content_type()),
            )],
            self.report_xml(),
        )
            .into_response()
    }
}

/// `GET /wms`.
async fn wms(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
    client: ClientInfo,
) -> Response {
    let params = lowercase_keys(raw);
    let version = WmsVersion::from_param(params.get("version").map(String::as_str));
    match operation(&params, version) {
        Ok(Operation::GetCapabilities) => capabilities(&caller.snapshot, &params, version, &client),
        Ok(Operation::GetMap) => match get_map(state, caller, params, version).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
        Err(e) => e.into_response(),
    }
}

fn api_to_wms(version: WmsVersion, e: ApiError) -> WmsError {
    match e {
        ApiError::BadRequest { parameter, message } => WmsError {
            version,
            code: Some(ExceptionCode::InvalidParameterValue),
            message: match parameter {
                Some(p) => format!("{p}: {message}"),
                None => message,
            },
        },
        ApiError::NotFound(m) => WmsError {
            version,
            code: Some(ExceptionCode::LayerNotDefined),
            message: m,
        },
        other => {
            tracing::error!(error = ?other, "WMS GetMap");
            WmsError {
                version,
                code: None,
                message: "interne fout; zie het serverlog".into(),
            }
        }
    }
}

/// GetMap for `caller`: exact classes for analysts and admins, the protected choropleth (withheld buurten
/// grey) for viewers and anonymous callers, as the XYZ tiles.
async fn get_map(
    state: Arc<AppState>,
    caller: Caller,
    params: HashMap<String, String>,
    version: WmsVersion,
) -> Result<Response, WmsError> {
    let snapshot = caller.snapshot.clone();
    let protected = caller.principal.sees_protected_counts();
    let gm = parse_get_map(&params, version, &RASTER_LAYERS)?;
    // Viewer limit: no finer than the tiles of the deepest permitted zoom (small rounding tolerance).
    let z = equivalent_zoom(&gm.request);
    if z.is_finite() {
        let zoom = (z - 0.01).ceil().clamp(0.0, 30.0) as u8;
        if let Err(e) = super::hotspots::check_surface_zoom(&caller.principal, zoom) {
            return Ok(e.into_response());
        }
    }
    let filter =
        Filter::parse(&filter_params(&params), &snapshot).map_err(|e| api_to_wms(version, e))?;
    let layers = gm
        .layers
        .iter()
        .map(|l| wms_layer(l, &params, protected))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| api_to_wms(version, e))?;
    let principal = caller.principal.clone();
    let st = state.clone();
    let png = st
        .blocking
        .run(move |cancel| {
            let layers: Vec<RasterLayer> = layers
                .into_iter()
                .map(|l| l.resolved(&principal, &state, &snapshot, &filter))
                .collect();
            render_map_png(
                &state,
                &snapshot,
                &filter,
                &layers,
                &gm.request,
                gm.background,
                cancel,
            )
        })
        .await
        .map_err(|e| api_to_wms(version, e))?;
    Ok(png_response(&png, None))
}

/// The raster layer `name` for a caller who sees protected counts (`protected`) or exact ones. The exact variant
/// has its own layer key ([`RasterLayer::key`]), so protected and exact images never share a cache entry.
pub fn wms_layer(
    name: &str,
    params: &HashMap<String, String>,
    protected: bool,
) -> Result<RasterLayer, ApiError> {
    let layer = RasterLayer::parse(name, params)?;
    Ok(if protected { layer } else { layer.exact() })
}

/// The WMS parameters as common filters: WMS's `BBOX` is the map's extent, not a study area (`area` is).
fn filter_params(params: &HashMap<String, String>) -> HashMap<String, String> {
    let mut p = params.clone();
    p.remove("bbox");
    p
}

/// GetCapabilities for the caller's tenant, with the filters of the request kept in the service URL.
fn capabilities(
    snapshot: &Snapshot,
    params: &HashMap<String, String>,
    version: WmsVersion,
    client: &ClientInfo,
) -> Response {
    let filter = match Filter::parse(&filter_params(params), snapshot) {
        Ok(f) => f,
        Err(e) => return api_to_wms(version, e).into_response(),
    };
    let qs = filter.query_string();
    let service_url = format!(
        "{}/wms?{}",
        client.base_url(),
        if qs.is_empty() {
            String::new()
        } else {
            format!("{qs}&")
        }
    );
    let [w, s, e, n] = snapshot.bbox_wgs84();
    let (mx0, my0) = crate::coords::wgs84_to_web_mercator(w, s);
    let (mx1, my1) = crate::coords::wgs84_to_web_mercator(e, n);
    let body = capabilities_xml(
        version,
        &Capabilities {
            title: &format!("brandpunt {}", snapshot.tenant_name),
            service_url: &service_url,
            bbox_wgs84: [w, s, e, n],
            bbox_web_mercator: [mx0, my0, mx1, my1],
            layers: &RASTER_LAYERS,
        },
    );
    let ctype = version.capabilities_content_type();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(ctype))],
        body,
    )
        .into_response()
}

/// `GET /bi/tableau.tms?layer=kde|hotspots|buurten` (+ filters and layer parameters): a Tableau map source
/// (`.tms`) whose `url-format` is this server's XYZ PNG tile URL with `{Z}/{X}/{Y}` and the query string.
async fn tableau_tms(
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    client: ClientInfo,
) -> Result<Response, ApiError> {
    let layer_name = params
        .get("layer")
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "kde".into());
    if !RASTER_LAYERS.contains(&layer_name.as_str()) {
        return Err(ApiError::param(
            "layer",
            format!("'{layer_name}': kies kde, hotspots of buurten"),
        ));
    }
    // Validate the parameters now rather than in every tile request Tableau makes.
    RasterLayer::parse(&layer_name, &params)?;
    let snapshot = caller.snapshot.clone();
    let filter = Filter::parse(&params, &snapshot)?;
    let mut qs: Vec<String> = vec![];
    let fq = filter.query_string();
    if !fq.is_empty() {
        qs.push(fq);
    }
    for p in ["cell", "bandwidth", "bins", "metric"] {
        if let Some(v) = params.get(p).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            qs.push(format!("{p}={v}"));
        }
    }
    let host = client.host.clone();
    let (server, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h.to_string(), p.to_string()),
        _ => (
            host.clone(),
            if client.https { "443" } else { "80" }.to_string(),
        ),
    };
    let url = format!(
        "{}/tiles/{layer_name}/{{Z}}/{{X}}/{{Y}}.png{}",
        client.base_url(),
        if qs.is_empty() {
            String::new()
        } else {
            format!("?{}", qs.join("&"))
        }
    );
    let body = format!(
        "<?xml version='1.0' encoding='utf-8' ?>\n<mapsource inline='true' version='8.1'>\n  <connection class='OpenStreetMap' max-scale-level='19.0' max-stretch='1.0' min-scale-level='0.0' port='{}' server='{}' url-format='{}' username='' />\n  <layers>\n    <layer display-name='{}' name='{}' show-ui='true' type='features' request-string='/' show-option='always-hide' />\n  </layers>\n  <map-styling />\n</mapsource>\n",
        xml_escape(&port),
        xml_escape(&server),
        xml_escape(&url),
        xml_escape(layer_title(&layer_name).0),
        xml_escape(&layer_name),
    );
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"brandpunt.tms\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buurten_layer_follows_the_caller_and_keys_differ() {
        let params = HashMap::new();
        let protected = wms_layer("buurten", &params, true).unwrap();
        let exact = wms_layer("buurten", &params, false).unwrap();
        assert!(matches!(protected, RasterLayer::Buurten(_)));
        assert!(matches!(exact, RasterLayer::BuurtenExact(_)));
        assert_ne!(protected.key(), exact.key());
        // Layers without counts are the same for everyone.
        assert_eq!(
            wms_layer("kde", &params, true).unwrap(),
            wms_layer("kde", &params, false).unwrap()
        );
        assert!(wms_layer("nope", &params, false).is_err());
    }
}
