//! The demo geography: a jittered quad mesh of 500 m cells, grouped into buurten, wijken, gemeenten
//! and woonplaatsen.
//!
//! Every area is a set of mesh cells. Because all areas are built from the same shared, jittered
//! vertices, buurten tile their wijk and gemeente exactly (no gaps, no overlaps, up to floating
//! point) and every polygon is valid as long as no set touches itself in a single vertex ("pinch"),
//! which [`trace_rings`] rejects. Outer rings are counter-clockwise, holes clockwise.

use super::DemoError;
use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Mesh cell size in metres (before jitter).
pub const CELL_M: f64 = 500.0;
/// RD New x of the mesh origin (south-west corner), metres.
pub const ORIGIN_X_M: f64 = 230_000.0;
/// RD New y of the mesh origin (south-west corner), metres.
pub const ORIGIN_Y_M: f64 = 470_000.0;
/// Number of mesh columns (west to east).
pub const NCOLS: u32 = 22;
/// Number of mesh rows (south to north).
pub const NROWS: u32 = 16;
/// Largest vertex displacement (each axis), metres.
const JITTER_M: f64 = 90.0;

/// Land use of a buurt: decides how many and which addresses it gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LandUse {
    /// Old town centre: shops with flats above (huisletters), nightlife.
    Centre,
    /// Ordinary residential area (mixed building years).
    Residential,
    /// Terraced houses built 1960-1975 (the cannabis risk class).
    Sixties,
    /// High-rise flats (towers with 100+ units) and portiekflats.
    Flats,
    /// Industrial estate: large units, business units with huisletters.
    Industrial,
    /// Village core with old houses.
    Village,
    /// Farmland with scattered farms.
    Rural,
    /// Lake: houseboats (ligplaatsen) only.
    Water,
    /// Sports park: a clubhouse only.
    Park,
    /// Countryside with a caravan site (standplaatsen).
    Caravan,
}

/// One buurt of the mesh.
#[derive(Clone, Debug)]
pub struct BuurtDef {
    /// CBS code, e.g. `BU1999AE01`.
    pub code: String,
    /// Dutch name.
    pub naam: String,
    /// Index into [`Layout::wijken`].
    pub wijk: usize,
    /// Land use.
    pub land_use: LandUse,
    /// Index into [`Layout::woonplaatsen`].
    pub woonplaats: usize,
    /// Mesh cells (column, row).
    pub cells: Vec<(u32, u32)>,
    /// Boundary in RD metres.
    pub geometry: MultiPolygon<f64>,
}

/// One wijk.
#[derive(Clone, Debug)]
pub struct WijkDef {
    /// CBS code, e.g. `WK1999AE`.
    pub code: String,
    /// Dutch name.
    pub naam: String,
    /// Index into [`Layout::gemeenten`].
    pub gemeente: usize,
    /// Street name theme (index into the theme table of the address generator).
    pub theme: usize,
    /// Boundary in RD metres.
    pub geometry: MultiPolygon<f64>,
}

/// One gemeente.
#[derive(Clone, Debug)]
pub struct GemeenteDef {
    /// CBS code, e.g. `GM1999`.
    pub code: String,
    /// Name.
    pub naam: String,
    /// Boundary in RD metres.
    pub geometry: MultiPolygon<f64>,
}

/// One BAG woonplaats.
#[derive(Clone, Debug)]
pub struct WoonplaatsDef {
    /// 4-digit woonplaatscode (as in the BAG).
    pub identificatie: String,
    /// Name.
    pub naam: String,
    /// Index into [`Layout::gemeenten`].
    pub gemeente: usize,
    /// First postcode digits (PC4) handed out in this woonplaats.
    pub pc4_base: u32,
    /// Boundary in RD metres.
    pub geometry: MultiPolygon<f64>,
}

