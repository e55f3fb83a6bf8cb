//! The command line: argument parsing and the dispatch to each subcommand.

/// Prints a line to stdout. A closed pipe (`picluster events | head -1`) ends the process
/// quietly with exit code 0, where `println!` would panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let written = writeln!(std::io::stdout().lock(), $($arg)*);
        $crate::cli::exit_on_broken_pipe(written);
    }};
}

/// Prints to stdout without a newline and flushes; a closed pipe ends the process as in
/// `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let written = write!(stdout, $($arg)*).and_then(|()| stdout.flush());
        $crate::cli::exit_on_broken_pipe(written);
    }};
}

mod actions;
mod events;
mod run;
mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::client::ClientError;
use crate::protocol::ActionKind;

/// Exit codes that scripts can rely on.
pub mod exit {
    /// Everything asked for was done and measured.
    pub const OK: u8 = 0;
    /// The daemon rejected an action, a switch failed its verification, a configuration is
    /// invalid, or the daemon failed.
    pub const FAILED: u8 = 1;
    /// The command line is invalid (clap's own code).
    pub const USAGE: u8 = 2;
    /// The daemon's socket does not accept connections.
    pub const UNREACHABLE: u8 = 3;
    /// An accepted action did not show its measured result within `--timeout`.
    pub const TIMED_OUT: u8 = 4;
}

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done: every action accepted and its result measured
  1  rejected or failed: the daemon rejected an action (head node, over budget, held,
     no telemetry ...), a switch failed verification, or a configuration is invalid
  2  usage: invalid command line
  3  daemon unreachable: nothing accepts connections on the control socket
  4  timed out: an accepted action did not show its measured result within --timeout

Environment:
  PICLUSTER_SOCKET  control socket path, as --socket
  RUST_LOG          log filter (tracing-subscriber EnvFilter syntax), e.g. picluster=debug";

/// Default control socket, as systemd's RuntimeDirectory=picluster places it.
const DEFAULT_SOCKET: &str = "/run/picluster/picluster.sock";

