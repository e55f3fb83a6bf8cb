#!/bin/sh
# Guest side of the harness probe: preloads the INA219 bus voltage register, drives the
# probe's input line and reads its output line through gpio-sim.
# shellcheck source-path=SCRIPTDIR source=../guest-lib.sh
. /lib/kernel-test.sh

output_line=3
input_line=4
# INA219 bus voltage register for 5000 mV: 5000 / 4 mV per step, in bits 15 to 3, with
# the conversion-ready bit (bit 1) set. Its two bytes differ, so a missing byte swap shows.
bus_millivolts=5000
bus_register=$(((bus_millivolts / 4) << 3 | 0x2))

ina_write_register 0x02 "$bus_register"
check i2c-stub-register-preloaded \
    [ "$(ina_read_register 0x02)" = "$(printf '0x%04x' "$bus_register")" ]
check gpio-input-starts-low [ "$(sim_value "$input_line")" = 0 ]

picluster-kernel-probe --chip-label "$GPIO_LABEL" \
    --output-line "$output_line" --input-line "$input_line" \
    --i2c-device "$I2C_DEV" --address "$INA_ADDR" \
    --expected-bus-register "$bus_register" --expected-bus-millivolts "$bus_millivolts" \
    >/tmp/probe.log 2>&1 &
probe_pid=$!

if wait_for_text /tmp/probe.log "waiting for an edge" 20; then
    check gpio-output-high-at-simulator [ "$(sim_value "$output_line")" = 1 ]
    sim_set_pull "$input_line" pull-up
else
    echo "FAIL probe-ready: the probe did not start waiting for an edge within 20 s"
fi

wait "$probe_pid"
probe_status=$?
cat /tmp/probe.log
check probe-exit-status [ "$probe_status" -eq 0 ]
check gpio-output-released-after-exit [ "$(sim_value "$output_line")" = 0 ]
