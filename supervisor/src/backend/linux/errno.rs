//! The kernel's error numbers mapped onto [`BackendError`], worded with the line or device and
//! what to do next.

use std::path::Path;

use nix::errno::Errno;

use crate::backend::BackendError;

/// A device node the backend opens: a GPIO chip or an I2C bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A GPIO character device, `/dev/gpiochipN`.
    GpioChip,
    /// An i2c-dev node, `/dev/i2c-N`.
    I2cBus,
}

impl DeviceKind {
    fn noun(self) -> &'static str {
        match self {
            DeviceKind::GpioChip => "GPIO chip",
            DeviceKind::I2cBus => "I2C bus",
        }
    }

    fn missing_hint(self) -> &'static str {
        match self {
            DeviceKind::GpioChip => {
                "list the chips with `ls /dev/gpiochip*` (or `gpiodetect`) and set gpio_chip in \
                 [daemon.linux]"
            }
            DeviceKind::I2cBus => {
                "enable the bus (on a Pi: dtparam=i2c_arm=on in config.txt, then reboot), load \
                 the i2c-dev module, and check i2c_bus in [monitor]"
            }
        }
    }
}

/// Maps an error from opening `device` onto a [`BackendError`].
pub fn device_error(errno: Errno, device: &Path, kind: DeviceKind) -> BackendError {
    let noun = kind.noun();
    let path = device.display();
    match errno {
        Errno::EACCES | Errno::EPERM => BackendError::AccessDenied {
            device: path.to_string(),
        },
        Errno::ENOENT | Errno::ENODEV | Errno::ENXIO => BackendError::Other(format!(
            "{noun} {path} does not exist; {}",
            kind.missing_hint()
        )),
        Errno::ENOTTY => BackendError::Other(format!(
            "{path} is not a {noun} device; {}",
            kind.missing_hint()
        )),
        other => BackendError::Other(format!("opening {noun} {path} failed: {}", other.desc())),
    }
}

/// A line the backend requests, for error messages.
#[derive(Clone, Copy, Debug)]
pub struct LineSubject<'a> {
    /// The line's offset on its chip.
    pub line: u32,
    /// The chip's device path.
    pub chip: &'a Path,
    /// The node that uses the line.
    pub node: &'a str,
    /// The line's consumer label as the kernel reports it, when the line is in use.
    pub holder: Option<&'a str>,
}

/// Maps an error from requesting a line onto a [`BackendError`].
pub fn line_error(errno: Errno, subject: LineSubject<'_>) -> BackendError {
    let LineSubject {
        line,
        chip,
        node,
        holder,
    } = subject;
    match errno {
        Errno::EBUSY => BackendError::LineBusy {
            line,
            chip: chip.display().to_string(),
            holder: holder_text(holder),
            node: node.to_owned(),
        },
        Errno::EACCES | Errno::EPERM => BackendError::AccessDenied {
            device: chip.display().to_string(),
        },
        Errno::EINVAL => BackendError::Other(format!(
            "line {line} of {} cannot be requested for node {node}: the chip has no such line or \
             rejects the request; check gpio_chip in [daemon.linux] and the node's line numbers",
            chip.display()
        )),
        other => BackendError::Other(format!(
            "requesting line {line} of {} for node {node} failed: {}",
            chip.display(),
            other.desc()
        )),
    }
}

/// Returns the `holder` text of [`BackendError::LineBusy`]: `: used by LABEL`, or empty when
/// the kernel reports no label.
pub fn holder_text(holder: Option<&str>) -> String {
    match holder {
        Some(label) if !label.is_empty() => format!(": used by {label}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHIP: &str = "/dev/gpiochip0";

    fn subject(holder: Option<&'static str>) -> LineSubject<'static> {
        LineSubject {
            line: 17,
            chip: Path::new(CHIP),
            node: "raspberrypi0.lan",
            holder,
        }
    }

    #[test]
    fn busy_line_names_holder() {
        let error = line_error(Errno::EBUSY, subject(Some("gpioset")));
        assert_eq!(
            error.to_string(),
            "line 17 of /dev/gpiochip0 is busy: used by gpioset: stop that process or pick \
             another line for node raspberrypi0.lan"
        );
    }

    #[test]
    fn busy_line_without_label() {
        let error = line_error(Errno::EBUSY, subject(Some("")));
        let BackendError::LineBusy { holder, .. } = &error else {
            panic!("expected LineBusy, got {error:?}");
        };
        assert_eq!(holder, "");
    }

    #[test]
    fn forbidden_line_is_access_denied() {
        let error = line_error(Errno::EACCES, subject(None));
        let BackendError::AccessDenied { device } = &error else {
            panic!("expected AccessDenied, got {error:?}");
        };
        assert_eq!(device, CHIP);
    }

    #[test]
    fn invalid_line_names_chip_and_node() {
        let message = line_error(Errno::EINVAL, subject(None)).to_string();
        assert!(message.contains("line 17 of /dev/gpiochip0"), "{message}");
        assert!(message.contains("raspberrypi0.lan"), "{message}");
    }

    #[test]
    fn forbidden_i2c_bus_is_access_denied() {
        let error = device_error(Errno::EACCES, Path::new("/dev/i2c-1"), DeviceKind::I2cBus);
        let BackendError::AccessDenied { device } = &error else {
            panic!("expected AccessDenied, got {error:?}");
        };
        assert_eq!(device, "/dev/i2c-1");
    }

    #[test]
    fn missing_i2c_bus_says_how_to_enable_it() {
        let message =
            device_error(Errno::ENOENT, Path::new("/dev/i2c-1"), DeviceKind::I2cBus).to_string();
        assert!(
            message.starts_with("I2C bus /dev/i2c-1 does not exist"),
            "{message}"
        );
        assert!(message.contains("dtparam=i2c_arm=on"), "{message}");
    }

    #[test]
    fn missing_gpio_chip_names_the_setting() {
        let message = device_error(
            Errno::ENOENT,
            Path::new("/dev/gpiochip9"),
            DeviceKind::GpioChip,
        )
        .to_string();
        assert!(
            message.starts_with("GPIO chip /dev/gpiochip9 does not exist"),
            "{message}"
        );
        assert!(message.contains("gpio_chip in [daemon.linux]"), "{message}");
    }

    #[test]
    fn other_errno_keeps_its_description() {
        let message = line_error(Errno::EIO, subject(None)).to_string();
        assert_eq!(
            message,
            "requesting line 17 of /dev/gpiochip0 for node raspberrypi0.lan failed: I/O error"
        );
    }
}
