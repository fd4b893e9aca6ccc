//! Loading analysis input: incidents from the store (with the usual filters) or features from a file (CSV with
//! RD or WGS84 coordinates, or any GDAL vector file with point or polygon geometries, reprojected to RD New).

use anyhow::{bail, Context};
use brandpunt::analysis::Event;
use brandpunt::coords::Transformer;
use brandpunt::store::{IncidentFilter, Store};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::LayerAccess;
use geo::{Intersects, MapCoords};
use geo_types::{Geometry, MultiPolygon};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::super::{context, stats::parse_date};

/// Where the data comes from and how to filter it (shared by every `analyse` command).
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Input file instead of the store: CSV (`x`,`y` in RD or `lat`,`lon`; optional `datum`/`tijd` or
    /// `begin`/`eind`) or any GDAL vector file (points or polygons; reprojected to RD New).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Store only: category codes and/or group names, comma-separated (e.g. `1.1.1,geweld`).
    #[arg(long)]
    pub category: Option<String>,
    /// Store only: source(s), comma-separated (e.g. `politie`).
    #[arg(long)]
    pub source: Option<String>,
    /// First day (incidents whose window begins on or after it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day (incidents whose window begins on or before it), YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Store only: restrict to a buurt, wijk or gemeente (`BU03630000`, `WK036300`, `GM0363`) or a drawn area
    /// (`custom:ID`, the id `GET /api/areas/custom` lists).
    #[arg(long, conflicts_with = "bbox")]
    pub area: Option<String>,
    /// Store only: restrict to the incidents located within a box, `minlon,minlat,maxlon,maxlat` in WGS84
    /// degrees within the Netherlands (the API's `bbox=`).
    #[arg(long, allow_hyphen_values = true)]
    pub bbox: Option<String>,
    /// Tenant whose incidents are analysed.
    #[arg(long, env = "BRANDPUNT_TENANT", default_value = "default")]
    pub tenant: String,
    /// File input only: coordinate system of the input, `EPSG:28992` (RD New), `EPSG:4326` (WGS84 lon/lat) or
    /// `EPSG:3857` (Web Mercator); for vector files any `EPSG:CODE` (replaces the layer's own CRS). Default:
    /// CSV `x`,`y` = RD New and `lat`,`lon` = WGS84; vector files their layer's CRS (none: RD New).
    #[arg(long)]
    pub input_crs: Option<String>,
}

/// A coordinate system of `--input-crs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputCrs {
    /// EPSG:28992, RD New metres.
    Rd,
    /// EPSG:4326, WGS84 degrees (lon, lat).
    Wgs84,
    /// EPSG:3857, Web Mercator metres.
    WebMercator,
    /// Any other EPSG code (vector files only, through GDAL).
    Epsg(u32),
}

impl InputCrs {
    /// The EPSG code.
    pub fn epsg(self) -> u32 {
        match self {
            InputCrs::Rd => 28992,
            InputCrs::Wgs84 => 4326,
            InputCrs::WebMercator => 3857,
            InputCrs::Epsg(c) => c,
        }
    }
}

/// Parses `--input-crs`: `EPSG:CODE` or a bare code (`4326`), or the names `RD`, `WGS84`.
pub fn parse_input_crs(s: &str) -> anyhow::Result<InputCrs> {
    let t = s.trim().to_ascii_uppercase();
    let code = match t.as_str() {
        "RD" | "RD NEW" | "RDNEW" => 28992,
        "WGS84" | "WGS 84" => 4326,
        _ => t
            .strip_prefix("EPSG:")
            .unwrap_or(&t)
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|&c| c > 0)
            .with_context(|| {
                format!("--input-crs '{s}': geen coördinaatsysteem; geef EPSG:28992, EPSG:4326 of EPSG:3857")
            })?,
    };
    Ok(match code {
        28992 => InputCrs::Rd,
        4326 => InputCrs::Wgs84,
        3857 | 900913 => InputCrs::WebMercator,
        c => InputCrs::Epsg(c),
    })
}

