//! `picluster events`: the journal, filtered, as text or JSON lines.

use std::path::Path;

use picluster_firmware::config::Role;

use super::{EventsArgs, exit};
use crate::client::{Client, ClientError};
use crate::protocol::{EventDetail, EventRecord, Reply, Request};

/// Prints the matching events and returns the exit code.
pub async fn run(socket: &Path, args: EventsArgs) -> Result<u8, ClientError> {
    let mut client = Client::connect(socket).await?;
    let since_unix_ms = match &args.since {
        None => None,
        Some(text) => match since(&mut client, text).await? {
            Ok(since) => Some(since),
            Err(message) => {
                eprintln!("picluster: {message}");
                return Ok(exit::USAGE);
            }
        },
    };
    let nodes = match &args.node {
        None => None,
        Some(selector) => match selected_names(&mut client, selector).await? {
            Ok(names) => Some(names),
            Err(message) => {
                eprintln!("picluster: {message}");
                return Ok(exit::FAILED);
            }
        },
    };
    // The journal filter takes one name, so a selection of several nodes is filtered here,
    // and the limit with it.
    let (node, limit) = match nodes.as_deref() {
        Some([name]) => (Some(name.clone()), args.limit),
        Some(_) => (None, None),
        None => (None, args.limit),
    };
    let request = Request::Events {
        since_unix_ms,
        node,
        limit,
    };
    let (mut events, skipped) = match client.request(&request).await? {
        Reply::Events {
            events,
            skipped_lines,
        } => (events, skipped_lines),
        Reply::Error { message, .. } => {
            eprintln!("picluster: {message}");
            return Ok(exit::FAILED);
        }
        other => {
            eprintln!(
                "picluster: unexpected reply to events (is the daemon another version?): {other:?}"
            );
            return Ok(exit::FAILED);
        }
    };

    if let Some(names) = nodes.as_ref().filter(|names| names.len() != 1) {
        events.retain(|event| event.node.as_ref().is_some_and(|node| names.contains(node)));
        if let Some(limit) = args.limit {
            events.drain(..events.len().saturating_sub(limit));
        }
    }

    for event in &events {
        if args.json {
            outln!("{}", serde_json::to_string(event).unwrap_or_default());
        } else {
            outln!("{}", describe(event));
        }
    }
    if skipped > 0 {
        eprintln!(
            "picluster: skipped {skipped} journal lines that are not valid events (a torn write \
             after a crash); the daemon's log names them"
        );
    }
    Ok(exit::OK)
}

/// Resolves `--node` with the actions' selector against the daemon's nodes and returns their
/// hostnames, or the selector's error message (an unknown name lists the known ones).
async fn selected_names(
    client: &mut Client,
    selector: &str,
) -> Result<Result<Vec<String>, String>, ClientError> {
    let report = match super::status::fetch(client).await? {
        Ok(report) => report,
        Err(message) => return Ok(Err(message)),
    };
    let nodes = report.nodes.iter().map(|node| {
        let role = if node.role == "head" {
            Role::Head
        } else {
            Role::Worker
        };
        (node.name.as_str(), role)
    });
    let names = crate::selector::select(selector, nodes).map(|selected| {
        selected
            .into_iter()
            .filter_map(|id| report.nodes.get(id.index()))
            .map(|node| node.name.clone())
            .collect()
    });
    Ok(names.map_err(|error| error.to_string()))
}

/// Turns `--since` into milliseconds since the Unix epoch: a duration counts back from the
/// daemon's clock (which runs faster in `sim`), an RFC 3339 time is taken as it is.
async fn since(client: &mut Client, text: &str) -> Result<Result<u64, String>, ClientError> {
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        let unix_ms = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64);
        return Ok(Ok(unix_ms));
    }
    let back = match humantime::parse_duration(text) {
        Ok(back) => back,
        Err(error) => {
            return Ok(Err(format!(
                "invalid --since {text:?}: {error}; give a duration such as 10m or 2h, or a \
                 time such as 2025-01-31T18:00:00Z"
            )));
        }
    };
    let now = match super::status::fetch(client).await? {
        Ok(report) => report.time_unix_ms,
        Err(message) => return Ok(Err(message)),
    };
    Ok(Ok(now.saturating_sub(back.as_millis() as u64)))
}

