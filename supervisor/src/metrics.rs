//! The Prometheus endpoint: `GET /metrics` in the text exposition format, built with
//! prometheus-client from a status report taken at each scrape.
//!
//! It listens on loopback by default (`metrics_listen` in `[daemon]`). The HTTP side is a
//! minimal HTTP/1.1 responder: one request per connection, no keep-alive, which is all a
//! Prometheus scrape needs.

use std::io;
use std::net::SocketAddr;

use picluster_firmware::state::StateKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::protocol::{Reply, Request, StatusReport};
use crate::socket::Envelope;

/// Maximum request head length read, in bytes; a scrape's is a few hundred.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// A scrape that sends nothing within this time is dropped, so it cannot hold a task forever.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    node: String,
    state: String,
}

/// Binds the endpoint's listener.
pub async fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves scrapes until the task is aborted.
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<Envelope>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(scrape(stream, requests.clone()));
            }
            Err(error) => {
                warn!(%error, "accepting a metrics connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn scrape(mut stream: TcpStream, requests: mpsc::Sender<Envelope>) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(error)) => {
            debug!(%error, "metrics connection closed");
            return;
        }
        Err(_) => return,
    };
    let response = if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
        match status(&requests).await {
            Some(report) => http_response("200 OK", &render(&report)),
            None => http_response("503 Service Unavailable", "the daemon is stopping\n"),
        }
    } else {
        http_response("404 Not Found", "metrics are served at /metrics\n")
    };
    if let Err(error) = stream.write_all(response.as_bytes()).await {
        debug!(%error, "writing a metrics response failed");
    }
}

