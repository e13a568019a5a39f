//! PNG and SVG plots (plotters): delivery latency over time (p50 and p99 per second) and the
//! percentile curve, one line per stack so that `compare` puts both on one chart.
//!
//! plotters' default text path needs fontconfig and freetype; this crate uses its `ab_glyph`
//! feature instead, with a TrueType font read at run time (`CONVENE_LOADTEST_FONT`, or DejaVu
//! Sans / Liberation Sans where Debian installs them), so nothing native is linked.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::scenarios::chat::ChatReport;
use crate::{Error, Result};

const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];
const SIZE: (u32, u32) = (960, 540);
const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Registers a font for plotters once; the error says where fonts were looked for.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let candidates: Vec<String> = std::env::var("CONVENE_LOADTEST_FONT")
                .into_iter()
                .chain(FONT_CANDIDATES.iter().map(|path| (*path).to_owned()))
                .collect();
            let bytes = candidates
                .iter()
                .find_map(|path| std::fs::read(path).ok())
                .ok_or_else(|| {
                    format!(
                        "no TrueType font found (looked at {}); set CONVENE_LOADTEST_FONT or install fonts-dejavu-core",
                        candidates.join(", ")
                    )
                })?;
            // plotters keeps fonts for the life of the process; this runs once.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "the font file is not a valid TrueType font".to_owned())
        })
        .clone()
        .map_err(|detail| Error::Plot {
            path: "(font)".to_owned(),
            detail,
        })
}

/// Writes `<name>-latency-over-time.{png,svg}` and `<name>-percentiles.{png,svg}` into `dir`.
/// Each series is a label (empty for a single run) and a chat report.
pub fn latency_plots(dir: &Path, name: &str, series: &[(&str, &ChatReport)]) -> Result<()> {
    ensure_font()?;
    for extension in ["png", "svg"] {
        let over_time = dir.join(format!("{name}-latency-over-time.{extension}"));
        let percentiles = dir.join(format!("{name}-percentiles.{extension}"));
        if extension == "png" {
            draw_over_time(
                BitMapBackend::new(&over_time, SIZE).into_drawing_area(),
                series,
            )
            .map_err(|detail| plot_error(&over_time, detail))?;
            draw_percentiles(
                BitMapBackend::new(&percentiles, SIZE).into_drawing_area(),
                series,
            )
            .map_err(|detail| plot_error(&percentiles, detail))?;
        } else {
            draw_over_time(
                SVGBackend::new(&over_time, SIZE).into_drawing_area(),
                series,
            )
            .map_err(|detail| plot_error(&over_time, detail))?;
            draw_percentiles(
                SVGBackend::new(&percentiles, SIZE).into_drawing_area(),
                series,
            )
            .map_err(|detail| plot_error(&percentiles, detail))?;
        }
    }
    Ok(())
}

fn plot_error(path: &Path, detail: String) -> Error {
    Error::Plot {
        path: path.display().to_string(),
        detail,
    }
}

fn label(series_label: &str, what: &str) -> String {
    if series_label.is_empty() {
        what.to_owned()
    } else {
        format!("{series_label} {what}")
    }
}

fn draw_over_time<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[(&str, &ChatReport)],
) -> std::result::Result<(), String> {
    let error = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(error)?;
    let max_second = series
        .iter()
        .flat_map(|(_, report)| report.delivery_latency_over_time.iter())
        .map(|point| point.second)
        .max()
        .unwrap_or(1)
        .max(1);
    let max_latency = series
        .iter()
        .flat_map(|(_, report)| report.delivery_latency_over_time.iter())
        .map(|point| point.p99_ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Delivery latency over time", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..max_second + 1, 0.0..max_latency)
        .map_err(error)?;
    chart
        .configure_mesh()
        .x_desc("second of the run")
        .y_desc("latency (ms)")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(error)?;
    for (index, (series_label, report)) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        let points = &report.delivery_latency_over_time;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|point| (point.second, point.p50_ms)),
                color.stroke_width(2),
            ))
            .map_err(error)?
            .label(label(series_label, "p50"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|point| (point.second, point.p99_ms)),
                color.mix(0.5).stroke_width(1),
            ))
            .map_err(error)?
            .label(label(series_label, "p99"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.mix(0.5)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(error)?;
    root.present().map_err(error)
}

/// The percentile's position on a "nines" axis: 90 → 1, 99 → 2, 99.9 → 3.
fn nines(percentile: f64) -> f64 {
    let remaining = (100.0 - percentile).max(0.001) / 100.0;
    -remaining.log10()
}

fn draw_percentiles<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[(&str, &ChatReport)],
) -> std::result::Result<(), String> {
    let error = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(error)?;
    let max_latency = series
        .iter()
        .flat_map(|(_, report)| report.delivery_percentile_curve.iter())
        .map(|point| point.latency_ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Delivery latency by percentile", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..5.0_f64, 0.0..max_latency)
        .map_err(error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(6)
        .x_label_formatter(&|x| {
            let percentile = 100.0 - 100.0 * 10f64.powf(-x);
            format!("p{percentile:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_owned()
        })
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(error)?;
    for (index, (series_label, report)) in series.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        chart
            .draw_series(LineSeries::new(
                report
                    .delivery_percentile_curve
                    .iter()
                    .filter(|point| point.percentile < 100.0)
                    .map(|point| (nines(point.percentile), point.latency_ms)),
                color.stroke_width(2),
            ))
            .map_err(error)?
            .label(label(series_label, "delivery latency"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(error)?;
    root.present().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nines_axis_spaces_percentiles_by_their_nines() {
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.0) - 2.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert!(nines(0.0).abs() < 1e-9);
    }
}
