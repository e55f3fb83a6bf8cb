//! End-to-end scenarios across the picluster crates.
