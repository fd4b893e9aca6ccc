//! Writers for the CBS wijk- en buurtkaart (GeoPackage and the pre-2021 shapefile) and the PDOK
//! `bag-light.gpkg`, through GDAL, with the exact published layer and column names.

use super::addresses::{Bag, ObjectKind};
use super::layout::{LandUse, Layout};
use super::DemoError;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::{Dataset, DriverManager};
use geo::Area;
use std::collections::BTreeMap;
use std::path::Path;

/// One attribute value.
#[derive(Clone, Debug)]
pub enum Val {
    /// Text.
    S(String),
    /// Integer.
    I(i64),
    /// NULL.
    Null,
}

fn s(v: &str) -> Val {
    Val::S(v.to_string())
}

fn opt_s(v: Option<String>) -> Val {
    v.map_or(Val::Null, Val::S)
}

/// Creates one layer and writes all rows. `fields` gives names and OGR types; each row a geometry
/// and one value per field.
pub fn write_layer(
    ds: &mut Dataset,
    name: &str,
    geom_type: OGRwkbGeometryType::Type,
    options: &[&str],
    fields: &[(&str, OGRFieldType::Type)],
    rows: Vec<(Geometry, Vec<Val>)>,
) -> gdal::errors::Result<()> {
    let srs = SpatialRef::from_epsg(28992)?;
    let layer = ds.create_layer(LayerOptions {
        name,
        srs: Some(&srs),
        ty: geom_type,
        options: Some(options),
    })?;
    layer.create_defn_fields(fields)?;
    for (geom, vals) in rows {
        let mut f = Feature::new(layer.defn())?;
        for (i, v) in vals.iter().enumerate() {
            match v {
                Val::S(t) => f.set_field_string(i, t)?,
                Val::I(n) => f.set_field_integer64(i, *n)?,
                Val::Null => f.set_field_null(i)?,
            }
        }
        f.set_geometry(geom)?;
        f.create(&layer)?;
    }
    Ok(())
}

fn remove_existing(path: &Path) -> Result<(), DemoError> {
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| DemoError::Io {
            file: path.to_path_buf(),
            source: e,
        })?;
    }
    Ok(())
}

fn gdal_err(path: &Path) -> impl Fn(gdal::errors::GdalError) -> DemoError + '_ {
    move |e| DemoError::Gdal {
        file: path.to_path_buf(),
        source: e,
    }
}

/// Per-buurt statistics derived from the BAG (inhabitants from dwellings).
#[derive(Clone, Debug, Default)]
pub struct AreaStats {
    /// Number of addresses.
    pub addresses: i64,
    /// Number of dwellings (woonfunctie, ligplaatsen, standplaatsen).
    pub dwellings: i64,
    /// Most frequent postcode.
    pub postcode: Option<String>,
}

/// Statistics per buurt index.
pub fn buurt_stats(layout: &Layout, bag: &Bag) -> Vec<AreaStats> {
    let mut stats = vec![AreaStats::default(); layout.buurten.len()];
    let mut pcs: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); layout.buurten.len()];
    for a in &bag.addresses {
        let st = &mut stats[a.buurt];
        st.addresses += 1;
        if a.kind != ObjectKind::Verblijfsobject || a.gebruiksdoel.contains("woonfunctie") {
            st.dwellings += 1;
        }
        *pcs[a.buurt].entry(a.postcode.as_str()).or_insert(0) += 1;
    }
    for (st, pc) in stats.iter_mut().zip(pcs) {
        // Largest count; ties to the smallest postcode (BTreeMap order) for determinism.
        st.postcode = pc
            .iter()
            .fold(None::<(&str, i64)>, |best, (p, n)| match best {
                Some((_, bn)) if bn >= *n => best,
                _ => Some((p, *n)),
            })
            .map(|(p, _)| p.to_string());
    }
    stats
}

