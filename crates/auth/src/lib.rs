//! Posthorn's AUTH credential backends: who may submit mail after `AUTH PLAIN`/`LOGIN`.
//!
//! Two backends implement [`Authenticator`], chosen by `[auth]` in the config (one at a
//! time, as Postfix allows one SASL backend):
//! - [`PasswordFile`]: `user:hash` lines managed by `posthorn passwd`; new hashes are
//!   argon2id PHC strings, bcrypt hashes brought from elsewhere verify too.
//! - [`DovecotAuth`]: asks Dovecot's auth socket, in the protocol Postfix speaks.
//!
//! [`FailureThrottle`] counts failed attempts per client IP so a password guesser gets
//! `421` for a while.
//!
//! This crate does not speak SMTP, decode SASL exchanges or decide replies: the server
//! turns a [`Verdict`] into `235`/`535` and an [`AuthError`] into `454`.

mod dovecot;
mod hash;
mod password_file;
mod throttle;

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

pub use dovecot::DovecotAuth;
pub use hash::{check_user_name, UserNameError};
pub use password_file::PasswordFile;
pub use throttle::FailureThrottle;

/// The answer to a credential check the backend could make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are good; `identity` is the user as the backend names it (for
    /// the log, `Received:` and the sender check).
    Accepted { identity: String },
    /// Unknown user or wrong password: the client gets `535 5.7.8`.
    Rejected,
}

/// The backend could not decide. Every variant is temporary for the client (`454 4.7.0`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The backend is down, slow or says it cannot answer now.
    #[error("authentication backend unavailable: {0}")]
    Unavailable(String),
    /// The backend said something we do not understand.
    #[error("authentication backend protocol error: {0}")]
    Protocol(String),
    #[error("authentication backend I/O error: {0}")]
    Io(#[from] io::Error),
}

/// A boxed future, so [`Authenticator`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Checks a user name and password, as sent in `AUTH PLAIN` or `AUTH LOGIN`.
pub trait Authenticator: Send + Sync {
    /// `client` is the SMTP client's address, passed on to backends that log or
    /// throttle by it.
    fn verify<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: Option<IpAddr>,
    ) -> BoxFuture<'a, Result<Verdict, AuthError>>;
}

/// The backend `[auth]` configures, or `None` when neither `password_file` nor
/// `dovecot_socket` is set (then no listener offers AUTH).
pub fn authenticator_from_config(auth: &posthorn_config::Auth) -> Option<Arc<dyn Authenticator>> {
    if let Some(path) = &auth.password_file {
        return Some(Arc::new(PasswordFile::open(path.clone())));
    }
    auth.dovecot_socket
        .as_ref()
        .map(|socket| Arc::new(DovecotAuth::new(socket.clone())) as Arc<dyn Authenticator>)
}

/// The throttle `[auth]` configures.
pub fn throttle_from_config(auth: &posthorn_config::Auth) -> FailureThrottle {
    FailureThrottle::new(auth.max_failures, auth.failure_window)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_configured_backend_is_used() {
        let mut auth = posthorn_config::Auth::default();
        assert!(authenticator_from_config(&auth).is_none());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        PasswordFile::add(&path, "alice", "pw").unwrap();
        auth.password_file = Some(path);
        let backend = authenticator_from_config(&auth).unwrap();
        let verdict = backend.verify("alice", "pw", None).await.unwrap();
        assert_eq!(
            verdict,
            Verdict::Accepted {
                identity: "alice".into()
            }
        );

        auth.password_file = None;
        auth.dovecot_socket = Some(dir.path().join("no-such-socket"));
        let backend = authenticator_from_config(&auth).unwrap();
        let error = backend.verify("alice", "pw", None).await.unwrap_err();
        assert!(matches!(error, AuthError::Unavailable(_)), "{error}");
    }

    #[test]
    fn the_throttle_follows_the_config() {
        let auth = posthorn_config::Auth {
            max_failures: 1,
            failure_window: Duration::from_secs(60),
            ..posthorn_config::Auth::default()
        };
        let throttle = throttle_from_config(&auth);
        let (client, now) = ("192.0.2.1".parse().unwrap(), std::time::Instant::now());
        throttle.record_failure(client, now);
        assert!(throttle.is_throttled(client, now));
        assert!(!throttle.is_throttled(client, now + Duration::from_secs(60)));
    }
}
