//! The one integration-test binary (every extra test binary is another full link on 2 cores).
//! Each module is owned by the feature it tests.

// Tests report why they skip (a toolchain missing outside CI) on stderr; the print lints are
// for the product's output discipline, not for test diagnostics.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

mod apply;
mod cli;
mod codegen;
mod codegen_files;
mod codegen_other;
mod codegen_py;
mod codegen_ts;
mod crashsafe;
mod delivery;
mod detect;
mod emulator;
mod errors;
mod gates;
mod hostile_files;
mod hosts;
mod ingest_rate;
mod injection;
mod mcp;
mod metering;
mod plan;
mod quickstart;
mod registration;
mod remote;
mod sample_apps;
mod serverless_flush;
mod setup;
mod spool_go_php;
mod spool_node;
mod spool_py_rb;
mod ts_compiler;
mod vocab;
mod wire;
