//! OGC WMS 1.1.1 and 1.3.0 (`GET /wms?SERVICE=WMS&REQUEST=GetCapabilities|GetMap`) for Tableau and other GIS
//! clients, and `GET /bi/tableau.tms`, a ready Tableau map source over the XYZ PNG tiles.
//!
//! GetMap: `LAYERS` (comma-separated `kde`, `hotspots`, `buurten`, drawn in that order, first at the bottom),
//! `SRS` (1.1.1) / `CRS` (1.3.0) `EPSG:3857`, `EPSG:4326` or `CRS:84`, `BBOX`, `WIDTH`, `HEIGHT` (1..=4096),
//! `FORMAT=image/png`, `TRANSPARENT` (default FALSE: white background, as the specification says), `BGCOLOR`
//! (`0xRRGGBB`), plus the common filters and the layer parameters (`cell`, `bandwidth`, `bins`, `metric`) in any
//! letter case. Axis order: WMS 1.3.0 with EPSG:4326 has `BBOX=minlat,minlon,maxlat,maxlon`; 1.1.1 and `CRS:84`
//! use lon/lat. Errors are `ServiceExceptionReport` XML with the specification's exception codes
//! (`InvalidSRS`/`InvalidCRS`, `LayerNotDefined`, `InvalidFormat`, `MissingParameterValue`,
//! `InvalidParameterValue`, `OperationNotSupported`) and HTTP 400.
//!
//! Access: callers without address-level rights get the layers within the viewer limits
//! ([`RasterLayer::limited`]) and a GetMap finer than the tiles of [`crate::access::VIEWER_MAX_SURFACE_ZOOM`]
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
use crate::render::map::{MapCrs, MapRequest};
use crate::render::{Rgba, MAX_IMAGE_SIDE};
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

/// A WMS exception.
#[derive(Debug, Clone, PartialEq)]
pub struct WmsError {
    pub version: WmsVersion,
    /// Exception code from the specification, `None` for a generic one.
    pub code: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WmsVersion {
    V111,
    V130,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

impl IntoResponse for WmsError {
    fn into_response(self) -> Response {
        let code = self
            .code
            .map(|c| format!(" code=\"{c}\""))
            .unwrap_or_default();
        let (body, ctype) = match self.version {
            WmsVersion::V111 => (
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException{code}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                    xml_escape(&self.message)
                ),
                "application/vnd.ogc.se_xml",
            ),
            WmsVersion::V130 => (
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\">\n  <ServiceException{code}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                    xml_escape(&self.message)
                ),
                "text/xml",
            ),
        };
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, HeaderValue::from_static(ctype))],
            body,
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
    // WMS parameter names are case-insensitive.
    let params: HashMap<String, String> = raw
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let version = match params.get("version").map(|v| v.trim()) {
        Some("1.1.1") | Some("1.1.0") | Some("1.1") => WmsVersion::V111,
        _ => WmsVersion::V130,
    };
    let err = |code: Option<&'static str>, message: String| WmsError {
        version,
        code,
        message,
    };
    let request = params
        .get("request")
        .map(|r| r.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(s) = params.get("service") {
        if !s.trim().eq_ignore_ascii_case("wms") {
            return err(
                Some("InvalidParameterValue"),
                format!("SERVICE={s}: deze dienst is WMS"),
            )
            .into_response();
        }
    }
    match request.as_str() {
        "getcapabilities" | "capabilities" => {
            capabilities(&caller.snapshot, &params, version, &client)
        }
        "getmap" | "map" => match get_map(state, caller, params, version).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
        "" => err(
            Some("MissingParameterValue"),
            "REQUEST ontbreekt (GetCapabilities of GetMap)".into(),
        )
        .into_response(),
        other => err(
            Some("OperationNotSupported"),
            format!("REQUEST={other} wordt niet ondersteund (GetCapabilities, GetMap)"),
        )
        .into_response(),
    }
}

