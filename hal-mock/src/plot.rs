//! An SVG plot of a trace, drawn with plotters: supply current and voltage, each node's
//! controller state as a coloured band, and each line's level.

use picluster_firmware::state::StateKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::trace::{Trace, TraceRow};

const WIDTH: u32 = 1400;
const CURRENT_HEIGHT: u32 = 260;
const VOLTAGE_HEIGHT: u32 = 200;
const ROW_HEIGHT: u32 = 34;
const LINE_ROW_HEIGHT: u32 = 26;
const LEGEND_HEIGHT: u32 = 40;
const LABEL_AREA: u32 = 170;

/// A failure to draw the plot.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the trace plot: {0}")]
pub struct PlotError(String);

fn plot_error(error: impl std::fmt::Display) -> PlotError {
    PlotError(error.to_string())
}

/// Returns the colour of a controller state on the plot.
fn state_colour(state: Option<StateKind>) -> RGBColor {
    match state {
        None | Some(StateKind::Off) => RGBColor(200, 200, 200),
        Some(StateKind::PoweringOn) => RGBColor(250, 200, 60),
        Some(StateKind::Booting) => RGBColor(140, 190, 240),
        Some(StateKind::Running) => RGBColor(70, 170, 90),
        Some(StateKind::Unresponsive) => RGBColor(240, 130, 40),
        Some(StateKind::Resetting) => RGBColor(160, 90, 200),
        Some(StateKind::Cycling) => RGBColor(150, 100, 60),
        Some(StateKind::Held) => RGBColor(40, 80, 200),
        Some(StateKind::Quarantined) => RGBColor(210, 40, 40),
        Some(StateKind::Faulted) => RGBColor(30, 30, 30),
    }
}

/// Returns the points of a step line through `(time, value)` pairs, held to `end`.
fn steps(points: impl Iterator<Item = (f64, f64)>, end: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (time, value) in points {
        if let Some(&(_, previous)) = out.last() {
            out.push((time, previous));
        }
        out.push((time, value));
    }
    if let Some(&(_, last)) = out.last() {
        out.push((end, last));
    }
    out
}

fn seconds(row: &TraceRow) -> f64 {
    row.at.as_micros() as f64 / 1e6
}

