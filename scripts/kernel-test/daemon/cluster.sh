#!/bin/sh
# The reference cluster around the daemon in the kernel-test VM (busybox sh). It emulates the
# shared supply as its INA219 measures it, the workers' power and their heartbeat agents, and
# records every line of the gpio-sim chip. guest-test.sh starts it in the background, and it
# runs until the file $CLUSTER_DIR/stop exists.
#
# Each pass:
#   1. reads the level of every line and appends each change to $CLUSTER_DIR/changes.log as
#      "<uptime in centiseconds> <line> <level>", stamped when the reads end. A change seen
#      first in this pass happened after the previous pass's reads began, so its time is late
#      by less than that span, which is appended to windows.log;
#   2. takes a worker as powered while its switch line is low (the reference load-switch
#      circuit is active low: docs/wiring.md);
#   3. writes the supply's bus voltage, shunt voltage, current and power into the i2c-stub
#      registers for the head's and the powered workers' idle currents, when that total changes;
#   4. toggles the heartbeat line of every powered worker that has booted and does not hang,
#      through the line's gpio-sim pull, and pulls an unpowered worker's line low.
# A worker hangs (its heartbeat stops at its level) while $CLUSTER_DIR/hang-<node> exists. Its
# power going off, as in a power cycle, clears the hang.

# busybox sh supports string indexing (${levels:$line:1}), which POSIX sh leaves undefined.
# shellcheck disable=SC3057
# shellcheck source-path=SCRIPTDIR source=../guest-lib.sh
. /lib/kernel-test.sh

CLUSTER_DIR=${CLUSTER_DIR:-/tmp/cluster}

# Each worker as "node:switch line:heartbeat line:idle mA", the reference cluster's BCM
# numbers used as offsets of the gpio-sim chip. Idle currents are the boards' published
# typical draw, as config/picluster.toml gives them (Pi 2 Model B 0.35 A, Pi 1 Model B rev 2
# 0.40 A).
WORKERS="0:17:23:350 1:27:24:350 3:22:25:400"
# The head (a Pi 3 Model B, 0.40 A typical) is powered throughout and has no line.
HEAD_MILLIAMPS=400

# Estimate for the test: a worker's agent starts toggling 1 s after power-on, far within the
# configuration's 10 s boot_grace.
BOOT_CENTISECONDS=100
# A toggle every 0.5 s, so the configuration's 3 s heartbeat_timeout spans six missed changes.
BEAT_CENTISECONDS=50
# Pause between two passes in seconds. Under TCG a pass itself takes tens of milliseconds.
PASS_PAUSE=0.02

# 5000 mV at 4 mV per step in bits 15 to 3, with the conversion-ready bit (bit 1) set. i2c-stub
# never clears it, so every read of the daemon finds a conversion.
BUS_REGISTER=$(((5000 / 4) << 3 | 0x2))

