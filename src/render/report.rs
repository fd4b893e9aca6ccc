//! The monthly analysis as a self-contained, printable Dutch HTML page (`/api/report/monthly?format=html`):
//! summary, an inline SVG map of the buurten coloured by observed / expected, a bar chart of the months, the
//! striking buurten and the categories, with no external resources.
//!
//! The page is rendered from the JSON answer the caller gets ([`MonthlyPage::answer`]): every count, ratio and
//! p-value in the page, the SVG map and the charts comes from it, so the page withholds exactly what the
//! caller's JSON withholds (the labels, e.g. `"< 5"`, instead; withheld buurten grey on the map). The
//! [`MonthlyReport`] supplies only the dates and the configuration.
//!
//! The answer's shape: `total` (`count`, `count_label`, `history_mean`), `series` (`start`, `count`,
//! `count_label`), `areas` and `categories` (`code`, `observed`, `count_label`, `expected`, `ratio`,
//! `p_increase`, `p_decrease`, `direction`), `protected`.
//!
//! ```
//! use brandpunt::analysis::striking::{monthly_report, MonthlyIncident, MonthlyPeriod};
//! use brandpunt::render::report::{monthly_html, MapArea, MonthlyPage};
//! use chrono::NaiveDate;
//! use geo_types::{polygon, MultiPolygon};
//!
//! let period = MonthlyPeriod::new(NaiveDate::from_ymd_opt(2024, 9, 1).unwrap(), None).unwrap();
//! let incidents: [MonthlyIncident; 0] = [];
//! let report = monthly_report(&period, &["BU01"], &["1.1.1"], incidents).unwrap();
//! let square = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 100.0), (x: 0.0, y: 0.0)]]);
//! let buurten = [MapArea { code: "BU01", name: "Centrum", geometry_rd: &square }];
//! let answer = serde_json::json!({
//!     "total": {"count": null, "count_label": "< 5", "history_mean": null},
//!     "series": [{"start": "2024-09-01", "count": null, "count_label": "< 5"}],
//!     "areas": [{"code": "BU01", "observed": null, "count_label": "< 5"}],
//!     "categories": [],
//!     "protected": true,
//! });
//! let html = monthly_html(&MonthlyPage {
//!     tenant_name: "Demostad",
//!     filter: "alle incidenten",
//!     report: &report,
//!     buurten: &buurten,
//!     answer: &answer,
//! });
//! assert!(html.contains("Maandanalyse Demostad &ndash; september 2024"));
//! assert!(html.contains("<strong>&lt; 5</strong> incidenten"));
//! assert!(html.contains("data-code=\"BU01\""));
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use geo_types::MultiPolygon;
use serde_json::Value;

use super::html::{escape, fmt_nl};
use crate::analysis::striking::{Direction, MonthlyReport};
use crate::calendar::{dutch_month, Step};

/// One buurt of the map.
#[derive(Clone, Copy, Debug)]
pub struct MapArea<'a> {
    pub code: &'a str,
    pub name: &'a str,
    /// RD metres.
    pub geometry_rd: &'a MultiPolygon<f64>,
}

/// Everything the page shows.
#[derive(Clone, Copy, Debug)]
pub struct MonthlyPage<'a> {
    pub tenant_name: &'a str,
    /// The filter line ([`super::html::filter_description`]).
    pub filter: &'a str,
    /// Dates and configuration of the report.
    pub report: &'a MonthlyReport,
    /// The buurten of the map, in drawing order; also the names of the areas in the tables.
    pub buurten: &'a [MapArea<'a>],
    /// The JSON answer as the caller receives it (see the module docs).
    pub answer: &'a Value,
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "&lt; 0,001".to_string()
    } else {
        fmt_nl(p, 3)
    }
}

/// One assessed row (buurt or category) as the HTML shows it: read from the JSON answer, so a protected caller's
/// page carries exactly what their JSON carries (withheld values are `None` with their label).
struct ShownRow {
    code: String,
    observed: Option<u64>,
    label: Option<String>,
    expected: Option<f64>,
    ratio: Option<f64>,
    p_increase: Option<f64>,
    p_decrease: Option<f64>,
    direction: Option<Direction>,
}

