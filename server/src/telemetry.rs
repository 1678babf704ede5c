//! Tracing output: human-readable text by default, JSON lines when configured.
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::LogFormat;

/// Logs go to stdout for `serve`; an operator command's go to stderr (`to_stderr`), so its
/// stdout is the answer alone.
pub fn init(format: LogFormat, level: &str, to_stderr: bool) {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let writer = move || -> Box<dyn std::io::Write> { if to_stderr { Box::new(std::io::stderr()) } else { Box::new(std::io::stdout()) } };
    let result = match format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true).with_writer(writer)).try_init(),
        LogFormat::Text => registry.with(fmt::layer().with_writer(writer)).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
