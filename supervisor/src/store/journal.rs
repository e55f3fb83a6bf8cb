//! The event journal: one JSON line per event, append-only, rotated by size.
//!
//! The current file is `events.jsonl`. Rotation shifts the older files up by one (`events.1`
//! to `events.2` ...), deletes the oldest beyond the kept count, and renames the current file
//! to `events.1.jsonl`. Each batch of events is written with one `write` call on a file opened for appending
//! and synced before [`Journal::append`] returns: a batch is committed once that call returns.
//! A kill during the write can leave a torn last line; readers skip it with a warning, and
//! [`Journal::open`] cuts it off before appending, so new lines never join it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use super::atomic::sync_folder;
use crate::protocol::EventRecord;

const CURRENT: &str = "events.jsonl";

/// When the journal rotates and how much of it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalLimits {
    /// The current file is rotated once a batch takes it past this size, in bytes.
    pub max_file_bytes: u64,
    /// Rotated files kept besides the current one.
    pub kept_files: usize,
}

impl Default for JournalLimits {
    /// 1 MiB per file stores about 5000 events of about 200 bytes (estimate), so 4 rotated
    /// files keep weeks of a healthy cluster's events in 5 MiB.
    fn default() -> Self {
        Self {
            max_file_bytes: 1024 * 1024,
            kept_files: 4,
        }
    }
}

/// The open journal, appending to the current file.
#[derive(Debug)]
pub struct Journal {
    folder: PathBuf,
    file: File,
    size: u64,
    limits: JournalLimits,
    next_seq: u64,
}

impl Journal {
    /// Opens the journal in `folder` (creating both if missing), cuts off a torn last line and
    /// finds the next sequence number.
    pub fn open(folder: &Path, limits: JournalLimits) -> io::Result<Self> {
        fs::create_dir_all(folder)?;
        let path = folder.join(CURRENT);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let size = cut_torn_tail(&mut file, &path)?;
        sync_folder(folder)?;

        let last_seq = last_sequence(folder)?;
        Ok(Self {
            folder: folder.to_path_buf(),
            file,
            size,
            limits,
            next_seq: last_seq.map_or(1, |seq| seq + 1),
        })
    }

    /// Returns the sequence number the next event gets, and counts it as used.
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Appends the events as one write, syncs the file, and rotates if it grew past the limit.
    pub fn append(&mut self, events: &[EventRecord]) -> io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(events.len() * 200);
        for event in events {
            serde_json::to_writer(&mut batch, event).map_err(io::Error::other)?;
            batch.push(b'\n');
        }
        self.file.write_all(&batch)?;
        self.file.sync_data()?;
        self.size += batch.len() as u64;
        if self.size > self.limits.max_file_bytes {
            self.rotate()?;
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let kept = self.limits.kept_files;
        if kept == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let oldest = rotated_path(&self.folder, kept);
        match fs::remove_file(&oldest) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        for index in (1..kept).rev() {
            let from = rotated_path(&self.folder, index);
            if from.exists() {
                fs::rename(&from, rotated_path(&self.folder, index + 1))?;
            }
        }
        fs::rename(self.folder.join(CURRENT), rotated_path(&self.folder, 1))?;
        self.file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(self.folder.join(CURRENT))?;
        self.size = 0;
        sync_folder(&self.folder)
    }
}

/// The selection of events a read returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalFilter {
    /// Only events at or after this time, in milliseconds since the Unix epoch.
    pub since_unix_ms: Option<u64>,
    /// Only events of this node, by its name or its short name (before the first dot).
    pub node: Option<String>,
    /// Only the newest this many matching events.
    pub limit: Option<usize>,
}

impl JournalFilter {
    fn matches(&self, event: &EventRecord) -> bool {
        let recent = self
            .since_unix_ms
            .is_none_or(|since| event.unix_ms >= since);
        let of_node = self.node.as_ref().is_none_or(|wanted| {
            event.node.as_deref().is_some_and(|name| {
                name == wanted || name.split('.').next() == Some(wanted.as_str())
            })
        });
        recent && of_node
    }
}

