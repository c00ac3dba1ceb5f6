//! `--http ADDR:PORT`: a web viewer for a board without a screen (the live
//! annotated video, the detections and events as they happen), Prometheus
//! metrics and a health check, behind a token unless it listens on the
//! loopback address only.
//!
//! Routes: `/` (the page), `/login`, `/stream.mjpg`, `/snapshot.jpg`,
//! `/api/detections` and `/api/events` (server-sent events of the
//! `--headless` and `--events` JSON), `/api/info`, `/metrics`, `/healthz`
//! (the only one open without the token, for probes).

pub mod auth;
pub mod hub;
pub mod metrics;
pub mod review;
pub mod server;
pub mod sink;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The web options from the command line. Its Debug output hides the token.
#[derive(Clone)]
pub struct WebOptions {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The token, given on the command line.
    pub token: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// Allow a non-loopback address without a token.
    pub insecure: bool,
    /// The most streams at once.
    pub max_clients: usize,
    /// TLS certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `/healthz` fails after this long without a frame.
    pub health_timeout: Duration,
}

impl std::fmt::Debug for WebOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebOptions")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| crate::secrets::HIDDEN))
            .field("token_file", &self.token_file)
            .field("insecure", &self.insecure)
            .field("max_clients", &self.max_clients)
            .field("tls", &self.tls)
            .field("health_timeout", &self.health_timeout)
            .finish()
    }
}

/// A token shorter than this is refused: it could be guessed.
pub const MIN_TOKEN: usize = 16;

impl WebOptions {
    /// The access rule: a token when one is given (or read from its
    /// file); none on a loopback address or with `insecure`; otherwise an
    /// error, since anyone on the network could watch the camera.
    pub fn access(&self) -> Result<auth::Access, String> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => Some(t.trim().to_owned()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--http-token-file {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        if let Some(t) = &token {
            if t.len() < MIN_TOKEN || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "--http-token: use at least {MIN_TOKEN} characters without spaces (e.g. `openssl rand -hex 16`)"
                ));
            }
        } else if !self.addr.ip().is_loopback() && !self.insecure {
            return Err(format!(
                "--http {}: anyone on the network could watch this camera; add --http-token-file FILE \
                 (or --http-insecure to allow it)",
                self.addr
            ));
        }
        auth::Access::new(token)
    }

    /// The server's options.
    pub fn server_options(&self) -> Result<server::ServerOptions, String> {
        let tls = match &self.tls {
            Some((cert, key)) => Some(crate::net::tls::server_config(cert, key)?),
            None => None,
        };
        Ok(server::ServerOptions {
            access: self.access()?,
            tls,
            max_clients: self.max_clients,
            health_timeout: self.health_timeout,
            events_db: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token() {
        let options = WebOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: Some("correct-horse-battery-staple".into()),
            token_file: None,
            insecure: false,
            max_clients: 4,
            tls: None,
            health_timeout: Duration::from_secs(10),
        };
        let shown = format!("{options:?}");
        assert!(!shown.contains("horse") && shown.contains("***") && shown.contains("8080"), "{shown}");
    }
}
