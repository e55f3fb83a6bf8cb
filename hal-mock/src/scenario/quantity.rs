//! Quantities with units as scenario files write them: "30 s", "5.4 A", "4.75 V", "10 mohm",
//! "40 mV/A".

use std::fmt;

use picluster_firmware::monitor::MicroOhms;
use picluster_firmware::units::{Duration, Milliamps, Millivolts};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Splits "5.4 A" into 5.4 and "A"; the space is optional.
fn split(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let unit_start = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_start);
    let value: f64 = number.trim().parse().ok()?;
    value.is_finite().then_some((value, unit.trim()))
}

/// Parses a duration: us, ms, s, min or h.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (value, unit) = split(text)?;
    let micros_per = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "min" => 60e6,
        "h" => 3_600e6,
        _ => return None,
    };
    let micros = value * micros_per;
    (micros >= 0.0).then(|| Duration::from_micros(micros.round() as u64))
}

/// Parses a current: mA or A.
pub fn parse_current(text: &str) -> Option<Milliamps> {
    let (value, unit) = split(text)?;
    let milliamps = match unit {
        "mA" => value,
        "A" => value * 1e3,
        _ => return None,
    };
    Some(Milliamps(milliamps.round() as i32))
}

/// Parses a voltage: mV or V.
pub fn parse_voltage(text: &str) -> Option<Millivolts> {
    let (value, unit) = split(text)?;
    let millivolts = match unit {
        "mV" => value,
        "V" => value * 1e3,
        _ => return None,
    };
    Some(Millivolts(millivolts.round() as i32))
}

/// Parses a resistance: uohm, mohm or ohm.
pub fn parse_resistance(text: &str) -> Option<MicroOhms> {
    let (value, unit) = split(text)?;
    let micro = match unit {
        "uohm" => value,
        "mohm" => value * 1e3,
        "ohm" => value * 1e6,
        _ => return None,
    };
    (micro >= 0.0).then(|| MicroOhms(micro.round() as u32))
}

/// Parses a voltage drop per amp, in millivolts per amp: mV/A or V/A.
pub fn parse_slope(text: &str) -> Option<u32> {
    let (value, unit) = split(text)?;
    let millivolts = match unit {
        "mV/A" => value,
        "V/A" => value * 1e3,
        _ => return None,
    };
    (millivolts >= 0.0).then(|| millivolts.round() as u32)
}

macro_rules! quantity_field {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $parse:ident, $expected:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct QuantityVisitor;

                impl Visitor<'_> for QuantityVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expected)
                    }

                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$name, E> {
                        $parse(text).map($name).ok_or_else(|| {
                            E::invalid_value(de::Unexpected::Str(text), &self)
                        })
                    }
                }

                deserializer.deserialize_str(QuantityVisitor)
            }
        }
    };
}

quantity_field!(
    /// A duration field.
    Span, Duration, parse_duration,
    "a duration with a unit, such as \"30 s\", \"100 ms\" or \"2 min\""
);
quantity_field!(
    /// A current field.
    Current, Milliamps, parse_current,
    "a current with a unit, such as \"5.4 A\" or \"350 mA\""
);
quantity_field!(
    /// A voltage field.
    Voltage, Millivolts, parse_voltage,
    "a voltage with a unit, such as \"4.75 V\" or \"4630 mV\""
);
quantity_field!(
    /// A resistance field.
    Resistance, MicroOhms, parse_resistance,
    "a resistance with a unit, such as \"10 mohm\" or \"0.1 ohm\""
);
quantity_field!(
    /// A voltage-per-amp field, in millivolts per amp.
    Slope, u32, parse_slope,
    "a voltage drop per amp, such as \"40 mV/A\" or \"1 V/A\""
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_common_units() {
        assert_eq!(parse_duration("30 s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5 s"), Some(Duration::from_millis(1_500)));
        assert_eq!(parse_duration("2 min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("24 h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("-1 s"), None);
    }

    #[test]
    fn electrical_units_scale() {
        assert_eq!(parse_current("5.4 A"), Some(Milliamps(5_400)));
        assert_eq!(parse_current("350 mA"), Some(Milliamps(350)));
        assert_eq!(parse_voltage("4.75 V"), Some(Millivolts(4_750)));
        assert_eq!(parse_resistance("10 mohm"), Some(MicroOhms(10_000)));
        assert_eq!(parse_slope("1 V/A"), Some(1_000));
        assert_eq!(parse_current("5.4 V"), None);
    }
}
