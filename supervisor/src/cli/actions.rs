//! `on`, `off`, `cycle`, `reset`, `hold`, `release`: send the action, then wait for the
//! measured result of each accepted node with a progress line per step on stderr.

use std::path::Path;

use super::{ActionArgs, exit};
use crate::client::{Client, ClientError, Subscription};
use crate::protocol::{ActionKind, EventDetail, EventRecord, Outcome, Reply, Request, WaitFor};

/// A node whose measured result is awaited.
#[derive(Debug)]
struct Waiter {
    node: String,
    wait_for: WaitFor,
}

/// The end of a wait, with the line to print.
enum Finish {
    Done(String),
    Failed(String),
}

/// Runs an action and returns the exit code.
pub async fn run(socket: &Path, action: ActionKind, args: ActionArgs) -> Result<u8, ClientError> {
    // Subscribe before acting, so no event of the action can be missed.
    let mut subscription = if args.no_wait {
        None
    } else {
        Some(Client::connect(socket).await?.subscribe().await?)
    };
    let mut client = Client::connect(socket).await?;
    let request = Request::Action {
        action,
        nodes: args.nodes.clone(),
    };
    let results = match client.request(&request).await? {
        Reply::Action { results } => results,
        Reply::Error { message, .. } => {
            eprintln!("picluster: {message}");
            return Ok(exit::FAILED);
        }
        other => {
            eprintln!(
                "picluster: unexpected reply to {} (is the daemon another version?): {other:?}",
                action.name()
            );
            return Ok(exit::FAILED);
        }
    };

    let mut code = exit::OK;
    let mut waiting = Vec::new();
    for result in results {
        if args.json {
            outln!("{}", serde_json::to_string(&result).unwrap_or_default());
        }
        match result.outcome {
            Outcome::Rejected { message, .. } => {
                eprintln!("picluster: rejected: {message}");
                code = exit::FAILED;
            }
            Outcome::Accepted { wait_for: None } if !args.json => {
                outln!("{}: {}", result.node, done_message(action));
            }
            Outcome::Accepted { wait_for: None } => {}
            Outcome::Accepted {
                wait_for: Some(wait_for),
            } => {
                if args.no_wait && !args.json {
                    outln!(
                        "{}: {} accepted; not waiting for the result",
                        result.node,
                        action.name()
                    );
                }
                waiting.push(Waiter {
                    node: result.node,
                    wait_for,
                });
            }
        }
    }

    let Some(subscription) = subscription.as_mut() else {
        return Ok(code);
    };
    let waited = wait(subscription, waiting, &args).await?;
    Ok(worst(code, waited))
}

/// Returns the more important of two exit codes: a failure over a timeout over success.
fn worst(a: u8, b: u8) -> u8 {
    match (a, b) {
        (exit::FAILED, _) | (_, exit::FAILED) => exit::FAILED,
        (exit::OK, other) | (other, exit::OK) => other,
        (other, _) => other,
    }
}

