//! PNG and SVG plots (plotters): latency over time and percentile curves.