/// Power and GPIO supervisor for small Raspberry Pi clusters.
///
/// The daemon (`picluster daemon`, or `picluster sim` on a simulated cluster) switches the
/// workers' power, watches the shared supply and each worker's heartbeat. The other commands
/// talk to it through its control socket.
#[derive(Debug, Parser)]
#[command(name = "picluster", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Control socket of the daemon to talk to, for status, events, watch and the actions.
    /// `daemon` binds the socket_path of its configuration and `sim` a socket in its folder,
    /// so they reject this option.
    #[arg(
        long,
        global = true,
        env = "PICLUSTER_SOCKET",
        default_value = DEFAULT_SOCKET,
        value_name = "PATH"
    )]
    pub socket: PathBuf,

    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show every node's state, power, heartbeat and cycles, and the supply.
    ///
    /// POWER is the measured state where the last switch was confirmed by its current step
    /// ("measured"). Otherwise the word in brackets names the source: "adopted" from the line at
    /// start, "pending" while the step is awaited. The head node is marked with (*).
    ///
    /// Example: picluster status --json | jq '.nodes[] | select(.state != "running")'
    #[command(after_help = EXIT_CODES_HELP)]
    Status(JsonArgs),

    /// Switch nodes on, staggered within the supply budget, and wait for the measured step.
    ///
    /// Example: picluster on raspberrypi[0-1]
    #[command(after_help = EXIT_CODES_HELP)]
    On(ActionArgs),

    /// Switch nodes off and wait until the measured draw drops.
    ///
    /// Example: picluster off 3
    #[command(after_help = EXIT_CODES_HELP)]
    Off(ActionArgs),

    /// Power-cycle nodes: off, at least the minimum off time, on again; waits for the
    /// measured power-on.
    ///
    /// Example: picluster cycle raspberrypi1 --timeout 120
    #[command(after_help = EXIT_CODES_HELP)]
    Cycle(ActionArgs),

    /// Pulse the nodes' RUN (reset) line and wait until the pulse ends.
    ///
    /// Example: picluster reset raspberrypi0
    #[command(after_help = EXIT_CODES_HELP)]
    Reset(ActionArgs),

    /// Put nodes on maintenance hold at their present power: nothing automatic touches them.
    ///
    /// Example: picluster hold all
    #[command(after_help = EXIT_CODES_HELP)]
    Hold(ActionArgs),

    /// Clear a hold, a quarantine or a faulted switch; the nodes resume automatic supervision.
    ///
    /// Example: picluster release raspberrypi3
    #[command(after_help = EXIT_CODES_HELP)]
    Release(ActionArgs),

    /// Show events from the daemon's journal, oldest first.
    ///
    /// Example: picluster events --since 1h --node raspberrypi1
    #[command(after_help = EXIT_CODES_HELP)]
    Events(EventsArgs),

    /// Show the status live, redrawn on every event and at least once per --interval, with
    /// the newest events below it. Stop with Ctrl-C.
    ///
    /// Example: picluster watch --interval 0.5
    #[command(after_help = EXIT_CODES_HELP)]
    Watch(WatchArgs),

    /// Check a configuration file without touching any hardware.
    ///
    /// Once the file parses as TOML, every problem found is printed with its file, line and
    /// key. A TOML syntax error stops the check, so it is reported alone: fix it and run the
    /// check again.
    ///
    /// Example: picluster check-config /etc/picluster/picluster.toml
    #[command(after_help = EXIT_CODES_HELP)]
    CheckConfig(CheckConfigArgs),

    /// Run the daemon with the backend its configuration names.
    ///
    /// SIGTERM and SIGINT stop it. The daemon sets no line when it stops: rppal and sim lines
    /// keep their level, while with the linux backend the kernel releases the lines and the
    /// wiring's pull resistors decide them. SIGHUP reloads the configuration and keeps the
    /// running one if the new one is invalid.
    ///
    /// Example: picluster daemon --config /etc/picluster/picluster.toml
    #[command(after_help = EXIT_CODES_HELP)]
    Daemon(DaemonArgs),

    /// Run the daemon on the simulated reference cluster, with its socket in a temporary
    /// folder that it prints at start.
    ///
    /// With no arguments, the simulated head has just booted: the workers power up one after
    /// another within the 5.4 A supply's budget, live at speed 1. On exit (Ctrl-C, SIGTERM)
    /// the run's trace is written to the folder as trace.csv and trace.svg. Point the other
    /// commands at it with --socket or PICLUSTER_SOCKET.
    ///
    /// Example: picluster sim --speed 10, then in another terminal:
    ///          PICLUSTER_SOCKET=/tmp/picluster-sim-XXXX/picluster.sock picluster watch
    #[command(after_help = EXIT_CODES_HELP)]
    Sim(SimArgs),

    /// Run the heartbeat agent on a worker: toggle one GPIO line every --interval, which the
    /// head's daemon watches to tell a running worker from a hung one.
    ///
    /// The first change, to high, is immediate. SIGTERM and SIGINT stop the agent with the
    /// line driven low, which the head reads like a worker that is off. On a Raspberry Pi a
    /// numbered line is a BCM number driven through rppal; elsewhere, or with --driver linux,
    /// the line is an offset on --gpio-chip or a name that gpioinfo lists.
    ///
    /// Example: picluster heartbeat --line 17 --interval 1s
    #[command(after_help = HEARTBEAT_HELP)]
    Heartbeat(HeartbeatArgs),
}

const HEARTBEAT_HELP: &str = "\
Exit codes:
  0  stopped by SIGTERM or SIGINT; the line is left low
  1  the line could not be opened or set (the message names the cause and the fix)
  2  usage: invalid command line

Environment:
  RUST_LOG  log filter (tracing-subscriber EnvFilter syntax), e.g. picluster=debug";