fn api_to_wms(version: WmsVersion, e: ApiError) -> WmsError {
    match e {
        ApiError::BadRequest { parameter, message } => WmsError {
            version,
            code: Some("InvalidParameterValue"),
            message: match parameter {
                Some(p) => format!("{p}: {message}"),
                None => message,
            },
        },
        ApiError::NotFound(m) => WmsError {
            version,
            code: Some("LayerNotDefined"),
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

/// The parsed GetMap request (pure parsing, no data access).
#[derive(Debug, Clone, PartialEq)]
pub struct GetMap {
    pub layers: Vec<String>,
    pub request: MapRequest,
    pub background: Option<Rgba>,
}

/// Parses GetMap parameters (lower-case keys).
pub fn parse_get_map(
    params: &HashMap<String, String>,
    version: WmsVersion,
) -> Result<GetMap, WmsError> {
    let err = |code: &'static str, message: String| WmsError {
        version,
        code: Some(code),
        message,
    };
    let need = |name: &str| -> Result<&str, WmsError> {
        params
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                err(
                    "MissingParameterValue",
                    format!("{} ontbreekt", name.to_ascii_uppercase()),
                )
            })
    };
    let layers: Vec<String> = need("layers")?
        .split(',')
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    for l in &layers {
        if !RASTER_LAYERS.contains(&l.as_str()) {
            return Err(err(
                "LayerNotDefined",
                format!(
                    "laag '{l}' bestaat niet (kies {})",
                    RASTER_LAYERS.join(", ")
                ),
            ));
        }
    }
    let format = need("format")?;
    if !format.eq_ignore_ascii_case("image/png") && !format.eq_ignore_ascii_case("png") {
        return Err(err(
            "InvalidFormat",
            format!("FORMAT={format}: alleen image/png"),
        ));
    }
    let (crs_param, crs_code) = match version {
        WmsVersion::V111 => ("srs", "InvalidSRS"),
        WmsVersion::V130 => ("crs", "InvalidCRS"),
    };
    let crs_raw = params
        .get(crs_param)
        .or_else(|| params.get(if crs_param == "srs" { "crs" } else { "srs" }))
        .map(|v| v.trim().to_ascii_uppercase())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            err(
                "MissingParameterValue",
                format!("{} ontbreekt", crs_param.to_ascii_uppercase()),
            )
        })?;
    let (crs, swap) = match crs_raw.as_str() {
        "EPSG:3857" | "EPSG:900913" => (MapCrs::WebMercator, false),
        "EPSG:4326" => (MapCrs::LonLat, version == WmsVersion::V130),
        "CRS:84" => (MapCrs::LonLat, false),
        other => {
            return Err(err(
                crs_code,
                format!("{other} wordt niet ondersteund (EPSG:3857, EPSG:4326, CRS:84)"),
            ))
        }
    };
    let bbox_raw = need("bbox")?;
    let v: Vec<f64> = bbox_raw
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            err(
                "InvalidParameterValue",
                format!("BBOX={bbox_raw}: vier getallen"),
            )
        })?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
        return Err(err(
            "InvalidParameterValue",
            format!("BBOX={bbox_raw}: vier getallen minx,miny,maxx,maxy"),
        ));
    }
    let bbox = if swap {
        [v[1], v[0], v[3], v[2]]
    } else {
        [v[0], v[1], v[2], v[3]]
    };
    if !(bbox[2] > bbox[0] && bbox[3] > bbox[1]) {
        return Err(err(
            "InvalidParameterValue",
            format!("BBOX={bbox_raw}: het minimum moet kleiner zijn dan het maximum"),
        ));
    }
    let size = |name: &str| -> Result<u32, WmsError> {
        let raw = need(name)?;
        raw.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_IMAGE_SIDE).contains(n))
            .ok_or_else(|| {
                err(
                    "InvalidParameterValue",
                    format!(
                        "{}={raw}: kies 1 t/m {MAX_IMAGE_SIDE} pixels",
                        name.to_ascii_uppercase()
                    ),
                )
            })
    };
    let (width, height) = (size("width")?, size("height")?);
    let transparent = params
        .get("transparent")
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("true"));
    let background = if transparent {
        None
    } else {
        let raw = params
            .get("bgcolor")
            .map(|b| b.trim().to_string())
            .unwrap_or_else(|| "0xFFFFFF".into());
        let hex = raw
            .strip_prefix("0x")
            .or_else(|| raw.strip_prefix("0X"))
            .or_else(|| raw.strip_prefix('#'))
            .unwrap_or(&raw);
        let c = u32::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.len() == 6)
            .ok_or_else(|| err("InvalidParameterValue", format!("BGCOLOR={raw}: 0xRRGGBB")))?;
        Some([(c >> 16) as u8, (c >> 8) as u8, c as u8, 255])
    };
    Ok(GetMap {
        layers,
        request: MapRequest {
            crs,
            bbox,
            width,
            height,
        },
        background,
    })
}

