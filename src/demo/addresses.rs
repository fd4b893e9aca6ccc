//! The demo BAG: streets, buildings (panden), addressable objects (verblijfsobjecten, ligplaatsen,
//! standplaatsen) generated cell by cell inside the [`Layout`].
//!
//! Every street lies inside one mesh cell; odd numbers on one side, even on the other. Postcodes are
//! PC4 per wijk (per woonplaats range) and a new letter pair every 30 numbers of a street. Building
//! types depend on the buurt's [`LandUse`]; see the module docs of [`super`] for the special cases.

use super::layout::{cell_point, LandUse, Layout};
use super::DemoError;
use geo::{Coord, LineString, Polygon};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Kind of addressable object (the BAG table it lives in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// `verblijfsobject` (POINT).
    Verblijfsobject,
    /// `ligplaats` (houseboat mooring, POLYGON).
    Ligplaats,
    /// `standplaats` (caravan pitch, POLYGON).
    Standplaats,
}

/// A street (openbare ruimte).
#[derive(Clone, Debug)]
pub struct Street {
    /// Official name (max 80 characters).
    pub name: String,
    /// NEN 5825 short form (max 24 characters).
    pub kort: String,
    /// Index into `Layout::woonplaatsen`.
    pub woonplaats: usize,
    /// 16-character openbare ruimte identificatie.
    pub id: String,
}

/// A building.
#[derive(Clone, Debug)]
pub struct Pand {
    /// 16-character identificatie.
    pub id: String,
    /// Footprint, RD metres.
    pub polygon: Polygon<f64>,
    /// Construction year.
    pub bouwjaar: i32,
    /// Indices of the addresses inside.
    pub addresses: Vec<usize>,
}

/// An addressable object with its hoofdadres.
#[derive(Clone, Debug)]
pub struct Address {
    /// 16-character identificatie of the object.
    pub id: String,
    /// 16-character nummeraanduiding identificatie of the hoofdadres.
    pub nummeraanduiding_id: String,
    /// Table.
    pub kind: ObjectKind,
    /// Index into [`Bag::streets`].
    pub street: usize,
    /// House number.
    pub huisnummer: u32,
    /// House letter (upper case), if any.
    pub huisletter: Option<char>,
    /// Toevoeging (1-4 alphanumerics), if any.
    pub toevoeging: Option<String>,
    /// Postcode without space (`7461AB`).
    pub postcode: String,
    /// RD x (metres) of the point (or polygon centroid).
    pub x_m: f64,
    /// RD y (metres).
    pub y_m: f64,
    /// Index into `Layout::buurten`.
    pub buurt: usize,
    /// Index into [`Bag::panden`] for verblijfsobjecten.
    pub pand: Option<usize>,
    /// Comma-separated gebruiksdoelen (verblijfsobjecten only).
    pub gebruiksdoel: String,
    /// Floor area in m2 (verblijfsobjecten only).
    pub oppervlakte_m2: Option<u32>,
    /// Polygon of a ligplaats / standplaats.
    pub polygon: Option<Polygon<f64>>,
}

impl Address {
    /// House number with letter and toevoeging as written on letters: `12A-3`.
    pub fn number_text(&self) -> String {
        let mut s = self.huisnummer.to_string();
        if let Some(l) = self.huisletter {
            s.push(l);
        }
        if let Some(t) = &self.toevoeging {
            s.push('-');
            s.push_str(t);
        }
        s
    }

    /// True for the cannabis risk class: woonfunctie, bouwjaar 1960-1975, 70-100 m2.
    pub fn in_cannabis_risk_class(&self, panden: &[Pand]) -> bool {
        let Some(p) = self.pand else { return false };
        let bouwjaar = panden[p].bouwjaar;
        self.gebruiksdoel == "woonfunctie"
            && (1960..=1975).contains(&bouwjaar)
            && self.oppervlakte_m2.is_some_and(|a| (70..=100).contains(&a))
    }
}

/// The generated BAG.
#[derive(Clone, Debug, Default)]
pub struct Bag {
    /// Streets.
    pub streets: Vec<Street>,
    /// Buildings.
    pub panden: Vec<Pand>,
    /// Addressable objects.
    pub addresses: Vec<Address>,
}

/// NEN 5825 style short form: the name itself when it fits in 24 characters, else abbreviated with
/// the common rules (Burgemeester -> Burg, van -> v, straat -> str, laan -> ln, ...), else cut.
pub fn nen_short_form(name: &str) -> String {
    if name.chars().count() <= 24 {
        return name.to_string();
    }
    let s = abbreviate(name);
    s.chars().take(24).collect()
}