/// Arguments of `heartbeat`.
#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// The line to toggle: a BCM number on a Raspberry Pi (17), an offset on --gpio-chip, or a
    /// line name as gpioinfo lists it (GPIO17).
    #[arg(long, value_name = "LINE")]
    pub line: crate::agent::LineRef,

    /// Time between two level changes, such as 1s or 500ms. The daemon's heartbeat_timeout
    /// must cover several of them (the reference cluster: 15 s).
    #[arg(
        long,
        default_value = "1s",
        value_parser = parse_interval,
        value_name = "DURATION"
    )]
    pub interval: std::time::Duration,

    /// The driver for the heartbeat line.
    #[arg(long, value_enum, default_value_t = crate::agent::AgentDriver::Auto)]
    pub driver: crate::agent::AgentDriver,

    /// The GPIO character device, for the linux driver.
    #[arg(long, default_value = crate::config::DEFAULT_GPIO_CHIP, value_name = "PATH")]
    pub gpio_chip: PathBuf,
}

/// Parses `--interval`: a duration with a unit, above zero.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|error| {
        format!("invalid duration {text:?} ({error}); write a number and a unit, such as 1s")
    })?;
    if interval.is_zero() {
        return Err("the interval must be above zero, such as 1s".to_owned());
    }
    Ok(interval)
}

/// Maximum `--timeout` of an action. A power-on is measured within a few seconds; a day is
/// far beyond any wait an operator means, and keeps the value a valid `Duration`.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// Minimum `watch --interval`: 20 redraws a second, faster than a terminal reader follows.
const MIN_WATCH_INTERVAL_SECONDS: f64 = 0.05;

/// Maximum `watch --interval`: an hour; events redraw the screen anyway.
const MAX_WATCH_INTERVAL_SECONDS: f64 = 3_600.0;

/// Maximum `sim --speed`. The daemon handles every simulated 10 ms supply sample, so speed
/// 1000 means 100,000 samples per real second. That is an estimate of what one core keeps up
/// with, not a measured figure.
const MAX_SIM_SPEED: f64 = 1_000.0;

/// Parses a number that must lie above `min` (or at `min` when `min_allowed`) and at most
/// `max`, with `range` as the message that states the allowed values.
fn parse_bounded(
    text: &str,
    min: f64,
    min_allowed: bool,
    max: f64,
    range: &str,
) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("not a number; {range}"))?;
    let above_min = value > min || (min_allowed && value == min);
    if !value.is_finite() || !above_min || value > max {
        return Err(format!("out of range; {range}"));
    }
    Ok(value)
}

/// Parses an action's `--timeout`.
fn parse_timeout(text: &str) -> Result<f64, String> {
    parse_bounded(
        text,
        0.0,
        false,
        MAX_TIMEOUT_SECONDS,
        "the timeout must be a positive number of seconds, at most 86400 (one day)",
    )
}

/// Parses `watch --interval`.
fn parse_watch_interval(text: &str) -> Result<f64, String> {
    parse_bounded(
        text,
        MIN_WATCH_INTERVAL_SECONDS,
        true,
        MAX_WATCH_INTERVAL_SECONDS,
        "the interval must be a number of seconds from 0.05 to 3600",
    )
}

/// Parses `sim --speed`.
fn parse_speed(text: &str) -> Result<f64, String> {
    parse_bounded(
        text,
        0.0,
        false,
        MAX_SIM_SPEED,
        "the speed must be a number above 0 and at most 1000 (1 is real time)",
    )
}

