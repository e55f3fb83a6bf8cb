//! Values written with a unit: currents, voltages, durations and file sizes.
//!
//! Every physical figure in the file carries its unit (`"5.4A"`, `"400mA"`, `"4.75V"`,
//! `"90s"`, `"16MiB"`), so `400` can never be misread as amps or milliamps. Decimal
//! figures are parsed as exact decimals, never through floating point, so `"5.4A"` is exactly
//! 5400 mA.

use std::fmt;

use picluster_firmware::units::{Duration, Milliamps, Millivolts};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A current as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CurrentValue(pub Milliamps);

/// A voltage as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct VoltageValue(pub Millivolts);

/// A duration as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DurationValue(pub Duration);

/// A file size in bytes as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SizeValue(pub u64);

/// Current suffixes and the power of ten that turns the number into milliamps.
const CURRENT_UNITS: &[(&str, u32)] = &[("mA", 0), ("A", 3)];

/// Voltage suffixes and the power of ten that turns the number into millivolts.
const VOLTAGE_UNITS: &[(&str, u32)] = &[("mV", 0), ("V", 3)];

/// Size suffixes (binary multiples, as journald and logrotate use) and their byte counts.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("B", 1),
];

/// Parses a current such as `"5.4A"` or `"400mA"`.
pub(super) fn parse_current(text: &str) -> Result<Milliamps, String> {
    let milli = parse_decimal(text, CURRENT_UNITS, "mA", Quantity::CURRENT)?;
    i32::try_from(milli)
        .map(Milliamps)
        .map_err(|_| format!("current {text:?} is too large"))
}

/// Parses a voltage such as `"4.75V"` or `"4750mV"`.
pub(super) fn parse_voltage(text: &str) -> Result<Millivolts, String> {
    let milli = parse_decimal(text, VOLTAGE_UNITS, "mV", Quantity::VOLTAGE)?;
    i32::try_from(milli)
        .map(Millivolts)
        .map_err(|_| format!("voltage {text:?} is too large"))
}

/// Parses a duration such as `"90s"`, `"5ms"`, `"15min"` or `"1min 30s"`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed =
        humantime::parse_duration(text.trim()).map_err(|error| duration_message(text, &error))?;
    if parsed.subsec_nanos() % 1_000 != 0 {
        return Err(format!(
            "duration {text:?} is finer than the 1 us resolution"
        ));
    }
    let micros =
        u64::try_from(parsed.as_micros()).map_err(|_| format!("duration {text:?} is too long"))?;
    Ok(Duration::from_micros(micros))
}

/// Words a duration that humantime could not read, in place of its own terse text.
fn duration_message(text: &str, error: &humantime::DurationError) -> String {
    const EXAMPLES: &str = "e.g. \"90s\", \"5ms\" or \"15min\"";
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return format!("invalid duration {text:?}: must not be negative; write {EXAMPLES}");
    }
    if trimmed.parse::<f64>().is_ok() {
        return format!("invalid duration {text:?}: the number needs a unit, {EXAMPLES}");
    }
    match error {
        humantime::DurationError::UnknownUnit { unit, .. } => format!(
            "invalid duration {text:?}: unknown unit {unit:?}; use ms, s, min, h or d, {EXAMPLES}"
        ),
        humantime::DurationError::NumberOverflow => format!("duration {text:?} is too long"),
        _ => format!("invalid duration {text:?}: write a number and a unit, {EXAMPLES}"),
    }
}

/// Parses a size such as `"16MiB"`, `"512KiB"` or `"4096B"`.
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let units = SIZE_UNITS
        .iter()
        .map(|(suffix, _)| *suffix)
        .collect::<Vec<_>>()
        .join(", ");
    let (number, factor) = SIZE_UNITS
        .iter()
        .find_map(|(suffix, factor)| trimmed.strip_suffix(suffix).map(|n| (n.trim(), *factor)))
        .ok_or_else(|| {
            format!("size {text:?} has no unit; use one of {units}, such as \"16MiB\"")
        })?;
    let count: u64 = number.parse().map_err(|_| {
        format!("invalid size {text:?}: write a whole number and a unit, such as \"16MiB\"")
    })?;
    count
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// The kind of figure [`parse_decimal`] reads, named in its messages.
struct Quantity {
    /// The word for it: `current`, `voltage`.
    name: &'static str,
    /// A valid figure to show.
    example: &'static str,
}

impl Quantity {
    const CURRENT: Quantity = Quantity {
        name: "current",
        example: "400mA",
    };
    const VOLTAGE: Quantity = Quantity {
        name: "voltage",
        example: "4.75V",
    };
}

