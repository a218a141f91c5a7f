//! TLS client settings shared by the load tests and the OTLP exporter: the host's CA roots
//! (and `SSL_CERT_FILE` / `SSL_CERT_DIR`), read only when an `https://` target needs them,
//! so a host without a CA bundle still reaches `http://` endpoints, and one that needs
//! TLS is told what is missing.

use std::sync::Arc;

/// The system's CA roots, or why there are none.
pub(crate) fn system_roots() -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!(
            "no CA certificates found on this host ({}); install ca-certificates or set SSL_CERT_FILE",
            found
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "none in the system store".into())
        ));
    }
    Ok(roots)
}

/// A client configuration trusting `roots`, on the aws-lc provider with the safe default
/// protocol versions.
pub(crate) fn client_config(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
