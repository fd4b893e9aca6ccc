//! Loading what commands share: the store, the buurt index and the geocoder (built from the store).

use anyhow::Context;
use brandpunt::area_index::AreaIndex;
use brandpunt::geocode::GeocodeIndex;
use brandpunt::import::incidents::{self, Locator};
use brandpunt::store::{ServerStore, Store, StoreOpener};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

/// Open the store at `db`: a SQLite file path, or a `postgres://` URL (never taken for a file path).
pub fn open_store(db: &Path) -> anyhow::Result<Box<dyn ServerStore>> {
    let opener = StoreOpener::new(db)
        .with_context(|| format!("kan de database {} niet openen", db.display()))?;
    opener
        .open()
        .with_context(|| format!("kan de database {} niet openen", opener.describe()))
}

/// The buurt index of the newest boundary set (empty when no CBS file was imported).
pub fn area_index(store: &dyn Store) -> anyhow::Result<AreaIndex> {
    Ok(incidents::buurt_index(store)?)
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
    let index = incidents::geocoder(store)?;
    pb.finish_and_clear();
    Ok(index)
}

/// The locator of incident imports ([`Locator::from_store`]), with a spinner while the geocoder is built.
pub fn locator(store: &dyn Store) -> anyhow::Result<Locator> {
    let pb = spinner("Adresindex opbouwen");
    let locator = Locator::from_store(store)?;
    pb.finish_and_clear();
    Ok(locator)
}
