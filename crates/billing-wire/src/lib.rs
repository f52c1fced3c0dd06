//! Surgical, format-preserving edits of existing LLM and S3 call sites so they record usage.
