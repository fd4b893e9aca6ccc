//! The SQLite side of `store copy` ([`super::copy`]): read in one read transaction, written in one immediate
//! transaction.

use super::copy::{
    select_sql, CopyError, CopySource, CopyTarget, RowVisitor, Side, Table, Value, TABLES,
};
use super::{SqliteStore, StoreError};

impl CopySource for SqliteStore {
    fn visit_tables(
        &self,
        tables: &[usize],
        visitor: &mut dyn RowVisitor,
    ) -> Result<(), CopyError> {
        let c = self.connection();
        c.execute_batch("BEGIN").map_err(StoreError::from)?;
        let result = (|| -> Result<(), CopyError> {
            for &i in tables {
                let table = &TABLES[i];
                let rows: i64 = c
                    .query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
                        r.get(0)
                    })
                    .map_err(StoreError::from)?;
                visitor.table(i, u64::try_from(rows).unwrap_or(0))?;
                let mut stmt = c
                    .prepare(&select_sql(table, false))
                    .map_err(StoreError::from)?;
                let mut cursor = stmt.query([]).map_err(StoreError::from)?;
                while let Some(row) = cursor.next().map_err(StoreError::from)? {
                    let mut values = Vec::with_capacity(table.columns.len());
                    for k in 0..table.columns.len() {
                        values.push(row.get::<_, Value>(k).map_err(StoreError::from)?);
                    }
                    visitor.row(values)?;
                }
            }
            Ok(())
        })();
        // A read transaction: ending it cannot lose anything.
        let _ = c.execute_batch("COMMIT");
        result
    }
}

impl CopyTarget for SqliteStore {
    fn count_rows(&self, table: &Table) -> Result<u64, CopyError> {
        let rows: i64 = self
            .connection()
            .query_row(&format!("SELECT count(*) FROM {}", table.name), [], |r| {
                r.get(0)
            })
            .map_err(StoreError::from)?;
        Ok(u64::try_from(rows).unwrap_or(0))
    }

    fn tenant_codes(&self, limit: usize) -> Result<Vec<String>, CopyError> {
        let c = self.connection();
        let mut stmt = c
            .prepare("SELECT code FROM tenant ORDER BY id LIMIT ?1")
            .map_err(StoreError::from)?;
        let codes = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))
            .map_err(StoreError::from)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(StoreError::from)?;
        Ok(codes)
    }

    fn begin_copy(&mut self) -> Result<(), CopyError> {
        let c = self.connection();
        c.execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        if let Err(e) = c.execute_batch("DELETE FROM tenant") {
            let _ = c.execute_batch("ROLLBACK");
            return Err(StoreError::from(e).into());
        }
        Ok(())
    }

    fn write_rows(&mut self, table: &Table, rows: &[Vec<Value>]) -> Result<(), CopyError> {
        let stored: Vec<(usize, &str)> = table
            .columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c.sqlite {
                Side::Stored(name) => Some((i, name)),
                Side::Derived(_) => None,
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            stored
                .iter()
                .map(|(_, n)| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", "),
            (1..=stored.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let c = self.connection();
        let mut stmt = c.prepare_cached(&sql).map_err(StoreError::from)?;
        for row in rows {
            let params = rusqlite::params_from_iter(stored.iter().map(|&(i, _)| &row[i]));
            stmt.execute(params).map_err(StoreError::from)?;
        }
        Ok(())
    }

    fn commit_copy(&mut self) -> Result<(), CopyError> {
        let c = self.connection();
        if let Err(e) = c.execute_batch("COMMIT") {
            let _ = c.execute_batch("ROLLBACK");
            return Err(StoreError::from(e).into());
        }
        Ok(())
    }

    fn rollback_copy(&mut self) {
        let _ = self.connection().execute_batch("ROLLBACK");
    }
}
