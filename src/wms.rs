//! The OGC Web Map Service protocol, versions 1.1.1 and 1.3.0, without HTTP: the version of a request, its
//! operation, GetMap parameters parsed and validated into a [`GetMap`], the horizontal resolution of a map as an
//! XYZ zoom level ([`equivalent_zoom`]), the GetCapabilities document built from plain values
//! ([`capabilities_xml`]) and the `ServiceExceptionReport` of an error ([`WmsError::report_xml`]).
//!
//! Parameters come as a map with **lower-case** keys (WMS parameter names are case-insensitive; the caller
//! lower-cases them, see [`lowercase_keys`]). GetMap: `LAYERS` (comma-separated names from the layer list the
//! caller passes, drawn in that order, first at the bottom), `SRS` (1.1.1) / `CRS` (1.3.0) `EPSG:3857`,
//! `EPSG:4326` or `CRS:84`, `BBOX`, `WIDTH`, `HEIGHT` (1..=[`MAX_IMAGE_SIDE`]), `FORMAT=image/png`,
//! `TRANSPARENT` (default FALSE: white background, as the specification says), `BGCOLOR` (`0xRRGGBB`). Axis
//! order: WMS 1.3.0 with EPSG:4326 has `BBOX=minlat,minlon,maxlat,maxlon`; 1.1.1 and `CRS:84` use lon/lat.
//!
//! Every error is a [`WmsError`] with the specification's exception code ([`ExceptionCode`]) and a Dutch
//! message naming the parameter and the reason.
//!
//! ```
//! use brandpunt::wms::{lowercase_keys, parse_get_map, ExceptionCode, WmsVersion};
//! use std::collections::HashMap;
//!
//! let query = |q: &[(&str, &str)]| -> HashMap<String, String> {
//!     lowercase_keys(q.iter().map(|(k, v)| (k.to_string(), v.to_string())))
//! };
//! let layers = ["kde", "buurten"];
//! let ok = query(&[("LAYERS", "kde"), ("CRS", "EPSG:4326"), ("BBOX", "52,6,53,7"),
//!     ("WIDTH", "256"), ("HEIGHT", "256"), ("FORMAT", "image/png")]);
//! let map = parse_get_map(&ok, WmsVersion::V130, &layers).unwrap();
//! // WMS 1.3.0 with EPSG:4326 is lat/lon; the request is lon/lat.
//! assert_eq!(map.request.bbox, [6.0, 52.0, 7.0, 53.0]);
//! assert_eq!(map.background, Some([255, 255, 255, 255]));
//!
//! let mut bad = ok.clone();
//! bad.insert("width".into(), "0".into());
//! let e = parse_get_map(&bad, WmsVersion::V130, &layers).unwrap_err();
//! assert_eq!(e.code, Some(ExceptionCode::InvalidParameterValue));
//! assert_eq!(e.to_string(), "WIDTH=0: kies 1 t/m 4096 pixels");
//! ```

use crate::render::map::{MapCrs, MapRequest};
use crate::render::{Rgba, MAX_IMAGE_SIDE};
use std::collections::HashMap;

/// The WMS version a request speaks; it decides the axis order of EPSG:4326, the name of the CRS parameter and
/// the shape of documents and exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WmsVersion {
    V111,
    V130,
}

impl WmsVersion {
    /// The version named by the `version` parameter: `1.1.1` (also `1.1.0`, `1.1`) is 1.1.1, anything else,
    /// and no version, is 1.3.0.
    ///
    /// ```
    /// use brandpunt::wms::WmsVersion;
    /// assert_eq!(WmsVersion::from_param(Some(" 1.1.1")), WmsVersion::V111);
    /// assert_eq!(WmsVersion::from_param(None), WmsVersion::V130);
    /// ```
    pub fn from_param(version: Option<&str>) -> WmsVersion {
        match version.map(|v| v.trim()) {
            Some("1.1.1") | Some("1.1.0") | Some("1.1") => WmsVersion::V111,
            _ => WmsVersion::V130,
        }
    }

