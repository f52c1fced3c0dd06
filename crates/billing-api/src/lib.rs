//! Typed Spaire API client: bearer auth, retries that honour retry-after, pagination, errors that say what to do.
