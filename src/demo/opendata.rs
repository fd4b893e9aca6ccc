//! Open police data `47022NED` (registered crimes per month per gemeente/wijk/buurt) as OData JSON
//! and as the CBS open data portal CSV, and the municipal indicators CSV.

use super::addresses::Bag;
use super::incidents::{Events, Pattern, HH_CATEGORIES};
use super::layout::{LandUse, Layout};
use super::DemoError;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One OData row of `47022NED`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CountRow {
    /// Row number.
    #[serde(rename = "ID")]
    pub id: usize,
    /// Category key with the published trailing space (`"1.1.1 "`).
    #[serde(rename = "SoortMisdrijf")]
    pub soort_misdrijf: String,
    /// Region key padded to 10 characters (`"GM1999    "`).
    #[serde(rename = "WijkenEnBuurten")]
    pub wijken_en_buurten: String,
    /// Period `YYYYMMnn`.
    #[serde(rename = "Perioden")]
    pub perioden: String,
    /// Count; `None` = withheld.
    #[serde(rename = "GeregistreerdeMisdrijven_1")]
    pub geregistreerde_misdrijven_1: Option<u32>,
}

#[derive(Serialize)]
struct ODataDoc<'a> {
    #[serde(rename = "odata.metadata")]
    metadata: &'static str,
    value: &'a [CountRow],
}

/// Categories withheld (`null`) at buurt level.
pub const WITHHELD_AT_BUURT: [&str; 2] = ["1.4.1", "1.4.2"];

/// Monthly counts of the police incidents (true versions, by begin month) for GM1999, its wijken
/// and buurten; every category present plus `0.0.0`; every month from the first to the last day.
pub fn counts(
    layout: &Layout,
    ev: &Events,
    first_day: NaiveDate,
    last_day: NaiveDate,
) -> Vec<CountRow> {
    let mut cats: BTreeSet<String> = ev
        .incidents
        .iter()
        .map(|i| i.category[..5].trim().to_string())
        .collect();
    cats.insert("0.0.0".to_string());
    let mut months = Vec::new();
    let mut m = (first_day.year(), first_day.month());
    while (m.0, m.1) <= (last_day.year(), last_day.month()) {
        months.push(m);
        m = if m.1 == 12 {
            (m.0 + 1, 1)
        } else {
            (m.0, m.1 + 1)
        };
    }
    // Regions: gemeente, its wijken, its buurten.
    let mut regions: Vec<(String, usize)> = vec![(layout.gemeenten[0].code.clone(), 0)];
    for w in layout.wijken.iter().filter(|w| w.gemeente == 0) {
        regions.push((w.code.clone(), 1));
    }
    for b in layout
        .buurten
        .iter()
        .filter(|b| layout.wijken[b.wijk].gemeente == 0)
    {
        regions.push((b.code.clone(), 2));
    }
    let mut n: BTreeMap<(String, String, (i32, u32)), u32> = BTreeMap::new();
    for inc in &ev.incidents {
        let Some(b) = inc.buurt else { continue };
        if inc.pattern == Pattern::UnknownAddress {
            continue;
        }
        let bd = &layout.buurten[b];
        let month = (inc.begin.year(), inc.begin.month());
        let code = inc.category[..5].trim().to_string();
        for region in [
            layout.gemeenten[0].code.clone(),
            layout.wijken[bd.wijk].code.clone(),
            bd.code.clone(),
        ] {
            for c in [code.clone(), "0.0.0".to_string()] {
                *n.entry((c, region.clone(), month)).or_insert(0) += 1;
            }
        }
    }
    let mut rows = Vec::new();
    for c in &cats {
        for (region, level) in &regions {
            for &(y, mo) in &months {
                let value = if *level == 2 && WITHHELD_AT_BUURT.contains(&c.as_str()) {
                    None
                } else {
                    Some(*n.get(&(c.clone(), region.clone(), (y, mo))).unwrap_or(&0))
                };
                rows.push(CountRow {
                    id: rows.len(),
                    soort_misdrijf: format!("{c} "),
                    wijken_en_buurten: format!("{region:<10}"),
                    perioden: format!("{y}MM{mo:02}"),
                    geregistreerde_misdrijven_1: value,
                });
            }
        }
    }
    rows
}