    /// Content type of a `ServiceExceptionReport` in this version.
    pub fn exception_content_type(self) -> &'static str {
        match self {
            WmsVersion::V111 => "application/vnd.ogc.se_xml",
            WmsVersion::V130 => "text/xml",
        }
    }

    /// Content type of the GetCapabilities document in this version.
    pub fn capabilities_content_type(self) -> &'static str {
        match self {
            WmsVersion::V130 => "text/xml",
            WmsVersion::V111 => "application/vnd.ogc.wms_xml",
        }
    }
}

/// An exception code of the WMS specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionCode {
    InvalidSrs,
    InvalidCrs,
    LayerNotDefined,
    InvalidFormat,
    MissingParameterValue,
    InvalidParameterValue,
    OperationNotSupported,
}

impl ExceptionCode {
    /// The code as the specification spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionCode::InvalidSrs => "InvalidSRS",
            ExceptionCode::InvalidCrs => "InvalidCRS",
            ExceptionCode::LayerNotDefined => "LayerNotDefined",
            ExceptionCode::InvalidFormat => "InvalidFormat",
            ExceptionCode::MissingParameterValue => "MissingParameterValue",
            ExceptionCode::InvalidParameterValue => "InvalidParameterValue",
            ExceptionCode::OperationNotSupported => "OperationNotSupported",
        }
    }
}

/// A WMS exception: the version it is reported in, the specification's code (`None` for a generic one) and a
/// Dutch message naming the parameter and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct WmsError {
    pub version: WmsVersion,
    pub code: Option<ExceptionCode>,
    pub message: String,
}

impl WmsError {
    /// The `ServiceExceptionReport` document of this error (content type:
    /// [`WmsVersion::exception_content_type`]).
    ///
    /// ```
    /// use brandpunt::wms::{ExceptionCode, WmsError, WmsVersion};
    /// let e = WmsError {
    ///     version: WmsVersion::V111,
    ///     code: Some(ExceptionCode::LayerNotDefined),
    ///     message: "laag 'x' bestaat niet".into(),
    /// };
    /// assert!(e.report_xml().contains(
    ///     "<ServiceException code=\"LayerNotDefined\">laag &apos;x&apos; bestaat niet</ServiceException>"
    /// ));
    /// ```
    pub fn report_xml(&self) -> String {
        let code = self
            .code
            .map(|c| format!(" code=\"{}\"", c.as_str()))
            .unwrap_or_default();
        match self.version {
            WmsVersion::V111 => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException{code}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                xml_escape(&self.message)
            ),
            WmsVersion::V130 => format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\">\n  <ServiceException{code}>{}</ServiceException>\n</ServiceExceptionReport>\n",
                xml_escape(&self.message)
            ),
        }
    }
}

/// Escape `s` for XML text and attribute values (`& < > " '`).
///
/// ```
/// assert_eq!(brandpunt::wms::xml_escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
/// ```
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The query parameters with lower-case names (WMS parameter names are case-insensitive).
///
/// ```
/// let p = brandpunt::wms::lowercase_keys([("BBOX".to_string(), "1,2,3,4".to_string())]);
/// assert_eq!(p["bbox"], "1,2,3,4");
/// ```
pub fn lowercase_keys(
    params: impl IntoIterator<Item = (String, String)>,
) -> HashMap<String, String> {
    params
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// A WMS operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetCapabilities,
    GetMap,
}

