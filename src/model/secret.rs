//! Secrets from the config: where a value comes from (written in the file, an environment
//! variable, a file, a systemd credential), read when it is needed and kept in a
//! [`Secret`] that never prints its value. The OTLP exporter's headers, a load test's
//! headers and a Redis password all use this one reader.

use std::fmt;
use std::path::PathBuf;

/// Where a header's value comes from. Values from the environment or a file are read when
/// the exporter starts, and are never logged or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// Written in the config (fine for a tenant id, not for a token).
    Literal(String),
    /// The named environment variable.
    Env(String),
    /// A file's content without the trailing newline.
    File(PathBuf),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (`LoadCredential=`).
    Credential(String),
}

/// A header value that must not reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// A value already in hand (a literal, or one parsed from `OTEL_*` variables).
    pub(crate) fn new(value: String) -> Self {
        Secret(value)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Why a secret could not be read; names the header and the source, never a value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SecretError(pub String);

/// Reads the value of header (or password) `name` from `source`; `env` looks up
/// environment variables (a parameter so that tests need not change the process's).
pub(crate) fn read_header(
    name: &str,
    source: &HeaderSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, SecretError> {
    let read_file = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path)
            .map(|text| Secret(text.trim_end_matches(['\n', '\r']).to_string()))
            .map_err(|e| {
                SecretError(format!(
                    "header {name}: cannot read {what} {}: {e}",
                    path.display()
                ))
            })
    };
    match source {
        HeaderSource::Literal(value) => Ok(Secret(value.clone())),
        HeaderSource::Env(var) => env(var).map(Secret).ok_or_else(|| {
            SecretError(format!(
                "header {name}: the environment variable {var} is not set"
            ))
        }),
        HeaderSource::File(path) => read_file(path, "the file"),
        HeaderSource::Credential(credential) => {
            let dir = env("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                SecretError(format!(
                    "header {name}: credential \"{credential}\" needs $CREDENTIALS_DIRECTORY (LoadCredential= in the unit)"
                ))
            })?;
            read_file(
                &std::path::Path::new(&dir).join(credential),
                "the credential",
            )
        }
    }
}
