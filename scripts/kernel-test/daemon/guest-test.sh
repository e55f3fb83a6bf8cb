#!/bin/sh
# Guest side of the daemon's real-kernel test (busybox sh): `picluster daemon` on the `linux`
# backend drives the reference cluster's lines on gpio-sim and reads an INA219 register file
# on i2c-stub, while cluster.sh emulates the supply, the workers and their heartbeats.
#
# The checks, in order:
# - a cold start switches the workers on one after another, at least the inrush window apart;
# - a worker whose heartbeat stops is power-cycled, off for at least the minimum off time;
# - a command to the head is rejected, and no line outside the configuration ever changes;
# - a restart (SIGTERM, then a new start) changes no output line, and a worker switched off
#   before a stop is on again once the kernel releases its line (the fail-safe wiring);
# - a start with a configured line held by another process fails before driving any line, and
#   its message names the line and the holder.
#
# Levels: a switch line is low for "on" (active_low = true, the load-switch circuit of
# docs/wiring.md); reset lines are active high and stay undriven (reset_first = false).

# Lists of lines such as $OUTPUT_LINES are split into words on purpose.
# shellcheck disable=SC2086
# shellcheck source-path=SCRIPTDIR source=../guest-lib.sh
. /lib/kernel-test.sh

CONFIG=/tmp/picluster/picluster.toml
LOGS=/tmp/picluster
export PICLUSTER_SOCKET=/tmp/picluster/run/picluster.sock
export CLUSTER_DIR=/tmp/cluster

SWITCH_LINES="17 27 22"
RESET_LINES="5 6 13"
HEARTBEAT_LINES="23 24 25"
OUTPUT_LINES="$SWITCH_LINES $RESET_LINES"

# From picluster.toml, in the centiseconds that the recorder counts in.
INRUSH_CENTISECONDS=200
MIN_OFF_CENTISECONDS=200
HEARTBEAT_TIMEOUT_CENTISECONDS=300
# cluster.sh toggles a heartbeat every 0.5 s, so the last edge before a hang is up to this old.
BEAT_CENTISECONDS=50
INRUSH_MILLISECONDS=2000

failures=0
daemon_pid=
holder_pid=

# Prints `PASS NAME` or `FAIL NAME` for a command, as guest-lib.sh's `check` does, and counts
# the failures, so that the logs are printed at the end. Returns the command's success.
verify() {
    verify_name=$1
    shift
    if "$@"; then
        echo "PASS $verify_name"
    else
        echo "FAIL $verify_name"
        failures=$((failures + 1))
        return 1
    fi
}

# Runs `verify`, and ends the test on a failure, because the later checks depend on this one
# and each of their waits would run to its time limit.
require() {
    verify "$@" && return 0
    echo "info: stopping the test early: the later checks need $1"
    print_logs
    stop_background
    exit 1
}

# Stops every process the test started in the background. The VM's init waits for the end of
# the test's output, which a process left running would keep open.
stop_background() {
    for background_pid in $daemon_pid $holder_pid; do
        kill -TERM "$background_pid" 2>/dev/null
    done
    touch "$CLUSTER_DIR/stop"
    wait
}

# Prints a measured figure on a line that never starts with PASS or FAIL.
info() {
    echo "info: $*"
}