/// The whole geography.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Jittered mesh vertices, index `row * (NCOLS + 1) + col`, RD metres.
    pub vertices: Vec<Coord<f64>>,
    /// Gemeenten (0 = Demostad GM1999, 1 = Buurdorp GM1998).
    pub gemeenten: Vec<GemeenteDef>,
    /// Wijken.
    pub wijken: Vec<WijkDef>,
    /// Buurten.
    pub buurten: Vec<BuurtDef>,
    /// Woonplaatsen (0 = Demostad, 1 = Oudedorp, 2 = Buurdorp).
    pub woonplaatsen: Vec<WoonplaatsDef>,
}

/// How a wijk is cut into buurten.
enum Split {
    /// Regular blocks of `w` x `h` cells, row-major from the south-west.
    Blocks(u32, u32),
    /// Explicit cell lists.
    Custom(Vec<Vec<(u32, u32)>>),
}

struct WijkSpec {
    suffix: &'static str,
    naam: &'static str,
    gemeente: usize,
    woonplaats: usize,
    rect: (u32, u32, u32, u32),
    split: Split,
    buurten: &'static [(&'static str, LandUse)],
    theme: usize,
}

fn rect_cells(c0: u32, r0: u32, c1: u32, r1: u32) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for r in r0..r1 {
        for c in c0..c1 {
            v.push((c, r));
        }
    }
    v
}

