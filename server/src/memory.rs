//! Memory that ended streams freed goes back to the system. glibc's allocator keeps it: its
//! heaps only shrink from the top and each thread has its own, so a gateway that once held 500
//! streams stayed that size after they ended (the SSE soak in `./dev harden` showed it).
//! `malloc_trim` hands every free page back; it runs only after streams have ended.
use std::{sync::Arc, time::Duration};

use crate::gateway::streams::StreamRegistry;

/// Every `every`, if fewer streams are open than were at once since the last look, trims the
/// heaps (off the async threads: it takes the allocator's locks). The registry keeps the peak,
/// so streams that came and went between two looks count too.
pub async fn give_back_after_streams_end(streams: Arc<StreamRegistry>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let (most, open) = streams.take_peak();
        if open < most {
            let _ = tokio::task::spawn_blocking(trim).await;
        }
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
