//! Processes the tool starts and watches.
