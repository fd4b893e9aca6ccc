//! Column recognition for incident deliveries and the optional mapping file (`--mapping FILE.toml`).
//!
//! # Default recognition
//! Without a mapping file every header is normalised (Unicode folded to ASCII, lower-cased, and everything
//! that is not a letter or digit removed: `"Reg.nr"`, `"REG NR"` and `"reg_nr"` all become `regnr`) and
//! compared with the canonical names and aliases of [`Column`]. When two headers of one file resolve to the
//! same column, a header spelled as the canonical name wins over an alias; otherwise the leftmost wins.
//! Unrecognised columns are ignored.
//!
//! # Mapping file
//! A mapping file states what a delivery of one police unit or source looks like. All sections are optional.
//! ```toml
//! [columns]            # canonical name = column header in the file
//! registratienummer = "BVH-nummer"
//! "pleegdatum begin" = "Begindatum"
//! "maatschappelijke klasse" = "MK omschrijving"
//!
//! [extra]              # additional columns to keep: name = column header in the file
//! gebiedsteam = "Team"
//!
//! [options]
//! delimiter = ";"            # ";", ",", "\t" (or "tab") or "|"; default: sniffed
//! encoding = "windows-1252"  # "auto" (default), "utf-8" or "windows-1252" (aliases: cp1252, latin1)
//! date_format = "%d-%m-%Y"   # chrono strftime; when given, the ONLY accepted date format
//! sheet = "Blad1"            # XLSX: sheet to read; default: the first sheet
//! prefer = "coordinates"     # "address" (default) or "coordinates": which wins when a row's address lies
//!                            # more than 250 m from its own coordinates (see import::incidents)
//!
//! [personal]           # columns holding personal identifiers: never kept raw
//! columns = ["Kenteken", "BSN"]
//! [personal.kinds]     # optional: what each column identifies; default "other"
//! "BSN" = "person"     # person | vehicle | organisation | phone | other
//! "Kenteken" = "vehicle"
//! ```
//! Personal columns are pseudonymised at import: with a cooperation key ([`Mapping::pseudonym_key`], set by
//! the caller from configuration, never from the mapping file) each value is replaced by its keyed HMAC-SHA256
//! pseudonym ([`crate::pseudonym`]) and kept in the incident's `extra` under the header as written in
//! `[personal]`; the raw value is never stored, logged or reported. Without a key the columns are not read at
//! all, and the incident importer refuses such a mapping ([`super::incidents`]). A personal column missing
//! from the file is not an error. An `[extra]` name equal to a personal header is an error (it would collide
//! with the pseudonym). `[personal.kinds]` gives a column's [`IdentifierKind`] (default `other`); an unknown kind,
//! or a kind for a header not in `columns` (compared like headers), is an error naming the key. The store keeps,
//! with every delivery, each personal column's header (the role), kind and the id of the key
//! ([`crate::pseudonym::PseudonymKey::key_id`]), so every stored pseudonym has them ([`Mapping::personal_kind`]).
//! Canonical names in `[columns]` are matched like headers (case, spaces, `_`, `-` ignored), so
//! `pleegdatum_begin` is accepted. Headers given in `[columns]` and `[extra]` are matched exactly first and
//! then in normalised form. Columns not named in `[columns]` are still recognised by default rules.
//! A header named in the mapping that is missing from the file is an error (the mapping is a promise about
//! the file); so is any unknown section, key or option value, and a personal column listed in `[columns]` or `[extra]`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::format::{Item, StrftimeItems};

use super::delivery_error::DeliveryError;
use super::sniff::TextEncoding;
use crate::pseudonym::IdentifierKind;

/// The canonical columns of an incident delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// `registratienummer`: the registration number of the incident (required).
    Registratienummer,
    /// `pleegdatum begin` (required).
    PleegdatumBegin,
    /// `pleegtijd begin`.
    PleegtijdBegin,
    /// `pleegdatum eind`.
    PleegdatumEind,
    /// `pleegtijd eind`.
    PleegtijdEind,
    /// `maatschappelijke klasse`: code and/or label, e.g. `1.1.1 Diefstal/inbraak woning`.
    MaatschappelijkeKlasse,
    /// `straat`.
    Straat,
    /// `huisnummer` (raw, may include letter and addition, e.g. `12a-3`).
    Huisnummer,
    /// `huisletter`.
    Huisletter,
    /// `toevoeging` (huisnummertoevoeging).
    Toevoeging,
    /// `postcode`.
    Postcode,
    /// `plaats` (woonplaats).
    Plaats,
    /// `x`: RD New easting in metres.
    X,
    /// `y`: RD New northing in metres.
    Y,
    /// `lat`: WGS84 latitude in degrees.
    Lat,
    /// `lon`: WGS84 longitude in degrees.
    Lon,
    /// `buurtcode` (CBS, `BU03630000`).
    Buurtcode,
}

