//! Applies a ChangeSet atomically inside the project root, with a journal for undo and a lock file.