/// `--json` for the read commands.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the daemon's reply as JSON (the format of docs/protocol.md) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of the actions.
#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Nodes: a hostname (raspberrypi1.lan or raspberrypi1), an index (1), a range (0-1),
    /// a bracket range (raspberrypi[0-1]), a comma list of these (0,1,3), or `all` (every
    /// worker, never the head).
    #[arg(value_name = "NODES")]
    pub nodes: String,

    /// Return once the daemon has accepted the action, without waiting for its measured
    /// result.
    #[arg(long)]
    pub no_wait: bool,

    /// Maximum time to wait for the measured result, in seconds of real time: above 0, at
    /// most 86400 (one day).
    #[arg(
        long,
        default_value_t = 60.0,
        value_parser = parse_timeout,
        allow_negative_numbers = true,
        value_name = "SECONDS"
    )]
    pub timeout: f64,

    /// Print the per-node results as JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events at or after this moment: a duration before now on the daemon's clock
    /// (30s, 10m, 2h, 1d) or an RFC 3339 time (2025-01-31T18:00:00Z).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Only events of these nodes, named as for the actions: a hostname, a short name, an
    /// index, a range or a comma list. Cluster-wide events are left out.
    #[arg(long, value_name = "NODES")]
    pub node: Option<String>,

    /// Only the newest this many matching events.
    #[arg(long, value_name = "COUNT")]
    pub limit: Option<usize>,

    /// Print one JSON object per line (the journal's own format) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Maximum time between two redraws, in seconds from 0.05 to 3600; every event also
    /// redraws.
    #[arg(
        long,
        default_value_t = 1.0,
        value_parser = parse_watch_interval,
        allow_negative_numbers = true,
        value_name = "SECONDS"
    )]
    pub interval: f64,
}

/// Arguments of `check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The configuration file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Arguments of `daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The configuration file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/etc/picluster/picluster.toml"
    )]
    pub config: PathBuf,
}

/// The restore policies, for `sim --restore-policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestoreArg {
    /// Switch every worker on after the head boots.
    AlwaysOn,
    /// Switch on the workers that were on before.
    Previous,
    /// Leave every worker off.
    AlwaysOff,
}

/// Arguments of `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// A hal-mock scenario file (TOML): its cluster replaces the reference cluster and its
    /// world events (hangs, stress, supply changes, monitor faults) happen at their times after
    /// the start. Its operator commands are not played and its checks are not evaluated: run
    /// it with hal-mock's scenario runner for those.
    #[arg(long, value_name = "FILE", conflicts_with = "config")]
    pub scenario: Option<PathBuf>,

    /// How many times faster than real time the simulated clock runs: 1 is real time, 100
    /// runs a simulated minute in 0.6 s. Above 0, at most 1000.
    #[arg(
        long,
        default_value_t = 1.0,
        value_parser = parse_speed,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    pub speed: f64,

    /// Folder for the socket, state, journal, simulated world and traces. Default: a new
    /// folder under the system's temporary folder. Starting again with the same folder
    /// continues the same simulated world, as a daemon restart on a running head does.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Cluster configuration to simulate instead of the reference cluster. The socket and
    /// state paths of its `[daemon]` table are replaced by files in the sim's folder.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The workers' power after the simulated head has just booted (a new folder).
    #[arg(long, value_enum, default_value_t = RestoreArg::AlwaysOn, value_name = "POLICY")]
    pub restore_policy: RestoreArg,

    /// Address of the Prometheus endpoint; port 0 picks a free port, logged at start.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDRESS")]
    pub metrics_listen: std::net::SocketAddr,

    /// Serve no Prometheus endpoint.
    #[arg(long)]
    pub no_metrics: bool,
}

/// Ends the process with exit code 0 when `written` failed on a closed pipe, as `head` closes
/// it after the lines it wants. Other write failures are ignored, as before a terminal that
/// went away.
pub(crate) fn exit_on_broken_pipe(written: std::io::Result<()>) {
    if let Err(error) = written
        && error.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(i32::from(exit::OK));
    }
}

impl Command {
    /// Tells whether the command talks to a running daemon through `--socket`.
    fn uses_socket(&self) -> bool {
        !matches!(
            self,
            Command::CheckConfig(_) | Command::Daemon(_) | Command::Sim(_) | Command::Heartbeat(_)
        )
    }
}