/// Writes the OData JSON (`{"odata.metadata": ..., "value": [...]}`) and the portal CSV
/// (`"ID";"SoortMisdrijf";"WijkenEnBuurten";"Perioden";"GeregistreerdeMisdrijven_1"`, all fields
/// quoted, withheld as `"."`).
pub fn write_counts(json_path: &Path, csv_path: &Path, rows: &[CountRow]) -> Result<(), DemoError> {
    let doc = ODataDoc { metadata: "https://opendata.cbs.nl/ODataApi/OData/47022NED/$metadata#Cbs.OData.WebAPI.TypedDataSet", value: rows };
    let json = serde_json::to_vec(&doc).map_err(|e| DemoError::Json {
        file: json_path.to_path_buf(),
        source: e,
    })?;
    std::fs::write(json_path, json).map_err(|e| DemoError::Io {
        file: json_path.to_path_buf(),
        source: e,
    })?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let err = |e: csv::Error| DemoError::Io {
        file: csv_path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    w.write_record([
        "ID",
        "SoortMisdrijf",
        "WijkenEnBuurten",
        "Perioden",
        "GeregistreerdeMisdrijven_1",
    ])
    .map_err(err)?;
    for r in rows {
        let v = r
            .geregistreerde_misdrijven_1
            .map_or(".".to_string(), |v| v.to_string());
        w.write_record([
            r.id.to_string().as_str(),
            &r.soort_misdrijf,
            &r.wijken_en_buurten,
            &r.perioden,
            &v,
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| DemoError::Io {
        file: csv_path.to_path_buf(),
        source: e.into_error(),
    })?;
    std::fs::write(csv_path, bytes).map_err(|e| DemoError::Io {
        file: csv_path.to_path_buf(),
        source: e,
    })
}

/// Indicator names written to the indicators CSV.
pub const INDICATORS: [&str; 3] = [
    "leegstand_pct",
    "meldingen_openbare_ruimte",
    "aandeel_huurwoningen_pct",
];

/// Writes the municipal indicators in long form `buurtcode;indicator;waarde` (UTF-8, decimal
/// commas) for the buurten of GM1999 with addresses. `meldingen_openbare_ruimte` is the number of
/// `HH01 Afval` signals in the buurt over the whole period; the percentages are synthetic.
pub fn write_indicators(
    path: &Path,
    layout: &Layout,
    bag: &Bag,
    ev: &Events,
) -> Result<(), DemoError> {
    let mut afval: BTreeMap<usize, u32> = BTreeMap::new();
    for s in ev.signals.iter().filter(|s| s.soort == HH_CATEGORIES[0]) {
        *afval.entry(bag.addresses[s.address].buurt).or_insert(0) += 1;
    }
    let mut n_addr: BTreeMap<usize, u32> = BTreeMap::new();
    for a in &bag.addresses {
        *n_addr.entry(a.buurt).or_insert(0) += 1;
    }
    let mut out = String::from("buurtcode;indicator;waarde\n");
    for (i, b) in layout.buurten.iter().enumerate() {
        if layout.wijken[b.wijk].gemeente != 0 || !n_addr.contains_key(&i) {
            continue;
        }
        let h = b.code.bytes().fold(7u32, |acc, c| {
            acc.wrapping_mul(31).wrapping_add(u32::from(c))
        });
        let leeg = match b.land_use {
            LandUse::Industrial => 6.0 + f64::from(h % 60) / 10.0,
            LandUse::Centre => 3.0 + f64::from(h % 40) / 10.0,
            _ => 1.0 + f64::from(h % 25) / 10.0,
        };
        let huur = match b.land_use {
            LandUse::Flats => 78.0 + f64::from(h % 100) / 10.0,
            LandUse::Sixties => 45.0 + f64::from(h % 150) / 10.0,
            _ => 15.0 + f64::from(h % 250) / 10.0,
        };
        let fmt = |v: f64| format!("{v:.1}").replace('.', ",");
        out.push_str(&format!("{};{};{}\n", b.code, INDICATORS[0], fmt(leeg)));
        out.push_str(&format!(
            "{};{};{}\n",
            b.code,
            INDICATORS[1],
            afval.get(&i).unwrap_or(&0)
        ));
        out.push_str(&format!("{};{};{}\n", b.code, INDICATORS[2], fmt(huur)));
    }
    std::fs::write(path, out).map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    })
}