/// The XYZ zoom level whose 256-pixel tiles have the horizontal resolution of `req` (fractional; web mercator
/// metres per pixel, longitude degrees converted at the equator, as the tiles are).
pub fn equivalent_zoom(req: &MapRequest) -> f64 {
    const WORLD_M: f64 = 2.0 * 20_037_508.342_789_244;
    let width_m = match req.crs {
        MapCrs::WebMercator => req.bbox[2] - req.bbox[0],
        MapCrs::LonLat => (req.bbox[2] - req.bbox[0]) / 360.0 * WORLD_M,
    };
    let m_per_px = width_m / f64::from(req.width.max(1));
    (WORLD_M / (256.0 * m_per_px)).log2()
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
    let gm = parse_get_map(&params, version)?;
    // Viewer limit: no finer than the tiles of the deepest permitted zoom (small rounding tolerance).
    let z = equivalent_zoom(&gm.request);
    if z.is_finite() {
        let zoom = (z - 0.01).ceil().clamp(0.0, 30.0) as u8;
        if let Err(e) = super::hotspots::check_surface_zoom(&caller.principal, zoom) {
            return Ok(e.into_response());
        }
    }
    let filter = Filter::parse(&params, &snapshot).map_err(|e| api_to_wms(version, e))?;
    let layers = gm
        .layers
        .iter()
        .map(|l| wms_layer(l, &params, protected))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| api_to_wms(version, e))?;
    let principal = caller.principal.clone();
    let png = tokio::task::spawn_blocking(move || {
        let layers: Vec<RasterLayer> = layers
            .into_iter()
            .map(|l| l.limited(&principal, &state, &snapshot, &filter))
            .collect();
        render_map_png(
            &state,
            &snapshot,
            &filter,
            &layers,
            &gm.request,
            gm.background,
        )
    })
    .await
    .map_err(|e| api_to_wms(version, ApiError::internal(e)))?
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

fn layer_title(name: &str) -> (&'static str, &'static str) {
    match name {
        "kde" => (
            "Dichtheid (kernel density)",
            "Kerndichtheid van de incidenten (quartic kernel), per km2",
        ),
        "hotspots" => (
            "Hotspots (Gi*)",
            "Getis-Ord Gi* hotspots en coldspots per cel (90/95/99 % betrouwbaarheid, FDR)",
        ),
        _ => (
            "Buurten (aantal of per 1.000 inwoners)",
            "Incidenten per CBS-buurt; metric=count of rate",
        ),
    }
}