/// Parses `args` like [`Cli::try_parse_from`], and also rejects `--socket` on a command line
/// whose command does not talk to a daemon, where the option would be silently ignored.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = Cli::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let explicit_socket = matches.value_source("socket") == Some(ValueSource::CommandLine);
    if explicit_socket && !cli.command.uses_socket() {
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            "--socket applies only to the commands that talk to a daemon (status, events, \
             watch and the actions); `daemon` binds the socket_path of its configuration and \
             `sim` binds picluster.sock in its --dir folder",
        ));
    }
    Ok(cli)
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit());
    let daemon_like = matches!(
        cli.command,
        Command::Daemon(_) | Command::Sim(_) | Command::Heartbeat(_)
    );
    init_logging(if daemon_like { "info" } else { "warn" });

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("picluster: failed to start the async runtime: {error}");
            return ExitCode::from(exit::FAILED);
        }
    };
    ExitCode::from(runtime.block_on(dispatch(cli)))
}

async fn dispatch(cli: Cli) -> u8 {
    let socket = cli.socket;
    let result = match cli.command {
        Command::Status(args) => status::run(&socket, args.json).await,
        Command::On(args) => actions::run(&socket, ActionKind::On, args).await,
        Command::Off(args) => actions::run(&socket, ActionKind::Off, args).await,
        Command::Cycle(args) => actions::run(&socket, ActionKind::Cycle, args).await,
        Command::Reset(args) => actions::run(&socket, ActionKind::Reset, args).await,
        Command::Hold(args) => actions::run(&socket, ActionKind::Hold, args).await,
        Command::Release(args) => actions::run(&socket, ActionKind::Release, args).await,
        Command::Events(args) => events::run(&socket, args).await,
        Command::Watch(args) => watch::run(&socket, args).await,
        Command::CheckConfig(args) => Ok(run::check_config(&args.file)),
        Command::Daemon(args) => Ok(run::daemon(&args.config).await),
        Command::Sim(args) => Ok(run::sim(args).await),
        Command::Heartbeat(args) => Ok(run::heartbeat(args).await),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("picluster: {error}");
            match error {
                ClientError::Unreachable { .. } => exit::UNREACHABLE,
                ClientError::Broken { .. } => exit::FAILED,
            }
        }
    }
}