fn wijk_specs() -> Vec<WijkSpec> {
    use LandUse::*;
    // Zuidwest (c0-6, r0-6): lake, an estate with an enclave (sports park), countryside.
    let mut ring = rect_cells(3, 3, 6, 6);
    ring.retain(|&c| c != (4, 4));
    let mut zuid = rect_cells(0, 0, 6, 1);
    zuid.extend(rect_cells(2, 1, 6, 3));
    let zuidwest = Split::Custom(vec![
        zuid,
        rect_cells(0, 1, 2, 3),
        rect_cells(0, 3, 3, 6),
        ring,
        vec![(4, 4)],
    ]);
    vec![
        WijkSpec {
            suffix: "00",
            naam: "Centrum",
            gemeente: 0,
            woonplaats: 0,
            rect: (6, 6, 10, 10),
            split: Split::Blocks(2, 1),
            buurten: &[
                ("Stationskwartier", Centre),
                ("Spoorzone", Residential),
                ("Marktkwartier", Centre),
                ("Havenkwartier", Centre),
                ("Centrum", Centre),
                ("Kerkbuurt", Centre),
                ("Singelkwartier", Centre),
                ("Vestingkwartier", Residential),
            ],
            theme: 0,
        },
        WijkSpec {
            suffix: "01",
            naam: "Zuid",
            gemeente: 0,
            woonplaats: 0,
            rect: (6, 0, 10, 6),
            split: Split::Blocks(2, 2),
            buurten: &[
                ("Zuiderpark", Residential),
                ("Molenwijk", Sixties),
                ("Rivierenbuurt", Residential),
                ("Componistenbuurt", Residential),
                ("De Weide", Residential),
                ("Boomgaard", Residential),
            ],
            theme: 1,
        },
        WijkSpec {
            suffix: "02",
            naam: "Weide",
            gemeente: 0,
            woonplaats: 0,
            rect: (0, 6, 6, 9),
            split: Split::Blocks(2, 3),
            buurten: &[
                ("Hoge Weide", Sixties),
                ("Lage Weide", Sixties),
                ("De Kampen", Sixties),
            ],
            theme: 2,
        },
        WijkSpec {
            suffix: "03",
            naam: "Tuindorp",
            gemeente: 0,
            woonplaats: 0,
            rect: (0, 9, 6, 12),
            split: Split::Blocks(2, 3),
            buurten: &[
                ("Rozenhof", Residential),
                ("Tuindorp", Residential),
                ("Julianapark", Residential),
            ],
            theme: 3,
        },
        WijkSpec {
            suffix: "04",
            naam: "Noordwest",
            gemeente: 0,
            woonplaats: 0,
            rect: (0, 12, 6, 16),
            split: Split::Blocks(2, 2),
            buurten: &[
                ("De Horst", Residential),
                ("Heideveld", Residential),
                ("Veldzicht", Residential),
                ("Zonnehoek", Residential),
                ("Buitenzorg", Residential),
                ("Het Broek", Rural),
            ],
            theme: 4,
        },
        WijkSpec {
            suffix: "05",
            naam: "Oudedorp",
            gemeente: 0,
            woonplaats: 1,
            rect: (10, 12, 16, 16),
            split: Split::Blocks(2, 2),
            buurten: &[
                ("Oudedorp-Kern", Village),
                ("Oudedorp-Oost", Residential),
                ("De Esch", Rural),
                ("Oudedorp-Noord", Rural),
                ("De Kamp", Rural),
                ("Buitengebied Oudedorp", Rural),
            ],
            theme: 5,
        },
        WijkSpec {
            suffix: "06",
            naam: "Oost",
            gemeente: 0,
            woonplaats: 0,
            rect: (10, 6, 16, 12),
            split: Split::Blocks(3, 2),
            buurten: &[
                ("Oosterpoort", Residential),
                ("Rijnlaan", Residential),
                ("De Bongerd", Residential),
                ("Parkwijk", Residential),
                ("Oosterhout", Residential),
                ("Kastanjehof", Residential),
            ],
            theme: 6,
        },
        WijkSpec {
            suffix: "07",
            naam: "Buitengebied Zuidwest",
            gemeente: 0,
            woonplaats: 0,
            rect: (0, 0, 6, 6),
            split: zuidwest,
            buurten: &[
                ("Buitengebied Zuid", Rural),
                ("De Plas", Water),
                ("Buitengebied West", Caravan),
                ("Landgoed Hooge Hof", Rural),
                ("Sportpark De Enk", Park),
            ],
            theme: 5,
        },
        WijkSpec {
            suffix: "08",
            naam: "De Vaart",
            gemeente: 0,
            woonplaats: 0,
            rect: (10, 0, 16, 6),
            split: Split::Blocks(2, 2),
            buurten: &[
                ("Industrieterrein De Vaart", Industrial),
                ("Bedrijventerrein Kanaalzone", Industrial),
                ("De Vaart-Oost", Industrial),
                ("Havenpark", Industrial),
                ("Logistiek Park Zuid", Industrial),
                ("Kanaaldijk", Industrial),
                ("Werkhoven", Residential),
                ("Energieweg", Industrial),
                ("Vaartsche Weg", Residential),
            ],
            theme: 7,
        },
        WijkSpec {
            suffix: "AE",
            naam: "Noord",
            gemeente: 0,
            woonplaats: 0,
            rect: (6, 10, 10, 16),
            split: Split::Blocks(2, 2),
            buurten: &[
                ("Noorderkwartier", Residential),
                ("De Torenflats", Flats),
                ("Bloemenbuurt", Residential),
                ("Vogelbuurt", Residential),
                ("Schildersbuurt", Residential),
                ("Noorderhout", Residential),
            ],
            theme: 8,
        },
        WijkSpec {
            suffix: "00",
            naam: "Buurdorp",
            gemeente: 1,
            woonplaats: 2,
            rect: (16, 4, 22, 12),
            split: Split::Blocks(3, 4),
            buurten: &[
                ("Buurdorp-Centrum", Village),
                ("De Grens", Rural),
                ("Buurdorp-Noord", Rural),
                ("Buitengebied Buurdorp", Rural),
            ],
            theme: 9,
        },
    ]
}

fn vertex_index(col: u32, row: u32) -> usize {
    (row * (NCOLS + 1) + col) as usize
}

/// World coordinate of a mesh vertex.
pub fn vertex(layout_vertices: &[Coord<f64>], col: u32, row: u32) -> Coord<f64> {
    layout_vertices[vertex_index(col, row)]
}

