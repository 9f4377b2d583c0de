//! Logging setup: readable text in development, JSON lines in production, filtered by
//! `RUST_LOG` (default `info`). Each request runs in a `request` span carrying
//! `request_id`, `method` and (once signed in) `user_id`; JSON lines include the span's
//! fields. Nothing here logs paths, query strings, cookies or headers (see
//! `web::http::middleware`). Error reporting lives in `observability::sentry`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

pub use crate::error_chain::ErrorChain;

const DEFAULT_FILTER: &str = "info,actix_server=warn,actix_web=warn";

/// Installs the global subscriber once; later calls (tests build many apps) are no-ops.
pub fn init_tracing(format: LogFormat) {
    init_tracing_with_writer(format, std::io::stderr, None);
    install_panic_hook();
}

/// [`init_tracing`] writing to `writer` with `filter` (else `RUST_LOG`, else `info`);
/// tests capture log output this way. Returns false when a global subscriber was
/// already installed.
pub fn init_tracing_with_writer<W>(format: LogFormat, writer: W, filter: Option<&str>) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = match filter {
        Some(directives) => EnvFilter::new(directives),
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
            .is_ok(),
        LogFormat::Text => builder.with_target(false).try_init().is_ok(),
    }
}

/// Replaces the default panic hook (which prints the panic message to stderr verbatim) with
/// a log line whose message went through the PHI redaction. Installed before Sentry's,
/// which chains to it.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(
                panic = %crate::domain::phi::redact(message),
                %location,
                "panic"
            );
        }));
    });
}
