//! Enrichment of the areas: the CBS kerncijfers the wijk- en buurtkaart gave each gemeente, wijk and buurt
//! (inhabitants, age groups, households, address density, ...: [`crate::dataset::area_stats`], held by the
//! snapshot) and the tenant's own municipal indicators per buurt (`brandpunt import indicators`, read from the
//! store once per snapshot generation and cached under [`IndicatorsKey`]; only the caller's tenant's).
//!
//! A value is named by a key: `cbs:COLUMN` (`cbs:aantal_inwoners`, `cbs:aantal_huishoudens`,
//! `cbs:percentage_personen_65_jaar_en_ouder`, ...) or `indicator:NAME` (the name in the indicator file). The
//! indicators are per buurt; wijken and gemeenten have none (an indicator is not necessarily additive).
//!
//! Routes:
//! - `GET /api/enrichment?level=buurt|wijk|gemeente` (default buurt): the columns (`key`, `label`, `source`)
//!   and every area of the level with its values: what the web map's "Kleur naar" colours by.
//! - `GET /api/enrichment/correlation?x=KEY&y=count|rate&level=buurt|wijk` (+ the common filters): the scatter
//!   of `x` against the area's count or rate per 1,000 inhabitants for the filter across the areas of the level
//!   (the study area's, with `area`/`bbox`), with Pearson's and Spearman's coefficient over the areas that have
//!   both values ([`crate::analysis::correlation`]; `n` says how many). Protected callers (viewers) get the
//!   counts of the protected area table ([`super::AppState::protected_table`]); an area whose count is withheld
//!   has `y: null` and is left out of the coefficients, which are computed from published values only.
//!
//! The values are not counts of incidents: they are shown to every caller of the tenant as published by CBS and
//! delivered by the municipality. Bad parameters are 400 naming the parameter.

use super::error::ApiError;
use super::filter::Filter;
use super::{AppState, Caller};
use crate::analysis::correlation::correlate;
use crate::area_level::AreaLevel;
use crate::cache::CacheEntry;
use crate::dataset::area_stats::AreaStatsTable;
use crate::dataset::Snapshot;
use crate::heap_size::HeapSize;
use crate::publish::rate_per_1000;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/enrichment", get(table))
        .route("/api/enrichment/correlation", get(correlation))
}

/// Cache key of a snapshot's indicator table ([`indicators`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndicatorsKey {
    pub generation: u64,
}

impl HeapSize for IndicatorsKey {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl CacheEntry for IndicatorsKey {
    type Value = Arc<AreaStatsTable>;
    const KIND: &'static str = "indicators";
}

/// The tenant's municipal indicators of snapshot `s` as a table (rows indexed like the snapshot's areas; only
/// buurten of the snapshot have values), read from the store once per generation. Blocking (store read).
pub fn indicators(state: &AppState, s: &Snapshot) -> Result<Arc<AreaStatsTable>, ApiError> {
    let key = IndicatorsKey {
        generation: s.generation,
    };
    if let Some(t) = state.caches.get(&key) {
        return Ok(t);
    }
    let rows =
        state.with_store(|store| crate::store::Store::indicators(store.as_store(), &s.tenant))?;
    let mut per_area: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); s.areas.len()];
    for r in rows {
        let (Some(v), Some(idx)) = (r.value, s.area_index(&r.buurtcode)) else {
            continue;
        };
        if s.area(idx).level == AreaLevel::Buurt {
            per_area[idx as usize].insert(r.name, v);
        }
    }
    let table = Arc::new(AreaStatsTable::from_rows(per_area.iter()));
    state.caches.insert(key, table.clone());
    Ok(table)
}

/// Dutch labels of the CBS columns the dashboard names; other columns are shown by their name.
const CBS_LABELS: &[(&str, &str)] = &[
    ("aantal_inwoners", "Inwoners"),
    ("mannen", "Mannen"),
    ("vrouwen", "Vrouwen"),
    ("percentage_personen_0_tot_15_jaar", "% 0-15 jaar"),
    ("percentage_personen_15_tot_25_jaar", "% 15-25 jaar"),
    ("percentage_personen_25_tot_45_jaar", "% 25-45 jaar"),
    ("percentage_personen_45_tot_65_jaar", "% 45-65 jaar"),
    ("percentage_personen_65_jaar_en_ouder", "% 65 jaar en ouder"),
    ("aantal_huishoudens", "Huishoudens"),
    ("gemiddelde_huishoudensgrootte", "Gem. huishoudensgrootte"),
    (
        "percentage_eenpersoonshuishoudens",
        "% eenpersoonshuishoudens",
    ),
    (
        "omgevingsadressendichtheid",
        "Omgevingsadressendichtheid (adressen/km²)",
    ),
    ("stedelijkheid_adressen_per_km2", "Stedelijkheid"),
    (
        "bevolkingsdichtheid_inwoners_per_km2",
        "Bevolkingsdichtheid (inw./km²)",
    ),
    ("oppervlakte_totaal_in_ha", "Oppervlakte totaal (ha)"),
    ("oppervlakte_land_in_ha", "Oppervlakte land (ha)"),
    ("oppervlakte_water_in_ha", "Oppervlakte water (ha)"),
];