/// Point inside cell `(col, row)` at local parameters `u, v` in `[0, 1]` (bilinear in the quad).
pub fn cell_point(vertices: &[Coord<f64>], cell: (u32, u32), u: f64, v: f64) -> Coord<f64> {
    let (c, r) = cell;
    let p00 = vertex(vertices, c, r);
    let p10 = vertex(vertices, c + 1, r);
    let p11 = vertex(vertices, c + 1, r + 1);
    let p01 = vertex(vertices, c, r + 1);
    let x = (1.0 - u) * (1.0 - v) * p00.x
        + u * (1.0 - v) * p10.x
        + u * v * p11.x
        + (1.0 - u) * v * p01.x;
    let y = (1.0 - u) * (1.0 - v) * p00.y
        + u * (1.0 - v) * p10.y
        + u * v * p11.y
        + (1.0 - u) * v * p01.y;
    Coord { x, y }
}

/// Boundary rings of a set of cells in vertex-index space: each ring a closed list of (col, row).
///
/// Errors when the set pinches (a vertex with two outgoing boundary edges): such a set would give an
/// invalid polygon.
pub fn trace_rings(cells: &[(u32, u32)]) -> Result<Vec<Vec<(u32, u32)>>, DemoError> {
    let set: std::collections::BTreeSet<(u32, u32)> = cells.iter().copied().collect();
    let mut next: BTreeMap<(u32, u32), (u32, u32)> = BTreeMap::new();
    for &(c, r) in &set {
        let corners = [(c, r), (c + 1, r), (c + 1, r + 1), (c, r + 1)];
        for k in 0..4 {
            let a = corners[k];
            let b = corners[(k + 1) % 4];
            // The edge is interior when the neighbour across it belongs to the set.
            let neighbour = match k {
                0 => r.checked_sub(1).map(|rr| (c, rr)),
                1 => Some((c + 1, r)),
                2 => Some((c, r + 1)),
                _ => c.checked_sub(1).map(|cc| (cc, r)),
            };
            if neighbour.is_some_and(|n| set.contains(&n)) {
                continue;
            }
            if next.insert(a, b).is_some() {
                return Err(DemoError::Layout(format!(
                    "cell set pinches at vertex {a:?}"
                )));
            }
        }
    }
    let mut rings = Vec::new();
    while let Some((&start, _)) = next.iter().next() {
        let mut ring = vec![start];
        let mut cur = start;
        loop {
            let nxt = next
                .remove(&cur)
                .ok_or_else(|| DemoError::Layout(format!("open boundary at {cur:?}")))?;
            if nxt == start {
                break;
            }
            ring.push(nxt);
            cur = nxt;
        }
        ring.push(start);
        rings.push(ring);
    }
    Ok(rings)
}

fn signed_area_idx(ring: &[(u32, u32)]) -> f64 {
    ring.windows(2)
        .map(|w| f64::from(w[0].0) * f64::from(w[1].1) - f64::from(w[1].0) * f64::from(w[0].1))
        .sum::<f64>()
        / 2.0
}

/// An outer ring in index space, the same in RD metres, and its holes in RD metres.
type OuterWithHoles = (Polygon<f64>, Polygon<f64>, Vec<LineString<f64>>);