/// Events read from the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalRead {
    /// Matching events, oldest first.
    pub events: Vec<EventRecord>,
    /// Lines that were not valid events (a torn last line after a crash).
    pub skipped_lines: usize,
}

/// Reads the journal in `folder`, oldest rotated file first, keeping the events `filter` matches.
pub fn read_journal(folder: &Path, filter: &JournalFilter) -> io::Result<JournalRead> {
    let mut read = JournalRead::default();
    for path in journal_files(folder)? {
        let file = match File::open(&path) {
            Ok(file) => file,
            // Rotation may have renamed it since the folder was listed.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for_each_record(BufReader::new(file), &path, |record| {
            if filter.matches(&record) {
                read.events.push(record);
            }
        })
        .map(|skipped| read.skipped_lines += skipped)?;
    }
    if let Some(limit) = filter.limit {
        let excess = read.events.len().saturating_sub(limit);
        read.events.drain(..excess);
    }
    Ok(read)
}

/// Lists the journal's files, oldest first: `events.N.jsonl` from the highest N, then the
/// current one.
fn journal_files(folder: &Path) -> io::Result<Vec<PathBuf>> {
    let mut rotated: Vec<(usize, PathBuf)> = Vec::new();
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(index) = name
            .to_str()
            .and_then(|name| name.strip_prefix("events."))
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .and_then(|number| number.parse::<usize>().ok())
        else {
            continue;
        };
        rotated.push((index, entry.path()));
    }
    rotated.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, path)| path).collect();
    let current = folder.join(CURRENT);
    if current.exists() {
        files.push(current);
    }
    Ok(files)
}

/// Calls `visit` with every valid record and returns how many lines were skipped. A line that
/// is not valid JSON is skipped with a warning naming the file and line.
fn for_each_record(
    reader: impl BufRead,
    path: &Path,
    mut visit: impl FnMut(EventRecord),
) -> io::Result<usize> {
    let mut skipped = 0;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<EventRecord>(&line) {
            Ok(record) => visit(record),
            Err(error) => {
                skipped += 1;
                warn!(
                    file = %path.display(),
                    line = index + 1,
                    %error,
                    "skipped a journal line that is not a valid event (a torn write after a crash)"
                );
            }
        }
    }
    Ok(skipped)
}

/// Finds the highest sequence number in the journal, reading the newest file that has one.
fn last_sequence(folder: &Path) -> io::Result<Option<u64>> {
    for path in journal_files(folder)?.iter().rev() {
        let file = File::open(path)?;
        let mut last = None;
        for_each_record(BufReader::new(file), path, |record| {
            last = Some(last.map_or(record.seq, |seen: u64| seen.max(record.seq)));
        })?;
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

/// Cuts the file back to its last newline when a crash left a partial line, and returns the
/// resulting size.
fn cut_torn_tail(file: &mut File, path: &Path) -> io::Result<u64> {
    let size = file.metadata()?.len();
    if size == 0 {
        return Ok(0);
    }
    let mut content = Vec::with_capacity(size as usize);
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut content)?;
    if content.last() == Some(&b'\n') {
        return Ok(size);
    }
    let keep = content
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |position| position + 1);
    warn!(
        file = %path.display(),
        torn_bytes = content.len() - keep,
        "cut off a torn last journal line left by a crash; it was never committed"
    );
    file.set_len(keep as u64)?;
    file.sync_all()?;
    Ok(keep as u64)
}