/// Parses an unsigned decimal with one of `units` and scales it to the smallest unit.
///
/// `units` lists each suffix with the power of ten between it and the smallest unit. Longer
/// suffixes come first, so `mA` is tried before `A`.
fn parse_decimal(
    text: &str,
    units: &[(&str, u32)],
    smallest: &str,
    quantity: Quantity,
) -> Result<i64, String> {
    let Quantity { name, example } = quantity;
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "invalid {name} {text:?}: must not be negative; write a number with a unit, e.g. \
             \"{example}\""
        ));
    }
    let suffixes = units
        .iter()
        .map(|(suffix, _)| *suffix)
        .collect::<Vec<_>>()
        .join(" or ");
    let (number, exponent) = units
        .iter()
        .find_map(|(suffix, exponent)| {
            trimmed
                .strip_suffix(suffix)
                .map(|n| (n.trim_end(), *exponent))
        })
        .ok_or_else(|| {
            format!("invalid {name} {text:?}: no unit; end it with {suffixes}, e.g. \"{example}\"")
        })?;

    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(format!(
            "invalid {name} {text:?}: write digits, an optional decimal point and a unit, e.g. \
             \"{example}\""
        ));
    }
    if fraction.len() > exponent as usize {
        return Err(format!(
            "{text:?} is finer than the 1 {smallest} resolution"
        ));
    }

    let scale = 10_i64.pow(exponent);
    let fraction_scale = 10_i64.pow(exponent - fraction.len() as u32);
    let too_large = || format!("{text:?} is too large");
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_large())?
    };
    whole
        .checked_mul(scale)
        .and_then(|scaled| scaled.checked_add(fraction * fraction_scale))
        .ok_or_else(too_large)
}

/// Visits a string and converts it with `parse`; any other TOML type is rejected with `example`.
struct UnitVisitor<T> {
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
}

impl<T> Visitor<'_> for UnitVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.parse)(text).map_err(E::custom)
    }
}

fn deserialize_with_unit<'de, D, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_str(UnitVisitor { parse, expecting })
}

impl<'de> Deserialize<'de> for CurrentValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = "a current with a unit, such as \"5.4A\" or \"400mA\"";
        deserialize_with_unit(deserializer, parse_current, expecting).map(Self)
    }
}

impl<'de> Deserialize<'de> for VoltageValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = "a voltage with a unit, such as \"4.75V\" or \"4750mV\"";
        deserialize_with_unit(deserializer, parse_voltage, expecting).map(Self)
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = "a duration with a unit, such as \"90s\", \"5ms\" or \"15min\"";
        deserialize_with_unit(deserializer, parse_duration, expecting).map(Self)
    }
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = "a size with a unit, such as \"16MiB\"";
        deserialize_with_unit(deserializer, parse_size, expecting).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_in_amps_is_exact() {
        assert_eq!(parse_current("5.4A"), Ok(Milliamps(5_400)));
        assert_eq!(parse_current("0.35 A"), Ok(Milliamps(350)));
        assert_eq!(parse_current("400mA"), Ok(Milliamps(400)));
    }

    #[test]
    fn current_finer_than_milliamp_rejected() {
        let error = parse_current("0.0005A").unwrap_err();
        assert!(error.contains("1 mA resolution"), "{error}");
    }

    #[test]
    fn current_without_unit_rejected() {
        let error = parse_current("400").unwrap_err();
        assert!(error.contains("no unit"), "{error}");
    }

    #[test]
    fn negative_current_rejected() {
        let error = parse_current("-5A").unwrap_err();
        assert_eq!(
            error,
            "invalid current \"-5A\": must not be negative; write a number with a unit, e.g. \
             \"400mA\""
        );
    }

    #[test]
    fn negative_voltage_names_voltage() {
        let error = parse_voltage("-4.75V").unwrap_err();
        assert!(error.starts_with("invalid voltage \"-4.75V\""), "{error}");
        assert!(error.contains("must not be negative"), "{error}");
    }

    #[test]
    fn voltage_in_volts_is_exact() {
        assert_eq!(parse_voltage("4.75V"), Ok(Millivolts(4_750)));
        assert_eq!(parse_voltage("4850mV"), Ok(Millivolts(4_850)));
    }

    #[test]
    fn durations_parse_humane_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("15min"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1min 30s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn duration_without_unit_rejected() {
        let error = parse_duration("90").unwrap_err();
        assert_eq!(
            error,
            "invalid duration \"90\": the number needs a unit, e.g. \"90s\", \"5ms\" or \
             \"15min\""
        );
        assert!(!error.contains("time unit needed"), "{error}");
    }

    #[test]
    fn duration_unknown_unit_named() {
        let error = parse_duration("5sex").unwrap_err();
        assert!(error.contains("unknown unit \"sex\""), "{error}");
    }

    #[test]
    fn negative_duration_rejected() {
        let error = parse_duration("-5s").unwrap_err();
        assert!(error.contains("must not be negative"), "{error}");
    }

    #[test]
    fn sizes_use_binary_multiples() {
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("100B"), Ok(100));
    }

    #[test]
    fn size_without_unit_rejected() {
        let error = parse_size("16").unwrap_err();
        assert!(error.contains("no unit"), "{error}");
    }
}
