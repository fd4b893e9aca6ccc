//! The printable Dutch patrol page (`/api/patrol?format=html`): a map of the ranked cells (an inline SVG in RD
//! metres, north up: the outlines of the buurten around them, each cell a square numbered by its rank, a scale
//! bar) and the list, one table row per ranked cell with the expected number per occurrence of the block and an
//! empty "Bezocht" column to tick off on paper. The rows carry the texts as the caller may see them (withheld
//! counts already replaced by their labels, a missing street by the reason); this module only lays them out.
//!
//! ```
//! use brandpunt::render::patrol::{patrol_html, PatrolPage, PatrolRow};
//!
//! let rows = [PatrolRow {
//!     rank: 1,
//!     cell: "E1200N4870".into(),
//!     centre_lon_lat: [4.9, 52.37],
//!     street: "Dorpsstraat".into(),
//!     score: "3,5".into(),
//!     per_week: "0,29".into(),
//!     count: "4".into(),
//!     square_rd: [120_000.0, 487_000.0, 120_100.0, 487_100.0],
//! }];
//! let page = PatrolPage {
//!     tenant_name: "Demostad",
//!     block_label: "vrijdag 20:00 - zaterdag 02:00",
//!     hours: 6.0,
//!     cell_m: 100,
//!     filter: "alle incidenten",
//!     used: 12,
//!     total_score: 7.25,
//!     period: "1 januari 2024 t/m 31 maart 2024",
//!     occurrences: 12,
//!     per_week_rule: "score gedeeld door 12",
//!     outlines_rd: &[vec![(119_900.0, 486_900.0), (120_300.0, 486_900.0), (120_300.0, 487_300.0), (119_900.0, 486_900.0)]],
//!     rows: &rows,
//! };
//! let html = patrol_html(&page);
//! assert!(html.contains("<td>Dorpsstraat</td>"));
//! assert!(html.contains("<svg"));
//! assert!(html.contains("52.37000, 4.90000"));
//! assert!(html.contains("(6 uur)"));
//! ```

use super::html::{escape, fmt_nl};

/// One ranked cell as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct PatrolRow {
    pub rank: usize,
    /// Cell label (CBS code or cell name).
    pub cell: String,
    /// Cell centre, WGS84 `[lon, lat]`.
    pub centre_lon_lat: [f64; 2],
    /// Street, or the reason there is none.
    pub street: String,
    /// Score over the whole period as shown (decimal comma, or a withheld label).
    pub score: String,
    /// Expected number per occurrence of the block as shown (or a withheld label, or `-`).
    pub per_week: String,
    /// Count as shown (or a withheld label).
    pub count: String,
    /// The cell in RD metres: `[minx, miny, maxx, maxy]`.
    pub square_rd: [f64; 4],
}

/// Everything the page shows.
#[derive(Clone, Debug)]
pub struct PatrolPage<'a> {
    pub tenant_name: &'a str,
    /// The block, e.g. `vrijdag 20:00 - zaterdag 02:00`.
    pub block_label: &'a str,
    /// Length of the block in hours.
    pub hours: f64,
    pub cell_m: u32,
    /// The filter line ([`super::html::filter_description`]).
    pub filter: &'a str,
    /// Incidents used.
    pub used: u64,
    pub total_score: f64,
    /// The period the scores are counted over, e.g. `1 januari 2024 t/m 31 maart 2024`.
    pub period: &'a str,
    /// How often the block starts in the period.
    pub occurrences: u64,
    /// The rule of the expected number per occurrence.
    pub per_week_rule: &'a str,
    /// Outlines (RD rings) drawn under the cells for orientation, e.g. the buurten around them.
    pub outlines_rd: &'a [Vec<(f64, f64)>],
    pub rows: &'a [PatrolRow],
}

/// Width of the map in SVG units (pixels on screen).
const MAP_W: f64 = 640.0;

/// The map and beside it the streets by rank; empty without rows.
fn map_block(page: &PatrolPage<'_>) -> String {
    if page.rows.is_empty() {
        return String::new();
    }
    let legend: String = page
        .rows
        .iter()
        .map(|r| format!("<li value=\"{}\">{}</li>", r.rank, escape(&r.street)))
        .collect();
    format!(
        "<div class=\"mapwrap\">{}<ol class=\"map-legend\">{legend}</ol></div>\n",
        map_svg(page)
    )
}