/// Abbreviates a street name with the common NEN 5825 abbreviations, whatever its length (how many
/// police systems write street names).
pub fn abbreviate(name: &str) -> String {
    let words: Vec<&str> = name.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        let rep = match (w, next) {
            ("van", Some("der"))
            | ("van", Some("de"))
            | ("Van", Some("der"))
            | ("Van", Some("de")) => {
                i += 1;
                "vd".to_string()
            }
            ("van", _) | ("Van", _) => "v".to_string(),
            ("Burgemeester", _) => "Burg".to_string(),
            ("Dokter", _) => "Dr".to_string(),
            ("Sint", _) => "St".to_string(),
            ("Prinses", _) => "Pr".to_string(),
            ("Prins", _) => "Pr".to_string(),
            ("Koningin", _) => "Kon".to_string(),
            ("Pastoor", _) => "Past".to_string(),
            _ => {
                let mut s = w.to_string();
                for (long, short) in [
                    ("straat", "str"),
                    ("laan", "ln"),
                    ("plein", "pln"),
                    ("singel", "sngl"),
                ] {
                    if let Some(stem) = s.strip_suffix(long) {
                        s = format!("{stem}{short}");
                        break;
                    }
                }
                s
            }
        };
        out.push(rep);
        i += 1;
    }
    out.join(" ")
}

const THEMES: [&[&str]; 10] = [
    // 0 old centre
    &[
        "Markt",
        "Molen",
        "Brug",
        "Poort",
        "Gasthuis",
        "Boter",
        "Turf",
        "Zand",
        "Vis",
        "Hooi",
        "Wal",
        "Beek",
        "Schuttersgilde",
        "Klooster",
        "Nieuwe",
        "Oude",
    ],
    // 1 rivers and composers
    &[
        "Ĳssel",
        "Maas",
        "Waal",
        "Rijn",
        "Lek",
        "Vecht",
        "Dinkel",
        "Regge",
        "Berkel",
        "Schelde",
        "Amstel",
        "Dommel",
        "Bach",
        "Mozart",
        "Beethoven",
        "Chopin",
        "Händel",
        "Sweelinck",
        "Grieg",
        "Brahms",
    ],
    // 2 sixties: resistance and royals
    &[
        "Prinses Beatrix",
        "Koningin Juliana",
        "Prins Bernhard",
        "Prinses Irene",
        "Prinses Margriet",
        "Koningin Wilhelmina",
        "Prins Hendrik",
        "Dokter Schaepman",
        "Van der Waals",
        "Lorentz",
        "Kamerlingh Onnes",
        "Thorbecke",
        "Troelstra",
        "Drees",
    ],
    // 3 flowers
    &[
        "Rozen",
        "Tulpen",
        "Narcissen",
        "Anjer",
        "Lelie",
        "Iris",
        "Krokus",
        "Dahlia",
        "Hyacinten",
        "Zonnebloem",
        "Margriet",
        "Viooltjes",
        "Klaproos",
        "Goudsbloem",
    ],
    // 4 landscape
    &[
        "Horst", "Heide", "Veld", "Broek", "Kamp", "Hoeve", "Enk", "Esch", "Bosch", "Meen", "Mors",
        "Brink", "Hof", "Weide",
    ],
    // 5 rural
    &[
        "Dijk", "Kerkpad", "Molen", "Hessen", "Holt", "Vonder", "Stegge", "Haar", "Marke", "Bult",
        "Gaarden", "Lutte", "Zwiep", "Elshof",
    ],
    // 6 trees
    &[
        "Eiken",
        "Beuken",
        "Linden",
        "Berken",
        "Essen",
        "Iepen",
        "Wilgen",
        "Populieren",
        "Kastanje",
        "Platanen",
        "Elzen",
        "Hazelaar",
        "Meidoorn",
        "Vlier",
    ],
    // 7 industry
    &[
        "Energie",
        "Industrie",
        "Ambacht",
        "Nijverheid",
        "Handel",
        "Transport",
        "Kanaal",
        "Haven",
        "Dok",
        "Werf",
        "Smederij",
        "Expeditie",
        "Logistiek",
        "Techniek",
    ],
    // 8 birds and painters
    &[
        "Merel",
        "Lijster",
        "Vink",
        "Spreeuw",
        "Kievit",
        "Reiger",
        "Zwaluw",
        "Specht",
        "Roodborst",
        "Rembrandt",
        "Vermeer",
        "Frans Hals",
        "Jan Steen",
        "Mondriaan",
        "Breitner",
        "Israëls",
    ],
    // 9 Buurdorp
    &[
        "Kerk", "School", "Grens", "Beek", "Molen", "Esch", "Linden", "Eiken", "Zand", "Veen",
    ],
];
const SUFFIXES: [&str; 9] = [
    "straat", "laan", "weg", "hof", "singel", "pad", "dreef", "kade", "plein",
];

