//! `picluster watch`: the status table redrawn on every event and at a steady interval.

use std::collections::VecDeque;
use std::path::Path;

use super::{WatchArgs, exit};
use crate::client::{Client, ClientError};
use crate::protocol::{Reply, Request};

/// Events shown below the table.
const RECENT_EVENTS: usize = 8;

/// ANSI: cursor home, clear the screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// Redraws until Ctrl-C or until the daemon goes away.
pub async fn run(socket: &Path, args: WatchArgs) -> Result<u8, ClientError> {
    let mut client = Client::connect(socket).await?;
    let mut subscription = Client::connect(socket).await?.subscribe().await?;
    let interval = std::time::Duration::from_secs_f64(args.interval);
    let mut recent: VecDeque<String> = VecDeque::new();
    let newest = Request::Events {
        since_unix_ms: None,
        node: None,
        limit: Some(RECENT_EVENTS),
    };
    if let Reply::Events { events, .. } = client.request(&newest).await? {
        recent.extend(events.iter().map(super::events::describe));
    }

    loop {
        let report = match super::status::fetch(&mut client).await? {
            Ok(report) => report,
            Err(message) => {
                eprintln!("picluster: {message}");
                return Ok(exit::FAILED);
            }
        };
        let mut screen = String::from(CLEAR);
        screen.push_str(&super::status::render(&report));
        screen.push_str("\nrecent events:\n");
        for line in &recent {
            screen.push_str(line);
            screen.push('\n');
        }
        screen.push_str("\nCtrl-C to stop\n");
        out!("{screen}");

        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(exit::OK),
            _ = tokio::time::sleep(interval) => {}
            event = subscription.next() => match event? {
                Ok(event) => recent.push_back(super::events::describe(&event)),
                Err(notice) => recent.push_back(notice),
            },
        }
        while recent.len() > RECENT_EVENTS {
            recent.pop_front();
        }
    }
}
