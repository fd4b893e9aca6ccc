//! The registrations the relation graph is built from: a current incident with the pseudonyms it carries, as the
//! store reads them ([`crate::store::Store::for_each_linked_incident`]) and [`super::Graph::build`] takes them.

use chrono::NaiveDateTime;
use serde::Serialize;

/// One stored pseudonym of an incident, with its kind, role (column) and key id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredPseudonym {
    /// 64 hex characters ([`crate::pseudonym`]).
    pub pseudonym: String,
    pub kind: crate::pseudonym::IdentifierKind,
    pub role: String,
    pub key_id: String,
}

/// A current incident as the relation graph reads it: where and when, and the pseudonyms it carries (only those
/// of typed personal columns; never a raw identifier).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkedIncident {
    pub id: i64,
    pub source: String,
    pub registration: String,
    pub begin: NaiveDateTime,
    pub category_code: Option<String>,
    /// BAG verblijfsobject id when located on an address.
    pub bag_id: Option<String>,
    /// Sorted by role, then pseudonym; empty values (nothing left after normalisation) are left out.
    pub pseudonyms: Vec<StoredPseudonym>,
}