/// Inhabitants of an area with `dwellings` dwellings (2.1 per dwelling, rounded).
pub fn inhabitants(dwellings: i64) -> i64 {
    (dwellings as f64 * 2.1).round() as i64
}

const CBS_FIELDS: [(&str, OGRFieldType::Type); 14] = [
    ("water", OGRFieldType::OFTString),
    ("meest_voorkomende_postcode", OGRFieldType::OFTString),
    ("omgevingsadressendichtheid", OGRFieldType::OFTInteger),
    ("aantal_inwoners", OGRFieldType::OFTInteger),
    ("mannen", OGRFieldType::OFTInteger),
    ("vrouwen", OGRFieldType::OFTInteger),
    (
        "percentage_personen_0_tot_15_jaar",
        OGRFieldType::OFTInteger,
    ),
    (
        "percentage_personen_65_jaar_en_ouder",
        OGRFieldType::OFTInteger,
    ),
    ("aantal_huishoudens", OGRFieldType::OFTInteger),
    ("oppervlakte_totaal_in_ha", OGRFieldType::OFTInteger),
    ("oppervlakte_land_in_ha", OGRFieldType::OFTInteger),
    ("oppervlakte_water_in_ha", OGRFieldType::OFTInteger),
    ("jrstatcode", OGRFieldType::OFTString),
    ("jaar", OGRFieldType::OFTInteger),
];

/// Sentinel for "geheim" (suppressed) values, 2021+ files.
pub const SENTINEL_SUPPRESSED: i64 = -99_997;
/// Sentinel for "not available" values, 2021+ files.
pub const SENTINEL_MISSING: i64 = -99_995;

pub(super) fn stat_values(
    code: &str,
    stats: &AreaStats,
    area_m2: f64,
    water: bool,
    is_buurt: bool,
) -> Vec<Val> {
    let inw = inhabitants(stats.dwellings);
    let total_ha = (area_m2 / 10_000.0).round() as i64;
    let water_ha = if water { (total_ha - 2).max(0) } else { 0 };
    // CBS suppresses small counts: mannen/vrouwen below 50 inhabitants, households below 10.
    let (mannen, vrouwen) = if is_buurt && inw < 50 {
        (SENTINEL_SUPPRESSED, SENTINEL_SUPPRESSED)
    } else {
        let m = inw * 49 / 100;
        (m, inw - m)
    };
    let hh = if is_buurt && stats.dwellings < 10 {
        SENTINEL_SUPPRESSED
    } else {
        stats.dwellings
    };
    let pct_young = if is_buurt && inw < 50 {
        SENTINEL_SUPPRESSED
    } else {
        14 + (code.len() as i64 % 5)
    };
    // Surrounding address density is not computed for the sports park (not available).
    let oad = if stats.addresses == 0 {
        SENTINEL_MISSING
    } else {
        (stats.addresses as f64 / (area_m2 / 1e6)).round() as i64
    };
    vec![
        s(if water { "JA" } else { "NEE" }),
        stats.postcode.clone().map_or(Val::Null, Val::S),
        Val::I(oad),
        Val::I(inw),
        Val::I(mannen),
        Val::I(vrouwen),
        Val::I(pct_young),
        Val::I(if is_buurt && inw < 50 {
            SENTINEL_MISSING
        } else {
            19
        }),
        Val::I(hh),
        Val::I(total_ha),
        Val::I(total_ha - water_ha),
        Val::I(water_ha),
        Val::S(format!("2024{code}")),
        Val::I(2024),
    ]
}