/// The geometry of one input feature, RD New metres.
#[derive(Clone, Debug)]
pub enum Shape {
    /// A point.
    Point(f64, f64),
    /// A (multi)polygon.
    Area(MultiPolygon<f64>),
}

/// One input feature or incident.
#[derive(Clone, Debug)]
pub struct Record {
    pub shape: Shape,
    /// `--id` field, the incident id (store) or the 0-based feature/row number.
    pub id: String,
    /// `--value` field when requested (None when the cell is empty).
    pub value: Option<f64>,
    pub begin: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
}

/// The study area of `--area` or `--bbox`; without them the tenant's gemeenten.
pub enum Study {
    /// The buurten whose code starts with this prefix (a CBS `--area`).
    Buurten(String),
    /// The default: the incidents in a buurt of the tenant's gemeenten (`BU` + gemeente number prefixes), or in
    /// any buurt when the tenant's gemeenten are not set (all gemeenten).
    Gemeenten(Vec<String>),
    /// A drawn area (`--area custom:ID`), RD metres: the incidents located in it.
    Drawn(MultiPolygon<f64>),
    /// `--bbox` in RD metres: the incidents located in it.
    Box(geo_types::Rect<f64>),
}

impl Study {
    /// The study area of the arguments; without `--area` and `--bbox` the tenant's gemeenten, as the server's
    /// default ([`brandpunt::dataset::filter::StudyArea::gemeenten`]); `None` (every incident) when no CBS
    /// boundaries are loaded.
    pub fn of(store: &dyn Store, args: &InputArgs) -> anyhow::Result<Option<Study>> {
        if let Some(raw) = &args.bbox {
            let rect = brandpunt::coords::bbox_wgs84_to_rd(raw).context("--bbox")?;
            return Ok(Some(Study::Box(rect)));
        }
        let Some(code) = args.area.as_deref() else {
            if store.boundary_sets()?.is_empty() {
                return Ok(None);
            }
            let prefixes = store
                .tenant_gemeenten(&args.tenant)?
                .iter()
                .map(|g| area_prefix(g))
                .collect::<anyhow::Result<Vec<_>>>()?;
            return Ok(Some(Study::Gemeenten(prefixes)));
        };
        let Some(id) = code.trim().strip_prefix("custom:") else {
            return Ok(Some(Study::Buurten(area_prefix(code)?)));
        };
        let id: i64 = id.trim().parse().with_context(|| {
            format!("--area '{code}': na custom: volgt het nummer van een getekend gebied")
        })?;
        let area = store
            .custom_areas(&args.tenant)?
            .into_iter()
            .find(|a| a.id == id)
            .with_context(|| {
                format!(
                    "--area '{code}': tenant '{}' heeft geen getekend gebied {id}",
                    args.tenant
                )
            })?;
        Ok(Some(Study::Drawn(area.geometry)))
    }

    /// Whether an incident with this buurt and point lies in the study area (a drawn area or a box needs the point).
    pub fn holds(&self, buurtcode: Option<&str>, point: Option<(f64, f64)>) -> bool {
        match self {
            Study::Buurten(prefix) => buurtcode.is_some_and(|b| b.starts_with(prefix.as_str())),
            Study::Gemeenten(prefixes) => buurtcode.is_some_and(|b| {
                prefixes.is_empty() || prefixes.iter().any(|p| b.starts_with(p.as_str()))
            }),
            Study::Drawn(polygon) => {
                point.is_some_and(|(x, y)| polygon.intersects(&geo_types::Point::new(x, y)))
            }
            Study::Box(rect) => point.is_some_and(|(x, y)| {
                (rect.min().x..=rect.max().x).contains(&x)
                    && (rect.min().y..=rect.max().y).contains(&y)
            }),
        }
    }
}

