//! `GET /ogc/api`: the OpenAPI 3.0 document of `/ogc`, made from the collection list and the parameter lists of
//! [`super::items`], so it declares exactly what the server takes (`category`, `source` and, for `hotspots`,
//! `bins` included).

use super::collections::{visible, Kind, COLLECTIONS};
use super::crs::Crs;
use super::items::{DEFAULT_LIMIT, MAX_LIMIT};
use super::{base_url, check_params, json_response, OPENAPI};
use crate::server::error::ApiError;
use crate::server::{AppState, Caller};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn param_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

/// The shared parameters, by component name.
fn parameters(sources: &[String]) -> Value {
    let crs_enum: Vec<&str> = Crs::ALL.map(Crs::uri).to_vec();
    json!({
        "f": {"name": "f", "in": "query", "required": false, "description": "Formaat: alleen json.",
              "schema": {"type": "string", "enum": ["json"]}},
        "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                  "description": format!("Objecten per pagina (standaard {DEFAULT_LIMIT}, hoogstens {MAX_LIMIT}; een groter getal wordt {MAX_LIMIT})."),
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": false,
                   "description": "Het aantal objecten dat wordt overgeslagen (de links next/prev geven het).",
                   "schema": {"type": "integer", "minimum": 0, "default": 0}},
        "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                 "description": "Alleen objecten waarvan de geometrie dit kader snijdt: minx,miny,maxx,maxy in bbox-crs.",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
        "bbox-crs": {"name": "bbox-crs", "in": "query", "required": false,
                     "description": "Het CRS van bbox (standaard CRS84).",
                     "schema": {"type": "string", "format": "uri", "enum": crs_enum, "default": Crs::Crs84.uri()}},
        "crs": {"name": "crs", "in": "query", "required": false,
                "description": "Het CRS van de antwoordgeometrie (standaard CRS84); staat ook in de header Content-Crs.",
                "schema": {"type": "string", "format": "uri", "enum": crs_enum, "default": Crs::Crs84.uri()}},
        "datetime": {"name": "datetime", "in": "query", "required": false,
                     "description": "Dag of interval (a/b, open einde ..) waarin het tijdvak van een incident begint; datums of tijdstippen om middernacht. Bij gebieden: de incidenten die worden geteld.",
                     "schema": {"type": "string"}},
        "category": {"name": "category", "in": "query", "required": false,
                     "description": "Categoriecodes of groepen (inbraak, geweld, overlast), kommagescheiden.",
                     "schema": {"type": "string"}},
        "source": {"name": "source", "in": "query", "required": false,
                   "description": "Bronnen, kommagescheiden.",
                   "schema": {"type": "string", "enum": sources}},
        "bins": {"name": "bins", "in": "query", "required": false,
                 "description": "Gi*-bakken: grid:METERS, h3:RESOLUTIE, buurt, wijk of gemeente (standaard grid:100).",
                 "schema": {"type": "string", "default": "grid:100"}},
        "featureId": {"name": "featureId", "in": "path", "required": true,
                      "description": "Gebiedscode, cel-id of incidentnummer.",
                      "schema": {"type": "string"}},
        "collectionId": {"name": "collectionId", "in": "path", "required": true,
                         "schema": {"type": "string", "enum": COLLECTIONS.iter().map(|c| c.id).collect::<Vec<_>>()}},
    })
}

fn response(description: &str, media: &str) -> Value {
    json!({"description": description, "content": {media: {"schema": {"type": "object"}}},
           "headers": {}})
}

fn errors() -> Value {
    json!({
        "400": {"description": "Ongeldige of onbekende parameter (het antwoord noemt hem)."},
        "401": {"description": "Geen geldige inloggegevens (API-token als Bearer of als wachtwoord van Basic)."},
        "403": {"description": "Geen toegang."},
        "404": {"description": "Onbekende collectie of object."},
    })
}

fn get(summary: &str, params: Vec<Value>, ok: Value) -> Value {
    let mut responses = errors();
    responses["200"] = ok;
    json!({"get": {"summary": summary, "parameters": params, "responses": responses}})
}

