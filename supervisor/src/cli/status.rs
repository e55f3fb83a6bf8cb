//! `picluster status`: the cluster as a table, or the daemon's JSON.

use std::fmt::Write;
use std::path::Path;

use super::exit;
use crate::client::{Client, ClientError};
use crate::protocol::{NodeReport, Reply, Request, StatusReport};

/// Prints the status as a table or as JSON.
pub async fn run(socket: &Path, json: bool) -> Result<u8, ClientError> {
    let mut client = Client::connect(socket).await?;
    let report = match fetch(&mut client).await? {
        Ok(report) => report,
        Err(message) => {
            eprintln!("picluster: {message}");
            return Ok(exit::FAILED);
        }
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        out!("{}", render(&report));
    }
    Ok(exit::OK)
}

/// Requests the status; `Ok(Err(..))` carries the daemon's error message.
pub async fn fetch(client: &mut Client) -> Result<Result<StatusReport, String>, ClientError> {
    match client.request(&Request::Status {}).await? {
        Reply::Status(report) => Ok(Ok(report)),
        Reply::Error { message, .. } => Ok(Err(message)),
        other => Ok(Err(format!(
            "unexpected reply to status (is the daemon another version?): {other:?}"
        ))),
    }
}

/// Renders the status table, the supply line and the legend.
pub fn render(report: &StatusReport) -> String {
    let rows: Vec<[String; 6]> = report.nodes.iter().map(row).collect();
    let header = ["NODE", "ROLE", "STATE", "POWER", "HEARTBEAT", "CYCLES"].map(String::from);
    let mut widths = header.clone().map(|title| title.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }

    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&supply_line(report));
    text.push_str("(*) head node: runs the daemon and is never switched\n");
    text
}

fn row(node: &NodeReport) -> [String; 6] {
    let name = if node.role == "head" {
        format!("{} (*)", node.name)
    } else {
        node.name.clone()
    };
    let power = format!(
        "{} ({})",
        if node.powered { "on" } else { "off" },
        node.power_source
    );
    let power = if node.power_on_queued {
        format!("{power}, on queued")
    } else {
        power
    };
    let cycles = if node.role == "head" {
        "-".to_string()
    } else {
        format!("{} recent, {} total", node.recent_cycles, node.total_cycles)
    };
    [
        name,
        node.role.clone(),
        node.state.clone(),
        power,
        heartbeat(node),
        cycles,
    ]
}

fn heartbeat(node: &NodeReport) -> String {
    let age = node.heartbeat_age_ms.map(seconds);
    match (node.heartbeat.as_str(), age) {
        ("none", _) => "no line".to_string(),
        ("alive", Some(age)) => format!("{age} ago"),
        ("lost-high" | "lost-low", Some(age)) => {
            format!("{}, {age} ago", node.heartbeat.replace('-', " stuck "))
        }
        (status, None) => status.to_string(),
        (status, Some(age)) => format!("{status}, {age} ago"),
    }
}

fn supply_line(report: &StatusReport) -> String {
    let supply = &report.supply;
    let measured = match (supply.millivolts, supply.milliamps) {
        (Some(mv), Some(ma)) => format!("{:.2} V, {:.2} A measured", volts(mv), amps(ma)),
        (Some(mv), None) => format!("{:.2} V, current not measured", volts(mv)),
        _ => "no sample yet".to_string(),
    };
    let mut flags = Vec::new();
    if !supply.telemetry_ok {
        flags.push("TELEMETRY LOST".to_string());
    }
    if supply.over_current {
        flags.push("OVER-CURRENT TRIP".to_string());
    }
    if supply.under_voltage {
        flags.push("UNDER-VOLTAGE TRIP".to_string());
    }
    if supply.trips > 0 {
        flags.push(format!("{} trips since start", supply.trips));
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!("; {}", flags.join(", "))
    };
    format!(
        "supply: {measured}; {:.2} A expected from the powered nodes' idle draw; budget {:.2} A{flags}\n",
        amps(supply.expected_milliamps),
        amps(supply.budget_milliamps),
    )
}

fn volts(millivolts: i32) -> f64 {
    f64::from(millivolts) / 1000.0
}

fn amps(milliamps: i32) -> f64 {
    f64::from(milliamps) / 1000.0
}

/// Formats milliseconds as seconds with one decimal, or whole minutes past ten minutes.
pub fn seconds(millis: u64) -> String {
    if millis >= 600_000 {
        format!("{} min", millis / 60_000)
    } else {
        format!("{:.1} s", millis as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{DaemonInfo, SupplyReport};

    fn node(index: u8, name: &str, role: &str, powered: bool) -> NodeReport {
        NodeReport {
            index,
            name: name.to_string(),
            role: role.to_string(),
            state: if powered { "running" } else { "off" }.to_string(),
            powered,
            power_source: "measured".to_string(),
            heartbeat: "alive".to_string(),
            heartbeat_age_ms: Some(600),
            recent_cycles: 0,
            total_cycles: 2,
            power_ons: 1,
            power_on_queued: false,
            idle_milliamps: 350,
        }
    }

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
                trips: 0,
                dropped_samples: 0,
            },
            nodes: vec![
                node(0, "raspberrypi0.lan", "worker", true),
                node(1, "raspberrypi2.lan", "head", true),
            ],
        }
    }

    #[test]
    fn table_marks_head_node() {
        let text = render(&report());
        let head_line = text
            .lines()
            .find(|line| line.contains("raspberrypi2.lan"))
            .unwrap();
        assert!(head_line.contains("(*)"), "{head_line}");
        let worker_line = text
            .lines()
            .find(|line| line.contains("raspberrypi0.lan"))
            .unwrap();
        assert!(!worker_line.contains("(*)"), "{worker_line}");
    }

    #[test]
    fn table_shows_measured_power_and_supply() {
        let text = render(&report());
        assert!(text.contains("on (measured)"), "{text}");
        assert!(text.contains("5.02 V, 1.15 A measured"), "{text}");
        assert!(text.contains("0.6 s ago"), "{text}");
    }
}