/// The (multi)polygon of a set of cells in RD metres: outer rings CCW, holes CW.
pub fn cells_polygon(
    vertices: &[Coord<f64>],
    cells: &[(u32, u32)],
) -> Result<MultiPolygon<f64>, DemoError> {
    let rings = trace_rings(cells)?;
    let to_ls = |ring: &[(u32, u32)]| -> LineString<f64> {
        LineString::new(ring.iter().map(|&(c, r)| vertex(vertices, c, r)).collect())
    };
    let idx_ls = |ring: &[(u32, u32)]| -> LineString<f64> {
        LineString::new(
            ring.iter()
                .map(|&(c, r)| Coord {
                    x: f64::from(c),
                    y: f64::from(r),
                })
                .collect(),
        )
    };
    let (outers, holes): (Vec<_>, Vec<_>) =
        rings.into_iter().partition(|r| signed_area_idx(r) > 0.0);
    let mut polys: Vec<OuterWithHoles> = outers
        .iter()
        .map(|o| {
            (
                Polygon::new(idx_ls(o), vec![]),
                Polygon::new(to_ls(o), vec![]),
                Vec::new(),
            )
        })
        .collect();
    for h in holes {
        // The midpoint of the hole's first edge lies strictly inside its owner's outer ring.
        let mid = Coord {
            x: (f64::from(h[0].0) + f64::from(h[1].0)) / 2.0,
            y: (f64::from(h[0].1) + f64::from(h[1].1)) / 2.0,
        };
        let owner = polys
            .iter()
            .position(|(idx_poly, _, _)| idx_poly.contains(&Point::from(mid)) || polys.len() == 1)
            .ok_or_else(|| DemoError::Layout("hole without an outer ring".into()))?;
        polys[owner].2.push(to_ls(&h));
    }
    Ok(MultiPolygon::new(
        polys
            .into_iter()
            .map(|(_, p, holes)| {
                let (ext, _) = p.into_inner();
                Polygon::new(ext, holes)
            })
            .collect(),
    ))
}

