//! The PostgreSQL side of `store copy` ([`super::super::copy`]): read in one repeatable-read snapshot, written
//! in one transaction as batches of `INSERT ... SELECT FROM unnest(<one array per column>)`, the identity
//! sequences moved past the copied ids before the commit. Scoped to all tenants (`brandpunt.tenant = all`).

use super::super::copy::{
    select_sql, unexpected, Column, CopyError, CopySource, CopyTarget, Kind, RowVisitor, Side,
    Table, Value, TABLES,
};
use super::super::StoreError;
use super::connection::{get, Param};
use super::{PostgresStore, ALL_TENANTS};
use tokio_postgres::Row;

/// The values of one column of a batch, typed for its array parameter.
enum Array {
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Array {
    fn new(kind: Kind, rows: usize) -> Array {
        match kind {
            Kind::Int8 | Kind::Int4 => Array::Int(Vec::with_capacity(rows)),
            Kind::Real => Array::Real(Vec::with_capacity(rows)),
            Kind::Text | Kind::Json => Array::Text(Vec::with_capacity(rows)),
            Kind::Bool => Array::Bool(Vec::with_capacity(rows)),
            Kind::Geometry => Array::Bytes(Vec::with_capacity(rows)),
        }
    }

    /// Add `value` of `column` (of `table`); a value of another type is an error naming both.
    fn push(&mut self, table: &Table, column: &Column, value: &Value) -> Result<(), CopyError> {
        let wrong = || unexpected(table, column, value);
        match (self, value) {
            (Array::Int(v), Value::Null) => v.push(None),
            (Array::Real(v), Value::Null) => v.push(None),
            (Array::Text(v), Value::Null) => v.push(None),
            (Array::Bool(v), Value::Null) => v.push(None),
            (Array::Bytes(v), Value::Null) => v.push(None),
            (Array::Int(v), Value::Integer(i)) => v.push(Some(*i)),
            (Array::Real(v), Value::Real(f)) => v.push(Some(*f)),
            (Array::Real(v), Value::Integer(i)) => v.push(Some(*i as f64)),
            (Array::Text(v), Value::Text(s)) => v.push(Some(s.clone())),
            (Array::Bool(v), Value::Integer(i)) => v.push(Some(*i != 0)),
            (Array::Bytes(v), Value::Blob(b)) => v.push(Some(b.clone())),
            _ => return Err(wrong()),
        }
        Ok(())
    }

    fn param(&self) -> Param<'_> {
        match self {
            Array::Int(v) => v,
            Array::Real(v) => v,
            Array::Text(v) => v,
            Array::Bool(v) => v,
            Array::Bytes(v) => v,
        }
    }
}

/// The array type of a column's parameter and the expression that turns an element into the stored type.
fn array_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Int8 | Kind::Int4 => "int8[]",
        Kind::Real => "float8[]",
        Kind::Text | Kind::Json => "text[]",
        Kind::Bool => "bool[]",
        Kind::Geometry => "bytea[]",
    }
}

fn stored_expr(kind: Kind, element: &str) -> String {
    match kind {
        Kind::Int4 => format!("{element}::int4"),
        Kind::Json => format!("{element}::jsonb"),
        Kind::Geometry => format!("ST_Multi(ST_GeomFromWKB({element}, 28992))"),
        _ => element.to_string(),
    }
}

