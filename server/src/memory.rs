//! Memory that ended streams freed goes back to the system. glibc's allocator keeps it: its
//! heaps only shrink from the top and each thread has its own, so a gateway that once held 500
//! streams stayed that size after they ended (the SSE soak in `./dev harden` showed it).
//! `malloc_trim` hands every free page back; it runs only after streams have ended.
use std::{sync::Arc, time::Duration};

use crate::gateway::streams::StreamRegistry;

/// Every `every`, if fewer streams are open than at the most since the last trim, trims the
/// heaps (off the async threads: it takes the allocator's locks).
pub async fn give_back_after_streams_end(streams: Arc<StreamRegistry>, every: Duration) {
    let mut most = streams.open();
    loop {
        tokio::time::sleep(every).await;
        let open = streams.open();
        if open < most {
            let _ = tokio::task::spawn_blocking(trim).await;
            most = open;
        }
        most = most.max(open);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it is thread-safe.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(released = released != 0, "gave freed memory back");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