/// Describes one event on one line: time, sequence, node, what happened and the supply.
pub fn describe(event: &EventRecord) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.unix_ms);
    let time = humantime::format_rfc3339_millis(time);
    let node = event.node.as_deref().unwrap_or("cluster");
    let supply = match (event.millivolts, event.milliamps) {
        (Some(mv), Some(ma)) => format!(
            "  [{:.2} V {:.2} A]",
            f64::from(mv) / 1000.0,
            f64::from(ma) / 1000.0
        ),
        (Some(mv), None) => format!("  [{:.2} V]", f64::from(mv) / 1000.0),
        _ => String::new(),
    };
    format!(
        "{time}  #{:<5} {node:<18} {}{supply}",
        event.seq,
        what(&event.detail)
    )
}

/// Describes what happened, with its cause and values.
fn what(detail: &EventDetail) -> String {
    match detail {
        EventDetail::StateChanged { from, to, cause } => format!("{from} -> {to} ({cause})"),
        EventDetail::SwitchFailed {
            way,
            expected_step_milliamps,
            measured_step_milliamps,
        } => format!(
            "switch failed: {way}, expected a step of {expected_step_milliamps} mA, measured \
             {measured_step_milliamps} mA"
        ),
        EventDetail::SwitchVerified {
            on,
            measured_step_milliamps,
        } => format!(
            "switch {} verified: measured step {measured_step_milliamps} mA",
            on_off(*on)
        ),
        EventDetail::SwitchUnverified { on } => {
            format!(
                "switch {} not verified: no sample in the window",
                on_off(*on)
            )
        }
        EventDetail::ResetPulsed => "reset line pulsed".to_string(),
        EventDetail::OverCurrentTrip {
            draw_milliamps,
            budget_milliamps,
        } => {
            format!("over-current trip: {draw_milliamps} mA over the {budget_milliamps} mA budget")
        }
        EventDetail::UnderVoltageTrip {
            voltage_millivolts,
            floor_millivolts,
        } => format!("under-voltage trip: {voltage_millivolts} mV under {floor_millivolts} mV"),
        EventDetail::TripCleared => "trip cleared".to_string(),
        EventDetail::NothingToShed => "trip persists, no worker left to shed".to_string(),
        EventDetail::TelemetryLost => "telemetry lost: no valid supply sample".to_string(),
        EventDetail::TelemetryRestored => "telemetry restored".to_string(),
        EventDetail::HeartbeatNoisy { edges } => format!("heartbeat noisy: {edges} edges"),
        EventDetail::HeartbeatStuck { high } => {
            format!("heartbeat stuck {}", if *high { "high" } else { "low" })
        }
        EventDetail::CommonCauseLoss { workers } => format!(
            "every worker's heartbeat lost at once ({workers}): check the head's input, the \
             shared ground and the supply; nobody is cycled"
        ),
        EventDetail::PowerOnDeferred {
            needed_milliamps,
            budget_milliamps,
        } => format!(
            "power-on waits for budget: needs {needed_milliamps} mA of {budget_milliamps} mA"
        ),
        EventDetail::DaemonStarted {
            head_booted,
            restore_policy,
            backend,
        } => format!(
            "daemon started on {backend}: {}",
            if *head_booted {
                format!("head booted, restore policy {restore_policy}")
            } else {
                "restart, lines adopted as found".to_string()
            }
        ),
        EventDetail::Restore { policy, on } => {
            format!("restore policy {policy}: switch {}", on_off(*on))
        }
        EventDetail::OperatorAction { action, uid, pid } => match pid {
            Some(pid) => format!("operator {} (uid {uid}, pid {pid})", action.name()),
            None => format!("operator {} (uid {uid})", action.name()),
        },
        EventDetail::ConfigReloaded => "configuration reloaded".to_string(),
        EventDetail::ConfigRejected { message } => {
            format!("configuration reload rejected: {message}")
        }
        EventDetail::DaemonStopped => "daemon stopped; it set no line".to_string(),
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
