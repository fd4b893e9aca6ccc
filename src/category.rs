//! The police crime classification ("soort misdrijf" / maatschappelijke klasse): codes, labels and the groups
//! that dashboards use. Source: the police open-data tables (47022NED); labels as published.
//!
//! Codes are dotted strings (`1.1.1`). Sources other than the police (handhaving, complaints) use opaque codes;
//! [`split_code_label`] handles both `"1.1.1 Diefstal/inbraak woning"` and a bare code.

/// Every published crime code with its label.
pub const CRIME_CODES: &[(&str, &str)] = &[
    ("0.0.0", "Totaal misdrijven"),
    ("1.1.1", "Diefstal/inbraak woning"),
    ("1.1.2", "Diefstal/inbraak box/garage/schuur"),
    ("1.2.1", "Diefstal uit/vanaf motorvoertuigen"),
    ("1.2.2", "Diefstal van motorvoertuigen"),
    ("1.2.3", "Diefstal van brom-, snor-, fietsen"),
    ("1.2.4", "Zakkenrollerij"),
    ("1.2.5", "Diefstal af/uit/van ov. voertuigen"),
    ("1.3.1", "Ongevallen (weg)"),
    ("1.4.1", "Zedenmisdrijf"),
    ("1.4.2", "Moord, doodslag"),
    ("1.4.3", "Openlijk geweld (persoon)"),
    ("1.4.4", "Bedreiging"),
    ("1.4.5", "Mishandeling"),
    ("1.4.6", "Straatroof"),
    ("1.4.7", "Overval"),
    ("1.5.2", "Diefstallen (water)"),
    ("1.6.1", "Brand/ontploffing"),
    ("1.6.2", "Overige vermogensdelicten"),
    ("1.6.3", "Mensenhandel"),
    ("2.1.1", "Drugs/drankoverlast"),
    ("2.2.1", "Vernieling cq. zaakbeschadiging"),
    ("2.4.1", "Burengerucht (relatieproblemen)"),
    ("2.4.2", "Huisvredebreuk"),
    ("2.5.1", "Diefstal/inbraak bedrijven enz."),
    ("2.5.2", "Winkeldiefstal"),
    ("2.6.1", "Inrichting Wet Milieubeheer"),
    ("2.6.2", "Bodem"),
    ("2.6.3", "Water"),
    ("2.6.4", "Afval"),
    ("2.6.5", "Bouwstoffen"),
    ("2.6.7", "Mest"),
    ("2.6.8", "Transport gevaarlijke stoffen"),
    ("2.6.9", "Vuurwerk"),
    ("2.6.10", "Bestrijdingsmiddelen"),
    ("2.6.11", "Natuur en landschap"),
    ("2.6.12", "Ruimtelijke ordening"),
    ("2.6.13", "Dieren"),
    ("2.6.14", "Voedselveiligheid"),
    ("2.7.2", "Bijzondere wetten"),
    ("2.7.3", "Leefbaarheid (overig)"),
    ("3.1.1", "Drugshandel"),
    ("3.1.2", "Mensensmokkel"),
    ("3.1.3", "Wapenhandel"),
    ("3.2.1", "Kinderporno"),
    ("3.2.2", "Kinderprostitutie"),
    ("3.3.2", "Onder invloed (lucht)"),
    ("3.3.5", "Lucht (overig)"),
    ("3.4.2", "Onder invloed (water)"),
    ("3.5.2", "Onder invloed (weg)"),
    ("3.5.5", "Weg (overig)"),
    ("3.6.4", "Aantasting openbare orde"),
    ("3.7.1", "Discriminatie"),
    ("3.7.2", "Vreemdelingenzorg"),
    ("3.7.3", "Maatsch. integriteit (overig)"),
    ("3.7.4", "Cybercrime"),
    ("3.9.1", "Horizontale fraude"),
    ("3.9.2", "Verticale fraude"),
    ("3.9.3", "Fraude (overig)"),
];

/// Category groups used in dashboards: (group name, Dutch label, member codes).
pub const GROUPS: &[(&str, &str, &[&str])] = &[
    ("inbraak", "Inbraak", &["1.1.1", "1.1.2"]),
    (
        "geweld",
        "Geweld",
        &["1.4.3", "1.4.4", "1.4.5", "1.4.6", "1.4.7"],
    ),
    (
        "overlast",
        "Overlast",
        &["2.1.1", "2.4.1", "2.7.3", "3.6.4"],
    ),
];

/// The published label of a crime code.
pub fn label(code: &str) -> Option<&'static str> {
    CRIME_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, l)| *l)
}

/// The member codes of a group name (case-insensitive), if it is a group.
pub fn group_members(name: &str) -> Option<&'static [&'static str]> {
    GROUPS
        .iter()
        .find(|(g, _, _)| g.eq_ignore_ascii_case(name.trim()))
        .map(|(_, _, m)| *m)
}

/// Expand a comma-separated filter of codes and group names into a sorted, de-duplicated list of codes.
/// Unknown names are kept as opaque codes (sources other than the police have their own codes).
pub fn expand_filter(filter: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in filter.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match group_members(part) {
            Some(members) => out.extend(members.iter().map(|m| m.to_string())),
            None => out.push(part.to_string()),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// True for a dotted police code such as `1.1.1` or `2.6.10`.
pub fn is_police_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Split a delivery's category cell into (code, label).
///
/// `"1.1.1 Diefstal/inbraak woning"` gives `("1.1.1", Some("Diefstal/inbraak woning"))`; a bare police code gets
/// its published label; any other text (`"HH01 Afval"`) splits at the first space into an opaque code and label.
/// Returns `None` for an empty cell.
pub fn split_code_label(cell: &str) -> Option<(String, Option<String>)> {
    let cell = cell.trim();
    if cell.is_empty() {
        return None;
    }
    let (code, rest) = match cell.split_once(char::is_whitespace) {
        Some((c, r)) => (c.trim(), Some(r.trim()).filter(|r| !r.is_empty())),
        None => (cell, None),
    };
    let label = match rest {
        Some(r) => Some(r.to_string()),
        None => label(code).map(str::to_string),
    };
    Some((code.to_string(), label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_code_and_label() {
        assert_eq!(
            split_code_label(" 1.1.1 Diefstal/inbraak woning "),
            Some(("1.1.1".into(), Some("Diefstal/inbraak woning".into())))
        );
        assert_eq!(
            split_code_label("1.4.5"),
            Some(("1.4.5".into(), Some("Mishandeling".into())))
        );
        assert_eq!(
            split_code_label("HH01 Afval"),
            Some(("HH01".into(), Some("Afval".into())))
        );
        assert_eq!(split_code_label("   "), None);
    }

    #[test]
    fn expands_groups_and_codes() {
        assert_eq!(
            expand_filter("inbraak, 1.4.5,1.1.1"),
            vec!["1.1.1", "1.1.2", "1.4.5"]
        );
        assert_eq!(expand_filter("Geweld").len(), 5);
        assert_eq!(expand_filter("HH01"), vec!["HH01"]);
    }

    #[test]
    fn police_codes() {
        assert!(is_police_code("2.6.10"));
        assert!(!is_police_code("HH01"));
        assert!(!is_police_code("1.1"));
        assert!(CRIME_CODES.iter().all(|(c, _)| is_police_code(c)));
    }
}
