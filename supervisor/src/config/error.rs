//! Configuration errors: every problem with its line, column, key and a suggested fix.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::file::{
    DaemonTable, FileTable, InputTable, LinuxTable, MonitorTable, NodeTable, OutputTable,
    ProtectionTable, RecoveryTable, SimTable, SupplyTable, TimingsTable,
};
use super::suggest::closest;

/// A position in the file, both counted from 1; the column counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// Column number, from 1.
    pub column: usize,
}

impl Location {
    /// Returns the location of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// One thing wrong with the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The problem's position, or `None` when it concerns the whole file or a value left at
    /// its default.
    pub location: Option<Location>,
    /// The key to fix, as written at that place (the last part of a dotted path, such as
    /// `active_low` in a node's switch table).
    pub key: Option<String>,
    /// For a misspelled key or value, the valid one nearest to it.
    pub closest: Option<String>,
    /// The explanation and the fix, in one line.
    pub message: String,
}

/// Every problem found in one configuration file.
///
/// A syntax error or a key serde cannot place stops parsing, so it is reported alone. Once
/// the file parses, every check runs and every problem is reported, ordered by line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    problems: Vec<Problem>,
}

impl ConfigError {
    pub(super) fn new(origin: &str, problems: Vec<Problem>) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            problems,
        }
    }

    /// Returns the file name (or other origin) that the problems refer to.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Returns the problems, at least one, ordered by line.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    /// Writes one problem per line as `file:line:column: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            match problem.location {
                Some(Location { line, column }) => {
                    write!(f, "{}:{line}:{column}: {}", self.origin, problem.message)?
                }
                None => write!(f, "{}: {}", self.origin, problem.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A problem found after parsing, located by a byte range of the file.
#[derive(Clone, Debug)]
pub(super) struct Finding {
    pub span: Option<Range<usize>>,
    pub key: Option<String>,
    pub message: String,
}

impl Finding {
    pub(super) fn into_problem(self, text: &str) -> Problem {
        Problem {
            location: self.span.map(|span| Location::of_offset(text, span.start)),
            key: self.key,
            closest: None,
            message: self.message,
        }
    }
}

/// Turns a TOML syntax or serde error into a problem that names the key and, for a
/// misspelling, the closest valid key or value.
pub(super) fn problem_from_toml(text: &str, error: &toml::de::Error) -> Problem {
    let span = error.span();
    let location = span
        .clone()
        .map(|span| Location::of_offset(text, span.start));
    let message = error.message().trim_end();
    let quoted = backquoted(message);

    let problem = match quoted.split_first() {
        Some((word, expected)) if message.starts_with("unknown field") => {
            unknown_key(word, expected)
        }
        Some((word, expected)) if message.starts_with("unknown variant") => {
            let key = span.and_then(|span| key_before(text, span.start));
            unknown_value(word, expected, key)
        }
        Some((key, _)) if message.starts_with("missing field") => Problem {
            location: None,
            key: Some((*key).to_owned()),
            closest: None,
            message: format!("missing key `{key}`: this table requires it"),
        },
        _ => Problem {
            location: None,
            key: span.and_then(|span| key_before(text, span.start)),
            closest: None,
            message: message.to_owned(),
        },
    };
    Problem {
        location,
        ..problem
    }
}

/// Builds the problem for a key that the table does not accept.
fn unknown_key(word: &str, expected: &[&str]) -> Problem {
    let suggestion = closest(word, expected.iter().copied());
    let mut message = match suggestion {
        Some(suggestion) => format!("unknown key `{word}`; did you mean `{suggestion}`?"),
        None => format!("unknown key `{word}`."),
    };
    let homes = tables_accepting(word, expected);
    if !homes.is_empty() {
        message.push_str(&format!(" `{word}` is a key of {}", homes.join(" and ")));
        if homes.contains(&TOP_LEVEL) {
            message.push_str(", which must come before the first [table] header");
        }
        message.push('.');
    }
    if expected.is_empty() {
        message.push_str(" This table takes no keys.");
    } else {
        message.push_str(&format!(" Valid keys here: {}.", expected.join(", ")));
    }
    Problem {
        location: None,
        key: Some(word.to_owned()),
        closest: suggestion.map(str::to_owned),
        message,
    }
}

/// Builds the problem for a value that is not one of a fixed set, such as `kind = "chargr"`.
fn unknown_value(word: &str, expected: &[&str], key: Option<String>) -> Problem {
    let suggestion = closest(word, expected.iter().copied());
    let subject = key
        .as_deref()
        .map_or(String::new(), |key| format!(" for `{key}`"));
    let mut message = match suggestion {
        Some(suggestion) => {
            format!("invalid value \"{word}\"{subject}; did you mean \"{suggestion}\"?")
        }
        None => format!("invalid value \"{word}\"{subject}."),
    };
    let valid: Vec<String> = expected
        .iter()
        .map(|value| format!("\"{value}\""))
        .collect();
    message.push_str(&format!(" Valid values: {}.", valid.join(", ")));
    Problem {
        location: None,
        key,
        closest: suggestion.map(str::to_owned),
        message,
    }
}

/// Returns the words that serde's messages put between backquotes, in order.
fn backquoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// Returns the key on the same line just before the value at `offset` (`key = value`, also
/// inside an inline table).
fn key_before(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |newline| newline + 1);
    let before = text[line_start..offset]
        .trim_end()
        .strip_suffix('=')?
        .trim_end();
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_key_char(c))
        .last()
        .map(|(index, _)| index)?;
    Some(before[start..].to_owned())
}