impl Column {
    /// All columns, in canonical order.
    pub const ALL: [Column; 17] = [
        Column::Registratienummer,
        Column::PleegdatumBegin,
        Column::PleegtijdBegin,
        Column::PleegdatumEind,
        Column::PleegtijdEind,
        Column::MaatschappelijkeKlasse,
        Column::Straat,
        Column::Huisnummer,
        Column::Huisletter,
        Column::Toevoeging,
        Column::Postcode,
        Column::Plaats,
        Column::X,
        Column::Y,
        Column::Lat,
        Column::Lon,
        Column::Buurtcode,
    ];

    /// Position in [`Column::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The canonical name (as used in `[columns]` and in error messages).
    pub fn canonical_name(self) -> &'static str {
        match self {
            Column::Registratienummer => "registratienummer",
            Column::PleegdatumBegin => "pleegdatum begin",
            Column::PleegtijdBegin => "pleegtijd begin",
            Column::PleegdatumEind => "pleegdatum eind",
            Column::PleegtijdEind => "pleegtijd eind",
            Column::MaatschappelijkeKlasse => "maatschappelijke klasse",
            Column::Straat => "straat",
            Column::Huisnummer => "huisnummer",
            Column::Huisletter => "huisletter",
            Column::Toevoeging => "toevoeging",
            Column::Postcode => "postcode",
            Column::Plaats => "plaats",
            Column::X => "x",
            Column::Y => "y",
            Column::Lat => "lat",
            Column::Lon => "lon",
            Column::Buurtcode => "buurtcode",
        }
    }

    /// Accepted alternative headers (compared after [`normalise_header`]).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Registratienummer => &[
                "registratie nummer",
                "reg.nr",
                "bvh nummer",
                "bvh nr",
                "nummer",
                "registratienr",
            ],
            Column::PleegdatumBegin => &["begindatum", "datum begin", "pleegdatum", "datum"],
            Column::PleegtijdBegin => &["begintijd", "tijd begin", "pleegtijd", "tijd"],
            Column::PleegdatumEind => {
                &["einddatum", "datum eind", "pleegdatum einde", "datum einde"]
            }
            Column::PleegtijdEind => &["eindtijd", "tijd eind", "pleegtijd einde", "tijd einde"],
            Column::MaatschappelijkeKlasse => &[
                "maatsch klasse",
                "klasse",
                "mk",
                "soort misdrijf",
                "categorie",
            ],
            Column::Straat => &["straatnaam", "pleegstraat"],
            Column::Huisnummer => &["huisnr"],
            Column::Huisletter => &["letter"],
            Column::Toevoeging => &["huisnummertoevoeging", "huisnr toevoeging", "toev"],
            Column::Postcode => &["pc", "pleegpostcode"],
            Column::Plaats => &["woonplaats", "pleegplaats", "plaatsnaam"],
            Column::X => &["x-coordinaat", "x coord", "rd_x", "rd x", "xcoordinaat rd"],
            Column::Y => &["y-coordinaat", "y coord", "rd_y", "rd y", "ycoordinaat rd"],
            Column::Lat => &["latitude", "breedtegraad"],
            Column::Lon => &["longitude", "lng", "long", "lengtegraad"],
            Column::Buurtcode => &["buurt", "bu_code", "cbs buurtcode"],
        }
    }

    /// The column whose canonical name equals `name` after normalisation.
    pub fn from_canonical(name: &str) -> Option<Column> {
        let n = normalise_header(name);
        Column::ALL
            .into_iter()
            .find(|c| normalise_header(c.canonical_name()) == n)
    }

    /// The column a file header denotes by the default rules (canonical name or alias), if any.
    pub fn from_header(header: &str) -> Option<Column> {
        let n = normalise_header(header);
        if n.is_empty() {
            return None;
        }
        Column::ALL.into_iter().find(|c| {
            normalise_header(c.canonical_name()) == n
                || c.aliases().iter().any(|a| normalise_header(a) == n)
        })
    }
}

