//! The world behind the embedded-hal traits: pins, edges, waiting, the I2C bus, the monitor
//! path through the firmware driver, and the supply.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use embedded_hal::digital::{InputPin, OutputPin, StatefulOutputPin};
use embedded_hal::i2c::{Error as _, ErrorKind, I2c, NoAcknowledgeSource};
use embedded_hal_async::digital::Wait;
use picluster_firmware::board::SampleSource;
use picluster_firmware::config::LineId;
use picluster_firmware::monitor::MonitorError;
use picluster_firmware::units::{Duration, Instant, Milliamps};
use picluster_hal_mock::{
    ClaimError, DeviceFault, Overload, Phase, Pull, SimCluster, SimI2c, SimInputPin, SimOutputPin,
    World,
};

const RPI0_SWITCH: LineId = LineId(17);
const RPI0_RUN: LineId = LineId(5);
const RPI0_HEARTBEAT: LineId = LineId(23);

fn reference_world() -> (SimCluster, World) {
    let cluster = SimCluster::reference(1);
    let world = cluster.build_world();
    (cluster, world)
}

#[test]
fn handles_are_send() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<World>();
    assert_send::<SimOutputPin>();
    assert_send::<SimInputPin>();
    assert_send::<SimI2c>();
}

#[test]
fn world_lock_lets_holder_use_pins_and_bus() {
    let (cluster, world) = reference_world();
    let mut source = cluster.monitor.connect(world.i2c()).unwrap();
    let mut switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();

    // Every call below locks the world again on the thread that holds it.
    let lock = world.lock();
    switch.set_low().unwrap();
    world.advance_by(Duration::from_millis(10));
    let sample = source.read_sample().unwrap();
    drop(lock);

    assert!(sample.is_some(), "a conversion finished");
    assert!(!world.line_level(RPI0_SWITCH));
}

