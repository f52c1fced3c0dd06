//! The MCP server (rmcp over stdio) exposing detect/propose/apply/verify/undo/status to coding agents.
