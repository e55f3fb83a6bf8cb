# Helpers for test scripts that run inside the kernel-test VM (busybox sh).
# A test script loads them with `. /lib/kernel-test.sh`.
#
# The VM's init exports:
#   GPIO_CHIP     character device of the gpio-sim chip, for example /dev/gpiochip0
#   GPIO_LABEL    label of that chip (picluster-sim), by which a program can find it
#   GPIO_LINES    number of lines of the chip (32), offsets 0 to GPIO_LINES - 1
#   GPIO_SIM_DIR  sysfs folder of the chip, with sim_gpio<offset>/pull and /value per line
#   I2C_BUS       number of the i2c-stub adapter
#   I2C_DEV       device of that adapter, /dev/i2c-<number>
#   INA_ADDR      address at which i2c-stub answers (0x40, an INA219 with A0 and A1 low)
# The program under test is in /usr/local/bin, on the PATH.
#
# A test script prints one `PASS <name>` or `FAIL <name>[: reason]` line per check, at the
# start of a line. Init counts them and prints the `N passed, N failed` summary.

# Runs a command and prints `PASS <name>` when it succeeds, `FAIL <name>` otherwise.
# usage: check NAME COMMAND [ARGUMENT...]
check() {
    check_name=$1
    shift
    if "$@"; then
        echo "PASS $check_name"
    else
        echo "FAIL $check_name"
    fi
}

# Drives input line $1 from outside, as a circuit would, with $2 pull-up or pull-down. A
# program waiting for edges on the line receives one when the level changes.
sim_set_pull() {
    echo "$2" >"$GPIO_SIM_DIR/sim_gpio$1/pull"
}

# Prints the level (0 or 1) of line $1 in gpio-sim. For an output line, it is the level
# that the program drives.
sim_value() {
    cat "$GPIO_SIM_DIR/sim_gpio$1/value"
}

# Prints the 16-bit value $1 with its two bytes swapped, as 0x followed by 4 hex digits.
swap_bytes() {
    printf '0x%04x\n' $(((($1 & 0xff) << 8) | (($1 >> 8) & 0xff)))
}

# Sets INA register $1 to value $2 on i2c-stub. INA219 and INA226 registers are
# big-endian (most significant byte first on the wire) while SMBus words are little-endian.
# So the stub stores the value with its bytes swapped, and a driver that reads the register
# with an SMBus word read must swap them back.
ina_write_register() {
    i2cset -y "$I2C_BUS" "$INA_ADDR" "$1" "$(swap_bytes "$2")" w
}

# Prints INA register $1 from i2c-stub, as 0x followed by 4 hex digits.
ina_read_register() {
    ina_raw_word=$(i2cget -y "$I2C_BUS" "$INA_ADDR" "$1" w) || return 1
    swap_bytes "$ina_raw_word"
}

# Loads the INA219 power-on values (INA219 datasheet, TI SBOS448): configuration 0x399F
# (32 V range, gain /8, 12-bit conversions, shunt and bus continuous), every other
# register 0.
ina219_load_reset_values() {
    ina_write_register 0x00 0x399f &&
        for ina_register in 0x01 0x02 0x03 0x04 0x05; do
            ina_write_register "$ina_register" 0 || return 1
        done
}

# Waits until file $1 contains the text $2, for at most $3 seconds.
wait_for_text() {
    wait_tenths=$(($3 * 10))
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        wait_tenths=$((wait_tenths - 1))
        [ "$wait_tenths" -ge 0 ] || return 1
        sleep 0.1
    done
}