/// Normalises a header for comparison: ASCII-folded (`ö` -> `o`), lower case, letters and digits only.
pub fn normalise_header(header: &str) -> String {
    deunicode::deunicode(header)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Which location of a row wins when its address geocodes far from its own coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocationPreference {
    /// The BAG address (default).
    #[default]
    Address,
    /// The delivered coordinates.
    Coordinates,
}

/// A parsed mapping file; see the module docs for the format.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    /// Where the mapping came from (file path), for messages.
    pub source: String,
    /// Canonical column -> header in the file.
    pub columns: BTreeMap<Column, String>,
    /// Extra name -> header in the file; kept in `DeliveryRow::extra` under the name.
    pub extra: BTreeMap<String, String>,
    /// Field delimiter; `None` = sniff.
    pub delimiter: Option<char>,
    /// Text encoding of CSV files.
    pub encoding: TextEncoding,
    /// Exclusive chrono `strftime` date format for all date columns; `None` = automatic.
    pub date_format: Option<String>,
    /// XLSX sheet name; `None` = first sheet.
    pub sheet: Option<String>,
    /// Which location wins when a row's address and its own coordinates conflict (`[options] prefer`).
    pub prefer: LocationPreference,
    /// Headers of columns holding personal identifiers (never read raw into stored rows).
    pub personal_columns: Vec<String>,
    /// `[personal.kinds]`: personal header (as written in `personal_columns`) -> kind; absent = `other`.
    pub personal_kinds: BTreeMap<String, IdentifierKind>,
    /// The cooperation key for pseudonymising `personal_columns`. Set by the caller from configuration
    /// (environment or key file), never read from the mapping file. `None`: personal columns are not read.
    pub pseudonym_key: Option<crate::pseudonym::PseudonymKey>,
}

impl Mapping {
    /// The kind of the personal column `header` (as written in `personal_columns`): from `[personal.kinds]`,
    /// else [`IdentifierKind::Other`].
    ///
    /// ```
    /// use brandpunt::import::mapping::Mapping;
    /// use brandpunt::pseudonym::IdentifierKind;
    /// let m = Mapping::from_toml_str(
    ///     "m.toml",
    ///     "[personal]\ncolumns = [\"BSN\", \"Naam\"]\n[personal.kinds]\nBSN = \"person\"",
    /// )
    /// .unwrap();
    /// assert_eq!(m.personal_kind("BSN"), IdentifierKind::Person);
    /// assert_eq!(m.personal_kind("Naam"), IdentifierKind::Other);
    /// ```
    pub fn personal_kind(&self, header: &str) -> IdentifierKind {
        self.personal_kinds.get(header).copied().unwrap_or_default()
    }