/// Logs to stderr with the filter from RUST_LOG, or `default` when it is unset.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(terminal)
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn heartbeat_defaults_to_one_second_auto() {
        let cli = Cli::try_parse_from(["picluster", "heartbeat", "--line", "17"]).unwrap();
        let Command::Heartbeat(args) = cli.command else {
            panic!("expected the heartbeat command, got {:?}", cli.command);
        };
        assert_eq!(args.line, crate::agent::LineRef::Offset(17));
        assert_eq!(args.interval, std::time::Duration::from_secs(1));
        assert_eq!(args.driver, crate::agent::AgentDriver::Auto);
        assert_eq!(
            args.gpio_chip,
            PathBuf::from(crate::config::DEFAULT_GPIO_CHIP)
        );
    }

    #[test]
    fn heartbeat_reads_interval_and_named_line() {
        let cli = Cli::try_parse_from([
            "picluster",
            "heartbeat",
            "--line",
            "GPIO17",
            "--interval",
            "500ms",
            "--driver",
            "linux",
            "--gpio-chip",
            "/dev/gpiochip4",
        ])
        .unwrap();
        let Command::Heartbeat(args) = cli.command else {
            panic!("expected the heartbeat command, got {:?}", cli.command);
        };
        assert_eq!(args.line, crate::agent::LineRef::Name("GPIO17".to_owned()));
        assert_eq!(args.interval, std::time::Duration::from_millis(500));
        assert_eq!(args.driver, crate::agent::AgentDriver::Linux);
        assert_eq!(args.gpio_chip, PathBuf::from("/dev/gpiochip4"));
    }

    #[test]
    fn heartbeat_zero_interval_is_usage_error() {
        let error =
            Cli::try_parse_from(["picluster", "heartbeat", "--line", "17", "--interval", "0s"])
                .unwrap_err();
        assert_eq!(error.exit_code(), i32::from(exit::USAGE));
        assert!(error.to_string().contains("above zero"), "{error}");
    }

    /// Parses `args` and returns the usage error, failing the test if they parse.
    fn usage_error(args: &[&str]) -> String {
        let error = parse_from(args).expect_err("the command line must be rejected");
        assert_eq!(error.exit_code(), i32::from(exit::USAGE), "{error}");
        error.to_string()
    }

    #[test]
    fn watch_interval_out_of_range_is_usage_error() {
        for value in ["inf", "nan", "0", "-1", "0.01", "3601", "soon"] {
            let error = usage_error(&["picluster", "watch", "--interval", value]);
            assert!(error.contains(&format!("'{value}'")), "{error}");
            assert!(error.contains("from 0.05 to 3600"), "{error}");
        }
    }

    #[test]
    fn watch_interval_in_range_parses() {
        let cli = parse_from(["picluster", "watch", "--interval", "0.5"]).unwrap();
        let Command::Watch(args) = cli.command else {
            panic!("expected the watch command, got {:?}", cli.command);
        };
        assert_eq!(args.interval, 0.5);
    }

    #[test]
    fn negative_timeout_says_positive() {
        let error = usage_error(&["picluster", "off", "1", "--timeout", "-5"]);
        assert!(error.contains("'-5'"), "{error}");
        assert!(error.contains("must be a positive number"), "{error}");
        assert!(!error.contains("unexpected argument"), "{error}");
    }

    #[test]
    fn infinite_timeout_is_usage_error() {
        for value in ["inf", "nan", "0", "86401"] {
            let error = usage_error(&["picluster", "on", "1", "--timeout", value]);
            assert!(error.contains("at most 86400"), "{error}");
        }
    }

    #[test]
    fn sim_speed_out_of_range_is_usage_error() {
        for value in ["0", "nan", "inf", "-2", "1001"] {
            let error = usage_error(&["picluster", "sim", "--speed", value]);
            assert!(error.contains(&format!("'{value}'")), "{error}");
            assert!(error.contains("above 0 and at most 1000"), "{error}");
        }
    }

    #[test]
    fn sim_speed_help_states_meaning_and_limits() {
        let mut command = Cli::command();
        let sim = command.find_subcommand_mut("sim").unwrap();
        let speed = sim
            .get_arguments()
            .find(|argument| argument.get_id() == "speed")
            .unwrap();
        let help = speed.get_help().unwrap().to_string();
        assert!(help.contains("faster than real time"), "{help}");
        assert!(help.contains("at most 1000"), "{help}");
    }

    #[test]
    fn socket_rejected_for_commands_without_client() {
        let command_lines: [&[&str]; 3] = [
            &["picluster", "sim", "--socket", "/tmp/other.sock"],
            &["picluster", "--socket", "/tmp/other.sock", "daemon"],
            &[
                "picluster",
                "check-config",
                "--socket",
                "/tmp/x.sock",
                "x.toml",
            ],
        ];
        for args in command_lines {
            let error = usage_error(args);
            assert!(error.contains("--socket applies only"), "{error}");
        }
    }

    #[test]
    fn socket_accepted_before_or_after_client_command() {
        for args in [
            ["picluster", "--socket", "/tmp/other.sock", "status"],
            ["picluster", "status", "--socket", "/tmp/other.sock"],
        ] {
            let cli = parse_from(args).unwrap();
            assert_eq!(cli.socket, PathBuf::from("/tmp/other.sock"));
        }
    }

    #[test]
    fn check_config_help_says_syntax_error_is_alone() {
        let command = Cli::command();
        let check = command
            .get_subcommands()
            .find(|subcommand| subcommand.get_name() == "check-config")
            .unwrap();
        let help = check.get_long_about().unwrap().to_string();
        assert!(help.contains("syntax error stops the check"), "{help}");
        assert!(!help.contains("prints every problem"), "{help}");
    }

    #[test]
    fn every_subcommand_has_an_example() {
        let command = Cli::command();
        for subcommand in command.get_subcommands() {
            let help = subcommand
                .get_long_about()
                .map(|text| text.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Example:"),
                "`{}` has no example in its help",
                subcommand.get_name()
            );
        }
    }
}
