//! C ABI for zss (in progress).
