//! Login throttling, counted in the database so every Gatehouse process on it sees the same
//! guesses. Each attempt is counted *before* its password is checked, in a transaction that
//! locks the counters, so a thousand attempts sent at once get no more password checks than a
//! thousand sent one by one. A success takes its attempt back.
//!
//! Three counters per attempt: the (account, address) pair, the account from anywhere, and the
//! address for any account. Past a free allowance each failure doubles the wait, up to a cap;
//! attempts refused for waiting are not counted, and failures older than the window are
//! forgotten, so nobody can be locked out for longer than the cap by someone else. And a device
//! that logged in to the account before (its device cookie, see `device`) is counted on its own,
//! so a stranger's guesses from rotating addresses never keep the owner out.
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QuerySelect, sea_query::OnConflict};

use crate::error::{AppError, ErrorCode};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_throttles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub failures: i32,
        pub last_failure_at: DateTimeUtc,
        pub blocked_until: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How many failures are free, and the longest wait past them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub free: i32,
    pub cap: Duration,
}

impl Limit {
    /// The wait after the `failures`-th failure: none within the allowance, then 1 s, 2 s, 4 s…
    pub fn wait_after(self, failures: i32) -> Duration {
        if failures < self.free {
            return Duration::zero();
        }
        let doublings = (failures - self.free).min(20) as u32;
        Duration::seconds(1i64 << doublings).min(self.cap)
    }
}

/// One account guessed at from one address: the brute force this is for.
pub const PAIR: Limit = Limit { free: 5, cap: Duration::minutes(15) };
/// One account guessed at from many addresses. The cap is short: this counter is the one an
/// attacker could use against the account's owner, so it only ever slows them by a minute.
pub const ACCOUNT: Limit = Limit { free: 10, cap: Duration::minutes(1) };
/// Many accounts tried from one address (credential stuffing).
pub const ADDRESS: Limit = Limit { free: 30, cap: Duration::minutes(15) };
/// Failures older than this no longer count.
pub const WINDOW: Duration = Duration::minutes(15);

