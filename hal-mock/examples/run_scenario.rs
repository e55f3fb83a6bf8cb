//! Runs a scenario file and prints its report; optionally writes the trace as CSV and SVG.
//!
//! ```text
//! cargo run -p picluster-hal-mock --example run_scenario -- \
//!     hal-mock/scenarios/cold-start.toml --csv run.csv --svg run.svg
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use picluster_hal_mock::{RunOptions, Scenario, run};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: run_scenario FILE [--csv OUT.csv] [--svg OUT.svg]");
        return ExitCode::from(2);
    };
    let mut csv: Option<PathBuf> = None;
    let mut svg: Option<PathBuf> = None;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--csv", Some(out)) => csv = Some(out.into()),
            ("--svg", Some(out)) => svg = Some(out.into()),
            _ => {
                eprintln!("unknown option {flag}; expected --csv FILE or --svg FILE");
                return ExitCode::from(2);
            }
        }
    }

    let scenario = match Scenario::load(path.as_ref()) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let options = RunOptions {
        trace: csv.is_some() || svg.is_some(),
        ..RunOptions::default()
    };
    let report = match run(&scenario, options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    print!("{report}");

    if let Some(trace) = &report.trace {
        if let Some(out) = csv
            && let Err(error) = std::fs::write(&out, trace.to_csv())
        {
            eprintln!("cannot write {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
        if let Some(out) = svg {
            let written = trace
                .to_svg()
                .map_err(|error| error.to_string())
                .and_then(|text| std::fs::write(&out, text).map_err(|error| error.to_string()));
            if let Err(error) = written {
                eprintln!("cannot write {}: {error}", out.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
