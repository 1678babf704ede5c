//! `gatehouse purge-expired` and `gatehouse backup`.
use std::path::Path;

use app::{
    state::AppState,
    tokens::{Expiry, ssr::operator},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{
    CliError,
    output::{Output, table, when},
};
use crate::{Config, db};

/// A duration such as `30d` (no dates, no `never`: an age).
pub fn parse_age(raw: &str) -> Result<chrono::Duration, CliError> {
    match Expiry::parse(raw) {
        Ok(Expiry::After(duration)) => Ok(duration),
        _ => Err(CliError::bad_input(format!("\"{}\" is not an age. Use a duration such as 30m, 12h, 7d, 2w, 90d or 1y.", raw.trim()))),
    }
}

pub async fn purge(state: &AppState, older_than: chrono::Duration, dry_run: bool, out: &Output) -> Result<(), CliError> {
    let cutoff = chrono::Utc::now() - older_than;
    let purged = operator::purge_dead(state, cutoff, dry_run).await?;
    out.print(&serde_json::json!({ "dry_run": dry_run, "removed": purged }), || {
        let rows = purged
            .iter()
            .map(|p| {
                vec![
                    p.fingerprint.clone().unwrap_or_else(|| "-".into()),
                    p.description.clone(),
                    format!("{} {}", p.state, when(Some(p.since), "")),
                    p.id.to_string(),
                ]
            })
            .collect();
        let verb = if dry_run { "Would remove" } else { "Removed" };
        format!(
            "{}\n{verb} {} token(s) dead before {}",
            table(&["FINGERPRINT", "DESCRIPTION", "DEAD SINCE", "ID"], rows, "Nothing to remove."),
            purged.len(),
            when(Some(cutoff), "")
        )
    });
    Ok(())
}

pub async fn backup(config: &Config, to: &Path, out: &Output) -> Result<(), CliError> {
    if config.database_url.starts_with("postgres") {
        return Err(CliError::failed(format!(
            "This Gatehouse runs on PostgreSQL, whose own tool makes consistent copies of a live database:\n  pg_dump --format=custom --file='{}' '{}'\n\
             Restore with pg_restore, and keep the master key with the copy: without it the signing keys in it cannot be read.",
            to.display(),
            db::redact(&config.database_url)
        )));
    }
    if to.exists() {
        return Err(CliError::bad_input(format!("{} already exists; choose a new file.", to.display())));
    }
    let path = to.to_str().ok_or_else(|| CliError::bad_input("The backup path must be valid UTF-8."))?;
    let db = db::connect(&config.database_url, 1).await?;
    // VACUUM INTO writes a consistent snapshot of the live database (readers and writers go
    // on meanwhile), compacted, to a new file.
    db.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, "VACUUM INTO ?", [path.into()]))
        .await
        .map_err(|e| CliError::failed(format!("writing {}: {e}", to.display())))?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    out.print(&serde_json::json!({ "backup": to, "bytes": bytes }), || {
        format!(
            "Wrote {} ({bytes} bytes).\nKeep the master key with it ({}): the signing keys in the copy are sealed under it.",
            to.display(),
            config.master_key.as_ref().map(|_| "GATEHOUSE_MASTER_KEY".to_string()).unwrap_or_else(|| config
                .data_dir
                .join("master.key")
                .display()
                .to_string())
        )
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_durations_only() {
        assert_eq!(parse_age("30d").unwrap(), chrono::Duration::days(30));
        for bad in ["never", "2027-01-01", "soon", ""] {
            let err = parse_age(bad).unwrap_err();
            assert!(err.message.contains("30m, 12h, 7d"), "{bad}: {}", err.message);
        }
    }
}