    /// Reads and validates a mapping file. Errors name the file and the offending section/key.
    pub fn from_toml_file(path: &Path) -> Result<Mapping, DeliveryError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DeliveryError::Io {
            file: source.clone(),
            source: e,
        })?;
        Mapping::from_toml_str(&source, &text)
    }

    /// Parses and validates mapping text; `source` names it in errors.
    pub fn from_toml_str(source: &str, text: &str) -> Result<Mapping, DeliveryError> {
        let err = |reason: String| DeliveryError::Mapping {
            file: source.to_string(),
            reason,
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| err(format!("geen geldige TOML: {}", e.message())))?;
        let mut mapping = Mapping {
            source: source.to_string(),
            ..Mapping::default()
        };
        for (section, value) in &table {
            let toml::Value::Table(entries) = value else {
                return Err(err(format!("'{section}' moet een sectie [{section}] zijn")));
            };
            match section.as_str() {
                "columns" => {
                    for (key, v) in entries {
                        let column = Column::from_canonical(key).ok_or_else(|| {
                            let names: Vec<&str> =
                                Column::ALL.iter().map(|c| c.canonical_name()).collect();
                            err(format!(
                                "[columns] onbekende kolomnaam '{key}'; geldig: {}",
                                names.join(", ")
                            ))
                        })?;
                        let header = header_value(v).ok_or_else(|| {
                            err(format!("[columns] '{key}' moet een niet-lege tekst zijn"))
                        })?;
                        if mapping.columns.insert(column, header).is_some() {
                            return Err(err(format!(
                                "[columns] '{}' staat er meer dan eens",
                                column.canonical_name()
                            )));
                        }
                    }
                }
                "extra" => {
                    for (key, v) in entries {
                        if key.trim().is_empty() {
                            return Err(err("[extra] lege naam".to_string()));
                        }
                        let header = header_value(v).ok_or_else(|| {
                            err(format!("[extra] '{key}' moet een niet-lege tekst zijn"))
                        })?;
                        mapping.extra.insert(key.clone(), header);
                    }
                }
                "options" => {
                    for (key, v) in entries {
                        let text = v
                            .as_str()
                            .ok_or_else(|| err(format!("[options] '{key}' moet tekst zijn")))?;
                        match key.as_str() {
                            "delimiter" => {
                                mapping.delimiter = Some(match text {
                                    ";" => ';',
                                    "," => ',',
                                    "\t" | "tab" | "\\t" => '\t',
                                    "|" => '|',
                                    other => {
                                        return Err(err(format!(
                                            "[options] delimiter '{other}' niet ondersteund (;  ,  tab  |)"
                                        )))
                                    }
                                });
                            }
                            "encoding" => {
                                mapping.encoding = match text.to_ascii_lowercase().as_str() {
                                    "auto" => TextEncoding::Auto,
                                    "utf-8" | "utf8" => TextEncoding::Utf8,
                                    "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" => {
                                        TextEncoding::Windows1252
                                    }
                                    other => {
                                        return Err(err(format!(
                                            "[options] encoding '{other}' niet ondersteund (auto, utf-8, windows-1252)"
                                        )))
                                    }
                                };
                            }
                            "date_format" => {
                                let valid = !text.trim().is_empty()
                                    && StrftimeItems::new(text).all(|i| !matches!(i, Item::Error));
                                if !valid {
                                    return Err(err(format!(
                                        "[options] date_format '{text}' is geen geldig strftime-formaat"
                                    )));
                                }
                                mapping.date_format = Some(text.to_string());
                            }
                            "sheet" => mapping.sheet = Some(text.to_string()),
                            "prefer" => {
                                mapping.prefer = match text.to_ascii_lowercase().as_str() {
                                    "address" | "adres" => LocationPreference::Address,
                                    "coordinates" | "coördinaten" | "coordinaten" => {
                                        LocationPreference::Coordinates
                                    }
                                    other => {
                                        return Err(err(format!(
                                            "[options] prefer '{other}' niet ondersteund (address, coordinates)"
                                        )))
                                    }
                                };
                            }
                            other => {
                                return Err(err(format!(
                                    "[options] onbekende optie '{other}' (delimiter, encoding, date_format, sheet, prefer)"
                                )))
                            }
                        }
                    }
                }
                "personal" => {
                    let mut kinds: Option<&toml::Table> = None;
                    for (key, v) in entries {
                        match key.as_str() {
                            "columns" => {}
                            "kinds" => {
                                kinds = Some(v.as_table().ok_or_else(|| {
                                    err("[personal.kinds] moet een sectie zijn: kolom = \"soort\""
                                        .to_string())
                                })?);
                                continue;
                            }
                            _ => {
                                return Err(err(format!(
                                    "[personal] onbekende sleutel '{key}' (columns, kinds)"
                                )))
                            }
                        }
                        let list = v.as_array().ok_or_else(|| {
                            err("[personal] columns moet een lijst met teksten zijn".to_string())
                        })?;
                        for item in list {
                            let header = header_value(item).ok_or_else(|| {
                                err(
                                    "[personal] columns moet een lijst met niet-lege teksten zijn"
                                        .to_string(),
                                )
                            })?;
                            mapping.personal_columns.push(header);
                        }
                    }
                    for (key, v) in kinds.into_iter().flatten() {
                        let names: Vec<&str> =
                            IdentifierKind::ALL.iter().map(|k| k.as_str()).collect();
                        let kind = v.as_str().and_then(IdentifierKind::parse).ok_or_else(|| {
                            err(format!(
                                "[personal.kinds] '{key}': onbekende soort {v}; geldig: {}",
                                names.join(", ")
                            ))
                        })?;
                        let header = mapping
                            .personal_columns
                            .iter()
                            .find(|p| normalise_header(p) == normalise_header(key))
                            .cloned()
                            .ok_or_else(|| {
                                err(format!(
                                    "[personal.kinds] '{key}' staat niet in [personal] columns"
                                ))
                            })?;
                        if mapping.personal_kinds.insert(header, kind).is_some() {
                            return Err(err(format!(
                                "[personal.kinds] '{key}' staat er meer dan eens"
                            )));
                        }
                    }
                }
                other => {
                    return Err(err(format!(
                        "onbekende sectie [{other}] (columns, extra, options, personal)"
                    )))
                }
            }
        }
        for (column, header) in &mapping.columns {
            if mapping
                .personal_columns
                .iter()
                .any(|p| normalise_header(p) == normalise_header(header))
            {
                return Err(err(format!(
                    "[columns] '{}' = '{header}' staat ook in [personal]: persoonsgegevens worden niet ruw bewaard",
                    column.canonical_name()
                )));
            }
        }
        for (name, header) in &mapping.extra {
            if mapping
                .personal_columns
                .iter()
                .any(|p| normalise_header(p) == normalise_header(header))
            {
                return Err(err(format!(
                    "[extra] '{name}' = '{header}' staat ook in [personal]: persoonsgegevens worden niet ruw bewaard"
                )));
            }
            if mapping
                .personal_columns
                .iter()
                .any(|p| normalise_header(p) == normalise_header(name))
            {
                return Err(err(format!(
                    "[extra] naam '{name}' is ook een kolom in [personal]: daar komt het pseudoniem"
                )));
            }
        }
        Ok(mapping)
    }
}

