//! Helpers for the end-to-end tests: start `picluster sim` in a temporary folder, run the CLI
//! against it, and wait for a status by polling the socket a bounded number of times.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use picluster::protocol::{EventRecord, StatusReport};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_picluster");

/// Simulated seconds per real second: the reference cluster's slowest node boots in 60 s,
/// which takes 0.6 s here.
pub const SPEED: &str = "100";

/// Pause between two polls of the socket. Each poll is a real request; the bound on the
/// number of polls, not this pause, decides when a test gives up.
const POLL_PAUSE: Duration = Duration::from_millis(20);

/// Polls before a wait fails: 30 s of real time at most, for a loaded machine.
const POLL_TRIES: u32 = 1_500;

/// A running `picluster sim` in its own folder.
pub struct Sim {
    child: Option<Child>,
    /// The sim's folder.
    pub dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
}

impl Sim {
    /// Starts `picluster sim --dir DIR --speed SPEED` with `extra` arguments and waits until
    /// its socket replies to a status request.
    pub fn start(dir: &Path, extra: &[&str]) -> Sim {
        let child = spawn_sim(dir, extra, "first");
        let mut sim = Sim {
            child: Some(child),
            dir: dir.to_path_buf(),
            socket: dir.join("picluster.sock"),
        };
        sim.wait_until_answering();
        sim
    }

    fn wait_until_answering(&mut self) {
        for _ in 0..POLL_TRIES {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "picluster sim exited with {status} before answering:\n{}",
                    self.log()
                );
            }
            if self.cli(&["status", "--json"]).status.success() {
                return;
            }
            std::thread::sleep(POLL_PAUSE);
        }
        panic!(
            "picluster sim did not answer on its socket:\n{}",
            self.log()
        );
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

    /// Polls the status until `ready` holds, failing the test after the bounded tries.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&StatusReport) -> bool) -> StatusReport {
        let mut last = None;
        for _ in 0..POLL_TRIES {
            let status = self.status();
            if ready(&status) {
                return status;
            }
            last = Some(status);
            std::thread::sleep(POLL_PAUSE);
        }
        panic!(
            "timed out waiting until {what}; last status: {last:#?}\n{}",
            self.log()
        );
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

    /// Kills the daemon with SIGKILL, as `kill -9` does.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("the sim runs");
        child.kill().expect("SIGKILL is delivered");
        child.wait().expect("the killed sim is reaped");
    }

    /// Starts the daemon again in the same folder, as after a crash or a restart.
    pub fn restart(&mut self, extra: &[&str]) {
        assert!(self.child.is_none(), "stop the sim before restarting it");
        self.child = Some(spawn_sim(&self.dir, extra, "second"));
        self.wait_until_answering();
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
        let mut child = self.child.take().expect("the sim runs");
        for _ in 0..POLL_TRIES {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(POLL_PAUSE);
        }
        child.kill().ok();
        panic!("picluster sim did not stop on SIGTERM:\n{}", self.log());
    }
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
    let stdout = File::create(dir.join(format!("{log_name}.stdout"))).unwrap();
    let stderr = File::create(dir.join(format!("{log_name}.stderr"))).unwrap();
    Command::new(BIN)
        .args(["sim", "--dir"])
        .arg(dir)
        .args(["--speed", SPEED, "--no-metrics"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("picluster sim starts")
}

/// Returns output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