/// Special streets placed first in the first cell of a buurt (buurt name -> street names).
fn special_streets(buurt_naam: &str) -> &'static [&'static str] {
    match buurt_naam {
        "Stationskwartier" => &["Stationsplein", "Spoorstraat"],
        "Centrum" => &["Plein 1944", "Burgwal", "Korte Kerksteeg"],
        "Kerkbuurt" => &["Kerkstraat", "Sint Janstraat"],
        "Singelkwartier" => &["Pastoor Ruéstraat", "Koningin Julianaplein"],
        "Rivierenbuurt" => &["Ĳsselstraat"],
        "De Torenflats" => &["Burgemeester van Veenlaan", "Prinses Christinalaan"],
        "Hoge Weide" => &["Dokter Ariëns van der Hoevenstraat"],
        "Oudedorp-Kern" => &["Kerkstraat", "Dorpsstraat"],
        "De Plas" => &["Plasdijk"],
        "Buitengebied West" => &["Wielewaalpad"],
        "Sportpark De Enk" => &["Sportlaan"],
        "Buurdorp-Centrum" => &["Kerkstraat", "Dorpsstraat"],
        _ => &[],
    }
}

struct Ids {
    seq: BTreeMap<(String, &'static str), u64>,
}

impl Ids {
    fn next(&mut self, gm4: &str, kind: &'static str) -> String {
        let n = self.seq.entry((gm4.to_string(), kind)).or_insert(0);
        *n += 1;
        format!("{gm4}{kind}{:010}", *n)
    }
}

struct PostcodeBook {
    pc4_of_wijk: BTreeMap<usize, u32>,
    next_pc4: BTreeMap<usize, u32>,
    letters: BTreeMap<u32, usize>,
    by_key: BTreeMap<(usize, u32), String>,
}

impl PostcodeBook {
    fn pc4(&mut self, layout: &Layout, wijk: usize, woonplaats: usize) -> u32 {
        if let Some(p) = self.pc4_of_wijk.get(&wijk) {
            return *p;
        }
        let base = layout.woonplaatsen[woonplaats].pc4_base;
        let n = self.next_pc4.entry(woonplaats).or_insert(base);
        let p = *n;
        *n += 1;
        self.pc4_of_wijk.insert(wijk, p);
        p
    }

    fn postcode(&mut self, pc4: u32, street: usize, huisnummer: u32) -> String {
        let key = (street, huisnummer.saturating_sub(1) / 30);
        if let Some(p) = self.by_key.get(&key) {
            return p.clone();
        }
        let counter = self.letters.entry(pc4).or_insert(0);
        let (a, b) = loop {
            let a = (b'A' + (*counter / 26) as u8 % 26) as char;
            let b = (b'A' + (*counter % 26) as u8) as char;
            *counter += 1;
            if !matches!((a, b), ('S', 'A') | ('S', 'D') | ('S', 'S')) {
                break (a, b);
            }
        };
        let p = format!("{pc4}{a}{b}");
        self.by_key.insert(key, p.clone());
        p
    }
}

fn rect(center: Coord<f64>, w_m: f64, h_m: f64) -> Polygon<f64> {
    let (hw, hh) = (w_m / 2.0, h_m / 2.0);
    let r = |v: f64| (v * 100.0).round() / 100.0;
    Polygon::new(
        LineString::new(vec![
            Coord {
                x: r(center.x - hw),
                y: r(center.y - hh),
            },
            Coord {
                x: r(center.x + hw),
                y: r(center.y - hh),
            },
            Coord {
                x: r(center.x + hw),
                y: r(center.y + hh),
            },
            Coord {
                x: r(center.x - hw),
                y: r(center.y + hh),
            },
            Coord {
                x: r(center.x - hw),
                y: r(center.y - hh),
            },
        ]),
        vec![],
    )
}

fn round_cm(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: (c.x * 100.0).round() / 100.0,
        y: (c.y * 100.0).round() / 100.0,
    }
}