impl ShownRow {
    fn from_json(v: &Value) -> ShownRow {
        ShownRow {
            code: v["code"].as_str().unwrap_or_default().to_string(),
            observed: v["observed"].as_u64(),
            label: v["count_label"].as_str().map(str::to_string),
            expected: v["expected"].as_f64(),
            ratio: v["ratio"].as_f64(),
            p_increase: v["p_increase"].as_f64(),
            p_decrease: v["p_decrease"].as_f64(),
            direction: match v["direction"].as_str() {
                Some("increase") => Some(Direction::Increase),
                Some("decrease") => Some(Direction::Decrease),
                _ => None,
            },
        }
    }

    /// The count as shown: the number, or the label of a withheld count (HTML-escaped).
    fn observed_text(&self) -> String {
        count_text(self.observed, self.label.as_deref())
    }
}

/// A count as shown in the page: the number, or for a withheld count its label ("&lt; 5"), escaped.
fn count_text(count: Option<u64>, label: Option<&str>) -> String {
    match count {
        Some(c) => c.to_string(),
        None => escape(label.unwrap_or("afgeschermd")),
    }
}

fn rows_of(v: &Value, key: &str) -> Vec<ShownRow> {
    v[key]
        .as_array()
        .map(|a| a.iter().map(ShownRow::from_json).collect())
        .unwrap_or_default()
}

fn verdict(direction: Option<Direction>) -> &'static str {
    match direction {
        Some(Direction::Increase) => "opvallend meer",
        Some(Direction::Decrease) => "opvallend minder",
        None => "",
    }
}

/// Fill colour for a ratio (red = more than expected, blue = fewer), grey when unknown.
fn ratio_colour(ratio: Option<f64>) -> String {
    let Some(r) = ratio.filter(|r| r.is_finite()) else {
        return "#dddddd".to_string();
    };
    let t = if r > 0.0 {
        r.log2().clamp(-2.0, 2.0) / 2.0
    } else {
        -1.0
    };
    let (r0, g0, b0) = if t >= 0.0 {
        (255.0, 255.0 - 200.0 * t, 255.0 - 210.0 * t)
    } else {
        (255.0 + 210.0 * t, 255.0 + 140.0 * t, 255.0)
    };
    format!("#{:02x}{:02x}{:02x}", r0 as u8, g0 as u8, b0 as u8)
}

/// Fill of buurten whose count is withheld (small-count protection).
const WITHHELD_FILL: &str = "#9e9e9e";

