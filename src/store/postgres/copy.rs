//! The PostgreSQL side of `store copy` ([`super::super::copy`]): read in one repeatable-read snapshot, written
//! in one transaction, the identity sequences moved past the copied ids before the commit. Scoped to all
//! tenants (`brandpunt.tenant = all`).
//!
//! Rows are written with `COPY ... FROM STDIN (FORMAT binary)`, one `COPY` per batch, each value encoded for
//! the column type the server states ([`Cell`]); tables with a geometry column (areas, custom areas: few rows)
//! as `INSERT ... SELECT FROM unnest(<one array per column>)`, which makes the PostGIS geometry from WKB.
//! PostgreSQL refuses `COPY FROM` into a table under row-level security, and the tenant-owned tables force it
//! on their owner too: the copy (run as the owner) lifts the forcing of those tables inside its transaction
//! (`ALTER TABLE ... NO FORCE ROW LEVEL SECURITY`, which locks them until the commit; the target is new) and
//! forces it again just before the commit. Both are part of the one transaction: a copy that fails or is
//! killed leaves the tables forced as they were. So are the plain indexes of each table copied with `COPY`,
//! dropped before its first row and built again after its last.

use super::super::copy::{
    select_sql, unexpected, Column, CopyError, CopySource, CopyTarget, Kind, RowVisitor, Side,
    Table, Value, TABLES,
};
use super::super::StoreError;
use super::connection::{get, Param};
use super::{PostgresStore, ALL_TENANTS};
use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Row;

/// Rows written by one `COPY` statement before the next batch starts another ([`PostgresStore::copy_rows`]).
const COPY_ROWS: u64 = 65_536;

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

/// Whether `value` is of `kind`'s copy type (as [`Array::push`] takes it).
fn fits(kind: Kind, value: &Value) -> bool {
    matches!(
        (kind, value),
        (_, Value::Null)
            | (
                Kind::Int8 | Kind::Int4 | Kind::Bool | Kind::Real,
                Value::Integer(_)
            )
            | (Kind::Real, Value::Real(_))
            | (Kind::Text | Kind::Json, Value::Text(_))
            | (Kind::Geometry, Value::Blob(_))
    )
}

/// One value of a copied row in the binary format of its column's type (`COPY ... (FORMAT binary)`), the type
/// being the one the server states for the column. Values are checked against their column's [`Kind`] before
/// ([`fits`]); a value the column type cannot hold (an integer beyond `int4`) is an error of the `COPY`.
#[derive(Debug)]
struct Cell<'a>(&'a Value);