/// The operation of a request (lower-case keys): `REQUEST=GetCapabilities|GetMap` (any letter case); a
/// `SERVICE` other than WMS, a missing or an unsupported `REQUEST` is an error.
///
/// ```
/// use brandpunt::wms::{operation, ExceptionCode, Operation, WmsVersion};
/// use std::collections::HashMap;
/// let mut p = HashMap::from([("request".to_string(), "GetMap".to_string())]);
/// assert_eq!(operation(&p, WmsVersion::V130), Ok(Operation::GetMap));
/// p.insert("service".into(), "WFS".into());
/// let e = operation(&p, WmsVersion::V130).unwrap_err();
/// assert_eq!(e.code, Some(ExceptionCode::InvalidParameterValue));
/// ```
pub fn operation(
    params: &HashMap<String, String>,
    version: WmsVersion,
) -> Result<Operation, WmsError> {
    let err = |code: ExceptionCode, message: String| WmsError {
        version,
        code: Some(code),
        message,
    };
    let request = params
        .get("request")
        .map(|r| r.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(s) = params.get("service") {
        if !s.trim().eq_ignore_ascii_case("wms") {
            return Err(err(
                ExceptionCode::InvalidParameterValue,
                format!("SERVICE={s}: deze dienst is WMS"),
            ));
        }
    }
    match request.as_str() {
        "getcapabilities" | "capabilities" => Ok(Operation::GetCapabilities),
        "getmap" | "map" => Ok(Operation::GetMap),
        "" => Err(err(
            ExceptionCode::MissingParameterValue,
            "REQUEST ontbreekt (GetCapabilities of GetMap)".into(),
        )),
        other => Err(err(
            ExceptionCode::OperationNotSupported,
            format!("REQUEST={other} wordt niet ondersteund (GetCapabilities, GetMap)"),
        )),
    }
}

/// A parsed and validated GetMap request (no data access).
#[derive(Debug, Clone, PartialEq)]
pub struct GetMap {
    /// Layer names, bottom first.
    pub layers: Vec<String>,
    pub request: MapRequest,
    /// The background colour, `None` when `TRANSPARENT=TRUE`.
    pub background: Option<Rgba>,
}

/// Parse and validate the GetMap parameters `params` (lower-case keys) of a `version` request; `layers` are the
/// layer names this service offers. See the module docs for the parameters.
pub fn parse_get_map(
    params: &HashMap<String, String>,
    version: WmsVersion,
    layers_offered: &[&str],
) -> Result<GetMap, WmsError> {
    let err = |code: ExceptionCode, message: String| WmsError {
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
                    ExceptionCode::MissingParameterValue,
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
        if !layers_offered.contains(&l.as_str()) {
            return Err(err(
                ExceptionCode::LayerNotDefined,
                format!(
                    "laag '{l}' bestaat niet (kies {})",
                    layers_offered.join(", ")
                ),
            ));
        }
    }
    let format = need("format")?;
    if !format.eq_ignore_ascii_case("image/png") && !format.eq_ignore_ascii_case("png") {
        return Err(err(
            ExceptionCode::InvalidFormat,
            format!("FORMAT={format}: alleen image/png"),
        ));
    }
    let (crs_param, crs_code) = match version {
        WmsVersion::V111 => ("srs", ExceptionCode::InvalidSrs),
        WmsVersion::V130 => ("crs", ExceptionCode::InvalidCrs),
    };
    let crs_raw = params
        .get(crs_param)
        .or_else(|| params.get(if crs_param == "srs" { "crs" } else { "srs" }))
        .map(|v| v.trim().to_ascii_uppercase())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            err(
                ExceptionCode::MissingParameterValue,
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
                ExceptionCode::InvalidParameterValue,
                format!("BBOX={bbox_raw}: vier getallen"),
            )
        })?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
        return Err(err(
            ExceptionCode::InvalidParameterValue,
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
            ExceptionCode::InvalidParameterValue,
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
                    ExceptionCode::InvalidParameterValue,
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
            .ok_or_else(|| {
                err(
                    ExceptionCode::InvalidParameterValue,
                    format!("BGCOLOR={raw}: 0xRRGGBB"),
                )
            })?;
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
///
/// ```
/// use brandpunt::render::map::{MapCrs, MapRequest};
/// // The whole world's width in 256 pixels is zoom 0.
/// let world = MapRequest { crs: MapCrs::LonLat, bbox: [-180.0, -85.0, 180.0, 85.0], width: 256, height: 256 };
/// assert!(brandpunt::wms::equivalent_zoom(&world).abs() < 1e-9);
/// ```
pub fn equivalent_zoom(req: &MapRequest) -> f64 {
    const WORLD_M: f64 = 2.0 * 20_037_508.342_789_244;
    let width_m = match req.crs {
        MapCrs::WebMercator => req.bbox[2] - req.bbox[0],
        MapCrs::LonLat => (req.bbox[2] - req.bbox[0]) / 360.0 * WORLD_M,
    };
    let m_per_px = width_m / f64::from(req.width.max(1));
    (WORLD_M / (256.0 * m_per_px)).log2()
}

/// The title and abstract of map layer `name` (`kde`, `hotspots`; any other name is the buurten layer).
///
/// ```
/// assert_eq!(brandpunt::wms::layer_title("hotspots").0, "Hotspots (Gi*)");
/// ```
pub fn layer_title(name: &str) -> (&'static str, &'static str) {
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

/// What a GetCapabilities document describes, as plain values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capabilities<'a> {
    /// The service title (`brandpunt <tenant>`), unescaped.
    pub title: &'a str,
    /// The URL GetCapabilities and GetMap requests go to, ending in `?` or `&` so parameters can follow;
    /// unescaped.
    pub service_url: &'a str,
    /// The data's extent in WGS84, `[west, south, east, north]` degrees.
    pub bbox_wgs84: [f64; 4],
    /// The same extent in Web Mercator metres, `[minx, miny, maxx, maxy]`.
    pub bbox_web_mercator: [f64; 4],
    /// The layer names offered (titles from [`layer_title`]).
    pub layers: &'a [&'a str],
}

/// The GetCapabilities document of `version` (content type: [`WmsVersion::capabilities_content_type`]).
///
/// ```
/// use brandpunt::wms::{capabilities_xml, Capabilities, WmsVersion};
/// let caps = Capabilities {
///     title: "brandpunt Voorbeeld & Co",
///     service_url: "https://kaart.example/wms?",
///     bbox_wgs84: [5.0, 52.0, 5.1, 52.1],
///     bbox_web_mercator: [556597.45, 6800125.45, 567729.4, 6816595.97],
///     layers: &["kde"],
/// };
/// let xml = capabilities_xml(WmsVersion::V130, &caps);
/// assert!(xml.contains("<Title>brandpunt Voorbeeld &amp; Co</Title>"));
/// assert!(xml.contains("<BoundingBox CRS=\"EPSG:4326\" minx=\"52\" miny=\"5\" maxx=\"52.1\" maxy=\"5.1\"/>"));
/// assert!(xml.contains("<Name>kde</Name>"));
/// ```
pub fn capabilities_xml(version: WmsVersion, caps: &Capabilities) -> String {
    let href = xml_escape(caps.service_url);
    let [w, s, e, n] = caps.bbox_wgs84;
    let [mx0, my0, mx1, my1] = caps.bbox_web_mercator;
    let title = xml_escape(caps.title);
    let dcp = format!(
        "<DCPType><HTTP><Get><OnlineResource xmlns:xlink=\"http://www.w3.org/1999/xlink\" xlink:type=\"simple\" xlink:href=\"{href}\"/></Get></HTTP></DCPType>"
    );
    let mut layers = String::new();
    for name in caps.layers {
        let (t, a) = layer_title(name);
        layers.push_str(&format!(
            "      <Layer queryable=\"0\" opaque=\"0\"><Name>{name}</Name><Title>{}</Title><Abstract>{}</Abstract></Layer>\n",
            xml_escape(t),
            xml_escape(a)
        ));
    }
    match version {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: [&str; 3] = ["kde", "hotspots", "buurten"];

    fn params(q: &[(&str, &str)]) -> HashMap<String, String> {
        lowercase_keys(q.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn get_map_111() -> HashMap<String, String> {
        params(&[
            ("SERVICE", "WMS"),
            ("VERSION", "1.1.1"),
            ("REQUEST", "GetMap"),
            ("LAYERS", "buurten,kde"),
            ("SRS", "EPSG:4326"),
            ("BBOX", "6,52,7,53"),
            ("WIDTH", "300"),
            ("HEIGHT", "200"),
            ("FORMAT", "image/png"),
        ])
    }

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
    fn get_map_parses_layers_axis_order_and_background() {
        let p = get_map_111();
        let gm = parse_get_map(&p, WmsVersion::V111, &LAYERS).unwrap();
        assert_eq!(gm.layers, ["buurten", "kde"]);
        assert_eq!(
            gm.request,
            MapRequest {
                crs: MapCrs::LonLat,
                bbox: [6.0, 52.0, 7.0, 53.0],
                width: 300,
                height: 200,
            }
        );
        assert_eq!(gm.background, Some([255, 255, 255, 255]));
        // 1.3.0 with EPSG:4326 is lat/lon; CRS:84 stays lon/lat.
        let mut p13 = p.clone();
        p13.remove("srs");
        p13.insert("crs".into(), "EPSG:4326".into());
        p13.insert("bbox".into(), "52,6,53,7".into());
        let gm = parse_get_map(&p13, WmsVersion::V130, &LAYERS).unwrap();
        assert_eq!(gm.request.bbox, [6.0, 52.0, 7.0, 53.0]);
        p13.insert("crs".into(), "crs:84".into());
        p13.insert("bbox".into(), "6,52,7,53".into());
        let gm = parse_get_map(&p13, WmsVersion::V130, &LAYERS).unwrap();
        assert_eq!(gm.request.bbox, [6.0, 52.0, 7.0, 53.0]);
        // Transparent: no background; a colour otherwise.
        let mut t = p.clone();
        t.insert("transparent".into(), "TRUE".into());
        assert_eq!(
            parse_get_map(&t, WmsVersion::V111, &LAYERS)
                .unwrap()
                .background,
            None
        );
        t.insert("transparent".into(), "false".into());
        t.insert("bgcolor".into(), "0x102030".into());
        assert_eq!(
            parse_get_map(&t, WmsVersion::V111, &LAYERS)
                .unwrap()
                .background,
            Some([0x10, 0x20, 0x30, 255])
        );
    }

    #[test]
    fn get_map_errors_name_the_parameter_and_code() {
        let cases: [(&str, Option<&str>, ExceptionCode, &str); 9] = [
            (
                "layers",
                None,
                ExceptionCode::MissingParameterValue,
                "LAYERS ontbreekt",
            ),
            (
                "layers",
                Some("kde,nope"),
                ExceptionCode::LayerNotDefined,
                "laag 'nope' bestaat niet (kies kde, hotspots, buurten)",
            ),
            (
                "format",
                Some("image/jpeg"),
                ExceptionCode::InvalidFormat,
                "FORMAT=image/jpeg: alleen image/png",
            ),
            (
                "srs",
                Some("EPSG:28992"),
                ExceptionCode::InvalidSrs,
                "EPSG:28992 wordt niet ondersteund (EPSG:3857, EPSG:4326, CRS:84)",
            ),
            (
                "srs",
                None,
                ExceptionCode::MissingParameterValue,
                "SRS ontbreekt",
            ),
            (
                "bbox",
                Some("1,2,x,4"),
                ExceptionCode::InvalidParameterValue,
                "BBOX=1,2,x,4: vier getallen",
            ),
            (
                "bbox",
                Some("7,52,6,53"),
                ExceptionCode::InvalidParameterValue,
                "BBOX=7,52,6,53: het minimum moet kleiner zijn dan het maximum",
            ),
            (
                "height",
                Some("5000"),
                ExceptionCode::InvalidParameterValue,
                "HEIGHT=5000: kies 1 t/m 4096 pixels",
            ),
            (
                "bgcolor",
                Some("wit"),
                ExceptionCode::InvalidParameterValue,
                "BGCOLOR=wit: 0xRRGGBB",
            ),
        ];
        for (key, value, code, message) in cases {
            let mut p = get_map_111();
            match value {
                Some(v) => p.insert(key.into(), v.into()),
                None => p.remove(key),
            };
            let e = parse_get_map(&p, WmsVersion::V111, &LAYERS).unwrap_err();
            assert_eq!(
                e,
                WmsError {
                    version: WmsVersion::V111,
                    code: Some(code),
                    message: message.into()
                },
                "{key}"
            );
        }
    }

    #[test]
    fn operations_and_versions() {
        let op = |q: &[(&str, &str)]| operation(&params(q), WmsVersion::V130);
        assert_eq!(
            op(&[("REQUEST", "getcapabilities")]),
            Ok(Operation::GetCapabilities)
        );
        assert_eq!(op(&[("request", "Map")]), Ok(Operation::GetMap));
        assert_eq!(
            op(&[]).unwrap_err().code,
            Some(ExceptionCode::MissingParameterValue)
        );
        assert_eq!(
            op(&[("request", "GetFeatureInfo")]).unwrap_err().message,
            "REQUEST=getfeatureinfo wordt niet ondersteund (GetCapabilities, GetMap)"
        );
        for v in ["1.1.1", "1.1.0", "1.1"] {
            assert_eq!(WmsVersion::from_param(Some(v)), WmsVersion::V111);
        }
        assert_eq!(WmsVersion::from_param(Some("1.3.0")), WmsVersion::V130);
    }

    #[test]
    fn exception_reports_per_version() {
        let e = WmsError {
            version: WmsVersion::V130,
            code: None,
            message: "a<b".into(),
        };
        assert_eq!(
            e.report_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.3.0\" xmlns=\"http://www.opengis.net/ogc\">\n  <ServiceException>a&lt;b</ServiceException>\n</ServiceExceptionReport>\n"
        );
        let e = WmsError {
            version: WmsVersion::V111,
            code: Some(ExceptionCode::InvalidSrs),
            message: "x".into(),
        };
        assert_eq!(
            e.report_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServiceExceptionReport version=\"1.1.1\">\n  <ServiceException code=\"InvalidSRS\">x</ServiceException>\n</ServiceExceptionReport>\n"
        );
    }

    #[test]
    fn capabilities_list_layers_and_boxes_per_version() {
        let caps = Capabilities {
            title: "brandpunt Demo",
            service_url: "http://h/wms?jaar=2024&",
            bbox_wgs84: [5.0, 52.0, 5.5, 52.5],
            bbox_web_mercator: [1.0, 2.0, 3.0, 4.0],
            layers: &LAYERS,
        };
        let v111 = capabilities_xml(WmsVersion::V111, &caps);
        assert!(v111.contains("<WMT_MS_Capabilities version=\"1.1.1\">"));
        assert!(v111.contains("xlink:href=\"http://h/wms?jaar=2024&amp;\""));
        assert!(
            v111.contains("<LatLonBoundingBox minx=\"5\" miny=\"52\" maxx=\"5.5\" maxy=\"52.5\"/>")
        );
        assert!(v111.contains(
            "<BoundingBox SRS=\"EPSG:3857\" minx=\"1\" miny=\"2\" maxx=\"3\" maxy=\"4\"/>"
        ));
        let v130 = capabilities_xml(WmsVersion::V130, &caps);
        assert!(v130.contains("<MaxWidth>4096</MaxWidth>"));
        assert!(v130.contains(
            "<BoundingBox CRS=\"EPSG:4326\" minx=\"52\" miny=\"5\" maxx=\"52.5\" maxy=\"5.5\"/>"
        ));
        for doc in [&v111, &v130] {
            for name in LAYERS {
                assert!(doc.contains(&format!("<Name>{name}</Name>")));
            }
            assert!(doc.contains("<Title>Hotspots (Gi*)</Title>"));
        }
    }
}