/// Inline SVG map of the buurten coloured by ratio (RD coordinates, north up); withheld buurten grey.
fn svg_map(buurten: &[MapArea<'_>], areas: &[ShownRow]) -> String {
    let by_code: HashMap<&str, &ShownRow> = areas.iter().map(|a| (a.code.as_str(), a)).collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for area in buurten {
        for p in &area.geometry_rd.0 {
            for c in &p.exterior().0 {
                x0 = x0.min(c.x);
                y0 = y0.min(c.y);
                x1 = x1.max(c.x);
                y1 = y1.max(c.y);
            }
        }
    }
    if x0 >= x1 || y0 >= y1 {
        return "<p>Geen buurtgrenzen beschikbaar.</p>".to_string();
    }
    let width = 640.0;
    let scale = width / (x1 - x0);
    let height = ((y1 - y0) * scale).min(900.0);
    let scale = scale.min(height / (y1 - y0));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"map\" viewBox=\"0 0 {:.0} {:.0}\" \
         width=\"{:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"Kaart van de buurten\">\n",
        (x1 - x0) * scale,
        height,
        (x1 - x0) * scale,
        height
    );
    for area in buurten {
        let a = by_code.get(area.code).copied();
        let mut d = String::new();
        for p in &area.geometry_rd.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                for (k, c) in ring.0.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if k == 0 { "M" } else { "L" },
                        (c.x - x0) * scale,
                        (y1 - c.y) * scale
                    );
                }
                d.push('Z');
            }
        }
        let significant = a.is_some_and(|a| a.direction.is_some());
        let withheld = a.is_some_and(|a| a.observed.is_none());
        let title = match a {
            Some(a) => format!(
                "{} ({}): {} incidenten{}{}",
                escape(area.name),
                escape(area.code),
                a.observed_text(),
                a.expected
                    .map(|e| format!(", verwacht {}", fmt_nl(e, 1)))
                    .unwrap_or_default(),
                if significant {
                    format!(" - {}", verdict(a.direction))
                } else {
                    String::new()
                }
            ),
            None => format!("{} ({})", escape(area.name), escape(area.code)),
        };
        let fill = if withheld {
            WITHHELD_FILL.to_string()
        } else {
            ratio_colour(a.and_then(|a| a.ratio))
        };
        let _ = writeln!(
            svg,
            "<path d=\"{d}\" fill=\"{fill}\" fill-rule=\"evenodd\" stroke=\"{}\" stroke-width=\"{}\" \
             data-code=\"{}\"><title>{title}</title></path>",
            if significant { "#000" } else { "#888" },
            if significant { 2.5 } else { 0.6 },
            escape(area.code),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bar chart of the monthly counts (the month under test highlighted); a withheld month gets a
/// hatched-grey stub and its label instead of a number.
fn svg_series(v: &Value) -> String {
    let items: Vec<(String, Option<u64>, Option<String>)> = v["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["start"].as_str().unwrap_or_default().to_string(),
                        s["count"].as_u64(),
                        s["count_label"].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let n = items.len().max(1);
    let max = items.iter().filter_map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let (bar, gap, h) = (36.0, 8.0, 160.0);
    let width = n as f64 * (bar + gap) + gap;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width:.0} {:.0}\" \
         width=\"{width:.0}\" height=\"{:.0}\" role=\"img\" aria-label=\"Incidenten per maand\">\n",
        h + 40.0,
        h + 40.0
    );
    for (k, (start, count, label)) in items.iter().enumerate() {
        let bh = count.map(|c| c as f64 / max * h).unwrap_or(4.0);
        let x = gap + k as f64 * (bar + gap);
        let last = k + 1 == items.len();
        let text = count_text(*count, label.as_deref());
        let (period, short) = match NaiveDate::parse_from_str(start, "%Y-%m-%d") {
            Ok(m) => (Step::Month.label(m), m.format("%m-%y").to_string()),
            Err(_) => (escape(start), String::new()),
        };
        let fill = match (count, last) {
            (None, _) => WITHHELD_FILL,
            (Some(_), true) => "#c0392b",
            (Some(_), false) => "#7f8c8d",
        };
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{fill}\"><title>{period}: {text}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{text}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{short}</text>",
            h + 15.0 - bh,
            x + bar / 2.0,
            h + 12.0 - bh,
            x + bar / 2.0,
            h + 30.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars: observed vs expected per category (at most 12, by observed count; withheld ones last,
/// with their label and no bar).
fn svg_categories(categories: &[ShownRow]) -> String {
    let mut cats: Vec<&ShownRow> = categories.iter().collect();
    cats.sort_by(|a, b| b.observed.cmp(&a.observed).then(a.code.cmp(&b.code)));
    cats.truncate(12);
    if cats.is_empty() {
        return "<p>Geen incidenten in deze periode.</p>".to_string();
    }
    let max = cats
        .iter()
        .map(|a| (a.observed.unwrap_or(0) as f64).max(a.expected.unwrap_or(0.0)))
        .fold(1.0, f64::max);
    let (label_w, bar_w, row_h) = (300.0, 320.0, 26.0);
    let height = cats.len() as f64 * row_h + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {:.0} {height:.0}\" \
         width=\"{:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"Incidenten per categorie\">\n",
        label_w + bar_w + 60.0,
        label_w + bar_w + 60.0
    );
    for (k, a) in cats.iter().enumerate() {
        let y = 5.0 + k as f64 * row_h;
        let label = format!(
            "{} {}",
            a.code,
            crate::category::label(&a.code).unwrap_or("")
        );
        let w_obs = a.observed.unwrap_or(0) as f64 / max * bar_w;
        let w_exp = a.expected.unwrap_or(0.0) / max * bar_w;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{w_obs:.1}\" height=\"12\" fill=\"{}\"/>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w_exp:.1}\" height=\"6\" fill=\"#95a5a6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{} ({})</text>",
            label_w - 6.0,
            y + 11.0,
            escape(&label),
            match a.direction {
                Some(Direction::Increase) => "#c0392b",
                Some(Direction::Decrease) => "#2980b9",
                None => "#34495e",
            },
            y + 13.0,
            label_w + w_obs.max(w_exp) + 6.0,
            y + 11.0,
            a.observed_text(),
            a.expected
                .map(|e| fmt_nl(e, 1))
                .unwrap_or_else(|| "-".into())
        );
    }
    svg.push_str("</svg>");
    svg
}

fn table_rows(rows: &[(String, &ShownRow)]) -> String {
    let mut out = String::new();
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for (name, a) in rows {
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            match a.direction {
                Some(Direction::Increase) => "up",
                Some(Direction::Decrease) => "down",
                None => "",
            },
            name,
            a.observed_text(),
            opt(a.expected.map(|e| fmt_nl(e, 1))),
            opt(a.ratio.map(|r| fmt_nl(r, 2))),
            opt(a.p_increase.map(fmt_p)),
            opt(a.p_decrease.map(fmt_p)),
            verdict(a.direction)
        );
    }
    out
}

