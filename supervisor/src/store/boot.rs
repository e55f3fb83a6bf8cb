//! The boot marker: tells a head that has just booted from a daemon that merely restarted.
//!
//! The marker is a file in a folder on a tmpfs that the kernel clears at boot (`/run` on every
//! systemd distribution). When the daemon starts and the marker is missing, the head has booted
//! since the last daemon ran, the output lines are at their power-on defaults and the restore
//! policy applies. When it is present, the daemon only restarted and adopts the lines as they
//! are. `picluster sim` keeps its marker inside its own temporary folder, whose creation stands
//! for the head's boot.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The marker file's name inside the run folder.
const MARKER_NAME: &str = "head-booted";

/// The marker in its folder.
#[derive(Clone, Debug)]
pub struct BootMarker {
    path: PathBuf,
}

impl BootMarker {
    /// Names the marker inside `run_dir`; nothing is read or written yet.
    pub fn new(run_dir: &Path) -> Self {
        Self {
            path: run_dir.join(MARKER_NAME),
        }
    }

    /// Returns whether the head has booted since a daemon last wrote the marker.
    pub fn head_just_booted(&self) -> io::Result<bool> {
        match fs::metadata(&self.path) {
            Ok(_) => Ok(false),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(true),
            Err(error) => Err(error),
        }
    }

    /// Writes the marker, once the restore policy has been applied.
    pub fn write(&self) -> io::Result<()> {
        if let Some(folder) = self.path.parent() {
            fs::create_dir_all(folder)?;
        }
        let content = format!("written by picluster daemon, pid {}\n", std::process::id());
        fs::write(&self.path, content)
    }

    /// Returns the marker's path, for logs.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_marker_means_head_booted() {
        let folder = tempfile::tempdir().unwrap();
        let marker = BootMarker::new(&folder.path().join("run"));
        assert!(marker.head_just_booted().unwrap());
    }

    #[test]
    fn written_marker_means_daemon_restart() {
        let folder = tempfile::tempdir().unwrap();
        let marker = BootMarker::new(&folder.path().join("run"));
        marker.write().unwrap();
        assert!(!marker.head_just_booted().unwrap());
    }
}