const TOP_LEVEL: &str = "the top level";

/// Returns the tables, other than the one listing `expected`, that accept `key`.
fn tables_accepting(key: &str, expected: &[&str]) -> Vec<&'static str> {
    let tables: [(&'static str, &'static [&'static str]); 12] = [
        (TOP_LEVEL, keys_of::<FileTable>()),
        ("`supply`", keys_of::<SupplyTable>()),
        ("[daemon]", keys_of::<DaemonTable>()),
        ("[daemon.linux]", keys_of::<LinuxTable>()),
        ("[daemon.sim]", keys_of::<SimTable>()),
        ("[monitor]", keys_of::<MonitorTable>()),
        ("[protection]", keys_of::<ProtectionTable>()),
        ("[timings]", keys_of::<TimingsTable>()),
        ("[recovery]", keys_of::<RecoveryTable>()),
        ("[[node]]", keys_of::<NodeTable>()),
        ("a node's `switch` and `reset`", keys_of::<OutputTable>()),
        ("a node's `heartbeat`", keys_of::<InputTable>()),
    ];
    tables
        .into_iter()
        .filter(|(_, keys)| *keys != expected && keys.contains(&key))
        .map(|(name, _)| name)
        .collect()
}

/// Returns the keys that a derived `Deserialize` struct accepts.
///
/// serde's derive passes the field names to `deserialize_struct`; this deserializer records
/// them and stops, so the list can never drift from the struct.
fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut recorder = FieldRecorder { fields: &[] };
    // The recorder always returns an error once it has the names, so the result is unused.
    let _ = T::deserialize(&mut recorder);
    recorder.fields
}

struct FieldRecorder {
    fields: &'static [&'static str],
}

impl<'de> Deserializer<'de> for &mut FieldRecorder {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.fields = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        let offset = text.find('=').unwrap();
        assert_eq!(
            Location::of_offset(text, offset),
            Location { line: 1, column: 3 }
        );
        let second = text.rfind('=').unwrap();
        assert_eq!(
            Location::of_offset(text, second),
            Location { line: 2, column: 4 }
        );
    }

    #[test]
    fn key_before_reads_plain_and_inline_keys() {
        let text = "kind = \"x\"\nswitch = { line = 3 }";
        assert_eq!(
            key_before(text, text.find("\"x\"").unwrap()),
            Some("kind".into())
        );
        assert_eq!(
            key_before(text, text.find('3').unwrap()),
            Some("line".into())
        );
    }

    #[test]
    fn recorded_keys_match_struct_fields() {
        assert_eq!(keys_of::<OutputTable>(), ["line", "active_low"]);
    }

    #[test]
    fn monitor_key_found_in_monitor_table() {
        let homes = tables_accepting("shunt_ohms", keys_of::<SupplyTable>());
        assert_eq!(homes, ["[monitor]"]);
    }
}
