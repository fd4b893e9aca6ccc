//! The rolling-origin backtest ([`crate::analysis::forecast::rolling`]) as a table: one row per fold, method
//! and coverage, then per method and coverage the average (`fold` = `gemiddeld`) with the paired test against
//! the baseline (`p_vs_naive`) and the verdict. Written by `analyse evaluate --folds` and
//! `GET /api/forecast/evaluate?format=csv`.
//!
//! Columns: `fold` (1 = oldest, or `gemiddeld`), `origin` (the fold's first day), `method`, `coverage_pct`,
//! `cells` (selected cells), `test_events`, `hits` (fractional with ties), `hit_rate`, `pai`, `pei`, `rri`,
//! `p_vs_naive`, `verdict`.

use super::{ColumnType, ExportError, Table, Value};
use crate::analysis::forecast::rolling::RollingEvaluation;

/// The table of `r` (see the module docs).
pub fn rolling_table(r: &RollingEvaluation) -> Result<Table, ExportError> {
    let mut t = Table::new(&[
        ("fold", ColumnType::Text),
        ("origin", ColumnType::Text),
        ("method", ColumnType::Text),
        ("coverage_pct", ColumnType::Real),
        ("cells", ColumnType::Int),
        ("test_events", ColumnType::Int),
        ("hits", ColumnType::Real),
        ("hit_rate", ColumnType::Real),
        ("pai", ColumnType::Real),
        ("pei", ColumnType::Real),
        ("rri", ColumnType::Real),
        ("p_vs_naive", ColumnType::Real),
        ("verdict", ColumnType::Text),
    ]);
    let opt = |v: Option<f64>| v.map_or(Value::Null, Value::Real);
    let fold_no =
        |o: &chrono::NaiveDateTime| r.origins.iter().position(|x| x == o).map_or(0, |k| k + 1);
    for f in &r.folds {
        let m = &f.metrics;
        t.push(vec![
            Value::Text(fold_no(&f.origin).to_string()),
            Value::Text(f.origin.date().to_string()),
            Value::from(f.method.as_str()),
            Value::Real(f.coverage_pct),
            Value::from(m.selection.n_selected),
            Value::from(m.test_total),
            Value::Real(m.hits),
            opt(m.hit_rate),
            opt(m.pai),
            opt(m.pei),
            opt(m.rri),
            Value::Null,
            Value::Null,
        ])?;
    }
    for s in &r.summaries {
        t.push(vec![
            Value::from("gemiddeld"),
            Value::Null,
            Value::from(s.method.as_str()),
            Value::Real(s.coverage_pct),
            Value::Null,
            Value::from(s.folds),
            Value::Null,
            opt(s.mean_hit_rate),
            opt(s.mean_pai),
            opt(s.mean_pei),
            opt(s.mean_rri),
            opt(s.p_vs_baseline),
            s.verdict.map_or(Value::Null, Value::from),
        ])?;
    }
    Ok(t)
}
