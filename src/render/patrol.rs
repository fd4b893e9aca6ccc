//! The printable Dutch patrol list (`/api/patrol?format=html`): one table row per ranked cell, with an empty
//! "Bezocht" column to tick off on paper. The rows carry the texts as the caller may see them (withheld counts
//! and streets already replaced by their labels); this module only lays them out.
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
//!     count: "4".into(),
//! }];
//! let page = PatrolPage {
//!     tenant_name: "Demostad",
//!     block_label: "vrijdag 20:00 - zaterdag 02:00",
//!     hours: 6.0,
//!     cell_m: 100,
//!     filter: "alle incidenten",
//!     used: 12,
//!     total_score: 7.25,
//!     rows: &rows,
//! };
//! let html = patrol_html(&page);
//! assert!(html.contains("<td>Dorpsstraat</td>"));
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
    /// Street, or `afgeschermd` / `onbekend`.
    pub street: String,
    /// Score as shown (decimal comma, or a withheld label).
    pub score: String,
    /// Count as shown (or a withheld label).
    pub count: String,
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
    pub rows: &'a [PatrolRow],
}

/// The self-contained HTML page (no external resources; print styles included).
pub fn patrol_html(page: &PatrolPage<'_>) -> String {
    let mut body = String::new();
    for r in page.rows {
        body.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}<br><small>{:.5}, {:.5}</small></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"check\"></td></tr>\n",
            r.rank,
            escape(&r.cell),
            r.centre_lon_lat[1],
            r.centre_lon_lat[0],
            escape(&r.street),
            escape(&r.score),
            escape(&r.count)
        ));
    }
    if page.rows.is_empty() {
        body.push_str("<tr><td colspan=\"6\">Geen incidenten in dit tijdsblok.</td></tr>\n");
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
@media print {{
  body {{ margin: 0; font-size: 10pt; }}
  tr {{ page-break-inside: avoid; }}
  th {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style></head>
<body>
<h1>Surveillanceplanning {tenant}</h1>
<p class="meta">Tijdsblok: <strong>{label}</strong> ({hours} uur) &middot; cellen van {cell} m &middot; filter: {filter}<br>
Score = verwacht aantal incidenten in dit tijdsblok (aoristisch gewogen naar de tijdvensters van de incidenten);
{used} incidenten gebruikt, totale score {total}.</p>
<table>
<thead><tr><th>Rang</th><th>Cel (lat, lon)</th><th>Straat</th><th>Score</th><th>Incidenten</th><th>Bezocht</th></tr></thead>
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
            count: "< 5".into(),
        }];
        let html = patrol_html(&page(&rows));
        assert!(html.contains("<td>&lt;script&gt;</td>"));
        assert!(html.contains("<td class=\"num\">&lt; 5</td><td class=\"num\">&lt; 5</td>"));
        assert!(html.contains("52.00000, 4.12346"));
        assert!(html.contains("Surveillanceplanning Gemeente &lt;Test&gt;"));
        assert!(html.contains("3 incidenten gebruikt, totale score 1,3."));
        assert!(!html.contains("Geen incidenten in dit tijdsblok."));
        let empty = patrol_html(&page(&[]));
        assert!(empty.contains("Geen incidenten in dit tijdsblok."));
    }
}
