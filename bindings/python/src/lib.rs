//! Python binding for zss (in progress).
