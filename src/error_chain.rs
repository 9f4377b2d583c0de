//! Errors in log lines with their causes; a leaf every layer may use.

/// Displays an error with its whole `source()` chain ("upload failed: database query
/// failed: database is locked"), so a log line carries the backend's own message while
/// the person sees only the top sentence.
pub struct ErrorChain<'e>(pub &'e (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
