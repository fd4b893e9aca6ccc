//! Writers for the weekly police deliveries (CSV Windows-1252 / CSV UTF-8 with BOM / XLSX) and the
//! handhaving CSV with its column mapping.
//!
//! Data problems are injected deterministically per week (see `GROUND_TRUTH.md`): messy addresses,
//! re-delivered registrations (identical or corrected), one bad row per week.

use super::addresses::Bag;
use super::incidents::{Events, Incident, LocMode, Pattern};
use super::layout::Layout;
use super::subjects::{
    RowIdentifiers, Subjects, HANDHAVING_PERSONAL_HEADER, POLICE_PERSONAL_HEADER,
};
use super::DemoError;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::DriverManager;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Header of the police deliveries (the default vocabulary).
pub const POLICE_HEADER: [&str; 15] = [
    "Registratienummer",
    "Pleegdatum begin",
    "Pleegtijd begin",
    "Pleegdatum eind",
    "Pleegtijd eind",
    "Maatschappelijke klasse",
    "Straat",
    "Huisnummer",
    "Huisletter",
    "Toevoeging",
    "Postcode",
    "Plaats",
    "X",
    "Y",
    "Buurtcode",
];

/// Header of the demo's weekly police deliveries: the default vocabulary, then the personal columns
/// ([`POLICE_PERSONAL_HEADER`], read through `politie_mapping.toml`).
pub fn demo_police_header() -> [&'static str; 17] {
    let mut h = [""; 17];
    h[..15].copy_from_slice(&POLICE_HEADER);
    h[15..].copy_from_slice(&POLICE_PERSONAL_HEADER);
    h
}

/// One row of a demo police delivery: the 15 default cells and the 2 personal ones.
type PoliceRow = [String; 17];

/// A 15-cell police row followed by the row's personal identifiers.
fn with_identifiers(r: [String; 15], ids: &RowIdentifiers) -> PoliceRow {
    let mut out: PoliceRow = Default::default();
    for (o, c) in out.iter_mut().zip(r) {
        *o = c;
    }
    out[15].clone_from(&ids[0]);
    out[16].clone_from(&ids[1]);
    out
}

/// File format of one weekly delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekFormat {
    /// `;`-separated, Windows-1252, `dd-mm-jjjj`, decimal commas, CRLF.
    CsvWindows1252,
    /// `;`-separated, UTF-8 with BOM, ISO dates, decimal points, LF.
    CsvUtf8Bom,
    /// Excel workbook written by GDAL's XLSX driver (sheet `Blad1`).
    Xlsx,
}

/// Format of week `w` out of `weeks`.
pub fn week_format(w: u32, weeks: u32) -> WeekFormat {
    let xlsx_weeks = if weeks >= 10 {
        [weeks / 3, 2 * weeks / 3]
    } else {
        [weeks / 2, weeks / 2]
    };
    if xlsx_weeks.contains(&w) {
        WeekFormat::Xlsx
    } else if w % 9 == 4 || (weeks < 10 && w == 1) {
        WeekFormat::CsvUtf8Bom
    } else {
        WeekFormat::CsvWindows1252
    }
}

/// A row left out of the truth on purpose.
#[derive(Clone, Debug, Serialize)]
pub struct BadRow {
    /// File name of the delivery.
    pub file: String,
    /// Registratienummer as written (may be empty).
    pub registratienummer: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A registration delivered more than once.
#[derive(Clone, Debug, Serialize)]
pub struct Redelivery {
    /// Registratienummer.
    pub registratienummer: String,
    /// File of the first delivery.
    pub first_file: String,
    /// File of the re-delivery.
    pub again_file: String,
    /// `identical` or `corrected`.
    pub kind: &'static str,
    /// For corrections: the fields that changed.
    pub changed_fields: Vec<&'static str>,
}

/// One delivered week.
#[derive(Clone, Debug, Serialize)]
pub struct WeekFile {
    /// File name.
    pub file: String,
    /// ISO year-week label, e.g. `2024-39`.
    pub iso_week: String,
    /// Monday of the week (ISO date).
    pub first_day: String,
    /// Format.
    pub format: WeekFormat,
    /// Data rows written (incl. re-deliveries and the bad row).
    pub rows: usize,
}

/// What was written, for the ground truth.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeliveryLog {
    /// Weekly files, chronological.
    pub weeks: Vec<WeekFile>,
    /// Bad rows.
    pub bad_rows: Vec<BadRow>,
    /// Re-deliveries.
    pub redeliveries: Vec<Redelivery>,
    /// Incident index -> file name of its first delivery.
    #[serde(skip)]
    pub first_file: Vec<String>,
}

