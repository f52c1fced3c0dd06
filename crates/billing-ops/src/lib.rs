//! The operations shared by the CLI, the setup wizard and the MCP server: plan, apply, undo, verify, status.