# Sets $now to the uptime in centiseconds. The fraction is read as 1xx - 100, so a leading
# zero is never taken for an octal number.
read_uptime() {
    read -r uptime_text _ </proc/uptime
    now=$((${uptime_text%.*} * 100 + 1${uptime_text#*.} - 100))
}

# Sets $levels to the level of every line, line 0 first, one character each.
read_levels() {
    levels=""
    line=0
    while [ "$line" -lt "$GPIO_LINES" ]; do
        read -r level <"$GPIO_SIM_DIR/sim_gpio$line/value"
        levels="$levels$level"
        line=$((line + 1))
    done
}

# Appends a line to changes.log for every level in $levels that differs from $recorded.
record_changes() {
    line=0
    while [ "$line" -lt "$GPIO_LINES" ]; do
        if [ "${levels:$line:1}" != "${recorded:$line:1}" ]; then
            echo "$now $line ${levels:$line:1}" >>"$CLUSTER_DIR/changes.log"
        fi
        line=$((line + 1))
    done
    recorded=$levels
}

# Writes the supply registers for $1 mA. The current register counts current LSBs, and the
# driver chose the LSB for its calibration value: Cal = 0.04096 / (LSB x R_shunt), so with the
# test's 10 milliohm shunt the register is mA x Cal / 4096. The shunt register counts 10 uV
# steps, which across 10 milliohm is 1 mA each. The power register's LSB is 20 current LSBs,
# so at 5 V it is the current register / 4.
write_supply() {
    current_register=$((($1 * calibration + 2048) / 4096))
    ina_write_register 0x01 "$1" &&
        ina_write_register 0x04 "$current_register" &&
        ina_write_register 0x03 $((current_register / 4))
}

# Reads the calibration register that the daemon's driver wrote; 0 until it has written it.
read_calibration() {
    calibration=$(ina_read_register 0x05) || calibration=0
    calibration=$((calibration))
}

# Updates worker $1's power and heartbeat from switch line $2 and heartbeat line $3, and adds
# its idle current $4 to $total when powered.
run_worker() {
    eval "powered=\$powered_$1 next_beat=\$next_beat_$1 beat=\$beat_$1"
    if [ "${levels:$2:1}" = 0 ]; then
        total=$((total + $4))
        if [ "$powered" != 1 ]; then
            powered=1
            next_beat=$((now + BOOT_CENTISECONDS))
        fi
        if [ ! -e "$CLUSTER_DIR/hang-$1" ] && [ "$now" -ge "$next_beat" ]; then
            beat=$((1 - beat))
            if [ "$beat" = 1 ]; then
                sim_set_pull "$3" pull-up
            else
                sim_set_pull "$3" pull-down
            fi
            next_beat=$((now + BEAT_CENTISECONDS))
        fi
    elif [ "$powered" != 0 ]; then
        powered=0
        beat=0
        sim_set_pull "$3" pull-down
        if [ -e "$CLUSTER_DIR/hang-$1" ]; then
            rm -f "$CLUSTER_DIR/hang-$1"
            echo "$now worker $1 powered off: the hang is cleared" >>"$CLUSTER_DIR/events.log"
        fi
    fi
    eval "powered_$1=\$powered next_beat_$1=\$next_beat beat_$1=\$beat"
}

mkdir -p "$CLUSTER_DIR"
: >"$CLUSTER_DIR/changes.log"
: >"$CLUSTER_DIR/windows.log"
for worker in $WORKERS; do
    node=${worker%%:*}
    eval "powered_$node=unknown next_beat_$node=0 beat_$node=0"
done

ina_write_register 0x02 "$BUS_REGISTER"
calibration=0
written_total=-1
read_levels
recorded=$levels
echo "$recorded" >"$CLUSTER_DIR/initial-levels"
read_uptime
echo "$now cluster started" >>"$CLUSTER_DIR/events.log"

default_ifs=$IFS
previous_reads_start=$now
while [ ! -e "$CLUSTER_DIR/stop" ]; do
    read_uptime
    reads_start=$now
    read_levels
    read_uptime
    echo $((now - previous_reads_start)) >>"$CLUSTER_DIR/windows.log"
    previous_reads_start=$reads_start
    if [ "$levels" != "$recorded" ]; then
        record_changes
    fi

    total=$HEAD_MILLIAMPS
    for worker in $WORKERS; do
        # Split "node:switch:heartbeat:idle" into $1 to $4 without starting a process.
        IFS=:
        # shellcheck disable=SC2086
        set -- $worker
        IFS=$default_ifs
        run_worker "$1" "$2" "$3" "$4"
    done

    # The daemon writes the calibration when it initialises the chip, and again if it finds
    # the chip reset, so a total is written again until the calibration is known.
    if [ "$calibration" = 0 ]; then
        read_calibration
        written_total=-1
    fi
    if [ "$total" != "$written_total" ] && write_supply "$total"; then
        written_total=$total
    fi

    sleep "$PASS_PAUSE"
done
echo "$now cluster stopped" >>"$CLUSTER_DIR/events.log"