/// The buurtcode prefix selecting `--area` (`GM0363` -> `BU0363`, `WK0363AE` -> `BU0363AE`, a buurtcode itself).
pub fn area_prefix(code: &str) -> anyhow::Result<String> {
    let code = code.trim().to_ascii_uppercase();
    let rest = code.get(2..).unwrap_or_default();
    match code.get(..2) {
        Some("BU") | Some("WK") | Some("GM") if !rest.is_empty() => Ok(format!("BU{rest}")),
        _ => bail!("--area '{code}' is geen buurt-, wijk- of gemeentecode (BU…, WK…, GM…)"),
    }
}

fn split_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Loads the records: from `--input` when given, else located incidents from the store.
pub fn load(
    db: &Path,
    args: &InputArgs,
    value_field: Option<&str>,
    id_field: Option<&str>,
) -> anyhow::Result<Vec<Record>> {
    if let (Some(f), Some(t)) = (args.from, args.to) {
        anyhow::ensure!(f <= t, "--from ({f}) ligt na --to ({t})");
    }
    let Some(path) = &args.input else {
        anyhow::ensure!(
            value_field.is_none() && id_field.is_none(),
            "--value en --id gelden alleen voor --input"
        );
        anyhow::ensure!(
            args.input_crs.is_none(),
            "--input-crs geldt alleen voor --input (de database bevat al RD-coördinaten)"
        );
        return load_store(db, args);
    };
    anyhow::ensure!(
        args.category.is_none()
            && args.source.is_none()
            && args.area.is_none()
            && args.bbox.is_none(),
        "--category, --source, --area en --bbox gelden alleen voor de database, niet voor --input"
    );
    anyhow::ensure!(path.exists(), "{}: bestand bestaat niet", path.display());
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"));
    let crs = args.input_crs.as_deref().map(parse_input_crs).transpose()?;
    let mut records = if is_csv {
        load_csv(path, value_field, id_field, crs)?
    } else {
        load_vector(path, value_field, id_field, crs)?
    };
    // Period filter on the begin (or end) day, like the store's filter.
    if args.from.is_some() || args.to.is_some() {
        records.retain(|r| {
            let Some(t) = r.begin.or(r.end) else {
                return false;
            };
            args.from.is_none_or(|f| t.date() >= f) && args.to.is_none_or(|to| t.date() <= to)
        });
    }
    Ok(records)
}

fn store_filter(args: &InputArgs) -> IncidentFilter {
    incident_filter(
        &args.tenant,
        args.category.as_deref(),
        &args.source,
        args.from,
        args.to,
    )
}

/// The store filter of the common `--tenant --category --source` flags for one period.
pub fn incident_filter(
    tenant: &str,
    category: Option<&str>,
    source: &Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> IncidentFilter {
    IncidentFilter {
        tenant: tenant.to_string(),
        categories: category
            .map(brandpunt::category::expand_filter)
            .unwrap_or_default(),
        sources: split_list(source),
        from,
        to,
    }
}

/// A store incident located to a buurt (with or without a point).
#[derive(Clone, Debug)]
pub struct BuurtHit {
    pub buurtcode: String,
    pub begin: NaiveDateTime,
    pub end: NaiveDateTime,
}

/// Every filtered store incident that has a buurtcode, also those located only to their buurt (no point):
/// the input of per-area counts.
pub fn store_buurt_hits(db: &Path, args: &InputArgs) -> anyhow::Result<Vec<BuurtHit>> {
    let store = context::open_store(db)?;
    let study = Study::of(store.as_store(), args)?;
    Ok(store
        .incidents(&store_filter(args))?
        .into_iter()
        .filter_map(|i| {
            let point = i.x_m.zip(i.y_m);
            let buurtcode = i.buurtcode?;
            study
                .as_ref()
                .is_none_or(|s| s.holds(Some(&buurtcode), point))
                .then_some(BuurtHit {
                    buurtcode,
                    begin: i.begin,
                    end: i.end,
                })
        })
        .collect())
}

fn load_store(db: &Path, args: &InputArgs) -> anyhow::Result<Vec<Record>> {
    let store = context::open_store(db)?;
    let filter = store_filter(args);
    let study = Study::of(store.as_store(), args)?;
    let incidents = store.incidents(&filter)?;
    Ok(incidents
        .into_iter()
        .filter(|i| {
            study
                .as_ref()
                .is_none_or(|s| s.holds(i.buurtcode.as_deref(), i.x_m.zip(i.y_m)))
        })
        .filter_map(|i| {
            let (x, y) = (i.x_m?, i.y_m?);
            Some(Record {
                shape: Shape::Point(x, y),
                id: i.id.to_string(),
                value: None,
                begin: Some(i.begin),
                end: Some(i.end),
            })
        })
        .collect())
}

/// Point events (weight 1) of the records; errors when a record is a polygon.
pub fn events(records: &[Record]) -> anyhow::Result<Vec<Event>> {
    records
        .iter()
        .map(|r| match r.shape {
            Shape::Point(x, y) => Ok(Event {
                x_m: x,
                y_m: y,
                begin: r.begin,
                end: r.end,
                weight: 1.0,
            }),
            Shape::Area(_) => {
                bail!("deze analyse vraagt punten; de invoer bevat vlakken (polygonen)")
            }
        })
        .collect()
}

fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    const FORMATS: [&str; 8] = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%d-%m-%Y %H:%M:%S",
        "%d-%m-%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ];
    FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| parse_day(s).map(|d| d.and_time(NaiveTime::MIN)))
}