/// An email as typed, as the counters (and device cookies) name it: trimmed, lower case, at most
/// 254 characters. It need not belong to an account.
pub fn counted_email(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

/// The counters one attempt touches.
pub struct Attempt {
    /// The (address, account) pair and the account; none for a sign-up.
    account: Option<(String, String)>,
    address: String,
    /// A device known to the account: its attempts are counted against it alone.
    device: Option<String>,
}

impl Attempt {
    /// A login (or a password check) for `email` as typed (it need not belong to an account:
    /// unknown emails are throttled the same way, so throttling tells nothing about who has an
    /// account).
    pub fn login(email: &str, ip: Option<&str>) -> Self {
        let email = counted_email(email);
        let pair = format!("pair:{} {email}", ip.unwrap_or("unknown"));
        Self { account: Some((pair, format!("account:{email}"))), ..Self::sign_up(ip) }
    }

    /// A login for `email` from `device`, which logged in to that account before.
    pub fn login_from_device(email: &str, ip: Option<&str>, device: Option<String>) -> Self {
        let email = counted_email(email);
        let device = device.map(|id| format!("device:{id} {email}"));
        Self { device, ..Self::login(&email, ip) }
    }

    /// A sign-up from `ip`. It counts against the address like a failed login unless it creates
    /// the account, so learning which emails are taken by signing up with them is throttled
    /// exactly like guessing passwords (sign-up has to say when an email is taken: without
    /// email verification there is no other way to tell the person signing up).
    pub fn sign_up(ip: Option<&str>) -> Self {
        Self { account: None, address: format!("address:{}", ip.unwrap_or("unknown")), device: None }
    }

    fn counters(&self) -> Vec<(&str, Limit)> {
        if let Some(device) = &self.device {
            // One device guessed at: as strict as one address, and nothing anyone else does
            // counts against it.
            return vec![(device.as_str(), PAIR)];
        }
        let account = self.account.iter().flat_map(|(pair, account)| [(pair.as_str(), PAIR), (account.as_str(), ACCOUNT)]);
        account.chain([(self.address.as_str(), ADDRESS)]).collect()
    }

    /// Counts this attempt as a failure, or refuses it (429 with how long to wait) when one of
    /// its counters is still waiting.
    pub async fn begin(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> Result<(), AppError> {
        let txn = crate::events::begin_write(db).await?;
        let mut rows = Vec::with_capacity(3);
        for (key, limit) in self.counters() {
            let row = locked_row(&txn, key, now).await?;
            if let Some(until) = row.blocked_until.filter(|until| *until > now) {
                // Nothing written: waiting attempts do not count.
                txn.rollback().await?;
                return Err(too_many(until - now));
            }
            rows.push((row, limit));
        }
        for (row, limit) in rows {
            let failures = if now - row.last_failure_at > WINDOW { 1 } else { row.failures + 1 };
            let wait = limit.wait_after(failures);
            entity::Entity::update(entity::ActiveModel {
                key: Set(row.key),
                failures: Set(failures),
                last_failure_at: Set(now),
                blocked_until: Set((wait > Duration::zero()).then(|| now + wait)),
            })
            .exec(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// The password was right (or the sign-up made its account): the account's counters start
    /// afresh and the address gets this attempt back.
    pub async fn succeeded(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        use sea_orm::{
            ColumnTrait, QueryFilter,
            sea_query::{Expr, ExprTrait},
        };
        let txn = crate::events::begin_write(db).await?;
        if let Some(device) = &self.device {
            entity::Entity::delete_many().filter(entity::Column::Key.eq(device.as_str())).exec(&txn).await?;
        } else if let Some((pair, account)) = &self.account {
            entity::Entity::delete_many().filter(entity::Column::Key.is_in([pair.as_str(), account.as_str()])).exec(&txn).await?;
        }
        entity::Entity::update_many()
            .col_expr(entity::Column::Failures, Expr::col(entity::Column::Failures).sub(1))
            .filter(entity::Column::Key.eq(self.address.as_str()))
            .filter(entity::Column::Failures.gt(0))
            .exec(&txn)
            .await?;
        txn.commit().await
    }
}

/// Deletes counters whose failures are forgotten and whose waits are over; returns how many.
pub async fn forget_old(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    // No wait outlives its last failure by more than the longest cap.
    let cutoff = now - WINDOW - PAIR.cap.max(ACCOUNT.cap).max(ADDRESS.cap);
    let deleted = entity::Entity::delete_many().filter(entity::Column::LastFailureAt.lt(cutoff)).exec(db).await?;
    Ok(deleted.rows_affected)
}

/// The counter `key`, created if missing, locked for the rest of the transaction (a row lock
/// on PostgreSQL; SQLite's write transaction already excludes every other writer).
async fn locked_row(txn: &impl ConnectionTrait, key: &str, now: DateTime<Utc>) -> Result<entity::Model, DbErr> {
    entity::Entity::insert(entity::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(0),
        last_failure_at: Set(now),
        blocked_until: Set(None),
    })
    .on_conflict(OnConflict::column(entity::Column::Key).do_nothing().to_owned())
    .exec_without_returning(txn)
    .await?;
    let mut query = entity::Entity::find_by_id(key.to_owned());
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(txn).await?.ok_or_else(|| DbErr::RecordNotFound(format!("login counter {key}")))
}

fn too_many(wait: Duration) -> AppError {
    metrics::counter!(super::THROTTLED_METRIC).increment(1);
    let seconds = (wait.num_milliseconds() + 999).max(1000) / 1000;
    let when = if seconds < 60 { format!("{seconds} seconds") } else { format!("{} minutes", (seconds + 59) / 60) };
    AppError::new(ErrorCode::TooManyAttempts, format!("Too many failed attempts. Try again in {when}.")).retry_after(seconds as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_past_the_allowance_up_to_the_cap() {
        let waits: Vec<i64> = (1..=12).map(|n| PAIR.wait_after(n).num_seconds()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128]);
        assert_eq!(PAIR.wait_after(30), Duration::minutes(15));
        assert_eq!(ACCOUNT.wait_after(i32::MAX), Duration::minutes(1));
        assert_eq!(ADDRESS.wait_after(29), Duration::zero());
    }

    #[test]
    fn the_wait_is_said_in_words_and_in_retry_after() {
        let error = too_many(Duration::milliseconds(1500));
        assert_eq!((error.code, error.retry_after), (ErrorCode::TooManyAttempts, Some(2)));
        assert_eq!(error.message, "Too many failed attempts. Try again in 2 seconds.");
        assert_eq!(too_many(Duration::seconds(61)).message, "Too many failed attempts. Try again in 2 minutes.");
    }
}