async fn read_head(stream: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() > MAX_HEAD_BYTES {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

async fn status(requests: &mpsc::Sender<Envelope>) -> Option<StatusReport> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let envelope = Envelope {
        request: Request::Status {},
        peer: None,
        reply,
    };
    requests.send(envelope).await.ok()?;
    match answer.await.ok()? {
        Reply::Status(report) => Some(report),
        _ => None,
    }
}

fn http_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Renders a status report as Prometheus text.
pub fn render(report: &StatusReport) -> String {
    let mut registry = Registry::with_prefix("picluster");
    register_supply(&mut registry, report);
    register_nodes(&mut registry, report);

    let mut text = String::new();
    // Encoding fails only when its writer fails, and `fmt::Write` for `String` never does.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

fn register_supply(registry: &mut Registry, report: &StatusReport) {
    let supply = &report.supply;
    if let Some(millivolts) = supply.millivolts {
        let volts = Gauge::<f64, AtomicU64>::default();
        volts.set(f64::from(millivolts) / 1000.0);
        registry.register(
            "supply_voltage_volts",
            "Supply voltage at the monitor",
            volts,
        );
    }
    if let Some(milliamps) = supply.milliamps {
        let amps = Gauge::<f64, AtomicU64>::default();
        amps.set(f64::from(milliamps) / 1000.0);
        registry.register(
            "supply_current_amps",
            "Total current drawn from the supply",
            amps,
        );
    }
    let budget = Gauge::<f64, AtomicU64>::default();
    budget.set(f64::from(supply.budget_milliamps) / 1000.0);
    registry.register("supply_budget_amps", "Supply limit minus headroom", budget);

    let telemetry = Gauge::<i64>::default();
    telemetry.set(i64::from(supply.telemetry_ok));
    registry.register(
        "telemetry_ok",
        "1 while supply samples arrive within the telemetry timeout",
        telemetry,
    );
    let trips = Counter::<u64>::default();
    trips.inc_by(u64::from(supply.trips));
    registry.register(
        "trips",
        "Over-current and under-voltage trips since start",
        trips,
    );
    let dropped = Counter::<u64>::default();
    dropped.inc_by(u64::from(supply.dropped_samples));
    registry.register(
        "dropped_samples",
        "Supply samples dropped since start",
        dropped,
    );
}

fn register_nodes(registry: &mut Registry, report: &StatusReport) {
    let state = Family::<StateLabels, Gauge>::default();
    let powered = Family::<NodeLabels, Gauge>::default();
    let power_ons = Family::<NodeLabels, Counter>::default();
    let cycles = Family::<NodeLabels, Counter>::default();
    let recent_cycles = Family::<NodeLabels, Gauge>::default();
    let heartbeat_age = Family::<NodeLabels, Gauge<f64, AtomicU64>>::default();

    for node in &report.nodes {
        let labels = NodeLabels {
            node: node.name.clone(),
        };
        for kind in StateKind::ALL {
            let labels = StateLabels {
                node: node.name.clone(),
                state: kind.name().to_string(),
            };
            state
                .get_or_create(&labels)
                .set(i64::from(node.state == kind.name()));
        }
        powered.get_or_create(&labels).set(i64::from(node.powered));
        power_ons
            .get_or_create(&labels)
            .inc_by(u64::from(node.power_ons));
        cycles
            .get_or_create(&labels)
            .inc_by(u64::from(node.total_cycles));
        recent_cycles
            .get_or_create(&labels)
            .set(i64::from(node.recent_cycles));
        if let Some(age) = node.heartbeat_age_ms {
            heartbeat_age
                .get_or_create(&labels)
                .set(age as f64 / 1000.0);
        }
    }

    registry.register("node_state", "1 for the node's present state", state);
    registry.register("node_powered", "1 while the node is powered", powered);
    registry.register(
        "node_power_ons",
        "Power-ons since the daemon started",
        power_ons,
    );
    registry.register("node_cycles", "Automatic power cycles since start", cycles);
    registry.register(
        "node_recent_cycles",
        "Automatic power cycles within the recovery window",
        recent_cycles,
    );
    registry.register(
        "node_heartbeat_age_seconds",
        "Time since the last counted heartbeat edge",
        heartbeat_age,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DaemonInfo, NodeReport, SupplyReport};

    fn report() -> StatusReport {
        StatusReport {
            time_unix_ms: 0,
            daemon: DaemonInfo {
                pid: 1,
                backend: "sim".to_string(),
                speed: 1.0,
                uptime_ms: 0,
            },
            supply: SupplyReport {
                millivolts: Some(5_020),
                milliamps: Some(1_150),
                sample_age_ms: Some(3),
                expected_milliamps: 1_150,
                budget_milliamps: 5_000,
                telemetry_ok: true,
                over_current: false,
                under_voltage: false,
                trips: 2,
                dropped_samples: 0,
            },
            nodes: vec![NodeReport {
                index: 0,
                name: "raspberrypi0.lan".to_string(),
                role: "worker".to_string(),
                state: "running".to_string(),
                powered: true,
                power_source: "measured".to_string(),
                heartbeat: "alive".to_string(),
                heartbeat_age_ms: Some(500),
                recent_cycles: 1,
                total_cycles: 3,
                power_ons: 4,
                power_on_queued: false,
                idle_milliamps: 350,
            }],
        }
    }

    #[test]
    fn exposition_has_supply_and_node_values() {
        let text = render(&report());
        for expected in [
            "picluster_supply_voltage_volts 5.02",
            "picluster_supply_current_amps 1.15",
            "picluster_trips_total 2",
            "picluster_node_state{node=\"raspberrypi0.lan\",state=\"running\"} 1",
            "picluster_node_state{node=\"raspberrypi0.lan\",state=\"off\"} 0",
            "picluster_node_power_ons_total{node=\"raspberrypi0.lan\"} 4",
            "picluster_node_cycles_total{node=\"raspberrypi0.lan\"} 3",
            "picluster_node_heartbeat_age_seconds{node=\"raspberrypi0.lan\"} 0.5",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[tokio::test]
    async fn scrape_returns_metrics_over_http() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (requests, mut queue) = mpsc::channel::<Envelope>(1);
        let server = tokio::spawn(serve(listener, requests));
        let core = tokio::spawn(async move {
            let envelope = queue.recv().await.unwrap();
            let _ = envelope.reply.send(Reply::Status(report()));
        });

        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.contains("picluster_supply_current_amps 1.15"),
            "{response}"
        );
        core.await.unwrap();
        server.abort();
    }
}
