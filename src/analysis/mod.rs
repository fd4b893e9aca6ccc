//! The analysis core: plain data in, plain data out (no I/O, no SQL, no HTTP).
//!
//! Every method follows the definitions in `shared/reference/methods.md` and is tested against its
//! reference implementation (esda, scikit-learn, closed forms) with committed expected values.
//!
//! Coordinates are RD New metres; densities are per km2.

pub mod aoristic;
pub mod compare;
pub mod correlation;
pub mod emerging;
pub mod evaluation;
pub mod fdr;
pub mod forecast;
pub mod gistar;
pub mod grid;
pub mod homogeneity;
pub mod kde;
pub mod kde_lattice;
pub mod mann_kendall;
pub mod moran;
pub mod near_repeat;
pub mod patrol;
pub mod places;
pub mod profile;
pub mod profile_breakdown;
pub mod repeat_victims;
pub mod striking;
pub mod weights;

use chrono::NaiveDateTime;

/// One incident as the analysis core sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// RD New x in metres.
    pub x_m: f64,
    /// RD New y in metres.
    pub y_m: f64,
    /// Start of the window in which the incident happened, when known.
    pub begin: Option<NaiveDateTime>,
    /// End of that window (equal to `begin` for an exact time), when known.
    pub end: Option<NaiveDateTime>,
    /// Weight of the incident (1.0 for a plain count).
    pub weight: f64,
}