/// A date, or the date of a date and time, in the formats the CSV reader accepts.
pub fn parse_date_or_datetime(s: &str) -> Option<NaiveDate> {
    parse_day(s).or_else(|| parse_datetime(s).map(|t| t.date()))
}

fn parse_day(s: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%d-%m-%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s.trim(), f).ok())
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    ["%H:%M:%S", "%H:%M", "%H%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(s.trim(), f).ok())
}

/// `begin`/`eind` (also `end`), or `datum` (+ `tijd`): a date without a time is the whole day.
fn times(
    get: &dyn Fn(&[&str]) -> Option<String>,
) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    if let Some(b) = get(&["begin", "start"]).and_then(|s| parse_datetime(&s)) {
        let e = get(&["eind", "end"]).and_then(|s| parse_datetime(&s));
        return (Some(b), Some(e.unwrap_or(b)));
    }
    let Some(day) = get(&["datum", "date"])
        .and_then(|s| parse_day(&s).or(parse_datetime(&s).map(|t| t.date())))
    else {
        return (None, None);
    };
    match get(&["tijd", "time"]).and_then(|s| parse_time(&s)) {
        Some(t) => (Some(day.and_time(t)), Some(day.and_time(t))),
        None => (
            Some(day.and_time(NaiveTime::MIN)),
            day.and_hms_opt(23, 59, 59),
        ),
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>()
        .ok()
        .or_else(|| t.replace(',', ".").parse().ok())
        .filter(|v| v.is_finite())
}

/// How the coordinates of a CSV row are read and converted to RD.
#[derive(Clone, Copy)]
enum CsvCoords {
    /// `x`,`y` columns in RD New.
    Rd(usize, usize),
    /// `x`,`y` columns in Web Mercator.
    WebMercator(usize, usize),
    /// `lon`, `lat` columns (or `x` = lon, `y` = lat) in WGS84 degrees.
    Wgs84 { lon: usize, lat: usize },
}

