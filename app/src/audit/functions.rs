use leptos::prelude::*;

use super::domain::AuditPage;
#[cfg(feature = "ssr")]
use crate::accounts::ssr::sign_in::require_actor;
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server_fns::with_status;

#[server(prefix = "/rpc", endpoint = "audit_log")]
pub async fn audit_log(page: u64, everything: bool) -> Result<AuditPage, AppError> {
    with_status(
        async move {
            let (state, actor) = require_actor().await?;
            super::ssr::list(&state.db, &actor, everything, page, super::DEFAULT_PER_PAGE).await
        }
        .await,
    )
}
