//! The collections of `/ogc` and their metadata (`/ogc/collections`, `/ogc/collections/{id}`): id, title,
//! description, spatial extent (CRS84) and temporal extent (the days on which incident windows begin), the CRS
//! list with the storage CRS (EPSG:28992) and the links to the items. `incidents` is listed only for callers who
//! may see address-level data.

use super::crs::Crs;
use super::{base_url, check_params, json_response, link, GEOJSON, JSON};
use crate::access::CategoryScope;
use crate::area_level::AreaLevel;
use crate::server::error::ApiError;
use crate::server::{AppState, Caller, Snapshot};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// What a collection holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The areas of a level with their published counts.
    Areas(AreaLevel),
    /// The Gi* cells of the filter.
    Hotspots,
    /// Address-level incidents (analysts, granted categories).
    Incidents,
}

/// One collection.
#[derive(Clone, Copy, Debug)]
pub struct Collection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub kind: Kind,
}

/// Every collection, in the order of `/ogc/collections`.
pub const COLLECTIONS: &[Collection] = &[
    Collection {
        id: "buurten",
        title: "Buurten",
        description: "CBS-buurten met het aantal incidenten van het filter (category, source, datetime), inwoners en het aantal per 1.000 inwoners; kleine aantallen afgeschermd zoals in alle uitvoer",
        kind: Kind::Areas(AreaLevel::Buurt),
    },
    Collection {
        id: "wijken",
        title: "Wijken",
        description: "CBS-wijken met het aantal incidenten van het filter, inwoners en het aantal per 1.000 inwoners",
        kind: Kind::Areas(AreaLevel::Wijk),
    },
    Collection {
        id: "gemeenten",
        title: "Gemeenten",
        description: "Gemeenten met het aantal incidenten van het filter, inwoners en het aantal per 1.000 inwoners",
        kind: Kind::Areas(AreaLevel::Gemeente),
    },
    Collection {
        id: "areas",
        title: "Eigen gebieden",
        description: "Door analisten getekende gebieden met het aantal incidenten van het filter",
        kind: Kind::Areas(AreaLevel::Custom),
    },
    Collection {
        id: "hotspots",
        title: "Hotspots (Gi*)",
        description: "Getis-Ord Gi*-cellen van het filter (bins, standaard grid:100): aantal, z, p en de betrouwbaarheidsklasse bin (-3..3, FDR)",
        kind: Kind::Hotspots,
    },
    Collection {
        id: "incidents",
        title: "Incidenten",
        description: "Incidenten op adresniveau (alleen analisten, alleen de toegekende categorieën; elke opvraging wordt gelogd)",
        kind: Kind::Incidents,
    },
];

/// Whether `caller` may read the collection (`incidents`: address-level rights on some category).
pub fn visible(caller: &Caller, c: &Collection) -> bool {
    match c.kind {
        Kind::Incidents => !matches!(
            caller
                .principal
                .address_level_scope(caller.tenant(), &[], &caller.snapshot.categories),
            CategoryScope::Denied
        ),
        _ => true,
    }
}

/// The collection `id` for `caller`: 404 for an unknown id, 403 for `incidents` without address-level rights.
pub fn find(caller: &Caller, id: &str) -> Result<&'static Collection, ApiError> {
    let c = COLLECTIONS
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("onbekende collectie '{id}'")))?;
    if !visible(caller, c) {
        return Err(ApiError::Forbidden(
            "geen toegang tot incidenten op adresniveau".into(),
        ));
    }
    Ok(c)
}

/// An RFC 3339 instant of the start of a day, or `null`.
fn day(d: Option<chrono::NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| json!(format!("{d}T00:00:00Z")))
}

/// The metadata of one collection.
pub fn description(base: &str, s: &Snapshot, c: &Collection) -> Value {
    let href = format!("{base}/collections/{}", c.id);
    json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "extent": {
            "spatial": {"bbox": [s.bbox_wgs84()], "crs": Crs::Crs84.uri()},
            "temporal": {
                "interval": [[day(s.first_day), day(s.last_day)]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "crs": Crs::ALL.map(Crs::uri),
        "storageCrs": Crs::Rd.uri(),
        "links": [
            link(href.clone(), "self", JSON, c.title),
            link(format!("{href}/items"), "items", GEOJSON, "de objecten als GeoJSON"),
        ],
    })
}

/// `GET /ogc/collections`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_params(&params, &[])?;
    let base = base_url(&state, &headers);
    let collections: Vec<Value> = COLLECTIONS
        .iter()
        .filter(|c| visible(&caller, c))
        .map(|c| description(&base, &caller.snapshot, c))
        .collect();
    Ok(json_response(
        json!({
            "links": [link(format!("{base}/collections"), "self", JSON, "de collecties")],
            "crs": Crs::ALL.map(Crs::uri),
            "collections": collections,
        }),
        JSON,
    ))
}

/// `GET /ogc/collections/{id}`.
pub async fn one(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_params(&params, &[])?;
    let c = find(&caller, &id)?;
    let base = base_url(&state, &headers);
    Ok(json_response(description(&base, &caller.snapshot, c), JSON))
}
