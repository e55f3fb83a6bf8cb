//! Helpers for the end-to-end tests: start `picluster sim` in a temporary folder, run the CLI
//! against it, and wait on what the sim reports (its banner, its event stream, its exit)
//! rather than on real time.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use picluster::client::Client;
use picluster::protocol::{EventRecord, StatusReport};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_picluster");

/// Simulated seconds per real second: the reference cluster's slowest node boots in 60 s,
/// which takes 0.6 s here.
pub const SPEED: &str = "100";

/// Maximum real time a test waits for the sim's banner, an event or an exit before it fails.
/// Every wait ends as soon as its line or event arrives, so this bound only leaves room for a
/// loaded machine.
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// The last line of the banner that the sim prints once its socket accepts connections.
const BANNER_END: &str = "  on exit (Ctrl-C)";

/// A running `picluster sim` in its own folder.
pub struct Sim {
    child: Option<Child>,
    /// The sim's folder.
    pub dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// The banner the sim printed when its socket was ready, line by line.
    pub banner: Vec<String>,
}

impl Sim {
    /// Starts `picluster sim --dir DIR --speed SPEED` with `extra` arguments and waits until
    /// it prints its banner, which it does once its socket accepts connections.
    pub fn start(dir: &Path, extra: &[&str]) -> Sim {
        let mut sim = Sim {
            child: None,
            dir: dir.to_path_buf(),
            socket: dir.join("picluster.sock"),
            banner: Vec::new(),
        };
        sim.spawn(extra, "first");
        sim
    }

    /// Starts the sim process and reads its banner.
    fn spawn(&mut self, extra: &[&str], log_name: &str) {
        let mut child = spawn_sim(&self.dir, extra, log_name);
        let stdout = child.stdout.take().expect("the sim's stdout is piped");
        self.child = Some(child);
        let lines = read_lines_in_background(stdout);
        self.banner = self.read_banner(&lines);
    }

    /// Reads stdout lines up to the end of the banner. A closed stdout means the sim exited.
    fn read_banner(&self, lines: &mpsc::Receiver<String>) -> Vec<String> {
        let mut banner = Vec::new();
        loop {
            match lines.recv_timeout(WAIT_LIMIT) {
                Ok(line) => {
                    let last = line.starts_with(BANNER_END);
                    banner.push(line);
                    if last {
                        return banner;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "picluster sim exited before its socket was ready:\n{}",
                        self.log()
                    )
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "picluster sim printed no banner within {WAIT_LIMIT:?}; so far {banner:?}\n{}",
                    self.log()
                ),
            }
        }
    }

    /// Returns the daemon's log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for name in ["first", "second"] {
            if let Ok(log) = std::fs::read_to_string(self.dir.join(format!("{name}.stderr"))) {
                text.push_str(&log);
            }
        }
        text
    }

    /// Runs the CLI against this sim.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("PICLUSTER_SOCKET", &self.socket)
            .env_remove("RUST_LOG")
            .output()
            .expect("the picluster binary runs")
    }

    /// Returns the status as JSON.
    pub fn status(&self) -> StatusReport {
        let output = self.cli(&["status", "--json"]);
        assert!(
            output.status.success(),
            "status failed: {}",
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("status --json is a status report")
    }

    /// Waits until `ready` holds for the status, which is read again after every event the
    /// daemon streams. Fails the test when [`WAIT_LIMIT`] passes first.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&StatusReport) -> bool) -> StatusReport {
        let mut last = None;
        let found = self.follow_events(
            || {},
            |_| {
                let status = self.status();
                if ready(&status) {
                    return Some(status);
                }
                last = Some(status);
                None
            },
        );
        found.unwrap_or_else(|| {
            panic!(
                "timed out waiting until {what}; last status: {last:#?}\n{}",
                self.log()
            )
        })
    }

    /// Subscribes to the daemon's events, runs `start`, then calls `check` once before the
    /// first event and once after each event until it returns a value. Returns `None` when
    /// [`WAIT_LIMIT`] passes first.
    pub fn follow_events<T>(
        &self,
        start: impl FnOnce(),
        mut check: impl FnMut(Option<&EventRecord>) -> Option<T>,
    ) -> Option<T> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a test runtime starts");
        runtime.block_on(async {
            let client = Client::connect(&self.socket)
                .await
                .expect("the sim accepts");
            let mut events = client.subscribe().await.expect("the sim streams events");
            start();
            if let Some(found) = check(None) {
                return Some(found);
            }
            let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
            loop {
                let event = tokio::time::timeout_at(deadline, events.next())
                    .await
                    .ok()?;
                match event.expect("the event stream stays open") {
                    Ok(event) => {
                        if let Some(found) = check(Some(&event)) {
                            return Some(found);
                        }
                    }
                    Err(notice) => panic!("the event stream reported: {notice}"),
                }
            }
        })
    }

    /// Waits until every worker runs.
    pub fn wait_all_running(&self) -> StatusReport {
        self.wait_for("every node runs", |status| {
            status.nodes.iter().all(|node| node.state == "running")
        })
    }

    /// Returns the journal's events as JSON lines.
    pub fn events(&self, extra: &[&str]) -> Vec<EventRecord> {
        let mut args = vec!["events", "--json"];
        args.extend_from_slice(extra);
        let output = self.cli(&args);
        assert!(
            output.status.success(),
            "events failed: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).expect("events --json prints events"))
            .collect()
    }

    /// Returns the sim's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the sim runs").id()
    }

    /// Kills the daemon with SIGKILL, as `kill -9` does.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the sim runs");
        child.kill().expect("SIGKILL is delivered");
        child.wait().expect("the killed sim is reaped");
    }

    /// Starts the daemon again in the same folder, as after a crash or a restart.
    pub fn restart(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "stop the sim before restarting it");
        self.spawn(extra, "second");
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let child = self.child.as_ref().expect("the sim runs");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("the signal is delivered");
    }

    /// Stops the daemon with SIGTERM and returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let child = self.child.take().expect("the sim runs");
        let pid = child.id();
        match wait_with_limit(child) {
            Some(status) => status,
            None => {
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                panic!("picluster sim did not stop on SIGTERM:\n{}", self.log());
            }
        }
    }
}

/// Waits for `child` to exit, for at most [`WAIT_LIMIT`], with the blocking wait on a thread.
pub fn wait_with_limit(mut child: Child) -> Option<ExitStatus> {
    let (sender, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait().expect("the child is reaped"));
    });
    exited.recv_timeout(WAIT_LIMIT).ok()
}

/// Sends each line of `stdout` to the returned channel, from a thread; the channel closes at
/// the end of the output.
pub fn read_lines_in_background(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    lines
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_sim(dir: &Path, extra: &[&str], log_name: &str) -> Child {
    std::fs::create_dir_all(dir).unwrap();
    let stderr = File::create(dir.join(format!("{log_name}.stderr"))).unwrap();
    Command::new(BIN)
        .args(["sim", "--dir"])
        .arg(dir)
        .args(["--speed", SPEED, "--no-metrics"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("picluster sim starts")
}

/// Returns output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