struct RowStyle {
    format: WeekFormat,
}

impl RowStyle {
    fn date(&self, d: NaiveDate) -> String {
        match self.format {
            WeekFormat::CsvUtf8Bom => d.format("%Y-%m-%d").to_string(),
            _ => d.format("%d-%m-%Y").to_string(),
        }
    }

    fn coord(&self, v: f64) -> String {
        let s = format!("{v:.1}");
        match self.format {
            WeekFormat::CsvUtf8Bom => s,
            _ => s.replace('.', ","),
        }
    }
}

fn typo(s: &str, rng: &mut ChaCha8Rng) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() > 5 {
        let i = rng.gen_range(2..chars.len() - 2);
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

/// The 15 cells of one police row (strings; the XLSX writer converts dates and coordinates).
fn police_row(
    inc: &Incident,
    layout: &Layout,
    bag: &Bag,
    style: &RowStyle,
    blank_end: bool,
    rng: &mut ChaCha8Rng,
) -> [String; 15] {
    let mut r: [String; 15] = Default::default();
    r[0] = inc.reg.clone();
    r[1] = style.date(inc.begin.date());
    r[2] = inc.begin.format("%H:%M").to_string();
    if let (Some(end), false) = (inc.end, blank_end) {
        r[3] = style.date(end.date());
        r[4] = end.format("%H:%M").to_string();
    }
    r[5] = inc.category.to_string();
    let with_address = matches!(inc.loc, LocMode::Address | LocMode::AddressAndRd);
    if let (Some((street, nr)), true) = (&inc.fake_address, with_address) {
        r[6] = street.clone();
        r[7] = nr.clone();
        r[11] = "Demostad".to_string();
    } else if let (Some(ai), true) = (inc.address, with_address) {
        let a = &bag.addresses[ai];
        let st = &bag.streets[a.street];
        let wp = &layout.woonplaatsen[st.woonplaats];
        r[6] = match rng.gen_range(0..100) {
            0..=5 => super::addresses::abbreviate(&st.name),
            6..=8 => typo(&st.name, rng),
            9..=13 => st.name.to_lowercase(),
            14..=16 => st.name.to_uppercase(),
            _ => st.name.clone(),
        };
        r[7] = a.huisnummer.to_string();
        if let Some(l) = a.huisletter {
            if rng.gen_bool(0.3) {
                r[7] = format!("{} {l}", a.huisnummer);
            } else {
                r[8] = if rng.gen_bool(0.3) {
                    l.to_ascii_lowercase().to_string()
                } else {
                    l.to_string()
                };
            }
        }
        r[9] = a.toevoeging.clone().unwrap_or_default();
        let pc = &a.postcode;
        r[10] = match rng.gen_range(0..100) {
            0..=7 => format!("{} {}", &pc[..4], pc[4..].to_lowercase()),
            8..=11 => format!("{} {}", &pc[..4], &pc[4..]),
            12..=21 => String::new(),
            _ => pc.clone(),
        };
        r[11] = match rng.gen_range(0..10) {
            0..=4 => wp.naam.clone(),
            5..=7 => wp.naam.to_uppercase(),
            _ if !r[10].is_empty() => String::new(),
            _ => wp.naam.clone(),
        };
        if inc.pattern == Pattern::Ambiguous {
            r[6] = st.name.clone();
            r[10].clear();
            r[11].clear();
        }
    }
    if matches!(inc.loc, LocMode::Rd | LocMode::AddressAndRd) {
        if let Some((x, y)) = inc.xy_m {
            r[12] = style.coord(x);
            r[13] = style.coord(y);
        }
    }
    if inc.loc == LocMode::BuurtOnly || (inc.loc == LocMode::Rd && rng.gen_bool(0.3)) {
        if let Some(b) = inc.buurt {
            r[14] = layout.buurten[b].code.clone();
        }
    }
    r
}

fn row_rng(seed: u64, incident: usize) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(incident as u64);
    r
}