/// The map of the cells (see the module docs); empty without rows.
fn map_svg(page: &PatrolPage<'_>) -> String {
    if page.rows.is_empty() {
        return String::new();
    }
    let (mut minx, mut miny, mut maxx, mut maxy) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for r in page.rows {
        minx = minx.min(r.square_rd[0]);
        miny = miny.min(r.square_rd[1]);
        maxx = maxx.max(r.square_rd[2]);
        maxy = maxy.max(r.square_rd[3]);
    }
    // A margin of a fifth of the extent (at least 2 cells) around the cells.
    let cell = page.rows[0].square_rd[2] - page.rows[0].square_rd[0];
    let margin = ((maxx - minx).max(maxy - miny) * 0.2).max(2.0 * cell);
    let (minx, miny, maxx, maxy) = (minx - margin, miny - margin, maxx + margin, maxy + margin);
    let scale = MAP_W / (maxx - minx);
    let h = (maxy - miny) * scale;
    let px = |x: f64| (x - minx) * scale;
    let py = |y: f64| (maxy - y) * scale;
    let mut svg = format!(
        "<svg id=\"patrol-map\" viewBox=\"0 0 {MAP_W:.0} {h:.0}\" width=\"{MAP_W:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"Kaart van de surveillancecellen\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\" stroke=\"#999\"/>\n"
    );
    for ring in page.outlines_rd {
        let inside = ring
            .iter()
            .any(|&(x, y)| x >= minx && x <= maxx && y >= miny && y <= maxy);
        if !inside || ring.len() < 3 {
            continue;
        }
        let pts: Vec<String> = ring
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        svg.push_str(&format!(
            "<polygon class=\"outline\" points=\"{}\" fill=\"none\" stroke=\"#aaa\" stroke-width=\"1\"/>\n",
            pts.join(" ")
        ));
    }
    for r in page.rows {
        let [x0, y0, x1, y1] = r.square_rd;
        let (w, hh) = ((x1 - x0) * scale, (y1 - y0) * scale);
        svg.push_str(&format!(
            "<g class=\"cell\" data-rank=\"{rank}\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d2552b\" fill-opacity=\"0.35\" stroke=\"#b3261e\" stroke-width=\"1.5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-size=\"{fs:.0}\" font-weight=\"700\">{rank}</text></g>\n",
            px(x0),
            py(y1),
            w,
            hh,
            px((x0 + x1) / 2.0),
            py((y0 + y1) / 2.0),
            rank = r.rank,
            fs = (w * 0.6).clamp(9.0, 16.0),
        ));
    }
    // Scale bar: the largest of 50, 100, 250, 500 m, 1, 2, 5 km that fits in a quarter of the width.
    let bar_m = [50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]
        .into_iter()
        .rev()
        .find(|m| m * scale <= MAP_W / 4.0)
        .unwrap_or(50.0);
    let bar = bar_m * scale;
    let label = if bar_m >= 1000.0 {
        format!("{} km", bar_m / 1000.0)
    } else {
        format!("{bar_m} m")
    };
    svg.push_str(&format!(
        "<g class=\"scale\"><rect x=\"10\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"4\" fill=\"#222\"/><text x=\"10\" y=\"{:.1}\" font-size=\"11\">{label}</text><text x=\"{:.1}\" y=\"18\" font-size=\"12\" text-anchor=\"end\">N &#8593;</text></g>\n</svg>\n",
        h - 14.0,
        h - 18.0,
        MAP_W - 8.0
    ));
    svg
}