fn cell_weight(land_use: LandUse) -> f64 {
    match land_use {
        LandUse::Centre => 1.6,
        LandUse::Residential => 1.0,
        LandUse::Sixties => 1.1,
        LandUse::Flats => 0.8,
        LandUse::Industrial => 0.12,
        LandUse::Village => 0.8,
        LandUse::Rural | LandUse::Caravan => 0.03,
        LandUse::Water | LandUse::Park => 0.0,
    }
}

/// Building template of one slot along a street.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    House,
    ShopWithFlats,
    Portiek,
    Industry,
    BusinessUnits,
}

struct Builder<'a> {
    layout: &'a Layout,
    rng: &'a mut ChaCha8Rng,
    bag: Bag,
    ids: Ids,
    pcs: PostcodeBook,
    names_used: Vec<BTreeSet<String>>,
    theme_pos: BTreeMap<usize, usize>,
}

impl Builder<'_> {
    fn gm4(&self, buurt: usize) -> String {
        let b = &self.layout.buurten[buurt];
        self.layout.gemeenten[self.layout.wijken[b.wijk].gemeente].code[2..].to_string()
    }

    fn new_street(&mut self, buurt: usize, name: Option<&str>) -> usize {
        let b = &self.layout.buurten[buurt];
        let wp = b.woonplaats;
        let name = match name {
            Some(n) => n.to_string(),
            None => {
                let theme = self.layout.wijken[b.wijk].theme;
                let words = THEMES[theme];
                let pos = self.theme_pos.entry(theme).or_insert(0);
                loop {
                    let w = words[*pos % words.len()];
                    let suffix = SUFFIXES[(*pos / words.len()) % SUFFIXES.len()];
                    *pos += 1;
                    let candidate = format!("{w}{suffix}");
                    if !self.names_used[wp].contains(&candidate) {
                        break candidate;
                    }
                    if *pos > words.len() * SUFFIXES.len() * 2 {
                        break format!("{w}{suffix} {}", *pos);
                    }
                }
            }
        };
        self.names_used[wp].insert(name.clone());
        let gm4 = self.gm4(buurt);
        let id = self.ids.next(&gm4, "30");
        self.bag.streets.push(Street {
            kort: nen_short_form(&name),
            name,
            woonplaats: wp,
            id,
        });
        self.bag.streets.len() - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn add_address(
        &mut self,
        buurt: usize,
        street: usize,
        nr: (u32, Option<char>, Option<String>),
        kind: ObjectKind,
        at: Coord<f64>,
        pand: Option<usize>,
        doel: &str,
        opp: Option<u32>,
        polygon: Option<Polygon<f64>>,
    ) -> usize {
        let b = &self.layout.buurten[buurt];
        let (wijk, wp) = (b.wijk, b.woonplaats);
        let pc4 = self.pcs.pc4(self.layout, wijk, wp);
        let postcode = self.pcs.postcode(pc4, street, nr.0);
        let gm4 = self.gm4(buurt);
        let code = match kind {
            ObjectKind::Verblijfsobject => "01",
            ObjectKind::Ligplaats => "02",
            ObjectKind::Standplaats => "03",
        };
        let id = self.ids.next(&gm4, code);
        let nummeraanduiding_id = self.ids.next(&gm4, "20");
        let at = round_cm(at);
        self.bag.addresses.push(Address {
            id,
            nummeraanduiding_id,
            kind,
            street,
            huisnummer: nr.0,
            huisletter: nr.1,
            toevoeging: nr.2,
            postcode,
            x_m: at.x,
            y_m: at.y,
            buurt,
            pand,
            gebruiksdoel: doel.to_string(),
            oppervlakte_m2: opp,
            polygon,
        });
        let idx = self.bag.addresses.len() - 1;
        if let Some(p) = pand {
            self.bag.panden[p].addresses.push(idx);
        }
        idx
    }

    fn new_pand(&mut self, buurt: usize, polygon: Polygon<f64>, bouwjaar: i32) -> usize {
        let gm4 = self.gm4(buurt);
        let id = self.ids.next(&gm4, "10");
        self.bag.panden.push(Pand {
            id,
            polygon,
            bouwjaar,
            addresses: Vec::new(),
        });
        self.bag.panden.len() - 1
    }

    fn bouwjaar(&mut self, land_use: LandUse, era: (i32, i32)) -> i32 {
        match land_use {
            LandUse::Centre => self.rng.gen_range(1850..1940),
            LandUse::Sixties => self.rng.gen_range(1960..=1975),
            LandUse::Flats => self.rng.gen_range(1966..=1974),
            LandUse::Industrial => self.rng.gen_range(1965..2016),
            LandUse::Village => self.rng.gen_range(1880..1936),
            LandUse::Rural | LandUse::Caravan | LandUse::Water | LandUse::Park => {
                self.rng.gen_range(1870..1961)
            }
            LandUse::Residential => self.rng.gen_range(era.0..=era.1),
        }
    }

    /// Lays out one street in `cell` at local row `v` with `n` addresses.
    fn street_in_cell(
        &mut self,
        buurt: usize,
        cell: (u32, u32),
        v: f64,
        n: usize,
        name: Option<&str>,
        era: (i32, i32),
    ) {
        if n == 0 {
            return;
        }
        let land_use = self.layout.buurten[buurt].land_use;
        let street = self.new_street(buurt, name);
        // Slots until n addresses are used.
        let mut slots: Vec<Slot> = Vec::new();
        let mut used = 0;
        while used < n {
            let s = match land_use {
                LandUse::Centre => {
                    if self.rng.gen_bool(0.6) {
                        Slot::ShopWithFlats
                    } else {
                        Slot::House
                    }
                }
                LandUse::Flats => Slot::Portiek,
                LandUse::Industrial => {
                    if self.rng.gen_bool(0.2) {
                        Slot::BusinessUnits
                    } else {
                        Slot::Industry
                    }
                }
                _ => Slot::House,
            };
            used += match s {
                Slot::ShopWithFlats => 3,
                Slot::Portiek => 8,
                Slot::BusinessUnits => 6,
                _ => 1,
            };
            slots.push(s);
        }
        let per_side = slots.len().div_ceil(2).max(1);
        let spacing_u = 0.86 / per_side as f64;
        let mut next_nr = [1u32, 2u32];
        for (i, slot) in slots.into_iter().enumerate() {
            let side = i % 2;
            let k = i / 2;
            let u = 0.07 + (k as f64 + 0.5) * spacing_u;
            let dv = if side == 0 { -0.035 } else { 0.035 };
            let base = cell_point(&self.layout.vertices, cell, u, v + dv);
            let across = cell_point(&self.layout.vertices, cell, u + spacing_u, v + dv);
            let width_m = ((across.x - base.x).hypot(across.y - base.y) * 0.85).clamp(4.0, 40.0);
            let depth_sign = if side == 0 { -1.0 } else { 1.0 };
            let bouwjaar = self.bouwjaar(land_use, era);
            match slot {
                Slot::House => {
                    let depth = 9.0;
                    let c = Coord {
                        x: base.x,
                        y: base.y + depth_sign * depth / 2.0,
                    };
                    let p = self.new_pand(buurt, rect(c, width_m.min(12.0), depth), bouwjaar);
                    let nr = next_nr[side];
                    next_nr[side] += 2;
                    let letter = if self.rng.gen_bool(0.03) {
                        Some('A')
                    } else {
                        None
                    };
                    let toev = if letter.is_none() && self.rng.gen_bool(0.01) {
                        Some("bis".to_string())
                    } else {
                        None
                    };
                    let (doel, opp) = match land_use {
                        LandUse::Sixties => ("woonfunctie", self.rng.gen_range(72..=115)),
                        LandUse::Rural | LandUse::Caravan => {
                            ("woonfunctie", self.rng.gen_range(120..=300))
                        }
                        LandUse::Village => ("woonfunctie", self.rng.gen_range(85..=180)),
                        LandUse::Centre => {
                            if self.rng.gen_bool(0.3) {
                                ("winkelfunctie,woonfunctie", self.rng.gen_range(90..=220))
                            } else {
                                ("woonfunctie", self.rng.gen_range(60..=150))
                            }
                        }
                        _ => {
                            if self.rng.gen_bool(0.02) {
                                ("kantoorfunctie", self.rng.gen_range(60..=300))
                            } else {
                                ("woonfunctie", self.rng.gen_range(95..=190))
                            }
                        }
                    };
                    self.add_address(
                        buurt,
                        street,
                        (nr, letter, toev),
                        ObjectKind::Verblijfsobject,
                        c,
                        Some(p),
                        doel,
                        Some(opp),
                        None,
                    );
                }
                Slot::ShopWithFlats => {
                    let depth = 14.0;
                    let c = Coord {
                        x: base.x,
                        y: base.y + depth_sign * depth / 2.0,
                    };
                    let p = self.new_pand(buurt, rect(c, width_m.min(14.0), depth), bouwjaar);
                    let nr = next_nr[side];
                    next_nr[side] += 2;
                    let horeca =
                        self.layout.buurten[buurt].naam == "Centrum" && self.rng.gen_bool(0.5);
                    let (doel, opp) = if horeca {
                        ("bijeenkomstfunctie", self.rng.gen_range(80..=300))
                    } else {
                        ("winkelfunctie", self.rng.gen_range(50..=250))
                    };
                    self.add_address(
                        buurt,
                        street,
                        (nr, None, None),
                        ObjectKind::Verblijfsobject,
                        c,
                        Some(p),
                        doel,
                        Some(opp),
                        None,
                    );
                    for (j, l) in ['A', 'B'].into_iter().enumerate() {
                        let at = Coord {
                            x: c.x + (j as f64 - 0.5) * 2.0,
                            y: c.y + 1.5,
                        };
                        let opp = self.rng.gen_range(40..=90);
                        self.add_address(
                            buurt,
                            street,
                            (nr, Some(l), None),
                            ObjectKind::Verblijfsobject,
                            at,
                            Some(p),
                            "woonfunctie",
                            Some(opp),
                            None,
                        );
                    }
                }
                Slot::Portiek => {
                    let depth = 11.0;
                    let c = Coord {
                        x: base.x,
                        y: base.y + depth_sign * depth / 2.0,
                    };
                    let p = self.new_pand(buurt, rect(c, width_m.min(24.0), depth), bouwjaar);
                    for j in 0..8 {
                        let nr = next_nr[side];
                        next_nr[side] += 2;
                        let at = Coord {
                            x: c.x + (f64::from(j % 4) - 1.5) * 3.0,
                            y: c.y + (f64::from(j / 4) - 0.5) * 3.0,
                        };
                        let opp = self.rng.gen_range(48..=68);
                        self.add_address(
                            buurt,
                            street,
                            (nr, None, None),
                            ObjectKind::Verblijfsobject,
                            at,
                            Some(p),
                            "woonfunctie",
                            Some(opp),
                            None,
                        );
                    }
                }
                Slot::Industry => {
                    let depth = 40.0;
                    let c = Coord {
                        x: base.x,
                        y: base.y + depth_sign * (depth / 2.0 + 4.0),
                    };
                    let p = self.new_pand(buurt, rect(c, width_m.min(40.0), depth), bouwjaar);
                    let nr = next_nr[side];
                    next_nr[side] += 2;
                    let r: f64 = self.rng.gen();
                    let doel = if r < 0.6 {
                        "industriefunctie"
                    } else if r < 0.85 {
                        "kantoorfunctie"
                    } else if r < 0.95 {
                        "industriefunctie,kantoorfunctie"
                    } else {
                        "winkelfunctie"
                    };
                    let opp = self.rng.gen_range(200..=3000);
                    self.add_address(
                        buurt,
                        street,
                        (nr, None, None),
                        ObjectKind::Verblijfsobject,
                        c,
                        Some(p),
                        doel,
                        Some(opp),
                        None,
                    );
                }
                Slot::BusinessUnits => {
                    let depth = 20.0;
                    let c = Coord {
                        x: base.x,
                        y: base.y + depth_sign * (depth / 2.0 + 4.0),
                    };
                    let p = self.new_pand(buurt, rect(c, width_m.min(40.0), depth), bouwjaar);
                    let nr = next_nr[side];
                    next_nr[side] += 2;
                    for (j, l) in ['A', 'B', 'C', 'D', 'E', 'F'].into_iter().enumerate() {
                        let at = Coord {
                            x: c.x + (j as f64 - 2.5) * 2.5,
                            y: c.y,
                        };
                        let opp = self.rng.gen_range(60..=200);
                        self.add_address(
                            buurt,
                            street,
                            (nr, Some(l), None),
                            ObjectKind::Verblijfsobject,
                            at,
                            Some(p),
                            "industriefunctie",
                            Some(opp),
                            None,
                        );
                    }
                }
            }
        }
    }
}

