//! Registries that give a key to at most one owner across aggregates: an
//! address to one person, a hostname to one organization, a person to one
//! organization. A claim is written before the command that introduces the
//! key is appended, confirmed by a trigger in the append's own transaction
//! (see the migrations), and released when the command fails; a claim left
//! by a process that died in between lapses after a minute.

use sqlx::PgPool;

/// One registry: its table, the column of the unique key and the column
/// of the owner. Names are fixed here, never taken from input.
pub struct Registry {
    table: &'static str,
    key: &'static str,
    owner: &'static str,
}

/// Case-folded email address → person.
pub const EMAIL_ADDRESSES: Registry = Registry {
    table: "email_claims",
    key: "address",
    owner: "person_id",
};

/// Hostname → organization, for good.
pub const HOSTNAMES: Registry = Registry {
    table: "hostname_claims",
    key: "hostname",
    owner: "organization_id",
};

/// Person → the organization they are a member of.
pub const MEMBERSHIPS: Registry = Registry {
    table: "membership_claims",
    key: "person_id",
    owner: "organization_id",
};

impl Registry {
    /// Claims `key` for `owner`, or takes over a claim that the same owner
    /// holds or that lapsed unconfirmed; false when another owner has it.
    /// Concurrent claims on one key serialize on its primary key, so
    /// exactly one wins.
    pub async fn claim(&self, pool: &PgPool, key: &str, owner: &str) -> Result<bool, sqlx::Error> {
        let Registry {
            table,
            key: column,
            owner: holder,
        } = self;
        let sql = format!(
            "INSERT INTO {table} ({column}, {holder}) VALUES ($1, $2)
             ON CONFLICT ({column}) DO UPDATE
                SET {holder} = EXCLUDED.{holder}, claimed_at = now(),
                    confirmed = {table}.confirmed AND {table}.{holder} = EXCLUDED.{holder}
              WHERE {table}.{holder} = EXCLUDED.{holder}
                 OR (NOT {table}.confirmed AND {table}.claimed_at < now() - interval '1 minute')
             RETURNING {holder}"
        );
        let won: Option<String> = sqlx::query_scalar(&sql)
            .bind(key)
            .bind(owner)
            .fetch_optional(pool)
            .await?;
        Ok(won.is_some())
    }

    /// Frees the claim a failed command of `owner` made on `key`, unless an
    /// append confirmed it meanwhile.
    pub async fn release_unconfirmed(
        &self,
        pool: &PgPool,
        key: &str,
        owner: &str,
    ) -> Result<(), sqlx::Error> {
        let Registry {
            table,
            key: column,
            owner: holder,
        } = self;
        let sql =
            format!("DELETE FROM {table} WHERE {column} = $1 AND {holder} = $2 AND NOT confirmed");
        sqlx::query(&sql)
            .bind(key)
            .bind(owner)
            .execute(pool)
            .await?;
        Ok(())
    }
}