# Prints the uptime in centiseconds, as cluster.sh stamps the changes.
uptime_now() {
    read -r uptime_text _ </proc/uptime
    echo $((${uptime_text%.*} * 100 + 1${uptime_text#*.} - 100))
}

# Prints how long the test has run when the checks of phase $1 are done.
phase_done() {
    info "$1 checks done at $(seconds $(($(uptime_now) - test_start))) s"
}

# Prints centiseconds as seconds with two decimals.
seconds() {
    printf '%d.%02d' $(($1 / 100)) $(($1 % 100))
}

# Runs a command every 0.2 s until it succeeds, for at most $1 seconds. The command's arguments
# are expanded once, so a condition that must be read again each time is a function.
wait_until() {
    wait_tenths=$(($1 * 10))
    shift
    while ! "$@"; do
        wait_tenths=$((wait_tenths - 2))
        [ "$wait_tenths" -ge 0 ] || return 1
        sleep 0.2
    done
}

# Prints "name state" for every node of the daemon's status.
node_states() {
    picluster status --json 2>/dev/null | awk '
        $1 == "\"name\":" { name = $2; gsub(/[",]/, "", name) }
        $1 == "\"state\":" { state = $2; gsub(/[",]/, "", state); print name, state }'
}

node_state() {
    node_states | awk -v name="$1" '$1 == name { print $2 }'
}

workers_running() {
    [ "$(node_states | grep -cE '^raspberrypi[013]\.lan running$')" = 3 ]
}

daemon_answers() {
    picluster status >/dev/null 2>&1
}

# Prints the levels of lines "$@", one character each.
levels_of() {
    levels=""
    for line in "$@"; do
        read -r level <"$GPIO_SIM_DIR/sim_gpio$line/value"
        levels="$levels$level"
    done
    echo "$levels"
}

# Prints the time of the first change of line $1 to level $2 at or after time $3.
first_change() {
    awk -v line="$1" -v level="$2" -v after="$3" \
        '$2 == line && $3 == level && $1 >= after { print $1; exit }' "$CLUSTER_DIR/changes.log"
}

# Prints how many changes lines $2... had at or after time $1.
changes_since() {
    changes_after=$1
    shift
    awk -v after="$changes_after" -v lines=" $* " \
        'index(lines, " " $2 " ") && $1 >= after { count++ } END { print count + 0 }' \
        "$CLUSTER_DIR/changes.log"
}

# Prints the changes of lines other than "$@", as "time line level".
changes_outside() {
    awk -v lines=" $* " '!index(lines, " " $2 " ")' "$CLUSTER_DIR/changes.log"
}

# Checks that cluster.sh has finished at least $1 passes.
recorder_passes_reach() {
    [ "$(wc -l <"$CLUSTER_DIR/windows.log")" -ge "$1" ]
}

# Waits until cluster.sh has finished two more passes, so every change until now is recorded.
wait_for_recorder() {
    recorder_passes=$(wc -l <"$CLUSTER_DIR/windows.log")
    wait_until 10 recorder_passes_reach $((recorder_passes + 2))
}

# Checks that line $1 changed to level $2 at or after time $3.
changed_to() {
    [ -n "$(first_change "$@")" ]
}

# Checks that node $1 is in state $2.
node_is() {
    [ "$(node_state "$1")" = "$2" ]
}

# Prints the longest window of cluster.sh's passes: a recorded time is late by less than it.
recorder_window() {
    awk '$1 > longest { longest = $1 } END { print longest + 0 }' "$CLUSTER_DIR/windows.log"
}

# Prints the unix_ms of each journalled event of this cause, oldest first.
event_times() {
    picluster events --json 2>/dev/null | grep -E "\"cause\": *\"$1\"" |
        sed -n 's/.*"unix_ms": *\([0-9]*\).*/\1/p'
}

# Checks that the daemon's newest start found the boot marker: a restart, not a head boot.
last_start_was_restart() {
    picluster events --json | grep '"daemon-started"' | tail -n 1 |
        grep -qE '"head_booted": *false'
}

# Checks that every argument is non-empty.
all_given() {
    for given_value in "$@"; do
        [ -n "$given_value" ] || return 1
    done
}

# Checks that each number in "$2..." is at least $1 above the one before it.
spaced_by_at_least() {
    spacing_minimum=$1
    shift
    spacing_previous=
    for spacing_value in "$@"; do
        if [ -n "$spacing_previous" ] &&
            [ $((spacing_value - spacing_previous)) -lt "$spacing_minimum" ]; then
            return 1
        fi
        spacing_previous=$spacing_value
    done
}

start_daemon() {
    picluster daemon --config "$CONFIG" >"$LOGS/$1.log" 2>&1 &
    daemon_pid=$!
}

stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid"
    stopped_status=$?
    daemon_pid=
    return "$stopped_status"
}

print_logs() {
    for log in "$LOGS"/*.log "$CLUSTER_DIR/events.log"; do
        [ -f "$log" ] || continue
        echo "--- $log (last 30 lines)"
        tail -n 30 "$log"
    done
    echo "--- $CLUSTER_DIR/changes.log"
    cat "$CLUSTER_DIR/changes.log"
}

# --- setup ----------------------------------------------------------------------------------

test_start=$(uptime_now)
# The metrics endpoint listens on 127.0.0.1, and the VM's only network is its loopback.
ip link set lo up
mkdir -p /tmp/picluster/run "$CLUSTER_DIR"
sed -e "s|@GPIO_CHIP@|$GPIO_CHIP|" -e "s|@I2C_BUS@|$I2C_BUS|" /test/picluster.toml >"$CONFIG"
require config-is-valid picluster check-config "$CONFIG"

# The workers are off at the first start because their switch lines rest at the off level
# (high). This models a head whose workers were off when the daemon first ran, as in the
# simulator's cold start. On the reference wiring an undriven switch line keeps its worker on,
# so after a real power cut every worker is on before the daemon starts, and the daemon adopts
# them instead of staggering them.
for line in $SWITCH_LINES; do
    sim_set_pull "$line" pull-up
done
# Reset lines rest low, as gpio-sim's default pull-down and the reset MOSFET's gate pull-down
# hold them, so RUN is released. Heartbeat lines rest low because an unpowered worker drives
# nothing.
verify cold-start-workers-off [ "$(levels_of $SWITCH_LINES $RESET_LINES)" = 111000 ]

sh /test/cluster.sh >"$LOGS/cluster.log" 2>&1 &
require cluster-emulation-started wait_until 10 [ -s "$CLUSTER_DIR/initial-levels" ]

phase_done "setup"

# --- cold start -----------------------------------------------------------------------------

cold_start=$(uptime_now)
start_daemon daemon-first
require daemon-starts wait_until 20 daemon_answers
require cold-start-workers-running wait_until 60 workers_running
wait_for_recorder

on_17=$(first_change 17 0 "$cold_start")
on_27=$(first_change 27 0 "$cold_start")
on_22=$(first_change 22 0 "$cold_start")
tolerance=$(recorder_window)
info "cold start: lines 17, 27, 22 went on at +$(seconds $((on_17 - cold_start)))," \
    "+$(seconds $((on_27 - cold_start))), +$(seconds $((on_22 - cold_start))) s after the" \
    "daemon's start; recorder window up to $(seconds "$tolerance") s"
verify cold-start-switches-every-worker-on all_given "$on_17" "$on_27" "$on_22"
verify cold-start-in-configuration-order spaced_by_at_least 1 "${on_17:-0}" "${on_27:-0}" \
    "${on_22:-0}"
# Each recorded time is late by less than one window, so a measured gap is short of the real
# one by less than that.
verify cold-start-lines-inrush-window-apart spaced_by_at_least \
    $((INRUSH_CENTISECONDS - tolerance)) "${on_17:-0}" "${on_27:-0}" "${on_22:-0}"
admitted=$(event_times admitted)
info "cold start: journalled power-ons at unix ms" $admitted
verify cold-start-journal-three-admissions [ "$(echo "$admitted" | grep -c .)" = 3 ]
verify cold-start-admissions-inrush-window-apart spaced_by_at_least "$INRUSH_MILLISECONDS" \
    $admitted

# From here on the switch lines rest at the reference wiring's fail-safe level, low, which
# keeps a worker on. gpio-sim applies a pull only to a line that no program drives, so the
# daemon's levels stay. On the linux backend the kernel releases every line when the daemon
# stops, and a released line takes its pull. While the daemon is down every worker is
# therefore on, whatever it last commanded. The restart check below starts with every worker
# on, and the last check of the restart shows a switched-off worker coming back on at a stop.
# The rppal backend keeps each line at its level instead (backend/linux.rs, docs/wiring.md).
for line in $SWITCH_LINES; do
    sim_set_pull "$line" pull-down
done

phase_done "cold start"

# --- a hung worker is power-cycled ----------------------------------------------------------

hang_start=$(uptime_now)
touch "$CLUSTER_DIR/hang-1"
wait_until 20 changed_to 27 1 "$hang_start"
off_27=$(first_change 27 1 "$hang_start")
wait_until 20 changed_to 27 0 "${off_27:-$hang_start}"
back_27=$(first_change 27 0 "${off_27:-$hang_start}")
verify hung-worker-switched-off [ -n "$off_27" ]
verify hung-worker-switched-on-again [ -n "$back_27" ]
verify cycled-worker-running-again wait_until 30 node_is raspberrypi1.lan running
wait_for_recorder
tolerance=$(recorder_window)
off_after=$((${off_27:-0} - hang_start))
off_for=$((${back_27:-0} - ${off_27:-0}))
info "hang: line 27 went off $(seconds "$off_after") s after the heartbeat stopped and stayed" \
    "off $(seconds "$off_for") s; recorder window up to $(seconds "$tolerance") s"
verify hung-worker-cycled-after-heartbeat-timeout \
    [ "$off_after" -ge $((HEARTBEAT_TIMEOUT_CENTISECONDS - BEAT_CENTISECONDS - tolerance)) ]
verify cycle-off-for-min-off-time [ "$off_for" -ge $((MIN_OFF_CENTISECONDS - tolerance)) ]
verify cycle-leaves-other-workers-alone [ "$(changes_since "$hang_start" 17 22)" = 0 ]
verify cycle-journalled-as-hung \
    [ "$(picluster events --node raspberrypi1 --json | grep -cE '"cause": *"hung"')" -ge 1 ]

phase_done "power cycle"

# --- the head: no line, and no command switches it ------------------------------------------

head_start=$(uptime_now)
picluster off raspberrypi2 --timeout 10 >"$LOGS/head-off.log" 2>&1
verify head-off-rejected [ $? -eq 1 ]
verify head-off-rejection-names-head grep -q "raspberrypi2.lan" "$LOGS/head-off.log"
wait_for_recorder
verify head-off-changes-no-line [ "$(changes_since "$head_start" $OUTPUT_LINES)" = 0 ]

phase_done "head"

# --- a restart changes no output line -------------------------------------------------------

wait_for_recorder
restart_start=$(uptime_now)
before_stop=$(levels_of $OUTPUT_LINES)
stop_daemon
verify daemon-exits-cleanly-on-sigterm [ $? -eq 0 ]
wait_for_recorder
while_stopped=$(levels_of $OUTPUT_LINES)
start_daemon daemon-restarted
require restarted-daemon-answers wait_until 20 daemon_answers
verify restarted-daemon-sees-workers-running wait_until 30 workers_running
wait_for_recorder
after_restart=$(levels_of $OUTPUT_LINES)
info "restart: output lines $OUTPUT_LINES were $before_stop before the stop, $while_stopped" \
    "while stopped and $after_restart after the restart"
verify restart-keeps-levels-while-stopped [ "$while_stopped" = "$before_stop" ]
verify restart-keeps-levels-after-start [ "$after_restart" = "$before_stop" ]
verify restart-changes-no-output-line [ "$(changes_since "$restart_start" $OUTPUT_LINES)" = 0 ]
verify restart-is-not-a-head-boot last_start_was_restart

# The other side of the fail-safe rest level: a worker switched off before a stop is on again
# once the kernel releases its line.
verify worker-switched-off picluster off raspberrypi3 --timeout 20
wait_for_recorder
verify switched-off-line-driven-high [ "$(levels_of 22)" = 1 ]
stop_daemon
wait_for_recorder
verify stopped-daemon-releases-line-to-fail-safe-on [ "$(levels_of 22)" = 0 ]

phase_done "restart"

# --- a busy line fails the start before any line is driven ----------------------------------

picluster heartbeat --line 24 --driver linux --gpio-chip "$GPIO_CHIP" \
    >"$LOGS/holder.log" 2>&1 &
holder_pid=$!
require busy-line-holder-started wait_for_text "$LOGS/holder.log" "heartbeat started" 20
wait_for_recorder
busy_start=$(uptime_now)
before_busy=$(levels_of $OUTPUT_LINES)
timeout 30 picluster daemon --config "$CONFIG" >"$LOGS/daemon-busy.log" 2>&1
busy_status=$?
busy_seconds=$(seconds $(($(uptime_now) - busy_start)))
wait_for_recorder
info "busy line: the daemon exited with status $busy_status after $busy_seconds s:" \
    "$(grep 'is busy' "$LOGS/daemon-busy.log" | tail -n 1)"
verify busy-line-fails-start [ "$busy_status" -eq 1 ]
verify busy-line-error-names-line-and-holder \
    grep -qF "line 24 of $GPIO_CHIP is busy: used by picluster-heartbeat" \
    "$LOGS/daemon-busy.log"
verify busy-line-start-changes-no-output-line \
    [ "$(changes_since "$busy_start" $OUTPUT_LINES)" = 0 ]
verify busy-line-start-keeps-levels [ "$(levels_of $OUTPUT_LINES)" = "$before_busy" ]
verify busy-line-start-leaves-no-socket [ ! -e "$PICLUSTER_SOCKET" ]
kill -TERM "$holder_pid"
wait "$holder_pid"
holder_pid=

phase_done "busy line"

# --- the whole run --------------------------------------------------------------------------

wait_for_recorder
verify no-unconfigured-line-changed [ -z "$(changes_outside $OUTPUT_LINES $HEARTBEAT_LINES)" ]
verify reset-lines-never-driven [ "$(changes_since 0 $RESET_LINES)" = 0 ]

stop_background
info "recorder: $(wc -l <"$CLUSTER_DIR/windows.log") passes, windows up to" \
    "$(seconds "$(recorder_window)") s;" \
    "whole test $(seconds $(($(uptime_now) - test_start))) s"
if [ "$failures" -gt 0 ]; then
    print_logs
fi