impl Layout {
    /// Builds the geography with seeded vertex jitter.
    pub fn build(rng: &mut ChaCha8Rng) -> Result<Layout, DemoError> {
        let specs = wijk_specs();
        // Which cells are used, to jitter only vertices surrounded by used cells.
        let mut used = std::collections::BTreeSet::new();
        for s in &specs {
            let (c0, r0, c1, r1) = s.rect;
            for cell in rect_cells(c0, r0, c1, r1) {
                used.insert(cell);
            }
        }
        let mut vertices = Vec::with_capacity(((NCOLS + 1) * (NROWS + 1)) as usize);
        for row in 0..=NROWS {
            for col in 0..=NCOLS {
                let mut x = ORIGIN_X_M + f64::from(col) * CELL_M;
                let mut y = ORIGIN_Y_M + f64::from(row) * CELL_M;
                let (jx, jy): (f64, f64) = (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
                let interior = col > 0
                    && row > 0
                    && [
                        (col - 1, row - 1),
                        (col, row - 1),
                        (col - 1, row),
                        (col, row),
                    ]
                    .iter()
                    .all(|c| used.contains(c));
                if interior {
                    // Round to centimetres so written coordinates are short and exact.
                    x = ((x + jx * JITTER_M) * 100.0).round() / 100.0;
                    y = ((y + jy * JITTER_M) * 100.0).round() / 100.0;
                }
                vertices.push(Coord { x, y });
            }
        }
        let gm = [("GM1999", "Demostad"), ("GM1998", "Buurdorp")];
        let wp = [
            ("9901", "Demostad", 0usize, 7461u32),
            ("9902", "Oudedorp", 0, 7478),
            ("9903", "Buurdorp", 1, 7481),
        ];
        let mut wijken = Vec::new();
        let mut buurten = Vec::new();
        let mut gm_cells: Vec<Vec<(u32, u32)>> = vec![Vec::new(); gm.len()];
        let mut wp_cells: Vec<Vec<(u32, u32)>> = vec![Vec::new(); wp.len()];
        for s in specs {
            let gm_digits = &gm[s.gemeente].0[2..];
            let (c0, r0, c1, r1) = s.rect;
            let wcells = rect_cells(c0, r0, c1, r1);
            gm_cells[s.gemeente].extend(wcells.iter().copied());
            wp_cells[s.woonplaats].extend(wcells.iter().copied());
            let groups = match s.split {
                Split::Custom(g) => g,
                Split::Blocks(bw, bh) => {
                    let mut g = Vec::new();
                    let mut r = r0;
                    while r < r1 {
                        let mut c = c0;
                        while c < c1 {
                            g.push(rect_cells(c, r, (c + bw).min(c1), (r + bh).min(r1)));
                            c += bw;
                        }
                        r += bh;
                    }
                    g
                }
            };
            if groups.len() != s.buurten.len() {
                return Err(DemoError::Layout(format!(
                    "wijk {} has {} cell groups but {} buurt names",
                    s.naam,
                    groups.len(),
                    s.buurten.len()
                )));
            }
            let wijk_idx = wijken.len();
            wijken.push(WijkDef {
                code: format!("WK{gm_digits}{}", s.suffix),
                naam: s.naam.to_string(),
                gemeente: s.gemeente,
                theme: s.theme,
                geometry: cells_polygon(&vertices, &wcells)?,
            });
            for (i, (cells, (naam, land_use))) in
                groups.into_iter().zip(s.buurten.iter()).enumerate()
            {
                buurten.push(BuurtDef {
                    code: format!("BU{gm_digits}{}{i:02}", s.suffix),
                    naam: (*naam).to_string(),
                    wijk: wijk_idx,
                    land_use: *land_use,
                    woonplaats: s.woonplaats,
                    geometry: cells_polygon(&vertices, &cells)?,
                    cells,
                });
            }
        }
        let gemeenten = gm
            .iter()
            .zip(&gm_cells)
            .map(|((code, naam), cells)| {
                Ok(GemeenteDef {
                    code: (*code).to_string(),
                    naam: (*naam).to_string(),
                    geometry: cells_polygon(&vertices, cells)?,
                })
            })
            .collect::<Result<Vec<_>, DemoError>>()?;
        let woonplaatsen = wp
            .iter()
            .zip(&wp_cells)
            .map(|((id, naam, gemeente, pc4), cells)| {
                Ok(WoonplaatsDef {
                    identificatie: (*id).to_string(),
                    naam: (*naam).to_string(),
                    gemeente: *gemeente,
                    pc4_base: *pc4,
                    geometry: cells_polygon(&vertices, cells)?,
                })
            })
            .collect::<Result<Vec<_>, DemoError>>()?;
        Ok(Layout {
            vertices,
            gemeenten,
            wijken,
            buurten,
            woonplaatsen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use rand::SeedableRng;

    #[test]
    fn rings_of_a_block_with_a_hole() {
        let mut cells = rect_cells(0, 0, 3, 3);
        cells.retain(|&c| c != (1, 1));
        let rings = trace_rings(&cells).unwrap();
        assert_eq!(rings.len(), 2);
        let mut areas: Vec<f64> = rings.iter().map(|r| signed_area_idx(r)).collect();
        areas.sort_by(f64::total_cmp);
        // Closed form: outer 3 x 3 counter-clockwise, hole 1 x 1 clockwise.
        assert_eq!(areas, vec![-1.0, 9.0]);
    }

    #[test]
    fn pinched_cell_sets_are_rejected() {
        // Two cells touching in one vertex only.
        assert!(matches!(
            trace_rings(&[(0, 0), (1, 1)]),
            Err(DemoError::Layout(_))
        ));
    }

    #[test]
    fn unjittered_polygon_areas_are_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let layout = Layout::build(&mut rng).unwrap();
        // Only vertices surrounded by used cells move, so the outer boundary of the two
        // gemeenten is unjittered: together exactly 8 x 8 km + 3 x 4 km.
        let total: f64 = layout
            .gemeenten
            .iter()
            .map(|g| g.geometry.unsigned_area())
            .sum();
        assert!((total - 76.0e6).abs() < 1e-3, "{total}");
        let hole = layout
            .buurten
            .iter()
            .filter(|b| b.geometry.0.iter().any(|p| !p.interiors().is_empty()))
            .count();
        assert_eq!(hole, 1, "exactly one buurt with an enclave");
        assert_eq!(
            layout
                .buurten
                .iter()
                .filter(|b| b.land_use == LandUse::Water)
                .count(),
            1
        );
    }
}
