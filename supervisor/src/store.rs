//! What the daemon keeps on disk: the administrative state, the event journal and the boot
//! marker.
//!
//! Both files under the state folder survive a kill at any moment: the state file is replaced
//! whole by an atomic rename, and the journal is append-only with every batch synced before it
//! counts as committed (before a client gets its reply). The boot marker lives on a tmpfs
//! (`/run`), which the kernel clears at boot, so its absence means the head has just booted.

mod admin;
mod atomic;
mod boot;
mod journal;

pub use admin::{AdminFile, NodeAdmin};
pub use atomic::{parent_of, write_atomic};
pub use boot::BootMarker;
pub use journal::{Journal, JournalFilter, JournalLimits, JournalRead, read_journal};
