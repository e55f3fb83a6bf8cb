//! Output lines on the GPIO character device, claimed without changing their level.
//!
//! A line is requested "as is" (no direction), which leaves its direction and level alone, and
//! its present level is read through that request. It becomes an output only when it is first
//! set, in one `GPIO_V2_LINE_SET_CONFIG` call that carries the level, so the line never
//! passes through a level that was not commanded. Each line has its own request, because
//! reconfiguring a request re-applies the stored output value of every line in it.

use std::fmt;
use std::path::{Path, PathBuf};

use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use gpiocdev::Request;
use gpiocdev::line::Value;
use gpiocdev::request::Config;
use nix::errno::Errno;

use super::CONSUMER;

/// An output line that adopted its present level.
#[derive(Debug)]
pub struct LinuxOutput {
    request: Request,
    offset: u32,
    chip: PathBuf,
    is_output: bool,
}

impl LinuxOutput {
    /// Requests line `offset` of `chip` as is and returns it with its present level (`true` =
    /// high). Nothing is driven.
    pub fn claim(chip: &Path, offset: u32) -> Result<(Self, bool), gpiocdev::Error> {
        let request = Request::builder()
            .on_chip(chip)
            .with_consumer(CONSUMER)
            .with_line(offset)
            .as_is()
            .request()?;
        let high = request.value(offset)? == Value::Active;
        let line = Self {
            request,
            offset,
            chip: chip.to_path_buf(),
            is_output: false,
        };
        Ok((line, high))
    }

    /// Requests line `offset` of `chip` as an output at `high`, labelled `consumer`: for a
    /// line this process owns outright, such as the heartbeat agent's.
    pub fn claim_driven(
        chip: &Path,
        offset: u32,
        consumer: &str,
        high: bool,
    ) -> Result<Self, gpiocdev::Error> {
        let value = if high { Value::Active } else { Value::Inactive };
        let request = Request::builder()
            .on_chip(chip)
            .with_consumer(consumer)
            .with_line(offset)
            .as_output(value)
            .request()?;
        Ok(Self {
            request,
            offset,
            chip: chip.to_path_buf(),
            is_output: true,
        })
    }

    fn drive(&mut self, high: bool) -> Result<(), LineError> {
        let value = if high { Value::Active } else { Value::Inactive };
        let result = if self.is_output {
            self.request.set_value(self.offset, value)
        } else {
            let mut config = Config::default();
            config.with_line(self.offset).as_output(value);
            self.request.reconfigure(&config)
        };
        result.map_err(|source| LineError {
            offset: self.offset,
            chip: self.chip.clone(),
            source,
        })?;
        self.is_output = true;
        Ok(())
    }
}

impl ErrorType for LinuxOutput {
    type Error = LineError;
}

impl OutputPin for LinuxOutput {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.drive(false)
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.drive(true)
    }
}

/// A failure to set a line.
#[derive(Debug)]
pub struct LineError {
    offset: u32,
    chip: PathBuf,
    source: gpiocdev::Error,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "setting line {} of {} failed: {}",
            self.offset,
            self.chip.display(),
            self.source
        )
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl embedded_hal::digital::Error for LineError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// Returns the error number inside a gpiocdev error, when the kernel returned one.
pub fn errno_of(error: &gpiocdev::Error) -> Option<Errno> {
    match error {
        gpiocdev::Error::Os(errno) => Some(Errno::from_raw(errno.0)),
        gpiocdev::Error::Uapi(_, gpiocdev_uapi::Error::Os(errno)) => Some(Errno::from_raw(errno.0)),
        _ => None,
    }
}

/// Returns the offset of the line called `name` on `chip`, as `gpioinfo` lists the names (on
/// a Raspberry Pi: `GPIO17`).
pub fn find_line(chip: &Path, name: &str) -> Result<u32, gpiocdev::Error> {
    let chip = gpiocdev::Chip::from_path(chip)?;
    chip.find_line_info(name)
        .map(|info| info.offset)
        .ok_or_else(|| {
            gpiocdev::Error::InvalidArgument(format!(
                "{} has no line called {name}; `gpioinfo` lists the line names",
                chip.path().display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use gpiocdev_uapi::Errno as UapiErrno;

    use super::*;

    #[test]
    fn errno_found_in_request_error() {
        // A line request that the kernel rejects arrives as a uAPI error around the errno.
        let busy = gpiocdev_uapi::Error::Os(UapiErrno(Errno::EBUSY as i32));
        let error = gpiocdev::Error::Uapi(gpiocdev::UapiCall::GetLine, busy);
        assert_eq!(errno_of(&error), Some(Errno::EBUSY));
    }

    #[test]
    fn errno_found_in_open_error() {
        let error = gpiocdev::Error::Os(UapiErrno(Errno::EACCES as i32));
        assert_eq!(errno_of(&error), Some(Errno::EACCES));
    }

    #[test]
    fn errno_absent_from_argument_error() {
        let error = gpiocdev::Error::InvalidArgument("no chip".into());
        assert_eq!(errno_of(&error), None);
    }
}
