//! A simulated Raspberry Pi cluster behind the embedded-hal 1.0 traits.
