//! Node ids and kinds of the relation graph.
//!
//! Ids: `incident:<registratienummer>` (when one registration number occurs in more than one source of the
//! graph, each of them is `incident:<registratienummer>@<source>`), `address:<BAG verblijfsobject id>` (16
//! digits) and `subject:<pseudonym>` (64 lower-case hex characters). The kind of a node is `incident`,
//! `address`, or the subject's [`IdentifierKind`] (`person`, `vehicle`, ...).

use super::RelationsError;
use crate::pseudonym::IdentifierKind;
use serde::Serialize;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum NodeKind {
    Incident,
    Address,
    Subject(IdentifierKind),
}

impl NodeKind {
    /// `incident`, `address`, or the subject's kind (`person`, `vehicle`, `organisation`, `phone`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Incident => "incident",
            NodeKind::Address => "address",
            NodeKind::Subject(k) => k.as_str(),
        }
    }

    /// True for subjects.
    pub fn is_subject(self) -> bool {
        matches!(self, NodeKind::Subject(_))
    }

    /// Every kind, in this order (incident, address, then the subject kinds).
    pub fn all() -> Vec<NodeKind> {
        let mut v = vec![NodeKind::Incident, NodeKind::Address];
        v.extend(IdentifierKind::ALL.into_iter().map(NodeKind::Subject));
        v
    }
}

/// A node id as a user gives it: parsed and checked for form, not yet looked up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeId {
    /// `incident:<registratienummer>` (possibly `...@<source>`).
    Incident(String),
    /// `address:<16 digits>`.
    Address(String),
    /// `subject:<64 hex>`.
    Subject(String),
}

impl NodeId {
    /// Parse `text` as a node id; the error names `parameter`.
    ///
    /// ```
    /// use brandpunt::relations::NodeId;
    /// assert_eq!(
    ///     NodeId::parse("node", "address:0363010000000001").unwrap(),
    ///     NodeId::Address("0363010000000001".into())
    /// );
    /// assert!(NodeId::parse("node", "incident:").is_err());
    /// let e = NodeId::parse("node", "persoon:12").unwrap_err();
    /// assert!(e.to_string().starts_with("node:"));
    /// ```
    pub fn parse(parameter: &str, text: &str) -> Result<NodeId, RelationsError> {
        let bad = || RelationsError::BadNode {
            parameter: parameter.to_string(),
            value: text.chars().take(100).collect(),
        };
        let (prefix, rest) = text.trim().split_once(':').ok_or_else(bad)?;
        match prefix {
            "incident" if !rest.trim().is_empty() && rest.len() <= 200 => {
                Ok(NodeId::Incident(rest.to_string()))
            }
            "address" if rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(NodeId::Address(rest.to_string()))
            }
            "subject"
                if rest.len() == 64
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(NodeId::Subject(rest.to_string()))
            }
            _ => Err(bad()),
        }
    }

    /// The id as text (`incident:...`, `address:...`, `subject:...`).
    pub fn as_text(&self) -> String {
        match self {
            NodeId::Incident(r) => format!("incident:{r}"),
            NodeId::Address(b) => format!("address:{b}"),
            NodeId::Subject(p) => format!("subject:{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print_back_and_bad_forms_name_the_parameter() {
        let p = "a".repeat(64);
        for text in [
            "incident:2024/0001".to_string(),
            "incident:PL0900-1@politie".to_string(),
            "address:0363010000000001".to_string(),
            format!("subject:{p}"),
        ] {
            assert_eq!(NodeId::parse("node", &text).unwrap().as_text(), text);
        }
        for bad in [
            "".to_string(),
            "incident".to_string(),
            "incident: ".to_string(),
            "address:123".to_string(),
            "address:036301000000000x".to_string(),
            format!("subject:{}", "A".repeat(64)),
            format!("subject:{}", "a".repeat(63)),
            "persoon:1".to_string(),
        ] {
            let e = NodeId::parse("van", &bad).unwrap_err();
            assert!(matches!(e, RelationsError::BadNode { .. }), "{bad}");
            assert!(e.to_string().starts_with("van:"), "{e}");
        }
        assert_eq!(
            NodeKind::Subject(IdentifierKind::Vehicle).as_str(),
            "vehicle"
        );
        assert_eq!(NodeKind::all().len(), 7);
    }
}