pub(super) fn fields_with(
    prefix: &[(&'static str, OGRFieldType::Type)],
) -> Vec<(&'static str, OGRFieldType::Type)> {
    let mut v = prefix.to_vec();
    v.extend_from_slice(&CBS_FIELDS);
    v
}

/// Writes `wijkenbuurten_2024_v1.gpkg` (layers `gemeenten`, `wijken`, `buurten`).
pub fn write_cbs(path: &Path, layout: &Layout, bag: &Bag) -> Result<(), DemoError> {
    remove_existing(path)?;
    let stats = buurt_stats(layout, bag);
    let err = gdal_err(path);
    let run = || -> gdal::errors::Result<()> {
        let driver = DriverManager::get_driver_by_name("GPKG")?;
        let mut ds = driver.create_vector_only(path)?;
        let opts = ["FID=fid", "GEOMETRY_NAME=geom"];
        let mp = OGRwkbGeometryType::wkbMultiPolygon;
        // Aggregates.
        let mut wijk_stats = vec![AreaStats::default(); layout.wijken.len()];
        let mut gm_stats = vec![AreaStats::default(); layout.gemeenten.len()];
        for (b, st) in layout.buurten.iter().zip(&stats) {
            for agg in [
                &mut wijk_stats[b.wijk],
                &mut gm_stats[layout.wijken[b.wijk].gemeente],
            ] {
                agg.addresses += st.addresses;
                agg.dwellings += st.dwellings;
                if agg.postcode.is_none() {
                    agg.postcode.clone_from(&st.postcode);
                }
            }
        }
        let mut rows = Vec::new();
        for (g, st) in layout.gemeenten.iter().zip(&gm_stats) {
            let mut vals = vec![s(&g.code), s(&g.naam)];
            vals.extend(stat_values(
                &g.code,
                st,
                g.geometry.unsigned_area(),
                false,
                false,
            ));
            rows.push((g.geometry.to_gdal()?, vals));
        }
        write_layer(
            &mut ds,
            "gemeenten",
            mp,
            &opts,
            &fields_with(&[
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        let mut rows = Vec::new();
        for (w, st) in layout.wijken.iter().zip(&wijk_stats) {
            let g = &layout.gemeenten[w.gemeente];
            let mut vals = vec![s(&w.code), s(&w.naam), s(&g.code), s(&g.naam)];
            vals.extend(stat_values(
                &w.code,
                st,
                w.geometry.unsigned_area(),
                false,
                false,
            ));
            rows.push((w.geometry.to_gdal()?, vals));
        }
        write_layer(
            &mut ds,
            "wijken",
            mp,
            &opts,
            &fields_with(&[
                ("wijkcode", OGRFieldType::OFTString),
                ("wijknaam", OGRFieldType::OFTString),
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        let mut rows = Vec::new();
        for (b, st) in layout.buurten.iter().zip(&stats) {
            let w = &layout.wijken[b.wijk];
            let g = &layout.gemeenten[w.gemeente];
            let mut vals = vec![s(&b.code), s(&b.naam), s(&w.code), s(&g.code), s(&g.naam)];
            vals.extend(stat_values(
                &b.code,
                st,
                b.geometry.unsigned_area(),
                b.land_use == LandUse::Water,
                true,
            ));
            rows.push((b.geometry.to_gdal()?, vals));
        }
        write_layer(
            &mut ds,
            "buurten",
            mp,
            &opts,
            &fields_with(&[
                ("buurtcode", OGRFieldType::OFTString),
                ("buurtnaam", OGRFieldType::OFTString),
                ("wijkcode", OGRFieldType::OFTString),
                ("gemeentecode", OGRFieldType::OFTString),
                ("gemeentenaam", OGRFieldType::OFTString),
            ]),
            rows,
        )?;
        ds.close()
    };
    run().map_err(err)
}

/// Writes the pre-2021 style shapefile `buurt_2020_v1.shp` (upper-case column names, `-99999999`
/// sentinels).
pub fn write_legacy_shapefile(path: &Path, layout: &Layout, bag: &Bag) -> Result<(), DemoError> {
    for ext in ["shp", "shx", "dbf", "prj", "cpg"] {
        remove_existing(&path.with_extension(ext))?;
    }
    let stats = buurt_stats(layout, bag);
    let run = || -> gdal::errors::Result<()> {
        let driver = DriverManager::get_driver_by_name("ESRI Shapefile")?;
        let mut ds = driver.create_vector_only(path)?;
        let layer_name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("buurt_2020_v1");
        let fields = [
            ("BU_CODE", OGRFieldType::OFTString),
            ("BU_NAAM", OGRFieldType::OFTString),
            ("WK_CODE", OGRFieldType::OFTString),
            ("GM_CODE", OGRFieldType::OFTString),
            ("GM_NAAM", OGRFieldType::OFTString),
            ("IND_WBI", OGRFieldType::OFTInteger),
            ("WATER", OGRFieldType::OFTString),
            ("POSTCODE", OGRFieldType::OFTString),
            ("AANT_INW", OGRFieldType::OFTInteger),
            ("AANT_MAN", OGRFieldType::OFTInteger),
            ("AANT_VROUW", OGRFieldType::OFTInteger),
            ("OPP_TOT", OGRFieldType::OFTInteger),
        ];
        let mut rows = Vec::new();
        for (b, st) in layout.buurten.iter().zip(&stats) {
            let w = &layout.wijken[b.wijk];
            let g = &layout.gemeenten[w.gemeente];
            let inw = inhabitants(st.dwellings);
            let small = inw < 50;
            let sentinel = -99_999_999;
            let m = inw * 49 / 100;
            rows.push((
                b.geometry.to_gdal()?,
                vec![
                    s(&b.code),
                    s(&b.naam),
                    s(&w.code),
                    s(&g.code),
                    s(&g.naam),
                    Val::I(1),
                    s(if b.land_use == LandUse::Water {
                        "JA"
                    } else {
                        "NEE"
                    }),
                    opt_s(st.postcode.as_ref().map(|p| p[..4].to_string())),
                    Val::I(if small { sentinel } else { inw }),
                    Val::I(if small { sentinel } else { m }),
                    Val::I(if small { sentinel } else { inw - m }),
                    Val::I((b.geometry.unsigned_area() / 10_000.0).round() as i64),
                ],
            ));
        }
        write_layer(
            &mut ds,
            layer_name,
            OGRwkbGeometryType::wkbMultiPolygon,
            &["ENCODING=UTF-8"],
            &fields,
            rows,
        )?;
        ds.close()
    };
    run().map_err(gdal_err(path))
}

const ADDRESS_FIELDS_HEAD: [(&str, OGRFieldType::Type); 3] = [
    ("rdf_seealso", OGRFieldType::OFTString),
    ("identificatie", OGRFieldType::OFTString),
    ("oppervlakte", OGRFieldType::OFTInteger),
];

/// Writes `bag-light.gpkg` with the five PDOK tables.
pub fn write_bag(path: &Path, layout: &Layout, bag: &Bag) -> Result<(), DemoError> {
    remove_existing(path)?;
    let run = || -> gdal::errors::Result<()> {
        let driver = DriverManager::get_driver_by_name("GPKG")?;
        let mut ds = driver.create_vector_only(path)?;
        let opts = ["FID=feature_id", "GEOMETRY_NAME=geom"];
        let mut txn = ds.start_transaction()?;
        let wp_of =
            |a: &super::addresses::Address| &layout.woonplaatsen[bag.streets[a.street].woonplaats];
        let bron = |a: &super::addresses::Address| a.id[..4].to_string();
        // verblijfsobject
        let mut fields: Vec<(&str, OGRFieldType::Type)> = ADDRESS_FIELDS_HEAD.to_vec();
        fields.extend_from_slice(&[
            ("status", OGRFieldType::OFTString),
            ("gebruiksdoel", OGRFieldType::OFTString),
            ("openbare_ruimte_naam", OGRFieldType::OFTString),
            ("openbare_ruimte_naam_kort", OGRFieldType::OFTString),
            ("huisnummer", OGRFieldType::OFTInteger),
            ("huisletter", OGRFieldType::OFTString),
            ("toevoeging", OGRFieldType::OFTString),
            ("postcode", OGRFieldType::OFTString),
            ("woonplaats_naam", OGRFieldType::OFTString),
            ("bouwjaar", OGRFieldType::OFTInteger),
            ("pand_identificatie", OGRFieldType::OFTString),
            ("pandstatus", OGRFieldType::OFTString),
            (
                "nummeraanduiding_hoofdadres_identificatie",
                OGRFieldType::OFTString,
            ),
            ("openbare_ruimte_identificatie", OGRFieldType::OFTString),
            ("woonplaats_identificatie", OGRFieldType::OFTString),
            ("bronhouder_identificatie", OGRFieldType::OFTString),
        ]);
        let mut rows = Vec::new();
        for a in bag
            .addresses
            .iter()
            .filter(|a| a.kind == ObjectKind::Verblijfsobject)
        {
            let st = &bag.streets[a.street];
            let wp = wp_of(a);
            let pand = a.pand.map(|p| &bag.panden[p]);
            let geom = geo::Point::new(a.x_m, a.y_m).to_gdal()?;
            rows.push((
                geom,
                vec![
                    Val::S(format!(
                        "http://bag.basisregistraties.overheid.nl/bag/id/verblijfsobject/{}",
                        a.id
                    )),
                    s(&a.id),
                    a.oppervlakte_m2.map_or(Val::Null, |o| Val::I(i64::from(o))),
                    s("Verblijfsobject in gebruik"),
                    s(&a.gebruiksdoel),
                    s(&st.name),
                    s(&st.kort),
                    Val::I(i64::from(a.huisnummer)),
                    opt_s(a.huisletter.map(String::from)),
                    opt_s(a.toevoeging.clone()),
                    s(&a.postcode),
                    s(&wp.naam),
                    pand.map_or(Val::Null, |p| Val::I(i64::from(p.bouwjaar))),
                    opt_s(pand.map(|p| p.id.clone())),
                    s("Pand in gebruik"),
                    s(&a.nummeraanduiding_id),
                    s(&st.id),
                    s(&wp.identificatie),
                    Val::S(bron(a)),
                ],
            ));
        }
        write_layer(
            &mut txn,
            "verblijfsobject",
            OGRwkbGeometryType::wkbPoint,
            &opts,
            &fields,
            rows,
        )?;
        // pand
        let fields = [
            ("rdf_seealso", OGRFieldType::OFTString),
            ("identificatie", OGRFieldType::OFTString),
            ("bouwjaar", OGRFieldType::OFTInteger),
            ("status", OGRFieldType::OFTString),
            ("gebruiksdoel", OGRFieldType::OFTString),
            ("oppervlakte_min", OGRFieldType::OFTInteger),
            ("oppervlakte_max", OGRFieldType::OFTInteger),
            ("aantal_verblijfsobjecten", OGRFieldType::OFTInteger),
        ];
        let mut rows = Vec::new();
        for p in &bag.panden {
            let mut doelen: Vec<&str> = p
                .addresses
                .iter()
                .flat_map(|&i| bag.addresses[i].gebruiksdoel.split(','))
                .collect();
            doelen.sort_unstable();
            doelen.dedup();
            let opp: Vec<u32> = p
                .addresses
                .iter()
                .filter_map(|&i| bag.addresses[i].oppervlakte_m2)
                .collect();
            rows.push((
                p.polygon.to_gdal()?,
                vec![
                    Val::S(format!(
                        "http://bag.basisregistraties.overheid.nl/bag/id/pand/{}",
                        p.id
                    )),
                    s(&p.id),
                    Val::I(i64::from(p.bouwjaar)),
                    s("Pand in gebruik"),
                    s(&doelen.join(",")),
                    opp.iter()
                        .min()
                        .map_or(Val::Null, |v| Val::I(i64::from(*v))),
                    opp.iter()
                        .max()
                        .map_or(Val::Null, |v| Val::I(i64::from(*v))),
                    Val::I(p.addresses.len() as i64),
                ],
            ));
        }
        write_layer(
            &mut txn,
            "pand",
            OGRwkbGeometryType::wkbPolygon,
            &opts,
            &fields,
            rows,
        )?;
        // ligplaats, standplaats
        for (table, kind) in [
            ("ligplaats", ObjectKind::Ligplaats),
            ("standplaats", ObjectKind::Standplaats),
        ] {
            let fields = [
                ("rdf_seealso", OGRFieldType::OFTString),
                ("identificatie", OGRFieldType::OFTString),
                ("status", OGRFieldType::OFTString),
                ("openbare_ruimte_naam", OGRFieldType::OFTString),
                ("openbare_ruimte_naam_kort", OGRFieldType::OFTString),
                ("huisnummer", OGRFieldType::OFTInteger),
                ("huisletter", OGRFieldType::OFTString),
                ("toevoeging", OGRFieldType::OFTString),
                ("postcode", OGRFieldType::OFTString),
                ("woonplaats_naam", OGRFieldType::OFTString),
                (
                    "nummeraanduiding_hoofdadres_identificatie",
                    OGRFieldType::OFTString,
                ),
                ("openbare_ruimte_identificatie", OGRFieldType::OFTString),
                ("woonplaats_identificatie", OGRFieldType::OFTString),
                ("bronhouder_identificatie", OGRFieldType::OFTString),
            ];
            let mut rows = Vec::new();
            for a in bag.addresses.iter().filter(|a| a.kind == kind) {
                let st = &bag.streets[a.street];
                let wp = wp_of(a);
                let Some(poly) = &a.polygon else { continue };
                rows.push((
                    poly.to_gdal()?,
                    vec![
                        Val::S(format!(
                            "http://bag.basisregistraties.overheid.nl/bag/id/{table}/{}",
                            a.id
                        )),
                        s(&a.id),
                        s("Plaats aangewezen"),
                        s(&st.name),
                        s(&st.kort),
                        Val::I(i64::from(a.huisnummer)),
                        opt_s(a.huisletter.map(String::from)),
                        opt_s(a.toevoeging.clone()),
                        s(&a.postcode),
                        s(&wp.naam),
                        s(&a.nummeraanduiding_id),
                        s(&st.id),
                        s(&wp.identificatie),
                        Val::S(bron(a)),
                    ],
                ));
            }
            write_layer(
                &mut txn,
                table,
                OGRwkbGeometryType::wkbPolygon,
                &opts,
                &fields,
                rows,
            )?;
        }
        // woonplaats
        let fields = [
            ("rdf_seealso", OGRFieldType::OFTString),
            ("identificatie", OGRFieldType::OFTString),
            ("status", OGRFieldType::OFTString),
            ("woonplaats", OGRFieldType::OFTString),
            ("bronhouder_identificatie", OGRFieldType::OFTString),
        ];
        let mut rows = Vec::new();
        for w in &layout.woonplaatsen {
            rows.push((
                w.geometry.to_gdal()?,
                vec![
                    Val::S(format!(
                        "http://bag.basisregistraties.overheid.nl/bag/id/woonplaats/{}",
                        w.identificatie
                    )),
                    s(&w.identificatie),
                    s("Woonplaats aangewezen"),
                    s(&w.naam),
                    Val::S(layout.gemeenten[w.gemeente].code[2..].to_string()),
                ],
            ));
        }
        write_layer(
            &mut txn,
            "woonplaats",
            OGRwkbGeometryType::wkbMultiPolygon,
            &opts,
            &fields,
            rows,
        )?;
        txn.commit()?;
        ds.close()
    };
    run().map_err(gdal_err(path))
}