#[test]
fn claimed_line_is_busy_with_holder_label() {
    let (_, world) = reference_world();
    let _switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    let error = world.claim_output(RPI0_SWITCH, "other").unwrap_err();
    assert_eq!(
        error,
        ClaimError::Busy {
            line: RPI0_SWITCH,
            holder: "picluster".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "line 17 is busy: claimed by \"picluster\"; release it or pick another line"
    );
}

#[test]
fn line_past_chip_does_not_exist() {
    let (_, world) = reference_world();
    let error = world
        .claim_input(LineId(54), "picluster", None)
        .unwrap_err();
    assert_eq!(error, ClaimError::NoSuchLine { line: LineId(54) });
}

#[test]
fn dropping_output_keeps_level_and_frees_line() {
    let (_, world) = reference_world();
    let mut pin = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    pin.set_high().unwrap();
    let changes = world.line_changes(RPI0_SWITCH);
    drop(pin);
    assert!(world.line_level(RPI0_SWITCH));
    assert_eq!(world.line_changes(RPI0_SWITCH), changes);
    assert_eq!(world.line_holder(RPI0_SWITCH), None);

    let mut again = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    assert!(again.is_set_high().unwrap());
    assert_eq!(world.line_changes(RPI0_SWITCH), changes);
}

#[test]
fn claiming_output_adopts_present_level() {
    let (_, world) = reference_world();
    // The reference drives RUN through a MOSFET whose gate rests pulled down: a fresh claim
    // drives the line low, as found.
    let mut run = world.claim_output(RPI0_RUN, "picluster").unwrap();
    assert!(run.is_set_low().unwrap());
    assert_eq!(world.line_changes(RPI0_RUN), 0);
}

#[test]
fn switch_on_powers_node_and_raises_draw() {
    let (_, world) = reference_world();
    let idle = world.rail().current;
    let mut switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    // The reference switches are active low.
    switch.set_low().unwrap();
    assert_eq!(world.node(0).phase, Phase::Inrush);
    assert_eq!(world.rail().current, idle + Milliamps(800));
    world.advance_by(Duration::from_millis(10));
    assert_eq!(world.node(0).phase, Phase::BootPeak);
    assert_eq!(world.rail().current, idle + Milliamps(400));
}

#[test]
fn heartbeat_edges_arrive_with_their_times() {
    let (_, world) = reference_world();
    let mut switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    let mut input = world
        .claim_input(RPI0_HEARTBEAT, "picluster", Some(Pull::Down))
        .unwrap();
    switch.set_low().unwrap();
    world.advance_to(Instant::from_secs(40));
    let edges = input.take_edges();
    // The Pi 2 Model B reaches its agent 30 s after power-on; a 1 Hz agent toggles about
    // ten times by 40 s.
    assert!((8..=10).contains(&edges.len()), "{} edges", edges.len());
    assert!(edges[0].at >= Instant::from_secs(30));
    assert!(edges.windows(2).all(|pair| pair[0].high != pair[1].high));
    assert!(input.take_edges().is_empty());
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn wait_for_rising_edge_wakes_when_world_advances() {
    let (_, world) = reference_world();
    let mut switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    let mut input = world
        .claim_input(RPI0_HEARTBEAT, "picluster", Some(Pull::Down))
        .unwrap();
    switch.set_low().unwrap();

    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut context = Context::from_waker(&waker);
    let mut wait = pin!(input.wait_for_rising_edge());
    assert!(wait.as_mut().poll(&mut context).is_pending());

    world.advance_to(Instant::from_secs(29));
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    assert!(wait.as_mut().poll(&mut context).is_pending());

    world.advance_to(Instant::from_secs(33));
    assert!(counter.0.load(Ordering::SeqCst) > 0);
    assert!(matches!(
        wait.as_mut().poll(&mut context),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn wait_for_met_level_is_ready() {
    let (_, world) = reference_world();
    let mut input = world
        .claim_input(RPI0_HEARTBEAT, "picluster", None)
        .unwrap();
    let waker = Waker::noop();
    let mut context = Context::from_waker(waker);
    let mut low = pin!(input.wait_for_low());
    assert!(matches!(
        low.as_mut().poll(&mut context),
        Poll::Ready(Ok(()))
    ));
}

#[test]
fn faulted_line_fails_pin_operations() {
    let (_, world) = reference_world();
    let mut switch = world.claim_output(RPI0_SWITCH, "picluster").unwrap();
    let mut input = world
        .claim_input(RPI0_HEARTBEAT, "picluster", None)
        .unwrap();
    let resting = world.line_level(RPI0_SWITCH);
    world.set_line_fault(RPI0_SWITCH, true);
    world.set_line_fault(RPI0_HEARTBEAT, true);
    assert!(switch.set_state((!resting).into()).is_err());
    assert!(input.is_high().is_err());
    assert_eq!(world.line_level(RPI0_SWITCH), resting);
}

#[test]
fn empty_address_is_not_acknowledged() {
    let (_, world) = reference_world();
    let mut bus = world.i2c();
    let error = bus.write(0x41, &[0x00]).unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
    );
    assert_eq!(error.address, 0x41);
}

#[test]
fn driver_reads_reference_rail_through_model() {
    let (cluster, world) = reference_world();
    let mut source = cluster.monitor.connect(world.i2c()).unwrap();
    world.advance_by(Duration::from_millis(10));
    let sample = source
        .read_sample()
        .unwrap()
        .expect("a conversion finished");
    // Only the head runs: 400 mA; 5100 mV - 16 mV droop - 4 mV across the shunt.
    assert_eq!(sample.current, Some(Milliamps(400)));
    assert_eq!(sample.voltage.0, 5_080);
    assert_eq!(source.read_sample().unwrap(), None);
}

#[test]
fn ina226_driver_reads_through_model() {
    let mut cluster = SimCluster::reference(1);
    cluster.monitor.chip = picluster_hal_mock::MonitorChip::Ina226;
    let world = cluster.build_world();
    let mut source = cluster.monitor.connect(world.i2c()).unwrap();
    world.advance_by(Duration::from_millis(20));
    let sample = source
        .read_sample()
        .unwrap()
        .expect("the INA226 driver never waits");
    assert_eq!(sample.current, Some(Milliamps(400)));
}

#[test]
fn monitor_without_acknowledge_fails_reads() {
    let (cluster, world) = reference_world();
    let mut source = cluster.monitor.connect(world.i2c()).unwrap();
    world.inject_device_fault(cluster.monitor.address, DeviceFault::NoAcknowledge);
    world.advance_by(Duration::from_millis(10));
    let error = source.read_sample().unwrap_err();
    assert_eq!(
        error.i2c_kind(),
        Some(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address))
    );
}

#[test]
fn monitor_reset_is_detected_and_recovered() {
    let (cluster, world) = reference_world();
    let mut source = cluster.monitor.connect(world.i2c()).unwrap();
    world.advance_by(Duration::from_millis(10));
    world.inject_device_fault(cluster.monitor.address, DeviceFault::Reset);
    world.advance_by(Duration::from_millis(10));
    let error = source.read_sample().unwrap_err();
    assert!(
        matches!(error, MonitorError::ResetDetected { read: 0, .. }),
        "{error:?}"
    );
    world.advance_by(Duration::from_millis(10));
    let sample = source
        .read_sample()
        .unwrap()
        .expect("settings were written again");
    assert_eq!(sample.current, Some(Milliamps(400)));
}

#[test]
fn hiccup_supply_collapses_and_retries() {
    let (_, world) = reference_world();
    let mut supply = world.supply();
    supply.limit = Milliamps(300);
    supply.overload = Overload::Hiccup {
        trip_after: Duration::from_millis(20),
        off_for: Duration::from_secs(1),
    };
    world.set_supply(supply);
    world.advance_by(Duration::from_millis(20));
    assert!(world.supply_off());
    assert_eq!(world.rail().voltage.0, 0);
    world.advance_by(Duration::from_millis(10));
    assert_eq!(world.node(2).phase, Phase::BrownedOut);
    assert_eq!(world.hiccups(), 1);

    world.advance_by(Duration::from_millis(1_000));
    assert!(!world.supply_off());
}

#[test]
fn brown_out_supply_sags_past_limit() {
    let (_, world) = reference_world();
    let mut supply = world.supply();
    supply.limit = Milliamps(200);
    supply.overload = Overload::BrownOut {
        sag_mv_per_amp: 1_000,
    };
    world.set_supply(supply);
    // 400 mA: 16 mV droop and 200 mV sag from 5100 mV.
    assert_eq!(world.rail().voltage.0, 4_884);
}
