//! The devices behind `conformance device`, built from the `setup` command and the
//! command that starts the flow: the registrar (`register`), the new device (A) and
//! the existing device (B) (`show_qr` or `scan_qr`).

use devices::qr_login::{
    DialectName, ExistingDevice, ExistingDeviceConfig, ExistingDeviceKnobs, NewDevice, NewDeviceConfig,
    NewDeviceKnobs,
};
use devices::retry::RetryOn429;
use devices::{Role, RoleKind};

use devices::registrar::{Registrar, RegistrarConfig, RegistrarKnobs};

use super::options::DeviceOptions;
use crate::adapter::protocol::{AdapterCommand, Setup};
use crate::scenario::roles::Pace;

/// The device ID the new device asks for (the runner learns it from `/login` anyway).
const NEW_DEVICE_ID: &str = "NEWDEVICE";

fn knobs<T: serde::de::DeserializeOwned + Default>(options: &DeviceOptions) -> Result<T, String> {
    match &options.knobs {
        Some(k) => serde_json::from_value(k.clone()).map_err(|e| format!("--knobs: {e}")),
        None => Ok(T::default()),
    }
}

/// Builds A or B from the `setup` command and the command that starts the flow.
fn build_qr(
    kind: RoleKind,
    options: &DeviceOptions,
    setup: &Setup,
    start: &AdapterCommand,
) -> Result<Box<dyn Role>, String> {
    let (shows_code, dialect) = match start {
        AdapterCommand::ShowQr { dialect } => (
            true,
            match dialect.as_str() {
                "v1" => DialectName::V1,
                "v2" => DialectName::V2,
                other => return Err(format!("unknown dialect `{other}` (v1 or v2)")),
            },
        ),
        AdapterCommand::ScanQr { .. } => (false, DialectName::V1),
        other => {
            return Err(format!("a QR-login device expects `show_qr` or `scan_qr`, not {}", other.to_line()))
        }
    };
    let timeout_ms = u64::try_from(options.deadline.as_millis()).unwrap_or(u64::MAX);
    match kind {
        RoleKind::NewDevice => {
            let mut config = NewDeviceConfig::new(NEW_DEVICE_ID);
            config.homeserver = options.homeserver.clone();
            config.shows_code = shows_code;
            config.dialect = dialect;
            config.timeout_ms = setup.wait_ms.unwrap_or(timeout_ms);
            if let Some(ms) = options.poll_ms {
                config.poll_ms = ms;
            }
            config.setup.e2ee = setup.e2ee.unwrap_or(true);
            config.knobs = knobs::<NewDeviceKnobs>(options)?;
            Ok(Box::new(RetryOn429::new(NewDevice::new(config))))
        }
        RoleKind::ExistingDevice => {
            let (Some(username), Some(password), Some(device_id)) =
                (setup.username.as_deref(), setup.password.as_deref(), setup.device_id.as_deref())
            else {
                return Err("the existing device's `setup` needs username, password and device_id".into());
            };
            let mut config = ExistingDeviceConfig::new(&options.homeserver, username, password, device_id);
            config.shows_code = shows_code;
            config.dialect = dialect;
            config.timeout_ms = timeout_ms;
            if let Some(ms) = setup.wait_ms {
                config.device_wait_ms = ms;
            }
            if let Some(ms) = options.poll_ms {
                config.poll_ms = ms;
            }
            if let Some(pace) = Pace::of(options.poll_ms) {
                config.quiet_ms = pace.quiet_ms(config.quiet_ms);
            }
            config.setup.cross_signing = setup.cross_signing.unwrap_or(true);
            config.setup.backup = setup.backup.unwrap_or(true);
            config.knobs = knobs::<ExistingDeviceKnobs>(options)?;
            Ok(Box::new(RetryOn429::new(ExistingDevice::new(config))))
        }
        RoleKind::Registrar => Err("the registrar is built elsewhere".into()),
    }
}

/// Builds the role from the `setup` command and the command that starts the flow.
pub(crate) fn build(
    options: &DeviceOptions,
    setup: &Setup,
    start: &AdapterCommand,
) -> Result<Box<dyn Role>, String> {
    match (options.kind, start) {
        (RoleKind::Registrar, AdapterCommand::Register { registration_token }) => {
            let mut config = RegistrarConfig::new(
                &options.homeserver,
                setup.username.as_deref().unwrap_or("rita"),
                setup.password.as_deref().unwrap_or("registrar password"),
                0,
            );
            if let Some(server_name) = &setup.server_name {
                config.server_name = server_name.clone();
            }
            config.registration_token = registration_token.clone();
            config.deadline_ms = options.deadline.as_millis() as u64;
            if let Some(knobs) = &options.knobs {
                config.knobs = serde_json::from_value::<RegistrarKnobs>(knobs.clone())
                    .map_err(|e| format!("--knobs: {e}"))?;
            }
            Ok(Box::new(RetryOn429::new(Registrar::new(config))))
        }
        (RoleKind::Registrar, other) => {
            Err(format!("a registrar expects `register`, not {}", other.to_line()))
        }
        (kind, start) => build_qr(kind, options, setup, start),
    }
}
