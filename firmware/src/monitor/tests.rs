//! Driver tests: expectation mocks that check the exact bytes of every transfer, and the
//! decoding and calibration cases with their values asserted.

mod byte_order;
mod calibration;
mod common;
mod ina219;
mod ina226;
