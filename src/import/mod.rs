//! Importers: readers for the real published source formats. They turn files into plain records and
//! precise rejections; the store persists them.

pub mod delivery;
pub mod mapping;
pub mod report;
pub mod sniff;
pub mod xlsx;
