//! The one integration-test binary (every extra test binary is another full link on 2 cores).
//! Each module is owned by the feature it tests.

mod common;

mod cli;
mod detect;
mod mcp;
mod wire;
mod remote;
mod emulator;
mod codegen;
mod codegen_other;
mod codegen_py;
mod codegen_ts;
mod plan;
mod apply;