fn load_csv(
    path: &Path,
    value_field: Option<&str>,
    id_field: Option<&str>,
    crs: Option<InputCrs>,
) -> anyhow::Result<Vec<Record>> {
    let text =
        std::fs::read(path).with_context(|| format!("{}: kan niet lezen", path.display()))?;
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.iter().filter(|&&b| b == b';').count()
        > first_line.iter().filter(|&&b| b == b',').count()
    {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_slice());
    let headers: HashMap<String, usize> = reader
        .headers()
        .with_context(|| format!("{}: geen kopregel", path.display()))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase(),
                i,
            )
        })
        .collect();
    let col = |names: &[&str]| names.iter().find_map(|n| headers.get(*n).copied());
    let xy = match (col(&["x", "x_m", "rd_x"]), col(&["y", "y_m", "rd_y"])) {
        (Some(x), Some(y)) => Some((x, y)),
        _ => None,
    };
    let latlon = match (
        col(&["lat", "latitude", "breedtegraad"]),
        col(&["lon", "lng", "long", "longitude", "lengtegraad"]),
    ) {
        (Some(la), Some(lo)) => Some((la, lo)),
        _ => None,
    };
    if xy.is_none() && latlon.is_none() {
        bail!(
            "{}: kolommen x,y (RD) of lat,lon (WGS84) ontbreken",
            path.display()
        );
    }
    let coords = match (crs, xy, latlon) {
        (None, Some((x, y)), _) | (Some(InputCrs::Rd), Some((x, y)), _) => CsvCoords::Rd(x, y),
        (None, None, Some((lat, lon))) | (Some(InputCrs::Wgs84), _, Some((lat, lon))) => {
            CsvCoords::Wgs84 { lon, lat }
        }
        (Some(InputCrs::Wgs84), Some((x, y)), None) => CsvCoords::Wgs84 { lon: x, lat: y },
        (Some(InputCrs::WebMercator), Some((x, y)), _) => CsvCoords::WebMercator(x, y),
        (Some(c @ (InputCrs::Rd | InputCrs::WebMercator)), None, _) => bail!(
            "{}: --input-crs EPSG:{} vraagt kolommen x,y; het bestand heeft lat,lon (geef dan EPSG:4326)",
            path.display(),
            c.epsg()
        ),
        (Some(InputCrs::Epsg(c)), _, _) => bail!(
            "--input-crs EPSG:{c}: voor CSV alleen EPSG:28992 (RD New), EPSG:4326 (WGS84) of EPSG:3857 (Web Mercator)"
        ),
        (_, None, None) => bail!("{}: geen coördinaatkolommen", path.display()),
    };
    let value_col = match value_field {
        Some(v) => Some(
            col(&[v.to_ascii_lowercase().as_str()])
                .with_context(|| format!("{}: kolom '{v}' (--value) ontbreekt", path.display()))?,
        ),
        None => None,
    };
    let id_col = match id_field {
        Some(v) => Some(
            col(&[v.to_ascii_lowercase().as_str()])
                .with_context(|| format!("{}: kolom '{v}' (--id) ontbreekt", path.display()))?,
        ),
        None => None,
    };
    let transformer = if matches!(coords, CsvCoords::Rd(..)) {
        None
    } else {
        Some(Transformer::new().context("PROJ-transformatie naar RD")?)
    };
    let mut out = Vec::new();
    // True while every x,y read as RD by default is also a plausible Dutch lon/lat in degrees.
    let mut looks_like_degrees = crs.is_none() && matches!(coords, CsvCoords::Rd(..));
    for (n, row) in reader.records().enumerate() {
        let line = n + 2;
        let row = row.with_context(|| format!("{}: regel {line} onleesbaar", path.display()))?;
        let cell = |i: usize| row.get(i).unwrap_or_default().to_string();
        let bad = |what: &str| anyhow::anyhow!("{}: regel {line}: {what}", path.display());
        let number = |i: usize, name: &str| {
            parse_number(&cell(i)).ok_or_else(|| bad(&format!("{name} is geen getal")))
        };
        let (x, y) = match (coords, &transformer) {
            (CsvCoords::Rd(xi, yi), _) => (number(xi, "x")?, number(yi, "y")?),
            (CsvCoords::Wgs84 { lon, lat }, Some(t)) => {
                let (lon, lat) = (number(lon, "lon")?, number(lat, "lat")?);
                t.wgs84_to_rd(lon, lat)
                    .map_err(|e| bad(&format!("lon/lat niet om te rekenen naar RD: {e}")))?
            }
            (CsvCoords::WebMercator(xi, yi), Some(t)) => {
                let (mx, my) = (number(xi, "x")?, number(yi, "y")?);
                t.web_mercator_to_rd(mx, my).map_err(|e| {
                    bad(&format!("Web Mercator x,y niet om te rekenen naar RD: {e}"))
                })?
            }
            _ => bail!("{}: geen coördinaattransformatie", path.display()),
        };
        let get = |names: &[&str]| {
            col(names)
                .map(cell)
                .filter(|s: &String| !s.trim().is_empty())
        };
        let (begin, end) = times(&get);
        let value = match value_col {
            Some(i) => {
                let s = cell(i);
                if s.trim().is_empty() {
                    None
                } else {
                    Some(parse_number(&s).ok_or_else(|| bad("waarde (--value) is geen getal"))?)
                }
            }
            None => None,
        };
        looks_like_degrees &= brandpunt::coords::is_within_netherlands_wgs84(x, y);
        out.push(Record {
            shape: Shape::Point(x, y),
            id: id_col.map(cell).unwrap_or_else(|| n.to_string()),
            value,
            begin,
            end,
        });
    }
    anyhow::ensure!(
        out.is_empty() || !looks_like_degrees,
        "{}: de kolommen x,y lijken graden (WGS84) in plaats van RD-meters; geef --input-crs EPSG:4326",
        path.display()
    );
    Ok(out)
}