async fn wait(
    subscription: &mut Subscription,
    mut waiting: Vec<Waiter>,
    args: &ActionArgs,
) -> Result<u8, ClientError> {
    if waiting.is_empty() {
        return Ok(exit::OK);
    }
    let timeout = std::time::Duration::from_secs_f64(args.timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut code = exit::OK;
    eprintln!(
        "waiting up to {} s for the measured result of {} ...",
        args.timeout,
        names(&waiting)
    );

    while !waiting.is_empty() {
        let event = match tokio::time::timeout_at(deadline, subscription.next()).await {
            Err(_) => {
                for waiter in &waiting {
                    eprintln!(
                        "picluster: timed out after {} s waiting for {} to {}; see `picluster \
                         status` and `picluster events --node {}`",
                        args.timeout,
                        waiter.node,
                        goal(waiter.wait_for),
                        waiter.node
                    );
                }
                return Ok(worst(code, exit::TIMED_OUT));
            }
            Ok(Err(error)) => return Err(error),
            Ok(Ok(Err(notice))) => {
                eprintln!("picluster: {notice}");
                continue;
            }
            Ok(Ok(Ok(event))) => event,
        };
        let Some(position) = waiting
            .iter()
            .position(|waiter| event.node.as_deref() == Some(waiter.node.as_str()))
        else {
            continue;
        };
        match finish(&waiting[position], &event) {
            Some(Finish::Done(message)) => {
                print_final(args.json, &event, &message);
                waiting.remove(position);
            }
            Some(Finish::Failed(message)) => {
                if args.json {
                    outln!("{}", serde_json::to_string(&event).unwrap_or_default());
                }
                eprintln!("picluster: {message}");
                code = exit::FAILED;
                waiting.remove(position);
            }
            None => eprintln!("  {}", super::events::describe(&event)),
        }
    }
    Ok(code)
}

fn print_final(json: bool, event: &EventRecord, message: &str) {
    if json {
        outln!("{}", serde_json::to_string(event).unwrap_or_default());
    } else {
        outln!("{message}");
    }
}

/// Decides whether `event` ends the wait for `waiter`, and how.
fn finish(waiter: &Waiter, event: &EventRecord) -> Option<Finish> {
    let node = &waiter.node;
    let wants_on = waiter.wait_for == WaitFor::SwitchedOn;
    match (&event.detail, waiter.wait_for) {
        (
            EventDetail::SwitchVerified {
                on,
                measured_step_milliamps,
            },
            WaitFor::SwitchedOn | WaitFor::SwitchedOff,
        ) if *on == wants_on => {
            let (word, sign) = if *on { ("on", '+') } else { ("off", '-') };
            let message = format!("{node}: {word}, measured {sign}{measured_step_milliamps} mA");
            Some(Finish::Done(message))
        }
        (
            EventDetail::SwitchFailed {
                way,
                expected_step_milliamps,
                measured_step_milliamps,
            },
            _,
        ) => Some(Finish::Failed(format!(
            "{node}: the switch is {way}: expected a current step of at least \
             {expected_step_milliamps} mA, measured {measured_step_milliamps} mA; the node is \
             faulted: check its load switch or relay, then run `picluster release {node}`"
        ))),
        (EventDetail::SwitchUnverified { on }, WaitFor::SwitchedOn | WaitFor::SwitchedOff)
            if *on == wants_on =>
        {
            Some(Finish::Failed(format!(
                "{node}: switched {} but not verified: no supply sample arrived within the \
                 verification window; check the current monitor",
                if *on { "on" } else { "off" }
            )))
        }
        (EventDetail::StateChanged { to, cause, .. }, WaitFor::ResetDone)
            if cause == "reset-done" =>
        {
            Some(Finish::Done(format!(
                "{node}: reset pulse done; the node is {to}"
            )))
        }
        (EventDetail::StateChanged { from, to, cause }, WaitFor::SwitchedOn)
            if matches!(to.as_str(), "off" | "held" | "quarantined") =>
        {
            Some(Finish::Failed(format!(
                "{node}: went from {from} to {to} ({cause}) before its power-on was measured"
            )))
        }
        _ => None,
    }
}

/// Describes an action that completed without a measured result to wait for.
fn done_message(action: ActionKind) -> &'static str {
    match action {
        ActionKind::On => "already on",
        ActionKind::Off => "already off",
        ActionKind::Cycle => "cycle accepted",
        ActionKind::Reset => "already in reset",
        ActionKind::Hold => "on hold; nothing automatic touches it",
        ActionKind::Release => "released; automatic supervision resumes",
    }
}

fn goal(wait_for: WaitFor) -> &'static str {
    match wait_for {
        WaitFor::SwitchedOn => "switch on (a measured current step)",
        WaitFor::SwitchedOff => "switch off (a measured current drop)",
        WaitFor::ResetDone => "finish its reset pulse",
    }
}

fn names(waiting: &[Waiter]) -> String {
    let names: Vec<&str> = waiting.iter().map(|waiter| waiter.node.as_str()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail: EventDetail) -> EventRecord {
        EventRecord {
            seq: 1,
            unix_ms: 0,
            node: Some("raspberrypi1.lan".to_string()),
            detail,
            millivolts: None,
            milliamps: None,
        }
    }

    fn waiter(wait_for: WaitFor) -> Waiter {
        Waiter {
            node: "raspberrypi1.lan".to_string(),
            wait_for,
        }
    }

    #[test]
    fn cycle_wait_skips_the_off_step() {
        let off = event(EventDetail::SwitchVerified {
            on: false,
            measured_step_milliamps: 350,
        });
        assert!(finish(&waiter(WaitFor::SwitchedOn), &off).is_none());
    }

    #[test]
    fn switch_on_wait_ends_on_measured_step() {
        let on = event(EventDetail::SwitchVerified {
            on: true,
            measured_step_milliamps: 402,
        });
        let Some(Finish::Done(message)) = finish(&waiter(WaitFor::SwitchedOn), &on) else {
            panic!("a verified power-on must end the wait");
        };
        assert_eq!(message, "raspberrypi1.lan: on, measured +402 mA");
    }

    #[test]
    fn stuck_switch_fails_the_wait() {
        let failed = event(EventDetail::SwitchFailed {
            way: "stuck-on".to_string(),
            expected_step_milliamps: 100,
            measured_step_milliamps: 4,
        });
        let Some(Finish::Failed(message)) = finish(&waiter(WaitFor::SwitchedOff), &failed) else {
            panic!("a failed switch must fail the wait");
        };
        assert!(message.contains("stuck-on"), "{message}");
        assert!(
            message.contains("picluster release raspberrypi1.lan"),
            "{message}"
        );
    }

    #[test]
    fn failure_outranks_timeout() {
        assert_eq!(worst(exit::TIMED_OUT, exit::FAILED), exit::FAILED);
        assert_eq!(worst(exit::OK, exit::TIMED_OUT), exit::TIMED_OUT);
        assert_eq!(worst(exit::OK, exit::OK), exit::OK);
    }
}