/// The self-contained Dutch HTML page (see the module docs).
pub fn monthly_html(page: &MonthlyPage<'_>) -> String {
    let (r, v) = (page.report, page.answer);
    let names: HashMap<&str, &str> = page.buurten.iter().map(|a| (a.code, a.name)).collect();
    let total = &v["total"];
    let count = count_text(total["count"].as_u64(), total["count_label"].as_str());
    let history_months = r.months.len().saturating_sub(1);
    let mean = total["history_mean"].as_f64();
    let areas = rows_of(v, "areas");
    let categories = rows_of(v, "categories");
    let sig_areas = areas.iter().filter(|a| a.direction.is_some()).count();
    let sig_cats = categories.iter().filter(|a| a.direction.is_some()).count();
    let shown_areas: Vec<(String, &ShownRow)> = areas
        .iter()
        .take(sig_areas.max(15))
        .map(|a| {
            let name = names.get(a.code.as_str()).copied().unwrap_or_default();
            (
                format!("{} <small>{}</small>", escape(name), escape(&a.code)),
                a,
            )
        })
        .collect();
    let shown_cats: Vec<(String, &ShownRow)> = categories
        .iter()
        .map(|a| {
            (
                format!(
                    "{} <small>{}</small>",
                    escape(crate::category::label(&a.code).unwrap_or("")),
                    escape(&a.code)
                ),
                a,
            )
        })
        .collect();
    let mut summary = format!(
        "<p>In {} zijn <strong>{count}</strong> incidenten geregistreerd",
        dutch_month(r.month)
    );
    match (mean, history_months) {
        (_, 0) => summary.push_str("; er is geen eerdere maand om mee te vergelijken."),
        (Some(m), n) => {
            let _ = write!(
                summary,
                "; het gemiddelde over de {n} voorgaande maand{} was {}.",
                if n == 1 { "" } else { "en" },
                fmt_nl(m, 1)
            );
        }
        (None, n) => {
            let _ = write!(
                summary,
                "; het gemiddelde over de {n} voorgaande maand{} is te klein om te tonen.",
                if n == 1 { "" } else { "en" },
            );
        }
    }
    let _ = write!(
        summary,
        " {} buurt{} en {} categorie{} wijken opvallend af (exacte Poisson-toets tegen de eigen geschiedenis, \
         FDR {}).</p>",
        sig_areas,
        if sig_areas == 1 { "" } else { "en" },
        sig_cats,
        if sig_cats == 1 { "" } else { "ën" },
        fmt_nl(r.config.alpha, 2)
    );
    if v["protected"].as_bool() == Some(true)
        || areas
            .iter()
            .chain(&categories)
            .any(|a| a.observed.is_none())
    {
        summary.push_str(
            "\n<p><small>Kleine aantallen worden niet getoond (&quot;&lt; k&quot;); afgeleide waarden \
             (verhouding, p) ontbreken dan ook. Grijze buurten op de kaart: te weinig om te tonen.</small></p>",
        );
    }
    let head =
        "<tr><th>Naam</th><th>Aantal</th><th>Verwacht</th><th>Verhouding</th><th>p (meer)</th>\
                <th>p (minder)</th><th>Oordeel</th></tr>";
    format!(
        r#"<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8">
<title>Maandanalyse {tenant} {month}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.2em; margin-top: 1.5em; border-bottom: 1px solid #ccc; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em 0.5em; text-align: left; }}
th {{ background: #eee; }}
td.num {{ text-align: right; }}
tr.up td {{ background: #fdecea; }} tr.down td {{ background: #eaf2fb; }}
small {{ color: #666; }}
.legend span {{ display: inline-block; width: 1.2em; height: 0.8em; border: 1px solid #888; margin: 0 0.2em 0 0.8em; }}
svg {{ max-width: 100%; height: auto; }}
@media print {{
  body {{ margin: 0; max-width: none; font-size: 10pt; }}
  h2 {{ page-break-after: avoid; }}
  table, svg {{ page-break-inside: avoid; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style></head>
<body>
<h1>Maandanalyse {tenant} &ndash; {month}</h1>
<p><small>Periode {from} t/m {to}; vergeleken met {hfrom} t/m {hto}; filter: {filter}.</small></p>
{summary}
<h2>Kaart: verhouding waargenomen / verwacht per buurt</h2>
<p class="legend">Minder<span style="background:{c_low}"></span><span style="background:{c_mid}"></span><span style="background:{c_high}"></span>Meer &middot; dikke rand = opvallend{withheld_legend}</p>
{map}
<h2>Incidenten per maand</h2>
{series}
<h2>Opvallende buurten</h2>
<table><thead>{head}</thead><tbody>
{area_rows}</tbody></table>
<h2>Categorieën</h2>
{cat_chart}
<table><thead>{head}</thead><tbody>
{cat_rows}</tbody></table>
<p><small>Verwacht = gemiddelde van de voorgaande maanden (minimaal {min_exp}); p-waarden zijn eenzijdige exacte
Poisson-toetsen, opvallend na Benjamini-Hochberg-correctie op {alpha}. Gegenereerd door brandpunt.</small></p>
</body></html>
"#,
        tenant = escape(page.tenant_name),
        month = dutch_month(r.month),
        from = r.month,
        to = r.month_end,
        hfrom = r.history_from,
        hto = r.month.pred_opt().unwrap_or(r.month),
        filter = escape(page.filter),
        summary = summary,
        c_low = ratio_colour(Some(0.25)),
        c_mid = ratio_colour(Some(1.0)),
        c_high = ratio_colour(Some(4.0)),
        withheld_legend = if areas.iter().any(|a| a.observed.is_none()) {
            format!(
                " &middot; <span style=\"background:{WITHHELD_FILL}\"></span>te weinig om te tonen"
            )
        } else {
            String::new()
        },
        map = svg_map(page.buurten, &areas),
        series = svg_series(v),
        head = head,
        area_rows = table_rows(&shown_areas),
        cat_chart = svg_categories(&categories),
        cat_rows = table_rows(&shown_cats),
        min_exp = fmt_nl(r.config.min_expected, 1),
        alpha = fmt_nl(r.config.alpha, 2),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_red_for_more_and_blue_for_fewer() {
        assert_eq!(ratio_colour(Some(1.0)), "#ffffff");
        assert!(ratio_colour(Some(4.0)).starts_with("#ff"));
        assert!(ratio_colour(Some(0.25)).ends_with("ff"));
        assert_eq!(ratio_colour(None), "#dddddd");
    }

    #[test]
    fn p_values_and_withheld_counts_are_shown_as_text() {
        assert_eq!(fmt_p(0.0004), "&lt; 0,001");
        assert_eq!(fmt_p(0.0123), "0,012");
        assert_eq!(count_text(Some(7), Some("< 5")), "7");
        assert_eq!(count_text(None, Some("< 5")), "&lt; 5");
        assert_eq!(count_text(None, None), "afgeschermd");
    }

    #[test]
    fn without_buurten_the_map_says_so() {
        assert_eq!(svg_map(&[], &[]), "<p>Geen buurtgrenzen beschikbaar.</p>");
    }
}
