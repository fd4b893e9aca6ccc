//! The in-memory dataset of one tenant and its selection by filters: a [`Snapshot`] (areas with their
//! geometry and hierarchy, incidents in compact form, one consistent version numbered by its generation) and
//! [`Filter`]s over it (categories, sources, period), evaluated as counts per area or incidents per area.
//!
//! Plain data in, plain data out: a snapshot is built from records ([`Snapshot::build`] of a [`TenantData`],
//! which any store reads with `Store::tenant_data`); nothing here does I/O or knows HTTP. The server holds one
//! snapshot per tenant and parses filters from query parameters into [`Filter`]s.
//!
//! ```
//! use brandpunt::area_level::AreaLevel;
//! use brandpunt::dataset::{Filter, Snapshot, TenantArea, TenantData};
//!
//! let square = geo_types::Rect::new((155_000.0, 463_000.0), (156_000.0, 464_000.0)).to_polygon();
//! let data = TenantData {
//!     code: "demo".into(),
//!     name: "Demo".into(),
//!     areas: vec![TenantArea::new(AreaLevel::Gemeente, "GM9999", "Proefstad", square.into())],
//!     incidents: vec![],
//! };
//! let s = Snapshot::build(1, data).unwrap();
//! let gm = s.area_index("GM9999").unwrap();
//! assert_eq!(s.area(gm).name, "Proefstad");
//! assert_eq!(s.counts(AreaLevel::Gemeente, &Filter::all(&s)), vec![0]);
//! ```

pub mod area_stats;
pub mod compare;
pub mod filter;
mod incident_points;
pub mod incident_table;
pub mod monthly;
pub mod snapshot;
pub mod sorted_incidents;

pub use filter::{Filter, FilterKey};
pub use incident_table::{IncidentRow, IncidentTable, IncidentTableError, TenantTable};
pub use snapshot::{
    datetime_to_minutes, day_start_minutes, feature_id, minutes_to_datetime, Area, Incident,
    IncidentDelta, IncidentRecord, Snapshot, SnapshotError, SupersededVersion, TenantArea,
    TenantData,
};
pub use sorted_incidents::{PositionShift, SortedIncidents};
