//! sysexits(3) codes, as sendmail uses them.

use std::process::ExitCode;

pub const NO_INPUT: u8 = 66;
pub const SOFTWARE: u8 = 70;
pub const OS_ERROR: u8 = 71;
pub const IO_ERROR: u8 = 74;
pub const CONFIG: u8 = 78;

/// The exit code for an error that ended a command.
pub fn code_for(error: &anyhow::Error) -> ExitCode {
    let code = if error
        .downcast_ref::<posthorn_config::ConfigError>()
        .is_some()
        || error.downcast_ref::<posthorn_policy::MapErrors>().is_some()
        || error.downcast_ref::<posthorn_tls::TlsError>().is_some()
    {
        CONFIG
    } else if let Some(error) = error.downcast_ref::<posthorn_spool::SpoolError>() {
        match error {
            posthorn_spool::SpoolError::NotFound(_) => NO_INPUT,
            _ => IO_ERROR,
        }
    } else if error
        .downcast_ref::<posthorn_server::ServerError>()
        .is_some()
    {
        OS_ERROR
    } else {
        SOFTWARE
    };
    ExitCode::from(code)
}