impl Trace {
    /// Draws the trace as an SVG document.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let end = self.rows.last().map_or(1.0, seconds).max(1.0);
        let states_height = ROW_HEIGHT * self.nodes.len() as u32 + 70;
        let lines_height = LINE_ROW_HEIGHT * self.lines.len() as u32 + 70;
        let height =
            CURRENT_HEIGHT + VOLTAGE_HEIGHT + states_height + lines_height + LEGEND_HEIGHT + 40;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_error)?;
            let title = format!("scenario: {}", self.scenario);
            let root = root
                .titled(&title, ("sans-serif", 22))
                .map_err(plot_error)?;
            let (current, rest) = root.split_vertically(CURRENT_HEIGHT);
            let (voltage, rest) = rest.split_vertically(VOLTAGE_HEIGHT);
            let (states, rest) = rest.split_vertically(states_height);
            let (lines, legend) = rest.split_vertically(lines_height);
            self.draw_current(&current, end)?;
            self.draw_voltage(&voltage, end)?;
            self.draw_states(&states, end)?;
            self.draw_lines(&lines, end)?;
            draw_legend(&legend)?;
            root.present().map_err(plot_error)?;
        }
        Ok(svg)
    }

    fn draw_current(
        &self,
        area: &DrawingArea<SVGBackend, Shift>,
        end: f64,
    ) -> Result<(), PlotError> {
        let peak = self.rows.iter().map(|r| r.current.0).max().unwrap_or(0);
        let top = (f64::from(peak.max(self.supply_limit.0)) / 1000.0 * 1.1).max(1.0);
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(LABEL_AREA)
            .caption("supply current", ("sans-serif", 16))
            .build_cartesian_2d(0.0..end, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .y_desc("current (A)")
            .x_desc("time (s)")
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;

        let limit = f64::from(self.supply_limit.0) / 1000.0;
        let budget = f64::from(self.budget.0) / 1000.0;
        for (value, colour, label) in [
            (limit, RED, format!("supply limit {limit:.2} A")),
            (
                budget,
                RGBColor(120, 120, 120),
                format!("budget {budget:.2} A"),
            ),
        ] {
            chart
                .draw_series(LineSeries::new(vec![(0.0, value), (end, value)], colour))
                .map_err(plot_error)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        let truth = steps(
            self.rows
                .iter()
                .map(|r| (seconds(r), f64::from(r.current.0) / 1000.0)),
            end,
        );
        chart
            .draw_series(LineSeries::new(truth, BLUE.stroke_width(2)))
            .map_err(plot_error)?
            .label("true draw")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        let measured = steps(
            self.rows
                .iter()
                .filter_map(|r| r.measured.map(|m| (seconds(r), f64::from(m.0) / 1000.0))),
            end,
        );
        let orange = RGBColor(240, 140, 0);
        chart
            .draw_series(LineSeries::new(measured, orange))
            .map_err(plot_error)?
            .label("measured by the monitor")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)
    }

    fn draw_voltage(
        &self,
        area: &DrawingArea<SVGBackend, Shift>,
        end: f64,
    ) -> Result<(), PlotError> {
        let volts: Vec<f64> = self
            .rows
            .iter()
            .map(|r| f64::from(r.voltage.0) / 1000.0)
            .collect();
        let low = volts.iter().copied().fold(f64::INFINITY, f64::min).min(4.5);
        let high = volts
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .max(5.2);
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(LABEL_AREA)
            .caption("supply voltage at the monitor", ("sans-serif", 16))
            .build_cartesian_2d(0.0..end, (low - 0.05)..(high + 0.05))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .y_desc("voltage (V)")
            .x_desc("time (s)")
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        let floor = f64::from(self.under_voltage.0) / 1000.0;
        chart
            .draw_series(LineSeries::new(vec![(0.0, floor), (end, floor)], RED))
            .map_err(plot_error)?
            .label(format!("under-voltage trip {floor:.2} V"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        let points = steps(
            self.rows.iter().zip(&volts).map(|(r, v)| (seconds(r), *v)),
            end,
        );
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(plot_error)?
            .label("supply voltage")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)
    }

    fn draw_states(
        &self,
        area: &DrawingArea<SVGBackend, Shift>,
        end: f64,
    ) -> Result<(), PlotError> {
        let count = self.nodes.len();
        let names = self.nodes.clone();
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(LABEL_AREA)
            .caption("node states (controller)", ("sans-serif", 16))
            .build_cartesian_2d(0.0..end, 0.0..count as f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(count * 2 + 1)
            .y_label_formatter(&|y| {
                // Labels sit at each band's middle.
                let index = (*y - 0.5).round();
                if (*y - 0.5 - index).abs() < 1e-6 && index >= 0.0 {
                    let row = count - 1 - index as usize;
                    names.get(row).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("time (s)")
            .draw()
            .map_err(plot_error)?;

        for node in 0..count {
            let bottom = (count - 1 - node) as f64 + 0.1;
            let top = bottom + 0.8;
            let mut bands = Vec::new();
            let mut start: Option<(f64, Option<StateKind>)> = None;
            for row in &self.rows {
                let state = row.states.get(node).copied().flatten();
                match start {
                    Some((_, previous)) if previous == state => {}
                    Some((from, previous)) => {
                        bands.push((from, seconds(row), previous));
                        start = Some((seconds(row), state));
                    }
                    None => start = Some((seconds(row), state)),
                }
            }
            if let Some((from, state)) = start {
                bands.push((from, end, state));
            }
            chart
                .draw_series(bands.into_iter().map(|(from, to, state)| {
                    Rectangle::new([(from, bottom), (to, top)], state_colour(state).filled())
                }))
                .map_err(plot_error)?;
        }
        Ok(())
    }

    fn draw_lines(&self, area: &DrawingArea<SVGBackend, Shift>, end: f64) -> Result<(), PlotError> {
        let count = self.lines.len();
        let labels: Vec<String> = self
            .lines
            .iter()
            .map(|(line, label)| format!("{label} ({})", line.0))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(LABEL_AREA)
            .caption("line levels (low / high)", ("sans-serif", 16))
            .build_cartesian_2d(0.0..end, 0.0..count.max(1) as f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(count * 2 + 1)
            .y_label_formatter(&|y| {
                let index = (*y - 0.5).round();
                if (*y - 0.5 - index).abs() < 1e-6 && index >= 0.0 {
                    let row = count - 1 - index as usize;
                    labels.get(row).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("time (s)")
            .draw()
            .map_err(plot_error)?;
        for index in 0..count {
            let base = (count - 1 - index) as f64 + 0.15;
            let points = steps(
                self.rows.iter().map(|r| {
                    let high = r.levels.get(index).copied().unwrap_or(false);
                    (seconds(r), base + if high { 0.7 } else { 0.0 })
                }),
                end,
            );
            chart
                .draw_series(LineSeries::new(points, BLACK))
                .map_err(plot_error)?;
        }
        Ok(())
    }
}

fn draw_legend(area: &DrawingArea<SVGBackend, Shift>) -> Result<(), PlotError> {
    let mut x = 20;
    for state in StateKind::ALL {
        area.draw(&Rectangle::new(
            [(x, 10), (x + 18, 28)],
            state_colour(Some(state)).filled(),
        ))
        .map_err(plot_error)?;
        area.draw(&Text::new(
            state.name(),
            (x + 24, 12),
            ("sans-serif", 14).into_font(),
        ))
        .map_err(plot_error)?;
        x += 24 + 8 * state.name().len() as i32 + 30;
    }
    Ok(())
}