fn iso_label(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-{:02}", w.year(), w.week())
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DemoError + '_ {
    move |e| DemoError::Io {
        file: path.to_path_buf(),
        source: e,
    }
}

fn csv_bytes(rows: &[PoliceRow], crlf: bool, path: &Path) -> Result<Vec<u8>, DemoError> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(if crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(Vec::new());
    let err = |e: csv::Error| DemoError::Io {
        file: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    w.write_record(demo_police_header()).map_err(err)?;
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    w.into_inner().map_err(|e| DemoError::Io {
        file: path.to_path_buf(),
        source: e.into_error(),
    })
}

/// Encodes text as Windows-1252 the way a Dutch Excel export does: `Ĳ` becomes `IJ`, any other
/// character outside the code page is transliterated.
pub fn to_windows_1252(text: &str) -> Vec<u8> {
    let text = text.replace('Ĳ', "IJ").replace('ĳ', "ij");
    let (bytes, _, had_errors) = encoding_rs::WINDOWS_1252.encode(&text);
    if !had_errors {
        return bytes.into_owned();
    }
    let mut out = Vec::with_capacity(text.len());
    for ch in text.chars() {
        let mut buf = [0u8; 4];
        let s = ch.encode_utf8(&mut buf);
        let (b, _, err) = encoding_rs::WINDOWS_1252.encode(s);
        if err {
            out.extend_from_slice(deunicode::deunicode(s).as_bytes());
        } else {
            out.extend_from_slice(&b);
        }
    }
    out
}

fn write_xlsx(path: &Path, rows: &[PoliceRow]) -> Result<(), DemoError> {
    if path.exists() {
        std::fs::remove_file(path).map_err(io_err(path))?;
    }
    let run = || -> gdal::errors::Result<()> {
        let driver = DriverManager::get_driver_by_name("XLSX")?;
        let mut ds = driver.create_vector_only(path)?;
        let layer = ds.create_layer(LayerOptions {
            name: "Blad1",
            srs: None,
            ty: OGRwkbGeometryType::wkbNone,
            options: None,
        })?;
        let types = [
            OGRFieldType::OFTString,
            OGRFieldType::OFTDate,
            OGRFieldType::OFTString,
            OGRFieldType::OFTDate,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTReal,
            OGRFieldType::OFTReal,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
            OGRFieldType::OFTString,
        ];
        let defs: Vec<(&str, OGRFieldType::Type)> =
            demo_police_header().iter().copied().zip(types).collect();
        layer.create_defn_fields(&defs)?;
        for r in rows {
            let mut f = Feature::new(layer.defn())?;
            for (i, cell) in r.iter().enumerate() {
                if cell.is_empty() {
                    continue;
                }
                // Dates become date cells and coordinates numbers, as Excel stores them; a value
                // that does not parse stays text.
                let date = (types[i] == OGRFieldType::OFTDate)
                    .then(|| NaiveDate::parse_from_str(cell, "%d-%m-%Y").ok())
                    .flatten();
                let real = (types[i] == OGRFieldType::OFTReal)
                    .then(|| cell.replace(',', ".").parse::<f64>().ok())
                    .flatten();
                if let Some(d) = date {
                    f.set_field_datetime(i, d.and_time(NaiveTime::MIN).and_utc().fixed_offset())?;
                } else if let Some(x) = real {
                    f.set_field_double(i, x)?;
                } else {
                    f.set_field_string(i, cell)?;
                }
            }
            f.create(&layer)?;
        }
        ds.close()
    };
    run().map_err(|e| DemoError::Gdal {
        file: path.to_path_buf(),
        source: e,
    })
}

/// Writes all weekly deliveries into `dir`; returns the paths (chronological) and the log.
pub fn write_police(
    dir: &Path,
    layout: &Layout,
    bag: &Bag,
    ev: &Events,
    subjects: &Subjects,
    cfg: &super::DemoConfig,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<PathBuf>, DeliveryLog), DemoError> {
    let (weeks, last_day) = (cfg.weeks, cfg.last_day);
    // Each incident's row is rendered with its own stream, so a re-delivery repeats its values.
    let row_seed: u64 = rng.gen();
    let first_day = last_day - Duration::days(i64::from(weeks) * 7 - 1);
    let mut log = DeliveryLog {
        first_file: vec![String::new(); ev.incidents.len()],
        ..Default::default()
    };
    let mut by_week: Vec<Vec<usize>> = vec![Vec::new(); weeks as usize];
    for (i, inc) in ev.incidents.iter().enumerate() {
        if let Some(v) = by_week.get_mut(inc.week as usize) {
            v.push(i);
        }
    }
    // Corrections: in week w >= 1 one incident of week w-1 with an end time is re-delivered with
    // its end filled in (the first delivery left it empty).
    let mut corrected_in: Vec<Option<u32>> = vec![None; ev.incidents.len()];
    for w in 1..weeks {
        let cands: Vec<usize> = by_week[(w - 1) as usize]
            .iter()
            .copied()
            .filter(|&i| {
                // The end must differ from the begin, or filling it in changes nothing.
                ev.incidents[i]
                    .end
                    .is_some_and(|e| e > ev.incidents[i].begin)
                    && ev.incidents[i].pattern == Pattern::Background
            })
            .collect();
        if !cands.is_empty() {
            corrected_in[cands[rng.gen_range(0..cands.len())]] = Some(w);
        }
    }
    let names: Vec<String> = (0..weeks)
        .map(|w| {
            let monday = first_day + Duration::days(i64::from(w) * 7);
            let ext = if week_format(w, weeks) == WeekFormat::Xlsx {
                "xlsx"
            } else {
                "csv"
            };
            format!("politie_week_{}.{ext}", iso_label(monday))
        })
        .collect();
    for (w, idxs) in by_week.iter().enumerate() {
        for &i in idxs {
            log.first_file[i].clone_from(&names[w]);
        }
    }
    let mut paths = Vec::new();
    let mut next_bad = 900_000u32;
    for w in 0..weeks {
        let format = week_format(w, weeks);
        let style = RowStyle { format };
        let name = &names[w as usize];
        let mut rows: Vec<PoliceRow> = Vec::new();
        for &i in &by_week[w as usize] {
            rows.push(with_identifiers(
                police_row(
                    &ev.incidents[i],
                    layout,
                    bag,
                    &style,
                    corrected_in[i].is_some(),
                    &mut row_rng(row_seed, i),
                ),
                &subjects.police[i],
            ));
        }
        // Re-deliveries: two identical rows from the last four weeks, plus this week's correction.
        if w >= 1 {
            let lo = w.saturating_sub(4);
            // The planted WOZ farms (appended last) stay out, so the other re-deliveries do not move.
            let pool: Vec<usize> = (lo..w)
                .flat_map(|k| by_week[k as usize].iter().copied())
                .filter(|&i| {
                    corrected_in[i].is_none() && ev.incidents[i].pattern != Pattern::CannabisLowWoz
                })
                .collect();
            let mut picked = Vec::new();
            for _ in 0..2 {
                if pool.is_empty() {
                    break;
                }
                let i = pool[rng.gen_range(0..pool.len())];
                if picked.contains(&i) {
                    continue;
                }
                picked.push(i);
            }
            for i in picked {
                // Identical: the same values as the first delivery (rendered in this week's format).
                rows.push(with_identifiers(
                    police_row(
                        &ev.incidents[i],
                        layout,
                        bag,
                        &style,
                        false,
                        &mut row_rng(row_seed, i),
                    ),
                    &subjects.police[i],
                ));
                log.redeliveries.push(Redelivery {
                    registratienummer: ev.incidents[i].reg.clone(),
                    first_file: log.first_file[i].clone(),
                    again_file: name.clone(),
                    kind: "identical",
                    changed_fields: vec![],
                });
            }
            for (i, c) in corrected_in.iter().enumerate() {
                if *c == Some(w) {
                    rows.push(with_identifiers(
                        police_row(
                            &ev.incidents[i],
                            layout,
                            bag,
                            &style,
                            false,
                            &mut row_rng(row_seed, i),
                        ),
                        &subjects.police[i],
                    ));
                    log.redeliveries.push(Redelivery {
                        registratienummer: ev.incidents[i].reg.clone(),
                        first_file: log.first_file[i].clone(),
                        again_file: name.clone(),
                        kind: "corrected",
                        changed_fields: vec!["Pleegdatum eind", "Pleegtijd eind"],
                    });
                }
            }
        }
        // One bad row per week.
        let monday = first_day + Duration::days(i64::from(w) * 7);
        let mut kind = w % 4;
        if kind == 0 && format == WeekFormat::Xlsx {
            kind = 3;
        }
        let year = monday.year();
        next_bad += 1;
        let reg = format!("PL0600-{year}{next_bad}");
        let base_day = monday + Duration::days(2);
        let mut r: PoliceRow = Default::default();
        r[0].clone_from(&reg);
        r[1] = style.date(base_day);
        r[2] = "14:30".into();
        r[5] = "2.2.1 Vernieling cq. zaakbeschadiging".into();
        r[11] = "Demostad".into();
        let reason = match kind {
            0 => {
                r[1] = match format {
                    WeekFormat::CsvUtf8Bom => format!("{year}-02-31"),
                    _ => format!("31-02-{year}"),
                };
                r[6] = "Markthof".into();
                r[7] = "3".into();
                "impossible date"
            }
            1 => {
                r[3] = style.date(base_day - Duration::days(2));
                r[4] = "10:00".into();
                r[6] = "Markthof".into();
                r[7] = "5".into();
                "end before begin"
            }
            2 => {
                r[12] = style.coord(512_345.6);
                r[13] = style.coord(98_765.4);
                "coordinates outside the Netherlands"
            }
            _ => {
                r[0].clear();
                r[6] = "Markthof".into();
                r[7] = "7".into();
                "missing registratienummer"
            }
        };
        let pos = rng.gen_range(0..=rows.len());
        rows.insert(pos, r);
        log.bad_rows.push(BadRow {
            file: name.clone(),
            registratienummer: if kind == 3 { String::new() } else { reg },
            reason,
        });
        let path = dir.join(name);
        match format {
            WeekFormat::Xlsx => write_xlsx(&path, &rows)?,
            WeekFormat::CsvWindows1252 => {
                let bytes = csv_bytes(&rows, true, &path)?;
                let text = String::from_utf8_lossy(&bytes);
                std::fs::write(&path, to_windows_1252(&text)).map_err(io_err(&path))?;
            }
            WeekFormat::CsvUtf8Bom => {
                let mut bytes = vec![0xEF, 0xBB, 0xBF];
                bytes.extend(csv_bytes(&rows, false, &path)?);
                std::fs::write(&path, bytes).map_err(io_err(&path))?;
            }
        }
        log.weeks.push(WeekFile {
            file: name.clone(),
            iso_week: iso_label(monday),
            first_day: monday.to_string(),
            format,
            rows: rows.len(),
        });
        paths.push(path);
    }
    Ok((paths, log))
}

/// The handhaving column mapping (TOML), canonical name = file header.
pub const HANDHAVING_MAPPING: &str = r#"# Column mapping for handhaving_meldingen.csv (source "handhaving").
# Keys are brandpunt's canonical column names, values the headers in the file.
[columns]
registratienummer = "Meldingnummer"
"pleegdatum begin" = "Datum"
"pleegtijd begin" = "Tijd"
"maatschappelijke klasse" = "Soort"
straat = "Straat"
huisnummer = "Nr"
postcode = "Postcode"
plaats = "Plaats"

[extra]
team = "Team"

# Personal identifiers: stored only as keyed pseudonyms (import with the demo key).
[personal]
columns = ["BSN betrokkene", "Kenteken"]

[personal.kinds]
"BSN betrokkene" = "person"
"Kenteken" = "vehicle"
"#;

/// The mapping of the demo's police deliveries (TOML): the default vocabulary, plus its personal columns.
pub const POLICE_MAPPING: &str = r#"# Column mapping for the demo's weekly police deliveries (source "politie").
# The default vocabulary is recognised without a mapping; this file adds the personal identifiers, which are
# stored only as keyed pseudonyms (import with the demo key, pseudoniemsleutel-demo.txt).
[personal]
columns = ["BSN verdachte", "Kenteken"]

[personal.kinds]
"BSN verdachte" = "person"
"Kenteken" = "vehicle"
"#;

/// Writes `handhaving_meldingen.csv` (UTF-8, `;`, `dd-mm-jjjj`) and `handhaving_mapping.toml`.
pub fn write_handhaving(
    csv_path: &Path,
    mapping_path: &Path,
    layout: &Layout,
    bag: &Bag,
    ev: &Events,
    subjects: &Subjects,
) -> Result<(), DemoError> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    let err = |e: csv::Error| DemoError::Io {
        file: csv_path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    w.write_record([
        "Meldingnummer",
        "Datum",
        "Tijd",
        "Soort",
        "Straat",
        "Nr",
        "Postcode",
        "Plaats",
        "Team",
        HANDHAVING_PERSONAL_HEADER[0],
        HANDHAVING_PERSONAL_HEADER[1],
    ])
    .map_err(err)?;
    for (s, ids) in ev.signals.iter().zip(&subjects.signals) {
        let a = &bag.addresses[s.address];
        let st = &bag.streets[a.street];
        let wijk = &layout.wijken[layout.buurten[a.buurt].wijk];
        let team = match wijk.naam.as_str() {
            "Centrum" | "Noord" => "Team Centrum-Noord",
            "Zuid" | "De Vaart" | "Buitengebied Zuidwest" => "Team Zuid",
            _ => "Team Oost-West",
        };
        let date: NaiveDateTime = s.at;
        w.write_record([
            s.nr.as_str(),
            &date.format("%d-%m-%Y").to_string(),
            &date.format("%H:%M").to_string(),
            s.soort,
            &st.name,
            &a.number_text(),
            &a.postcode,
            &layout.woonplaatsen[st.woonplaats].naam,
            team,
            &ids[0],
            &ids[1],
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| DemoError::Io {
        file: csv_path.to_path_buf(),
        source: e.into_error(),
    })?;
    std::fs::write(csv_path, bytes).map_err(io_err(csv_path))?;
    std::fs::write(mapping_path, HANDHAVING_MAPPING).map_err(io_err(mapping_path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_encoding_as_excel_writes_it() {
        // é is 0xE9 in Windows-1252; Ĳ is not in the code page and becomes "IJ".
        assert_eq!(to_windows_1252("Ruéstraat"), b"Ru\xe9straat".to_vec());
        assert_eq!(to_windows_1252("Ĳsselstraat"), b"IJsselstraat".to_vec());
        // Outside the code page entirely: transliterated, never an HTML entity.
        assert_eq!(to_windows_1252("Dvořák"), b"Dvor\xe1k".to_vec());
    }

    #[test]
    fn week_formats_mix_and_xlsx_twice() {
        let f: Vec<WeekFormat> = (0..104).map(|w| week_format(w, 104)).collect();
        assert_eq!(f.iter().filter(|x| **x == WeekFormat::Xlsx).count(), 2);
        assert!(f.iter().filter(|x| **x == WeekFormat::CsvUtf8Bom).count() >= 10);
        assert!(
            f.iter()
                .filter(|x| **x == WeekFormat::CsvWindows1252)
                .count()
                > 80
        );
        let small: Vec<WeekFormat> = (0..10).map(|w| week_format(w, 10)).collect();
        for want in [
            WeekFormat::Xlsx,
            WeekFormat::CsvUtf8Bom,
            WeekFormat::CsvWindows1252,
        ] {
            assert!(small.contains(&want));
        }
    }
}
