//! Everything coding agents use: the MCP server (`spaire-billing mcp`, rmcp over stdio) and
//! `agent install`, which writes the agent instructions and MCP client config into a project.
//!
//! All rmcp code lives in this crate so the SDK's API churn stays in one place.

pub mod agent;
pub mod server;

pub use server::{ServerOptions, run_stdio, serve_stdio};
