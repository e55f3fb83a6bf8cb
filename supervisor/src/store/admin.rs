//! The administrative state file: holds, quarantines, recent automatic cycles and the last
//! commanded power of each node, keyed by node name so that reordering nodes in the
//! configuration keeps each node's state.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;

/// Version written into the file; a file of another version is rejected on load.
const VERSION: u32 = 1;

/// The whole state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    /// File format version.
    pub version: u32,
    /// Per node name.
    pub nodes: BTreeMap<String, NodeAdmin>,
}

impl Default for AdminFile {
    fn default() -> Self {
        Self {
            version: VERSION,
            nodes: BTreeMap::new(),
        }
    }
}

/// One node's administrative state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAdmin {
    /// An operator hold is in force.
    pub held: bool,
    /// Recovery gave up on the node.
    pub quarantined: bool,
    /// Start times of recent automatic cycles, in milliseconds since the Unix epoch.
    pub cycles_unix_ms: Vec<u64>,
    /// The power the daemon last commanded (`true` = on), used by the `previous` restore
    /// policy after the head boots.
    pub powered: bool,
    /// When the switch last went off, in milliseconds since the Unix epoch, so the minimum off
    /// time is kept across a restart. Absent in files written before it existed.
    #[serde(default)]
    pub last_off_unix_ms: Option<u64>,
    /// A power cycle or a queued power-on was under way, so a restart finishes it.
    #[serde(default)]
    pub power_on_pending: bool,
}

impl AdminFile {
    /// Loads the file, or returns an empty state when it does not exist yet.
    pub fn load(path: &Path) -> io::Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(error),
        };
        let file: AdminFile = serde_json::from_slice(&bytes).map_err(|error| {
            let message = format!(
                "state file {} is invalid: {error}; move it away to start with no holds, \
                 quarantines or cycle history",
                path.display()
            );
            io::Error::new(io::ErrorKind::InvalidData, message)
        })?;
        if file.version != VERSION {
            let message = format!(
                "state file {} has version {}, this daemon reads version {VERSION}",
                path.display(),
                file.version
            );
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(file)
    }

    /// Replaces the file atomically with this state.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_state_file_loads_empty() {
        let folder = tempfile::tempdir().unwrap();
        let loaded = AdminFile::load(&folder.path().join("state.json")).unwrap();
        assert_eq!(loaded, AdminFile::default());
    }

    #[test]
    fn state_file_round_trips() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.json");
        let mut state = AdminFile::default();
        let node = NodeAdmin {
            held: true,
            quarantined: false,
            cycles_unix_ms: vec![1_000, 91_000],
            powered: true,
            last_off_unix_ms: Some(85_000),
            power_on_pending: true,
        };
        state.nodes.insert("raspberrypi1.lan".to_string(), node);
        state.save(&path).unwrap();
        assert_eq!(AdminFile::load(&path).unwrap(), state);
    }

    #[test]
    fn invalid_state_file_names_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("state.json");
        std::fs::write(&path, b"{\"version\":1,").unwrap();
        let error = AdminFile::load(&path).unwrap_err();
        assert!(error.to_string().contains("state.json"), "{error}");
    }
}