fn header_value(v: &toml::Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Where each column of a delivery sits in its records.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Resolved {
    /// Field index per [`Column`] (indexed by [`Column::index`]).
    pub cols: [Option<usize>; 17],
    /// Extra name -> field index.
    pub extra: Vec<(String, usize)>,
}

impl Resolved {
    pub fn get(&self, c: Column) -> Option<usize> {
        self.cols[c.index()]
    }
}

/// Finds `wanted` among `headers`: exact (trimmed) match first, then normalised.
fn find_header(headers: &[String], wanted: &str) -> Option<usize> {
    let wanted_trim = wanted.trim();
    headers
        .iter()
        .position(|h| h.trim() == wanted_trim)
        .or_else(|| {
            let n = normalise_header(wanted);
            headers.iter().position(|h| normalise_header(h) == n)
        })
}

/// Resolves a header record against the default rules and an optional mapping. The error is a plain-words
/// reason (a header named in the mapping is missing), to be wrapped by the caller.
pub(crate) fn resolve_headers(
    headers: &[String],
    mapping: Option<&Mapping>,
) -> Result<Resolved, String> {
    let mut resolved = Resolved::default();
    let mut taken = vec![false; headers.len()];
    if let Some(m) = mapping {
        for p in &m.personal_columns {
            if let Some(i) = find_header(headers, p) {
                taken[i] = true;
                // Read only when it will be pseudonymised (see `super::incidents`).
                if m.pseudonym_key.is_some() {
                    resolved.extra.push((p.clone(), i));
                }
            }
        }
        for (column, header) in &m.columns {
            let i = find_header(headers, header).ok_or_else(|| {
                format!(
                    "kolom '{header}' ({}) uit de mapping niet gevonden in het bestand",
                    column.canonical_name()
                )
            })?;
            resolved.cols[column.index()] = Some(i);
            taken[i] = true;
        }
        for (name, header) in &m.extra {
            let i = find_header(headers, header).ok_or_else(|| {
                format!(
                    "kolom '{header}' ([extra] {name}) uit de mapping niet gevonden in het bestand"
                )
            })?;
            resolved.extra.push((name.clone(), i));
        }
    }
    for (i, header) in headers.iter().enumerate() {
        if taken[i] {
            continue;
        }
        let Some(column) = Column::from_header(header) else {
            continue;
        };
        let slot = &mut resolved.cols[column.index()];
        let explicit = mapping.is_some_and(|m| m.columns.contains_key(&column));
        let is_canonical = normalise_header(header) == normalise_header(column.canonical_name());
        match slot {
            None => *slot = Some(i),
            Some(prev)
                if !explicit
                    && is_canonical
                    && normalise_header(&headers[*prev])
                        != normalise_header(column.canonical_name()) =>
            {
                *slot = Some(i)
            }
            Some(_) => {}
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognises_aliases_case_and_punctuation_insensitively() {
        let cases = [
            ("Registratienummer", Column::Registratienummer),
            ("REG.NR", Column::Registratienummer),
            ("BVH_nummer", Column::Registratienummer),
            ("Begindatum", Column::PleegdatumBegin),
            ("Pleegdatum_Begin", Column::PleegdatumBegin),
            ("Maatsch. klasse", Column::MaatschappelijkeKlasse),
            ("X-coördinaat", Column::X),
            ("rd_x", Column::X),
            ("Lng", Column::Lon),
            ("Woonplaats", Column::Plaats),
            ("Huisnummertoevoeging", Column::Toevoeging),
            ("Buurt", Column::Buurtcode),
            ("pleegtijd eind", Column::PleegtijdEind),
        ];
        for (header, col) in cases {
            assert_eq!(Column::from_header(header), Some(col), "{header}");
        }
        assert_eq!(Column::from_header("Kenteken"), None);
        assert_eq!(Column::from_header("  "), None);
    }

    /// The alias list of the issue, verbatim: every one must resolve to its column.
    #[test]
    fn issue_alias_list_is_complete() {
        use Column::*;
        let issue: &[(Column, &[&str])] = &[
            (
                Registratienummer,
                &[
                    "registratienummer",
                    "registratie nummer",
                    "reg.nr",
                    "bvh nummer",
                    "nummer",
                ],
            ),
            (
                PleegdatumBegin,
                &[
                    "pleegdatum begin",
                    "begindatum",
                    "datum begin",
                    "pleegdatum",
                ],
            ),
            (PleegtijdBegin, &["pleegtijd begin"]),
            (PleegdatumEind, &["pleegdatum eind"]),
            (PleegtijdEind, &["pleegtijd eind"]),
            (
                MaatschappelijkeKlasse,
                &[
                    "maatschappelijke klasse",
                    "maatsch klasse",
                    "klasse",
                    "mk",
                    "soort misdrijf",
                    "categorie",
                ],
            ),
            (Straat, &["straat"]),
            (Huisnummer, &["huisnummer", "huisnr"]),
            (Huisletter, &["huisletter"]),
            (Toevoeging, &["toevoeging", "huisnummertoevoeging"]),
            (Postcode, &["postcode"]),
            (Plaats, &["plaats", "woonplaats", "pleegplaats"]),
            (X, &["x", "x-coordinaat", "rd_x"]),
            (Y, &["y", "y-coordinaat", "rd_y"]),
            (Lat, &["lat", "latitude"]),
            (Lon, &["lon", "longitude", "lng"]),
            (Buurtcode, &["buurtcode", "buurt"]),
        ];
        for (column, names) in issue {
            for name in *names {
                assert_eq!(Column::from_header(name), Some(*column), "{name}");
                assert_eq!(
                    Column::from_header(&name.to_uppercase()),
                    Some(*column),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn canonical_header_beats_alias() {
        let r = resolve_headers(&h(&["Pleegdatum", "Pleegdatum begin", "Nr"]), None).unwrap();
        assert_eq!(r.get(Column::PleegdatumBegin), Some(1));
        let r = resolve_headers(&h(&["Begindatum", "Datum"]), None).unwrap();
        assert_eq!(r.get(Column::PleegdatumBegin), Some(0));
    }

    #[test]
    fn parses_full_mapping() {
        let text = r#"
[columns]
registratienummer = "BVH-nummer"
"pleegdatum_begin" = "Begindatum"
[extra]
gebiedsteam = "Team"
[options]
delimiter = "tab"
encoding = "cp1252"
date_format = "%d-%m-%Y"
sheet = "Blad1"
prefer = "coordinates"
[personal]
columns = ["Kenteken", "BSN"]
"#;
        let m = Mapping::from_toml_str("m.toml", text).unwrap();
        assert_eq!(m.columns[&Column::Registratienummer], "BVH-nummer");
        assert_eq!(m.columns[&Column::PleegdatumBegin], "Begindatum");
        assert_eq!(m.extra["gebiedsteam"], "Team");
        assert_eq!(m.delimiter, Some('\t'));
        assert_eq!(m.encoding, TextEncoding::Windows1252);
        assert_eq!(m.date_format.as_deref(), Some("%d-%m-%Y"));
        assert_eq!(m.sheet.as_deref(), Some("Blad1"));
        assert_eq!(m.prefer, LocationPreference::Coordinates);
        assert_eq!(m.personal_columns, vec!["Kenteken", "BSN"]);
        assert_eq!(
            Mapping::from_toml_str("m.toml", "").unwrap().prefer,
            LocationPreference::Address
        );

        let headers = h(&[
            "Team",
            "BVH-nummer",
            "Begindatum",
            "Kenteken",
            "Straat",
            "Nummer",
        ]);
        let r = resolve_headers(&headers, Some(&m)).unwrap();
        assert_eq!(r.get(Column::Registratienummer), Some(1));
        assert_eq!(r.get(Column::PleegdatumBegin), Some(2));
        assert_eq!(r.get(Column::Straat), Some(4));
        assert_eq!(r.extra, vec![("gebiedsteam".to_string(), 0)]);
    }

    #[test]
    fn mapping_errors_name_file_and_key() {
        let bad = [
            ("[columns]\nregnummer = \"X\"", "regnummer"),
            ("[columns]\nstraat = \"\"", "straat"),
            ("[options]\ndelimiter = \"::\"", "delimiter"),
            ("[options]\nencoding = \"ebcdic\"", "encoding"),
            ("[options]\ndate_format = \"%Q\"", "date_format"),
            ("[options]\nfoo = \"1\"", "foo"),
            ("[options]\nprefer = \"buurt\"", "prefer"),
            ("[kolommen]\nx = \"1\"", "kolommen"),
            ("[personal]\ncolumns = \"BSN\"", "columns"),
            (
                "[extra]\nbsn = \"BSN\"\n[personal]\ncolumns = [\"BSN\"]",
                "BSN",
            ),
            (
                "[extra]\nKenteken = \"Team\"\n[personal]\ncolumns = [\"kenteken\"]",
                "Kenteken",
            ),
            (
                "[columns]\nstraat = \"Naam\"\n[personal]\ncolumns = [\"Naam\"]",
                "Naam",
            ),
            ("columns = 3", "columns"),
            ("[columns\n", "TOML"),
        ];
        for (text, key) in bad {
            let e = Mapping::from_toml_str("lev.toml", text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("lev.toml") && e.contains(key), "{text:?} -> {e}");
        }
    }

    #[test]
    fn personal_kinds_are_read_and_default_to_other() {
        let text = r#"
[personal]
columns = ["BSN betrokkene", "Kenteken", "Telefoon"]
[personal.kinds]
"BSN betrokkene" = "person"
"kenteken" = "vehicle"
"#;
        let m = Mapping::from_toml_str("m.toml", text).unwrap();
        assert_eq!(m.personal_kind("BSN betrokkene"), IdentifierKind::Person);
        // Matched like a header; stored under the header as written in `columns`.
        assert_eq!(m.personal_kind("Kenteken"), IdentifierKind::Vehicle);
        assert_eq!(m.personal_kind("Telefoon"), IdentifierKind::Other);
        assert_eq!(m.personal_kinds.len(), 2);
        // The form without kinds stays valid.
        let m = Mapping::from_toml_str("m.toml", "[personal]\ncolumns = [\"BSN\"]").unwrap();
        assert!(m.personal_kinds.is_empty());
        assert_eq!(m.personal_kind("BSN"), IdentifierKind::Other);
    }

    #[test]
    fn bad_personal_kinds_are_refused_naming_the_key() {
        let bad = [
            (
                "[personal]\ncolumns = [\"BSN\"]\n[personal.kinds]\nBSN = \"persoon\"",
                "BSN",
            ),
            (
                "[personal]\ncolumns = [\"BSN\"]\n[personal.kinds]\nKenteken = \"vehicle\"",
                "Kenteken",
            ),
            (
                "[personal]\ncolumns = [\"BSN\"]\n[personal.kinds]\nBSN = 3",
                "BSN",
            ),
            ("[personal]\ncolumns = [\"BSN\"]\nkinds = \"x\"", "kinds"),
            (
                "[personal]\ncolumns = [\"BSN\"]\n[personal.kinds]\nBSN = \"person\"\nbsn = \"phone\"",
                "bsn",
            ),
            ("[personal]\nsoorten = 1", "soorten"),
        ];
        for (text, key) in bad {
            let e = Mapping::from_toml_str("lev.toml", text)
                .unwrap_err()
                .to_string();
            assert!(e.contains("lev.toml") && e.contains(key), "{text:?} -> {e}");
        }
    }

    #[test]
    fn missing_mapped_header_is_an_error() {
        let m = Mapping::from_toml_str("m.toml", "[columns]\nstraat = \"Pleegstraat\"").unwrap();
        let e = resolve_headers(&h(&["Straat"]), Some(&m)).unwrap_err();
        assert!(e.contains("Pleegstraat"), "{e}");
    }
}