/// Columns that are bookkeeping, not statistics.
const CBS_SKIP: &[&str] = &["jaar", "fid", "id"];

fn cbs_label(column: &str) -> String {
    CBS_LABELS
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| column.replace('_', " "))
}

/// One enrichment value source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// `cbs:COLUMN` (`aantal_inwoners` from the area's inhabitants).
    Cbs(String),
    /// `indicator:NAME`.
    Indicator(String),
}

impl Column {
    /// The key (`cbs:...`, `indicator:...`).
    pub fn key(&self) -> String {
        match self {
            Column::Cbs(c) => format!("cbs:{c}"),
            Column::Indicator(n) => format!("indicator:{n}"),
        }
    }

    /// The value of area `idx`.
    pub fn value(&self, s: &Snapshot, indicators: &AreaStatsTable, idx: u32) -> Option<f64> {
        match self {
            Column::Cbs(c) if c == "aantal_inwoners" => s.area(idx).inhabitants.map(|v| v as f64),
            Column::Cbs(c) => s.area_stats.value(idx, c),
            Column::Indicator(n) => indicators.value(idx, n),
        }
    }

    /// `{"key", "label", "source"}`.
    pub fn json(&self) -> Value {
        match self {
            Column::Cbs(c) => json!({"key": self.key(), "label": cbs_label(c), "source": "cbs"}),
            Column::Indicator(n) => json!({"key": self.key(), "label": n, "source": "indicator"}),
        }
    }
}

/// Every column of the snapshot: the CBS columns (inhabitants first) and the tenant's indicators.
pub fn columns(s: &Snapshot, indicators: &AreaStatsTable) -> Vec<Column> {
    let mut out = vec![Column::Cbs("aantal_inwoners".into())];
    out.extend(
        s.area_stats
            .columns()
            .iter()
            .filter(|c| !CBS_SKIP.contains(&c.as_str()) && c.as_str() != "aantal_inwoners")
            .map(|c| Column::Cbs(c.clone())),
    );
    out.extend(
        indicators
            .columns()
            .iter()
            .map(|n| Column::Indicator(n.clone())),
    );
    out
}

/// Parse a column key against the snapshot's columns: 400 naming `parameter` for an unknown one.
pub fn parse_column(
    s: &Snapshot,
    indicators: &AreaStatsTable,
    parameter: &str,
    key: &str,
) -> Result<Column, ApiError> {
    let key = key.trim();
    let col = match key.split_once(':') {
        Some(("cbs", c)) if c == "aantal_inwoners" || s.area_stats.has_column(c) => {
            Some(Column::Cbs(c.to_string()))
        }
        Some(("indicator", n)) if indicators.has_column(n) => {
            Some(Column::Indicator(n.to_string()))
        }
        _ => None,
    };
    col.ok_or_else(|| {
        ApiError::param(
            parameter,
            format!("onbekende kolom '{key}' (cbs:KOLOM of indicator:NAAM; zie /api/enrichment)"),
        )
    })
}

/// The enrichment of area `idx` as JSON: `{"cbs": {column: value}, "indicators": {name: value}}` (only the
/// values it has).
pub fn area_json(s: &Snapshot, indicators: &AreaStatsTable, idx: u32) -> Value {
    let mut cbs = Map::new();
    if let Some(v) = s.area(idx).inhabitants {
        cbs.insert("aantal_inwoners".into(), json!(v));
    }
    for (c, v) in s.area_stats.row(idx) {
        if !CBS_SKIP.contains(&c) {
            cbs.insert(c.to_string(), json!(v));
        }
    }
    let ind: Map<String, Value> = indicators
        .row(idx)
        .map(|(n, v)| (n.to_string(), json!(v)))
        .collect();
    json!({"cbs": cbs, "indicators": ind})
}

/// The enrichment columns as export properties, in order: `cbs_COLUMN` for every CBS column but the inhabitants
/// (exports have `inhabitants` of their own), then `ind_NAME` for every indicator of the tenant.
pub fn export_columns(s: &Snapshot, indicators: &AreaStatsTable) -> Vec<(String, Column)> {
    columns(s, indicators)
        .into_iter()
        .filter_map(|c| {
            let name = match &c {
                Column::Cbs(n) if n == "aantal_inwoners" => return None,
                Column::Cbs(n) => format!("cbs_{n}"),
                Column::Indicator(n) => format!("ind_{n}"),
            };
            Some((name, c))
        })
        .collect()
}

fn parse_level(
    params: &HashMap<String, String>,
    allowed: &[AreaLevel],
) -> Result<AreaLevel, ApiError> {
    let Some(raw) = params
        .get("level")
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
    else {
        return Ok(AreaLevel::Buurt);
    };
    AreaLevel::parse(raw)
        .filter(|l| allowed.contains(l))
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|l| l.as_str()).collect();
            ApiError::param(
                "level",
                format!("onbekend niveau '{raw}': {}", names.join(", ")),
            )
        })
}