/// A row's values in the copy types of the table's columns.
fn row_values(table: &Table, row: &Row) -> Result<Vec<Value>, CopyError> {
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let v = match c.kind {
            Kind::Int8 | Kind::Int4 => get::<Option<i64>>(row, i)?.map(Value::Integer),
            Kind::Real => get::<Option<f64>>(row, i)?.map(Value::Real),
            Kind::Text | Kind::Json => get::<Option<String>>(row, i)?.map(Value::Text),
            Kind::Bool => get::<Option<bool>>(row, i)?.map(|b| Value::Integer(i64::from(b))),
            Kind::Geometry => get::<Option<Vec<u8>>>(row, i)?.map(Value::Blob),
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(values)
}

impl CopySource for PostgresStore {
    fn visit_tables(
        &self,
        tables: &[usize],
        visitor: &mut dyn RowVisitor,
    ) -> Result<(), CopyError> {
        self.snapshot(ALL_TENANTS, |c| -> Result<(), CopyError> {
            for &i in tables {
                let table = &TABLES[i];
                let row = c.query_one(&format!("SELECT count(*) FROM {}", table.name), &[])?;
                let rows: i64 = get(&row, 0)?;
                visitor.table(i, u64::try_from(rows).unwrap_or(0))?;
                c.for_each(&select_sql(table, true), &[], |row| {
                    visitor.row(row_values(table, row)?)
                })?;
            }
            Ok(())
        })
    }
}

impl CopyTarget for PostgresStore {
    fn count_rows(&self, table: &Table) -> Result<u64, CopyError> {
        let row = self.transaction(ALL_TENANTS, |c| {
            c.query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
        })?;
        let rows: i64 = get(&row, 0)?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    fn tenant_codes(&self, limit: usize) -> Result<Vec<String>, CopyError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.transaction(ALL_TENANTS, |c| {
            c.query("SELECT code FROM tenant ORDER BY id LIMIT $1", &[&limit])
        })?;
        rows.iter()
            .map(|r| get::<String>(r, 0).map_err(CopyError::from))
            .collect()
    }

    fn begin_copy(&mut self) -> Result<(), CopyError> {
        self.begin(ALL_TENANTS, "BEGIN")?;
        if let Err(e) = self.conn.batch("DELETE FROM tenant") {
            let _ = self.conn.batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError> {
        let stored: Vec<(usize, &Column, &str)> = table
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.postgres {
                Side::Stored(name) => Some((i, c, name)),
                Side::Derived(_) => None,
            })
            .collect();
        let mut arrays: Vec<Array> = stored
            .iter()
            .map(|(_, c, _)| Array::new(c.kind, rows.len()))
            .collect();
        for row in rows {
            for ((i, c, _), array) in stored.iter().zip(arrays.iter_mut()) {
                array.push(table, c, &row[*i])?;
            }
        }
        let names: Vec<String> = stored.iter().map(|(_, _, n)| format!("\"{n}\"")).collect();
        let exprs: Vec<String> = stored
            .iter()
            .enumerate()
            .map(|(k, (_, c, _))| stored_expr(c.kind, &format!("u.c{k}")))
            .collect();
        let params_sql: Vec<String> = stored
            .iter()
            .enumerate()
            .map(|(k, (_, c, _))| format!("${}::{}", k + 1, array_type(c.kind)))
            .collect();
        let aliases: Vec<String> = (0..stored.len()).map(|k| format!("c{k}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM unnest({}) AS u({})",
            table.name,
            names.join(", "),
            exprs.join(", "),
            params_sql.join(", "),
            aliases.join(", ")
        );
        let params: Vec<Param<'_>> = arrays.iter().map(Array::param).collect();
        self.conn.execute(&sql, &params)?;
        Ok(())
    }

    fn commit_copy(&mut self) -> Result<(), CopyError> {
        let finish = || -> Result<(), StoreError> {
            for table in TABLES {
                if let Some(id) = table.identity {
                    self.conn.batch(&format!(
                        "SELECT setval(pg_get_serial_sequence('{t}', '{id}'), m)
                         FROM (SELECT max({id}) AS m FROM {t}) x WHERE m IS NOT NULL",
                        t = table.name
                    ))?;
                }
            }
            self.conn.batch("COMMIT")
        };
        if let Err(e) = finish() {
            let _ = self.conn.batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    fn rollback_copy(&mut self) {
        let _ = self.conn.batch("ROLLBACK");
    }
}
