//! Customers (tenants). Not tenant-scoped: these are the tenants themselves, used by the
//! CLI and by authentication.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::customers;
use crate::db::{DbConnection, DbError};
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub analytics_mode: String,
    pub created_at: NaiveDateTime,
    pub alert_cooldown_minutes: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Customer, DbError> {
    Ok(customers::table
        .filter(customers::slug.eq(slug))
        .select(Customer::as_select())
        .first(conn)?)
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> Result<Customer, DbError> {
    Ok(customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)?)
}

pub fn list_all(conn: &mut DbConnection) -> Result<Vec<Customer>, DbError> {
    Ok(customers::table
        .order(customers::id.asc())
        .select(Customer::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, slug: &str, name: &str) -> Result<i64, DbError> {
    let row = NewCustomer {
        slug,
        name,
        created_at: super::now(),
    };
    let id = on_backend!(conn, c => diesel::insert_into(customers::table)
        .values(&row)
        .returning(customers::id)
        .get_result::<i64>(c))
    .map_err(|e| {
        if DbError::is_unique_violation(&e) {
            DbError::Duplicate("customer slug")
        } else {
            DbError::from(e)
        }
    })?;
    // Every tenant starts with the default CPT-group table (SPEC §2).
    let scope =
        crate::domain::tenant::TenantScope::for_system(crate::domain::tenant::CustomerId(id));
    super::mappings::seed_default_cpt_groups(conn, &scope)?;
    Ok(id)
}

/// The customer with this slug, created (named `name`) when missing. Returns it and
/// whether it was created.
pub fn find_or_create(
    conn: &mut DbConnection,
    slug: &str,
    name: &str,
) -> Result<(Customer, bool), DbError> {
    match find_by_slug(conn, slug) {
        Ok(customer) => Ok((customer, false)),
        Err(DbError::NotFound) => {
            let id = insert(conn, slug, name)?;
            Ok((find_by_id(conn, id)?, true))
        }
        Err(other) => Err(other),
    }
}