/// Number of units of the high-rise towers: `(count, units per tower)`.
pub fn tower_plan(target_addresses: usize) -> (usize, u32) {
    if target_addresses >= 10_000 {
        (4, 140)
    } else {
        (2, 110)
    }
}

/// Mesh cell of the towers (south-west cell of "De Torenflats").
pub const TOWER_CELL: (u32, u32) = (8, 10);
/// Mesh cell with the lake's houseboats (east edge of "De Plas").
const HOUSEBOAT_CELLS: [(u32, u32); 2] = [(1, 1), (1, 2)];
/// Mesh cell of the caravan site.
const CARAVAN_CELL: (u32, u32) = (1, 4);

/// Generates the BAG for the layout with about `target_addresses` addresses.
pub fn generate(
    layout: &Layout,
    target_addresses: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Bag, DemoError> {
    let (n_towers, tower_units) = tower_plan(target_addresses);
    let n_caravans: u32 = if target_addresses >= 10_000 { 30 } else { 12 };
    let n_boats: u32 = 14;
    let fixed = n_towers * tower_units as usize + (n_caravans + n_boats + 1) as usize;
    let regular = target_addresses
        .saturating_sub(fixed)
        .max(layout.buurten.len());
    // Cells with weights.
    let mut cells: Vec<(usize, (u32, u32), f64)> = Vec::new();
    for (bi, b) in layout.buurten.iter().enumerate() {
        for &cell in &b.cells {
            let mut w = cell_weight(b.land_use);
            if b.land_use == LandUse::Flats && cell == TOWER_CELL {
                w *= 0.4;
            }
            cells.push((bi, cell, w));
        }
    }
    let total_w: f64 = cells.iter().map(|c| c.2).sum();
    let mut b = Builder {
        layout,
        rng,
        bag: Bag::default(),
        ids: Ids {
            seq: BTreeMap::new(),
        },
        pcs: PostcodeBook {
            pc4_of_wijk: BTreeMap::new(),
            next_pc4: BTreeMap::new(),
            letters: BTreeMap::new(),
            by_key: BTreeMap::new(),
        },
        names_used: vec![BTreeSet::new(); layout.woonplaatsen.len()],
        theme_pos: BTreeMap::new(),
    };
    let eras = [(1920, 1940), (1976, 1990), (1991, 2005), (2006, 2020)];
    let mut buurt_era: BTreeMap<usize, (i32, i32)> = BTreeMap::new();
    for (bi, cell, w) in cells {
        let bd = &layout.buurten[bi];
        let era = *buurt_era
            .entry(bi)
            .or_insert_with(|| *eras.choose(b.rng).unwrap_or(&(1976, 1990)));
        let first_cell = bd.cells.first() == Some(&cell);
        let specials: Vec<&str> = if first_cell {
            special_streets(&bd.naam).to_vec()
        } else {
            Vec::new()
        };
        match bd.land_use {
            LandUse::Water => {
                if HOUSEBOAT_CELLS.contains(&cell) {
                    let street = if cell == HOUSEBOAT_CELLS[0] {
                        b.new_street(bi, Some("Plasdijk"))
                    } else {
                        b.bag
                            .streets
                            .iter()
                            .position(|s| s.name == "Plasdijk")
                            .unwrap_or(0)
                    };
                    let start = if cell == HOUSEBOAT_CELLS[0] {
                        1
                    } else {
                        n_boats / 2 + 1
                    };
                    for k in 0..n_boats / 2 {
                        let v = 0.1 + (f64::from(k) + 0.5) * 0.8 / f64::from(n_boats / 2);
                        let c = cell_point(&layout.vertices, cell, 0.9, v);
                        let poly = rect(c, 6.0, 18.0);
                        let nr = start + k;
                        let letter = if nr % 5 == 0 { Some('A') } else { None };
                        b.add_address(
                            bi,
                            street,
                            (nr, letter, None),
                            ObjectKind::Ligplaats,
                            c,
                            None,
                            "",
                            None,
                            Some(poly),
                        );
                    }
                }
                continue;
            }
            LandUse::Park => {
                let street = b.new_street(bi, Some("Sportlaan"));
                let c = cell_point(&layout.vertices, cell, 0.5, 0.5);
                let p = b.new_pand(bi, rect(c, 30.0, 20.0), 1978);
                b.add_address(
                    bi,
                    street,
                    (1, None, None),
                    ObjectKind::Verblijfsobject,
                    c,
                    Some(p),
                    "sportfunctie",
                    Some(420),
                    None,
                );
                continue;
            }
            _ => {}
        }
        if bd.land_use == LandUse::Caravan && cell == CARAVAN_CELL {
            let street = b.new_street(bi, Some("Wielewaalpad"));
            for k in 0..n_caravans {
                let (i, j) = (k % 6, k / 6);
                let c = cell_point(
                    &layout.vertices,
                    cell,
                    0.3 + f64::from(i) * 0.07,
                    0.3 + f64::from(j) * 0.07,
                );
                b.add_address(
                    bi,
                    street,
                    (k + 1, None, None),
                    ObjectKind::Standplaats,
                    c,
                    None,
                    "",
                    None,
                    Some(rect(c, 12.0, 8.0)),
                );
            }
            continue;
        }
        if bd.land_use == LandUse::Flats && cell == TOWER_CELL {
            let street = b.new_street(bi, Some("Burgemeester van Veenlaan"));
            let spots = [(0.25, 0.75), (0.5, 0.75), (0.75, 0.75), (0.5, 0.45)];
            for (t, (u, v)) in spots.iter().take(n_towers).enumerate() {
                let c = round_cm(cell_point(&layout.vertices, cell, *u, *v));
                let p = b.new_pand(bi, rect(c, 30.0, 30.0), 1968 + t as i32);
                for k in 0..tower_units {
                    let at = Coord {
                        x: c.x + f64::from(k % 10) * 2.5 - 11.25,
                        y: c.y + f64::from((k / 10) % 10) * 2.5 - 11.25,
                    };
                    let opp = b.rng.gen_range(45..=75);
                    let nr = if t % 2 == 0 {
                        // One huisnummer with toevoegingen 1..N.
                        (100 * (t as u32 + 1), None, Some((k + 1).to_string()))
                    } else {
                        // Many numbers in one pand.
                        (100 * (t as u32 + 1) + 2 * k + 1, None, None)
                    };
                    b.add_address(
                        bi,
                        street,
                        nr,
                        ObjectKind::Verblijfsobject,
                        at,
                        Some(p),
                        "woonfunctie",
                        Some(opp),
                        None,
                    );
                }
            }
            // The rest of the tower cell: one ordinary street further south.
            let n = (regular as f64 * w / total_w).round() as usize;
            b.street_in_cell(bi, cell, 0.15, n, Some("Prinses Christinalaan"), era);
            continue;
        }
        let mut n = (regular as f64 * w / total_w).round() as usize;
        if matches!(
            bd.land_use,
            LandUse::Rural | LandUse::Caravan | LandUse::Industrial
        ) {
            n = n.max(2);
        }
        let k = n.div_ceil(110).clamp(1, 6).max(specials.len());
        for s in 0..k {
            let v = (s as f64 + 0.5) / k as f64;
            let share = n / k + usize::from(s < n % k);
            let name = specials.get(s).copied();
            b.street_in_cell(
                bi,
                cell,
                v,
                share.max(usize::from(name.is_some())),
                name,
                era,
            );
        }
    }
    Ok(b.bag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nen_short_forms() {
        // The example of data-formats.md.
        assert_eq!(nen_short_form("Burgemeester van Veenlaan"), "Burg v Veenln");
        // Names that fit in 24 characters stay as they are.
        assert_eq!(nen_short_form("Kerkstraat"), "Kerkstraat");
        assert_eq!(abbreviate("Kerkstraat"), "Kerkstr");
        assert_eq!(
            abbreviate("Dokter Ariëns van der Hoevenstraat"),
            "Dr Ariëns vd Hoevenstr"
        );
        assert_eq!(abbreviate("Koningin Julianaplein"), "Kon Julianapln");
        // Cut at 24 characters when abbreviating is not enough.
        let long = "Burgemeester Mr Dr Hendrik Jan van der Heijden van Oosterhoutsingel";
        assert_eq!(nen_short_form(long).chars().count(), 24);
    }

    #[test]
    fn number_text_is_written_nummer_letter_dash_toevoeging() {
        let a = Address {
            id: String::new(),
            nummeraanduiding_id: String::new(),
            kind: ObjectKind::Verblijfsobject,
            street: 0,
            huisnummer: 12,
            huisletter: Some('A'),
            toevoeging: Some("3".into()),
            postcode: "7461AB".into(),
            x_m: 0.0,
            y_m: 0.0,
            buurt: 0,
            pand: None,
            gebruiksdoel: "woonfunctie".into(),
            oppervlakte_m2: Some(80),
            polygon: None,
        };
        assert_eq!(a.number_text(), "12A-3");
    }
}
