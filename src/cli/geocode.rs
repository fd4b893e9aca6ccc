//! `brandpunt geocode --input FILE.csv --output OUT.csv`

use super::context;
use anyhow::Context;
use brandpunt::geocode::{AddressQuery, GeocodeMatch, MatchKind};
use brandpunt::import::read_delimited_text;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct GeocodeArgs {
    /// CSV with `straat`, `huisnummer`, `huisletter`, `toevoeging`, `postcode`, `plaats` columns, or one `adres`.
    #[arg(long)]
    pub input: PathBuf,
    /// Output CSV: every input column plus bag_id, x, y, buurtcode, wijkcode, gemeentecode, match, score
    /// (x/y for an address, and for `near`, `intersection`, `street` the derived point without bag_id).
    #[arg(long)]
    pub output: PathBuf,
}

const ADDED: &[&str] = &[
    "bag_id",
    "x",
    "y",
    "buurtcode",
    "wijkcode",
    "gemeentecode",
    "match",
    "score",
];

fn norm(h: &str) -> String {
    h.trim()
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .collect()
}

pub fn run(db: &Path, args: GeocodeArgs) -> anyhow::Result<ExitCode> {
    let (text, delimiter) = read_delimited_text(&args.input)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: kopregel onleesbaar", args.input.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&norm(h).as_str()))
    };
    let free = find(&["adres", "address"]);
    let cols = [
        find(&["straat", "straatnaam", "openbareruimte"]),
        find(&["huisnummer", "huisnr", "nummer"]),
        find(&["huisletter"]),
        find(&["toevoeging", "huisnummertoevoeging"]),
        find(&["postcode"]),
        find(&["plaats", "woonplaats"]),
    ];
    anyhow::ensure!(
        free.is_some() || (cols[1].is_some() && (cols[0].is_some() || cols[4].is_some())),
        "{}: geen adreskolommen gevonden (nodig: 'adres', of 'huisnummer' met 'straat' of 'postcode'); gevonden: {}",
        args.input.display(),
        headers.join(", ")
    );
    let store = context::open_store(db)?;
    let geocoder = context::geocoder(store.as_store())?;
    let areas = context::area_index(store.as_store())?;
    anyhow::ensure!(
        !geocoder.is_empty(),
        "er zijn nog geen BAG-adressen ingelezen (brandpunt import bag)"
    );
    let out = std::fs::File::create(&args.output)
        .with_context(|| format!("{}: kan niet schrijven", args.output.display()))?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(out);
    let mut header_out = headers.clone();
    header_out.extend(ADDED.iter().map(|s| s.to_string()));
    w.write_record(&header_out)?;
    let mut tally = std::collections::BTreeMap::<&'static str, u64>::new();
    for record in reader.records() {
        let record =
            record.with_context(|| format!("{}: onleesbare regel", args.input.display()))?;
        let get = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let m: GeocodeMatch = match free.and_then(|i| record.get(i)) {
            Some(text) if cols[1].is_none() => geocoder.geocode_free_text(text),
            _ => geocoder.geocode_place(&AddressQuery {
                street: get(cols[0]),
                huisnummer: get(cols[1]),
                huisletter: get(cols[2]),
                toevoeging: get(cols[3]),
                postcode: get(cols[4]),
                woonplaats: get(cols[5]),
            }),
        };
        *tally.entry(m.kind.as_str()).or_default() += 1;
        let mut row: Vec<String> = (0..headers.len())
            .map(|i| record.get(i).unwrap_or("").to_string())
            .collect();
        match m.point_m.filter(|_| m.kind != MatchKind::Partial) {
            Some((x, y)) => {
                let area = areas.locate(x, y);
                row.push(m.address.map(|id| geocoder.bag_id(id)).unwrap_or_default());
                row.push(format!("{x:.3}"));
                row.push(format!("{y:.3}"));
                row.push(area.map(|a| a.buurtcode.clone()).unwrap_or_default());
                row.push(area.map(|a| a.wijkcode.clone()).unwrap_or_default());
                row.push(area.map(|a| a.gemeentecode.clone()).unwrap_or_default());
            }
            None => row.extend(std::iter::repeat_n(String::new(), 6)),
        }
        row.push(m.kind.as_str().to_string());
        row.push(format!("{:.3}", m.score));
        w.write_record(&row)?;
    }
    w.flush()?;
    let summary: Vec<String> = tally.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!(
        "{} -> {} ({})",
        args.input.display(),
        args.output.display(),
        summary.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