/// `GET /api/enrichment?level=`.
async fn table(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let level = parse_level(
        &params,
        &[AreaLevel::Buurt, AreaLevel::Wijk, AreaLevel::Gemeente],
    )?;
    let s = caller.snapshot.clone();
    let st = state.clone();
    let v = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let ind = indicators(&st, &s)?;
        let cols = columns(&s, &ind);
        let areas: Vec<Value> = s
            .level_areas(level)
            .iter()
            .map(|&i| {
                let a = s.area(i);
                let values: Map<String, Value> = cols
                    .iter()
                    .filter_map(|c| c.value(&s, &ind, i).map(|v| (c.key(), json!(v))))
                    .collect();
                json!({"code": a.code, "name": a.name, "values": values})
            })
            .collect();
        Ok(json!({
            "level": level.as_str(),
            "columns": cols.iter().map(Column::json).collect::<Vec<_>>(),
            "areas": areas,
        }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(v))
}

/// What a scatter plots on its y axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum YValue {
    Count,
    Rate,
}

/// The areas of `level` that lie in the filter's study area (all without one): CBS areas by the hierarchy, a
/// box or custom area by its bounding box.
pub fn areas_in_scope(s: &Snapshot, filter: &Filter, level: AreaLevel) -> Vec<u32> {
    let all = s.level_areas(level);
    let Some(study) = &filter.study else {
        return all.to_vec();
    };
    if study.key == crate::dataset::filter::StudyArea::GEMEENTEN_KEY {
        return all.to_vec();
    }
    if let Some(scope) = s.area_index(&study.key) {
        let sa = s.area(scope);
        if sa.level != AreaLevel::Custom {
            let code = sa.code.as_str();
            return all
                .iter()
                .copied()
                .filter(|&i| {
                    let a = s.area(i);
                    i == scope
                        || a.wijkcode.as_deref() == Some(code)
                        || a.gemeentecode.as_deref() == Some(code)
                })
                .collect();
        }
    }
    let (lo, hi) = (study.bbox_rd.min(), study.bbox_rd.max());
    all.iter()
        .copied()
        .filter(|&i| {
            geo::BoundingRect::bounding_rect(&s.area(i).geometry_rd).is_some_and(|b| {
                b.min().x <= hi.x && b.max().x >= lo.x && b.min().y <= hi.y && b.max().y >= lo.y
            })
        })
        .collect()
}

/// `GET /api/enrichment/correlation?x=&y=&level=` (+ filters).
async fn correlation(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let s = caller.snapshot.clone();
    let filter = Filter::parse(&params, &s)?;
    let level = parse_level(&params, &[AreaLevel::Buurt, AreaLevel::Wijk])?;
    let y = match params.get("y").map(|v| v.trim()) {
        None | Some("") | Some("rate") => YValue::Rate,
        Some("count") => YValue::Count,
        Some(other) => {
            return Err(ApiError::param(
                "y",
                format!("onbekende waarde '{other}': count of rate"),
            ))
        }
    };
    let x_raw = params
        .get("x")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::param("x", "'x' ontbreekt (cbs:KOLOM of indicator:NAAM)"))?;
    let protect = caller.principal.sees_protected_counts();
    let st = state.clone();
    let v = state
        .blocking
        .run(move |cancel| -> Result<Value, ApiError> {
            cancel.check()?;
            let ind = indicators(&st, &s)?;
            let x = parse_column(&s, &ind, "x", &x_raw)?;
            let table = st.protected_table(&s, &filter, protect);
            let mut pairs = Vec::new();
            let points: Vec<Value> = areas_in_scope(&s, &filter, level)
                .into_iter()
                .map(|i| {
                    let a = s.area(i);
                    let xv = x.value(&s, &ind, i);
                    let (count, label, suppressed) =
                        crate::publish::count_fields(&table, i as usize);
                    let yv = table.published(i as usize).and_then(|c| match y {
                        YValue::Count => Some(c as f64),
                        YValue::Rate => a
                            .inhabitants
                            .filter(|&n| n > 0)
                            .map(|n| rate_per_1000(u32::try_from(c).unwrap_or(u32::MAX), n)),
                    });
                    if let (Some(xv), Some(yv)) = (xv, yv) {
                        pairs.push((xv, yv));
                    }
                    json!({"code": a.code, "name": a.name, "x": xv, "y": yv, "count": count,
                           "count_label": label, "suppressed": suppressed})
                })
                .collect();
            let c = correlate(&pairs);
            let y_name = match y {
                YValue::Count => "count",
                YValue::Rate => "rate",
            };
            Ok(json!({
                "level": level.as_str(),
                "x": x.json(),
                "y": y_name,
                "filter": filter.query_string(),
                "protected": protect,
                "n": c.n,
                "pearson": c.pearson,
                "spearman": c.spearman,
                "points": points,
            }))
        })
        .await?;
    Ok(Json(v))
}