/// The document for `base` (the absolute `/ogc` URL) and a snapshot's sources.
pub fn build(base: &str, sources: &[String], with_incidents: bool) -> Value {
    let json_ok = |d: &str| response(d, super::JSON);
    let geo_ok = |d: &str| {
        let mut r = response(d, super::GEOJSON);
        r["headers"] = json!({"Content-Crs": {"description": "Het CRS van de geometrie", "schema": {"type": "string"}}});
        r
    };
    let mut paths = Map::new();
    paths.insert(
        "/".into(),
        get(
            "Landingspagina",
            vec![param_ref("f")],
            json_ok("De landingspagina"),
        ),
    );
    paths.insert(
        "/conformance".into(),
        get(
            "Conformiteitsklassen",
            vec![param_ref("f")],
            json_ok("conformsTo"),
        ),
    );
    paths.insert(
        "/api".into(),
        get(
            "Deze API-beschrijving",
            vec![param_ref("f")],
            response("OpenAPI 3.0", OPENAPI),
        ),
    );
    paths.insert(
        "/collections".into(),
        get(
            "De collecties",
            vec![param_ref("f")],
            json_ok("De collecties"),
        ),
    );
    paths.insert(
        "/collections/{collectionId}".into(),
        get(
            "Eén collectie",
            vec![param_ref("collectionId"), param_ref("f")],
            json_ok("De collectie"),
        ),
    );
    for c in COLLECTIONS {
        if c.kind == Kind::Incidents && !with_incidents {
            continue;
        }
        let mut items: Vec<Value> = super::items::ITEMS_PARAMS
            .iter()
            .map(|p| param_ref(p))
            .collect();
        let mut one: Vec<Value> = super::items::ITEM_PARAMS
            .iter()
            .map(|p| param_ref(p))
            .collect();
        if c.kind == Kind::Hotspots {
            items.push(param_ref("bins"));
            one.push(param_ref("bins"));
        }
        items.push(param_ref("f"));
        one.push(param_ref("f"));
        one.insert(0, param_ref("featureId"));
        paths.insert(
            format!("/collections/{}/items", c.id),
            get(
                &format!("{}: objecten", c.title),
                items,
                geo_ok("FeatureCollection met numberMatched, numberReturned en links next/prev"),
            ),
        );
        paths.insert(
            format!("/collections/{}/items/{{featureId}}", c.id),
            get(&format!("{}: één object", c.title), one, geo_ok("Feature")),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "brandpunt OGC API - Features", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Collecties van brandpunt volgens OGC API - Features deel 1 (Core) en deel 2 (CRS)."},
        "servers": [{"url": base}],
        "security": [{"token": []}, {"basic": []}],
        "paths": paths,
        "components": {
            "parameters": parameters(sources),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic", "description": "Een API-token als wachtwoord (gebruikersnaam vrij)."},
            },
        },
    })
}

/// `GET /ogc/api`.
pub async fn document(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    check_params(&params, &[])?;
    let base = base_url(&state, &headers);
    let mut sources = caller.snapshot.sources.clone();
    sources.sort();
    let incidents = COLLECTIONS
        .iter()
        .any(|c| c.kind == Kind::Incidents && visible(&caller, c));
    Ok(json_response(build(&base, &sources, incidents), OPENAPI))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_items_path_declares_the_filters() {
        let doc = build("http://x/ogc", &["politie".into()], true);
        for c in COLLECTIONS {
            let path = format!("/collections/{}/items", c.id);
            let names: Vec<String> = doc["paths"][&path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p["$ref"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string()
                })
                .collect();
            for n in [
                "category", "source", "datetime", "bbox", "limit", "offset", "crs", "bbox-crs",
            ] {
                assert!(names.contains(&n.to_string()), "{path}: {n}");
                assert!(doc["components"]["parameters"][n].is_object(), "{n}");
            }
        }
        let without = build("http://x/ogc", &[], false);
        assert!(without["paths"]["/collections/incidents/items"].is_null());
    }
}
