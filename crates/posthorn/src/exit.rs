//! sysexits(3) codes, as sendmail uses them.

use std::process::ExitCode;

use posthorn_server::control::ControlError;

pub const USAGE: u8 = 64;
pub const DATA_ERROR: u8 = 65;
pub const NO_INPUT: u8 = 66;
pub const SOFTWARE: u8 = 70;
pub const OS_ERROR: u8 = 71;
pub const IO_ERROR: u8 = 74;
pub const TEMP_FAIL: u8 = 75;
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
    } else if let Some(error) = error.downcast_ref::<ControlError>() {
        for_control(error)
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

/// A request to the daemon that failed: no daemon (or an I/O error on its socket) is
/// temporary, a refusal or a reply we do not understand is the software's fault.
pub fn for_control(error: &ControlError) -> u8 {
    match error {
        ControlError::NotRunning { .. } | ControlError::Io { .. } => TEMP_FAIL,
        ControlError::Refused(_) | ControlError::BadReply(_) => SOFTWARE,
    }
}
