//! Round-trip time of `status` requests against a running `picluster sim` daemon.
//!
//! Starts the binary on the simulated reference cluster in a temporary folder, waits until
//! its socket replies, then sends status requests over the control socket and prints the
//! percentiles. At speed 100 the daemon is busy simulating (ten thousand steps a second)
//! while it serves the requests. Run with `cargo bench -p picluster --bench status_round_trip`. The goal is a
//! p99 under 5 ms.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use picluster::client::Client;
use picluster::protocol::{Reply, Request};

/// Requests measured per case.
const REQUESTS: usize = 2_000;

/// Requests sent first and not measured, so connection set-up and caches settle.
const WARM_UP: usize = 100;

/// Polls of the socket before the daemon counts as not starting; 20 ms apart, so 30 s.
const START_TRIES: u32 = 1_500;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    println!("status round trip, {REQUESTS} requests per case (after {WARM_UP} unmeasured)");
    for speed in ["1", "100"] {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let daemon = Daemon(start_sim(folder.path(), speed));
        let socket = folder.path().join("picluster.sock");
        runtime.block_on(async {
            wait_until_replying(&socket).await;
            let one = one_connection(&socket).await;
            report(&format!("sim --speed {speed}, one connection"), one);
            let each = connection_per_request(&socket).await;
            report(
                &format!("sim --speed {speed}, a connection per request"),
                each,
            );
        });
        drop(daemon);
    }
}

/// The daemon under test, stopped with SIGTERM when dropped, also when the benchmark panics.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn start_sim(folder: &Path, speed: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_picluster"))
        .args(["sim", "--dir"])
        .arg(folder)
        .args(["--speed", speed, "--no-metrics"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("picluster sim starts")
}

async fn wait_until_replying(socket: &Path) {
    for _ in 0..START_TRIES {
        if let Ok(mut client) = Client::connect(socket).await
            && let Ok(Reply::Status(_)) = client.request(&Request::Status {}).await
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the sim did not reply on its socket within 30 s");
}

async fn status(client: &mut Client) {
    match client.request(&Request::Status {}).await {
        Ok(Reply::Status(_)) => {}
        other => panic!("unexpected reply {other:?}"),
    }
}

async fn one_connection(socket: &Path) -> Vec<Duration> {
    let mut client = Client::connect(socket)
        .await
        .expect("the daemon accepts connections");
    for _ in 0..WARM_UP {
        status(&mut client).await;
    }
    let mut times = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        status(&mut client).await;
        times.push(start.elapsed());
    }
    times
}

async fn connection_per_request(socket: &Path) -> Vec<Duration> {
    let mut times = Vec::with_capacity(REQUESTS);
    for index in 0..WARM_UP + REQUESTS {
        let start = Instant::now();
        let mut client = Client::connect(socket)
            .await
            .expect("the daemon accepts connections");
        status(&mut client).await;
        if index >= WARM_UP {
            times.push(start.elapsed());
        }
    }
    times
}

fn report(case: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |fraction: f64| times[((times.len() - 1) as f64 * fraction).round() as usize];
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    println!(
        "{case}: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        micros(at(0.50)),
        micros(at(0.90)),
        micros(at(0.99)),
        micros(at(1.0)),
    );
}