fn rotated_path(folder: &Path, index: usize) -> PathBuf {
    folder.join(format!("events.{index}.jsonl"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::EventDetail;

    fn record(journal: &mut Journal, unix_ms: u64, node: &str) -> EventRecord {
        EventRecord {
            seq: journal.take_seq(),
            unix_ms,
            node: Some(node.to_string()),
            detail: EventDetail::TripCleared,
            millivolts: Some(5_000),
            milliamps: Some(1_200),
        }
    }

    #[test]
    fn appended_events_read_back_in_order() {
        let folder = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(folder.path(), JournalLimits::default()).unwrap();
        let first = record(&mut journal, 10, "a");
        let second = record(&mut journal, 20, "b");
        journal.append(&[first.clone(), second.clone()]).unwrap();

        let read = read_journal(folder.path(), &JournalFilter::default()).unwrap();
        assert_eq!(read.events, vec![first, second]);
        assert_eq!(read.skipped_lines, 0);
    }

    #[test]
    fn torn_last_line_is_skipped_on_read() {
        let folder = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(folder.path(), JournalLimits::default()).unwrap();
        let kept = record(&mut journal, 10, "a");
        journal.append(std::slice::from_ref(&kept)).unwrap();
        let mut file = OpenOptions::new()
            .append(true)
            .open(folder.path().join(CURRENT))
            .unwrap();
        file.write_all(br#"{"seq":2,"unix_ms":20,"no"#).unwrap();

        let read = read_journal(folder.path(), &JournalFilter::default()).unwrap();
        assert_eq!(read.events, vec![kept]);
        assert_eq!(read.skipped_lines, 1);
    }

    #[test]
    fn reopen_cuts_torn_line_and_continues_sequence() {
        let folder = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(folder.path(), JournalLimits::default()).unwrap();
        let kept = record(&mut journal, 10, "a");
        journal.append(std::slice::from_ref(&kept)).unwrap();
        drop(journal);
        let mut file = OpenOptions::new()
            .append(true)
            .open(folder.path().join(CURRENT))
            .unwrap();
        file.write_all(br#"{"seq":2,"unix"#).unwrap();

        let mut journal = Journal::open(folder.path(), JournalLimits::default()).unwrap();
        let next = record(&mut journal, 30, "b");
        assert_eq!(next.seq, 2);
        journal.append(std::slice::from_ref(&next)).unwrap();

        let read = read_journal(folder.path(), &JournalFilter::default()).unwrap();
        assert_eq!(read.events, vec![kept, next]);
        assert_eq!(read.skipped_lines, 0);
    }

    #[test]
    fn rotation_keeps_configured_file_count() {
        let folder = tempfile::tempdir().unwrap();
        let limits = JournalLimits {
            max_file_bytes: 300,
            kept_files: 2,
        };
        let mut journal = Journal::open(folder.path(), limits).unwrap();
        for time in 0..40 {
            let event = record(&mut journal, time, "a");
            journal.append(&[event]).unwrap();
        }
        let files = journal_files(folder.path()).unwrap();
        assert_eq!(files.len(), 3, "{files:?}");

        let read = read_journal(folder.path(), &JournalFilter::default()).unwrap();
        let sequences: Vec<u64> = read.events.iter().map(|event| event.seq).collect();
        assert_eq!(sequences.last(), Some(&40));
        assert!(sequences.windows(2).all(|pair| pair[1] == pair[0] + 1));
    }

    #[test]
    fn sequence_continues_after_rotation_and_reopen() {
        let folder = tempfile::tempdir().unwrap();
        let limits = JournalLimits {
            max_file_bytes: 100,
            kept_files: 3,
        };
        let mut journal = Journal::open(folder.path(), limits).unwrap();
        for time in 0..5 {
            let event = record(&mut journal, time, "a");
            journal.append(&[event]).unwrap();
        }
        drop(journal);
        let mut journal = Journal::open(folder.path(), limits).unwrap();
        assert_eq!(journal.take_seq(), 6);
    }

    #[test]
    fn filter_selects_node_since_and_limit() {
        let folder = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(folder.path(), JournalLimits::default()).unwrap();
        let events: Vec<EventRecord> = [(10, "a"), (20, "b"), (30, "a"), (40, "a")]
            .into_iter()
            .map(|(time, node)| record(&mut journal, time, node))
            .collect();
        journal.append(&events).unwrap();

        let filter = JournalFilter {
            since_unix_ms: Some(20),
            node: Some("a".to_string()),
            limit: Some(1),
        };
        let read = read_journal(folder.path(), &filter).unwrap();
        let times: Vec<u64> = read.events.iter().map(|event| event.unix_ms).collect();
        assert_eq!(times, vec![40]);
    }
}