fn capabilities(
    snapshot: &Snapshot,
    params: &HashMap<String, String>,
    version: WmsVersion,
    client: &ClientInfo,
) -> Response {
    let filter = match Filter::parse(params, snapshot) {
        Ok(f) => f,
        Err(e) => return api_to_wms(version, e).into_response(),
    };
    let qs = filter.query_string();
    let href = xml_escape(&format!(
        "{}/wms?{}",
        client.base_url(),
        if qs.is_empty() {
            String::new()
        } else {
            format!("{qs}&")
        }
    ));
    let [w, s, e, n] = snapshot.bbox_wgs84();
    let (mx0, my0) = crate::coords::wgs84_to_web_mercator(w, s);
    let (mx1, my1) = crate::coords::wgs84_to_web_mercator(e, n);
    let title = xml_escape(&format!("brandpunt {}", snapshot.tenant_name));
    let dcp = format!(
        "<DCPType><HTTP><Get><OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:type=\"simple\" xlink:href=\"{href}\"/></Get></HTTP></DCPType>"
    );
    let mut layers = String::new();
    for name in RASTER_LAYERS {
        let (t, a) = layer_title(name);
        layers.push_str(&format!(
            "      <Layer queryable=\"0\" opaque=\"0\"><Name>{name}</Name><Title>{}</Title><Abstract>{}</Abstract></Layer>\n",
            xml_escape(t),
            xml_escape(a)
        ));
    }
    let body = match version {
        WmsVersion::V130 => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<WMS_Capabilities version="1.3.0" xmlns="http://www.opengis.net/wms" xmlns:xlink="http://www.w3.org/1999/xlink">
  <Service>
    <Name>WMS</Name>
    <Title>{title}</Title>
    <OnlineResource xlink:type="simple" xlink:href="{href}"/>
    <MaxWidth>{max}</MaxWidth>
    <MaxHeight>{max}</MaxHeight>
  </Service>
  <Capability>
    <Request>
      <GetCapabilities><Format>text/xml</Format>{dcp}</GetCapabilities>
      <GetMap><Format>image/png</Format>{dcp}</GetMap>
    </Request>
    <Exception><Format>XML</Format></Exception>
    <Layer>
      <Title>{title}</Title>
      <CRS>EPSG:3857</CRS>
      <CRS>EPSG:4326</CRS>
      <CRS>CRS:84</CRS>
      <EX_GeographicBoundingBox><westBoundLongitude>{w}</westBoundLongitude><eastBoundLongitude>{e}</eastBoundLongitude><southBoundLatitude>{s}</southBoundLatitude><northBoundLatitude>{n}</northBoundLatitude></EX_GeographicBoundingBox>
      <BoundingBox CRS="CRS:84" minx="{w}" miny="{s}" maxx="{e}" maxy="{n}"/>
      <BoundingBox CRS="EPSG:4326" minx="{s}" miny="{w}" maxx="{n}" maxy="{e}"/>
      <BoundingBox CRS="EPSG:3857" minx="{mx0}" miny="{my0}" maxx="{mx1}" maxy="{my1}"/>
{layers}    </Layer>
  </Capability>
</WMS_Capabilities>
"#,
            max = MAX_IMAGE_SIDE
        ),
        WmsVersion::V111 => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE WMT_MS_Capabilities SYSTEM "http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd">
<WMT_MS_Capabilities version="1.1.1">
  <Service>
    <Name>OGC:WMS</Name>
    <Title>{title}</Title>
    <OnlineResource xmlns:xlink="http://www.w3.org/1999/xlink" xlink:type="simple" xlink:href="{href}"/>
  </Service>
  <Capability>
    <Request>
      <GetCapabilities><Format>application/vnd.ogc.wms_xml</Format>{dcp}</GetCapabilities>
      <GetMap><Format>image/png</Format>{dcp}</GetMap>
    </Request>
    <Exception><Format>application/vnd.ogc.se_xml</Format></Exception>
    <Layer>
      <Title>{title}</Title>
      <SRS>EPSG:4326</SRS>
      <SRS>EPSG:3857</SRS>
      <LatLonBoundingBox minx="{w}" miny="{s}" maxx="{e}" maxy="{n}"/>
      <BoundingBox SRS="EPSG:4326" minx="{w}" miny="{s}" maxx="{e}" maxy="{n}"/>
      <BoundingBox SRS="EPSG:3857" minx="{mx0}" miny="{my0}" maxx="{mx1}" maxy="{my1}"/>
{layers}    </Layer>
  </Capability>
</WMT_MS_Capabilities>
"#
        ),
    };
    let ctype = match version {
        WmsVersion::V130 => "text/xml",
        WmsVersion::V111 => "application/vnd.ogc.wms_xml",
    };
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
    fn equivalent_zoom_of_a_tile_is_its_zoom() {
        for z in [0u8, 10, 16, 17] {
            let t = crate::tiles::TileId::containing(z, 700_000.0, 6_800_000.0);
            let (x0, y0, x1, y1) = t.bounds_m();
            let merc = MapRequest {
                crs: MapCrs::WebMercator,
                bbox: [x0, y0, x1, y1],
                width: 256,
                height: 256,
            };
            assert!((equivalent_zoom(&merc) - f64::from(z)).abs() < 1e-9);
            // The same width in degrees of longitude (360 degrees = the world's width).
            let deg = (x1 - x0) / (2.0 * 20_037_508.342_789_244) * 360.0;
            let lonlat = MapRequest {
                crs: MapCrs::LonLat,
                bbox: [6.0, 52.0, 6.0 + deg, 52.0 + deg / 2.0],
                width: 256,
                height: 128,
            };
            assert!((equivalent_zoom(&lonlat) - f64::from(z)).abs() < 1e-9);
            // Twice the pixels over the same box: one level deeper.
            let fine = MapRequest { width: 512, ..merc };
            assert!((equivalent_zoom(&fine) - f64::from(z) - 1.0).abs() < 1e-9);
        }
    }

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
