//! The level of an area: the three CBS levels of the wijk- en buurtkaart (gemeente, wijk, buurt) and the
//! custom areas that analysts draw. One type for every use: the boundary sets in the store, the tenant snapshot,
//! area binning in the analyses, and the parameters of the API and the command line.
//!
//! ```
//! use brandpunt::area_level::AreaLevel;
//!
//! assert_eq!(AreaLevel::parse(" Buurten "), Some(AreaLevel::Buurt));
//! assert_eq!(AreaLevel::parse("eigen"), Some(AreaLevel::Custom));
//! assert_eq!(AreaLevel::Wijk.as_str(), "wijk");
//! assert!(AreaLevel::CBS.iter().all(|l| l.is_cbs()));
//! assert!(!AreaLevel::Custom.is_cbs());
//! ```

use serde::Serialize;

/// The level of an area, from the largest to the smallest CBS level, then custom areas (the order of `Ord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaLevel {
    /// Gemeente (municipality), `GM0153`.
    Gemeente,
    /// CBS wijk (district), `WK015300`.
    Wijk,
    /// CBS buurt (neighbourhood), `BU01530000`.
    Buurt,
    /// An area drawn by an analyst, `custom:12`.
    Custom,
}

impl AreaLevel {
    /// Every level.
    pub const ALL: [AreaLevel; 4] = [
        AreaLevel::Gemeente,
        AreaLevel::Wijk,
        AreaLevel::Buurt,
        AreaLevel::Custom,
    ];

    /// The CBS levels.
    pub const CBS: [AreaLevel; 3] = [AreaLevel::Gemeente, AreaLevel::Wijk, AreaLevel::Buurt];

    /// The keyword: `gemeente`, `wijk`, `buurt` or `custom`.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaLevel::Gemeente => "gemeente",
            AreaLevel::Wijk => "wijk",
            AreaLevel::Buurt => "buurt",
            AreaLevel::Custom => "custom",
        }
    }

    /// `gemeente`, `wijk`, `buurt` (also plural), `custom` or `eigen`; case and surrounding space ignored.
    pub fn parse(s: &str) -> Option<AreaLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gemeente" | "gemeenten" => Some(AreaLevel::Gemeente),
            "wijk" | "wijken" => Some(AreaLevel::Wijk),
            "buurt" | "buurten" => Some(AreaLevel::Buurt),
            "custom" | "eigen" => Some(AreaLevel::Custom),
            _ => None,
        }
    }

    /// `parse`, restricted to the CBS levels.
    pub fn parse_cbs(s: &str) -> Option<AreaLevel> {
        AreaLevel::parse(s).filter(|l| l.is_cbs())
    }

    /// Whether this is a CBS level (not custom).
    pub fn is_cbs(self) -> bool {
        self != AreaLevel::Custom
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_and_cbs_parsing_refuses_custom() {
        for l in AreaLevel::ALL {
            assert_eq!(AreaLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(AreaLevel::parse("GEMEENTEN"), Some(AreaLevel::Gemeente));
        assert_eq!(AreaLevel::parse("provincie"), None);
        assert_eq!(AreaLevel::parse_cbs("wijken"), Some(AreaLevel::Wijk));
        assert_eq!(AreaLevel::parse_cbs("custom"), None);
        assert!(AreaLevel::Gemeente < AreaLevel::Buurt && AreaLevel::Buurt < AreaLevel::Custom);
        assert_eq!(
            serde_json::to_string(&AreaLevel::Buurt).unwrap(),
            "\"buurt\""
        );
    }
}