/// Reprojection of a vector layer to RD New.
enum VectorTransform {
    /// Already RD New.
    None,
    /// Through GDAL (the layer's own CRS, or an `--input-crs` other than WGS84 / Web Mercator).
    Gdal(CoordTransform),
    /// `--input-crs EPSG:4326` or `EPSG:3857` through `brandpunt::coords` (the fixed EPSG Helmert).
    Coords(InputCrs, Transformer),
}

fn load_vector(
    path: &Path,
    value_field: Option<&str>,
    id_field: Option<&str>,
    crs: Option<InputCrs>,
) -> anyhow::Result<Vec<Record>> {
    let options = gdal::DatasetOptions {
        open_flags: gdal::GdalOpenFlags::GDAL_OF_VECTOR | gdal::GdalOpenFlags::GDAL_OF_READONLY,
        ..Default::default()
    };
    let ds = gdal::Dataset::open_ex(path, options)
        .with_context(|| format!("{}: geen leesbaar vectorbestand", path.display()))?;
    let mut layer = ds
        .layer(0)
        .with_context(|| format!("{}: bevat geen laag", path.display()))?;
    let fields: HashMap<String, usize> = layer
        .defn()
        .fields()
        .enumerate()
        .map(|(i, f)| (f.name().to_ascii_lowercase(), i))
        .collect();
    let find = |name: &str, flag: &str| -> anyhow::Result<usize> {
        fields
            .get(&name.to_ascii_lowercase())
            .copied()
            .with_context(|| format!("{}: veld '{name}' ({flag}) ontbreekt", path.display()))
    };
    let value_idx = value_field.map(|v| find(v, "--value")).transpose()?;
    let id_idx = id_field.map(|v| find(v, "--id")).transpose()?;
    let to_rd = || -> anyhow::Result<SpatialRef> {
        let mut rd = SpatialRef::from_epsg(28992)?;
        rd.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
        Ok(rd)
    };
    // Reproject to RD New: `--input-crs` replaces the layer's CRS; else the layer's CRS (none: RD New).
    let transform = match (crs, layer.spatial_ref()) {
        (Some(InputCrs::Rd), _) => VectorTransform::None,
        (Some(c @ (InputCrs::Wgs84 | InputCrs::WebMercator)), _) => {
            VectorTransform::Coords(c, Transformer::new().context("PROJ-transformatie naar RD")?)
        }
        (Some(InputCrs::Epsg(code)), _) => {
            let mut src = SpatialRef::from_epsg(code).map_err(|_| {
                anyhow::anyhow!("--input-crs EPSG:{code}: onbekend coördinaatsysteem")
            })?;
            src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
            VectorTransform::Gdal(CoordTransform::new(&src, &to_rd()?).with_context(|| {
                format!("--input-crs EPSG:{code}: niet om te zetten naar RD New")
            })?)
        }
        (None, Some(mut src)) => {
            let is_rd = src
                .auth_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("EPSG"))
                && src.auth_code().is_ok_and(|c| c == 28992);
            if is_rd {
                VectorTransform::None
            } else {
                src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
                VectorTransform::Gdal(CoordTransform::new(&src, &to_rd()?).with_context(|| {
                    format!("{}: CRS niet om te zetten naar RD New", path.display())
                })?)
            }
        }
        (None, None) => VectorTransform::None,
    };
    let mut out = Vec::new();
    for (n, feature) in layer.features().enumerate() {
        let bad = |what: &str| anyhow::anyhow!("{}: object {n}: {what}", path.display());
        let Some(geom) = feature.geometry() else {
            return Err(bad("geen geometrie"));
        };
        let geom = match &transform {
            VectorTransform::Gdal(t) => geom
                .transform(t)
                .map_err(|e| bad(&format!("herprojectie mislukt: {e}")))?,
            _ => geom.clone(),
        };
        let mut geo = geom.to_geo().map_err(|e| bad(&e.to_string()))?;
        if let VectorTransform::Coords(c, t) = &transform {
            geo = geo
                .try_map_coords(|p| {
                    let (x, y) = match c {
                        InputCrs::WebMercator => t.web_mercator_to_rd(p.x, p.y)?,
                        _ => t.wgs84_to_rd(p.x, p.y)?,
                    };
                    Ok::<_, brandpunt::coords::CoordError>(geo_types::Coord { x, y })
                })
                .map_err(|e| bad(&format!("herprojectie mislukt: {e}")))?;
        }
        let shape = match geo {
            Geometry::Point(p) => Shape::Point(p.x(), p.y()),
            Geometry::MultiPoint(mp) if mp.0.len() == 1 => Shape::Point(mp.0[0].x(), mp.0[0].y()),
            Geometry::Polygon(p) => Shape::Area(MultiPolygon(vec![p])),
            Geometry::MultiPolygon(mp) => Shape::Area(mp),
            _ => return Err(bad("geometrie is geen punt of vlak")),
        };
        let text = |i: usize| {
            feature
                .field_as_string(i)
                .ok()
                .flatten()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let value = match value_idx {
            Some(i) => match feature.field_as_double(i) {
                Ok(Some(v)) if v.is_finite() => Some(v),
                Ok(_) => text(i)
                    .map(|s| parse_number(&s).ok_or_else(|| bad("waarde (--value) is geen getal")))
                    .transpose()?,
                Err(e) => return Err(bad(&e.to_string())),
            },
            None => None,
        };
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|nm| fields.get(*nm).and_then(|&i| text(i)))
        };
        let (begin, end) = times(&get);
        out.push(Record {
            shape,
            id: id_idx.and_then(text).unwrap_or_else(|| n.to_string()),
            value,
            begin,
            end,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_crs_accepts_epsg_codes_and_names() {
        assert_eq!(parse_input_crs("EPSG:28992").unwrap(), InputCrs::Rd);
        assert_eq!(parse_input_crs("epsg:4326").unwrap(), InputCrs::Wgs84);
        assert_eq!(parse_input_crs(" 3857 ").unwrap(), InputCrs::WebMercator);
        assert_eq!(parse_input_crs("wgs84").unwrap(), InputCrs::Wgs84);
        assert_eq!(parse_input_crs("RD").unwrap(), InputCrs::Rd);
        assert_eq!(parse_input_crs("EPSG:2154").unwrap(), InputCrs::Epsg(2154));
        for bad in ["", "EPSG:", "EPSG:0", "lambert", "EPSG:-4"] {
            let e = parse_input_crs(bad).unwrap_err().to_string();
            assert!(e.contains("--input-crs"), "{bad}: {e}");
        }
    }
}