impl ToSql for Cell<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) if *ty == Type::INT8 => i.to_sql(ty, out),
            Value::Integer(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Integer(i) if *ty == Type::BOOL => (*i != 0).to_sql(ty, out),
            Value::Integer(i) if *ty == Type::FLOAT8 => (*i as f64).to_sql(ty, out),
            Value::Real(f) if *ty == Type::FLOAT8 => f.to_sql(ty, out),
            // jsonb's binary format: a version byte (1), then the JSON text.
            Value::Text(text) if *ty == Type::JSONB => {
                out.put_u8(1);
                out.put_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            Value::Text(text) if *ty == Type::TEXT || *ty == Type::VARCHAR => {
                text.as_str().to_sql(ty, out)
            }
            Value::Blob(b) if *ty == Type::BYTEA => b.as_slice().to_sql(ty, out),
            value => Err(format!("{value:?} past niet in een kolom van type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
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
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        let prepare = || -> Result<Vec<String>, StoreError> {
            self.conn.batch("DELETE FROM tenant")?;
            // The indexes dropped for the copy are built again in memory (the default is 64 MB).
            self.conn
                .batch("SET LOCAL maintenance_work_mem = '256MB'")?;
            // The copied tables whose row-level security is forced on their owner: COPY FROM refuses them.
            let forced: Vec<String> = self
                .conn
                .query(
                    "SELECT t FROM unnest($1::text[]) t
                     WHERE (SELECT relforcerowsecurity FROM pg_class WHERE oid = to_regclass(t))",
                    &[&names],
                )?
                .iter()
                .map(|r| get(r, 0))
                .collect::<Result<_, _>>()?;
            for t in &forced {
                self.conn
                    .batch(&format!("ALTER TABLE \"{t}\" NO FORCE ROW LEVEL SECURITY"))?;
            }
            Ok(forced)
        };
        match prepare() {
            Ok(forced) => {
                self.copy_unforced = forced;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.batch("ROLLBACK");
                Err(e.into())
            }
        }
    }

    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError> {
        let geometry = table
            .columns
            .iter()
            .any(|c| c.kind == Kind::Geometry && matches!(c.postgres, Side::Stored(_)));
        if geometry {
            self.end_table()?;
            self.insert_rows(table, rows)
        } else {
            self.copy_rows(table, rows)
        }
    }

    fn commit_copy(&mut self) -> Result<(), CopyError> {
        let unforced = std::mem::take(&mut self.copy_unforced);
        let mut finish = || -> Result<(), StoreError> {
            self.end_table()?;
            for t in &unforced {
                self.conn
                    .batch(&format!("ALTER TABLE \"{t}\" FORCE ROW LEVEL SECURITY"))?;
            }
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
        // Dropped unfinished: the copy is aborted, so the connection takes the rollback.
        self.copy_open = None;
        self.copy_table = None;
        self.copy_unforced.clear();
        let _ = self.conn.batch("ROLLBACK");
    }
}

impl PostgresStore {
    /// The stored columns of `table` on PostgreSQL: (index in the copied row, column, stored name).
    fn stored_columns(table: &Table) -> Vec<(usize, &Column, &'static str)> {
        table
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.postgres {
                Side::Stored(name) => Some((i, c, name)),
                Side::Derived(_) => None,
            })
            .collect()
    }

    /// End the open `COPY`, if any, and wait until the server has taken its rows.
    fn finish_open_copy(&mut self) -> Result<(), StoreError> {
        if let Some(copy) = self.copy_open.take() {
            copy.finish()?;
        }
        Ok(())
    }

    /// The table being copied with `COPY` has all its rows: end the open `COPY` and build the indexes dropped
    /// for it (one sort per index instead of a B-tree insert per row: "Populating a Database" in PostgreSQL's
    /// manual).
    fn end_table(&mut self) -> Result<(), StoreError> {
        self.finish_open_copy()?;
        if let Some((_, indexes)) = self.copy_table.take() {
            for definition in indexes {
                self.conn.batch(&definition)?;
            }
        }
        Ok(())
    }

    /// Drop the plain indexes of `table` (not those of a primary key or unique constraint, which the copy's
    /// rows are checked against) and return their definitions, to be built again by [`Self::end_table`].
    fn drop_plain_indexes(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.conn.query(
            "SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid) FROM pg_index x
             WHERE x.indrelid = to_regclass($1)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
             ORDER BY 1",
            &[&table],
        )?;
        let mut definitions = Vec::with_capacity(rows.len());
        for r in &rows {
            let name: String = get(r, 0)?;
            self.conn.batch(&format!("DROP INDEX {name}"))?;
            definitions.push(get(r, 1)?);
        }
        Ok(definitions)
    }

    /// Write `rows` of `table` into the table's open `COPY ... FROM STDIN (FORMAT binary)` (started by the
    /// table's first batch, so the server takes in the rows while the source is read), each value encoded for
    /// the type the server states for its column. A copy is ended after [`COPY_ROWS`] rows and the next batch
    /// starts another: the statement triggers of a table (change counters, reference checks) see the rows of
    /// one statement at a time, and that keeps their transition tables bounded. The table's plain indexes are
    /// dropped before its first row and built after its last ([`Self::end_table`]).
    fn copy_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError> {
        let stored = Self::stored_columns(table);
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(rows.len() * stored.len());
        for row in rows {
            for (i, c, _) in &stored {
                let value = &row[*i];
                if !fits(c.kind, value) {
                    return Err(unexpected(table, c, value));
                }
                cells.push(Cell(value));
            }
        }
        if !matches!(&self.copy_table, Some((name, _)) if *name == table.name) {
            self.end_table()?;
            let indexes = self.drop_plain_indexes(table.name)?;
            self.copy_table = Some((table.name, indexes));
        }
        if !matches!(&self.copy_open, Some(copy) if copy.rows() < COPY_ROWS) {
            self.finish_open_copy()?;
            let names: Vec<String> = stored.iter().map(|(_, _, n)| format!("\"{n}\"")).collect();
            let types = self.conn.column_types(&format!(
                "SELECT {} FROM {}",
                names.join(", "),
                table.name
            ))?;
            let copy = self.conn.copy_open(
                &format!(
                    "COPY {} ({}) FROM STDIN (FORMAT binary)",
                    table.name,
                    names.join(", ")
                ),
                &types,
            )?;
            self.copy_open = Some(copy);
        }
        let Some(copy) = self.copy_open.as_mut() else {
            return Ok(());
        };
        let mut row: Vec<Param<'_>> = Vec::with_capacity(stored.len());
        for values in cells.chunks(stored.len().max(1)) {
            row.clear();
            row.extend(values.iter().map(|c| c as Param<'_>));
            copy.write(&row)?;
        }
        Ok(())
    }

    /// Write `rows` of `table` with one `INSERT ... SELECT FROM unnest(...)` (tables with a geometry column).
    fn insert_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError> {
        let stored = Self::stored_columns(table);
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
}
