//! Loading what commands share: the store, the buurt index and the geocoder (built from the store).

use anyhow::Context;
use brandpunt::area_index::{AreaIndex, AreaPolygon};
use brandpunt::geocode::{BagAddress, GeocodeIndex, GeocodeIndexBuilder};
use brandpunt::store::{AreaLevel, SqliteStore, Store};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

pub fn open_store(db: &Path) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(db).with_context(|| format!("kan de database {} niet openen", db.display()))
}

/// The buurt index of the newest boundary set (empty when no CBS file was imported).
pub fn area_index(store: &dyn Store) -> anyhow::Result<AreaIndex> {
    let buurten = store.areas(AreaLevel::Buurt, None)?;
    Ok(AreaIndex::build(
        buurten
            .into_iter()
            .map(|a| AreaPolygon {
                buurtcode: a.code,
                wijkcode: a.wijkcode.unwrap_or_default(),
                gemeentecode: a.gemeentecode,
                geometry: a.geometry,
            })
            .collect(),
    ))
}

/// A spinner on stderr for long work (hidden when stderr is not a terminal).
pub fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(message.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(200));
    pb
}

/// Build the geocoder from every stored BAG address.
pub fn geocoder(store: &dyn Store) -> anyhow::Result<GeocodeIndex> {
    let pb = spinner("Adresindex opbouwen");
    let mut builder = GeocodeIndexBuilder::new();
    store.for_each_address(&mut |a| {
        builder.push(&BagAddress {
            bag_id: &a.bag_id,
            street: &a.street,
            street_short: a.street_short.as_deref(),
            huisnummer: a.huisnummer,
            huisletter: a.huisletter.as_deref(),
            toevoeging: a.toevoeging.as_deref(),
            postcode: a.postcode.as_deref(),
            woonplaats: &a.woonplaats,
            x_m: a.x_m,
            y_m: a.y_m,
        });
        Ok(())
    })?;
    let index = builder.finish();
    pb.finish_and_clear();
    Ok(index)
}