/// The self-contained HTML page (no external resources; print styles included).
pub fn patrol_html(page: &PatrolPage<'_>) -> String {
    let mut body = String::new();
    for r in page.rows {
        body.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}<br><small>{:.5}, {:.5}</small></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"check\"></td></tr>\n",
            r.rank,
            escape(&r.cell),
            r.centre_lon_lat[1],
            r.centre_lon_lat[0],
            escape(&r.street),
            escape(&r.per_week),
            escape(&r.score),
            escape(&r.count)
        ));
    }
    if page.rows.is_empty() {
        body.push_str("<tr><td colspan=\"7\">Geen incidenten in dit tijdsblok.</td></tr>\n");
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8">
<title>Surveillanceplanning {tenant} - {label}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; margin-bottom: 0.2em; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1em; }}
th, td {{ border: 1px solid #999; padding: 0.35em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
td.num {{ text-align: right; }}
td.check {{ width: 4em; }}
small {{ color: #555; }}
.meta {{ color: #444; }}
.mapwrap {{ display: flex; gap: 1em; align-items: flex-start; margin-top: 1em; }}
#patrol-map {{ max-width: 70%; height: auto; display: block; }}
.map-legend {{ margin: 0; padding-left: 2em; }}
@media print {{
  body {{ margin: 0; font-size: 10pt; }}
  .mapwrap {{ page-break-after: always; }}
  tr {{ page-break-inside: avoid; }}
  th {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style></head>
<body>
<h1>Surveillanceplanning {tenant}</h1>
<p class="meta">Tijdsblok: <strong>{label}</strong> ({hours} uur) &middot; cellen van {cell} m &middot; filter: {filter}<br>
Periode: {period} (het tijdsblok begint {occurrences} keer).
Score = aantal incidenten in dit tijdsblok over de hele periode (aoristisch gewogen naar de tijdvensters van de incidenten);
{used} incidenten gebruikt, totale score {total}. Per keer: {rule}.</p>
{map}<table>
<thead><tr><th>Rang</th><th>Cel (lat, lon)</th><th>Straat</th><th>Verwacht per keer</th><th>Score (periode)</th><th>Incidenten</th><th>Bezocht</th></tr></thead>
<tbody>
{body}</tbody>
</table>
</body></html>
"#,
        tenant = escape(page.tenant_name),
        label = escape(page.block_label),
        hours = fmt_nl(page.hours, 0),
        cell = page.cell_m,
        filter = escape(page.filter),
        used = page.used,
        total = fmt_nl(page.total_score, 1),
        period = escape(page.period),
        occurrences = page.occurrences,
        rule = escape(page.per_week_rule),
        map = map_block(page),
        body = body
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(rows: &'a [PatrolRow]) -> PatrolPage<'a> {
        PatrolPage {
            tenant_name: "Gemeente <Test>",
            block_label: "vrijdag 20:00 - zaterdag 02:00",
            hours: 6.0,
            cell_m: 100,
            filter: "category=1.1.1",
            used: 3,
            total_score: 1.26,
            period: "1 januari 2024 t/m 31 maart 2024",
            occurrences: 13,
            per_week_rule: "score / 13",
            outlines_rd: &[],
            rows,
        }
    }

    #[test]
    fn rows_are_escaped_and_an_empty_list_says_so() {
        let rows = [PatrolRow {
            rank: 2,
            cell: "c250_1_2".into(),
            centre_lon_lat: [4.123456, 52.0],
            street: "<script>".into(),
            score: "< 5".into(),
            per_week: "< 5".into(),
            count: "< 5".into(),
            square_rd: [250.0, 500.0, 500.0, 750.0],
        }];
        let html = patrol_html(&page(&rows));
        assert!(html.contains("<td>&lt;script&gt;</td>"));
        assert!(html.contains("<td class=\"num\">&lt; 5</td><td class=\"num\">&lt; 5</td>"));
        assert!(html.contains("data-rank=\"2\""));
        assert!(html.contains("begint 13 keer"));
        assert!(html.contains("52.00000, 4.12346"));
        assert!(html.contains("Surveillanceplanning Gemeente &lt;Test&gt;"));
        assert!(html.contains("3 incidenten gebruikt, totale score 1,3."));
        assert!(!html.contains("Geen incidenten in dit tijdsblok."));
        let empty = patrol_html(&page(&[]));
        assert!(empty.contains("Geen incidenten in dit tijdsblok."));
        assert!(!empty.contains("<svg"));
    }
}
