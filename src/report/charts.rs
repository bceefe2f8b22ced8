//! The HTML report's charts, drawn as inline SVG by plotters' SVG backend
//! (no system fonts or libraries: text is laid out by plotters' own
//! estimate and drawn as escaped SVG text).

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::Report;

/// Width and height of a chart, in SVG units (CSS scales it down).
const SIZE: (u32, u32) = (760, 400);
/// The series' colours: blue, orange, grey.
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 126, 34);
const GREY: RGBColor = RGBColor(150, 150, 150);
/// More series' colours: the other models of a comparison.
const OTHERS: [RGBColor; 3] = [
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const FONT: &str = "sans-serif";
/// Text sizes, in SVG units: the page shows a chart about as wide as it
/// is drawn, so labels read at the body text's size.
const TITLE_SIZE: u32 = 22;
const LABEL_SIZE: u32 = 16;

/// The font the PNG charts are drawn with (DejaVu Sans, its licence in
/// assets/fonts): shipped in the binary, so every machine draws the same.
const FONT_DATA: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The chart `svg` (as [`Chart::svg`] holds it) drawn as a PNG image by
/// resvg, its text in the shipped font.
pub fn png(svg: &str) -> Result<Vec<u8>> {
    use resvg::{tiny_skia, usvg};
    static FONTS: std::sync::OnceLock<std::sync::Arc<usvg::fontdb::Database>> =
        std::sync::OnceLock::new();
    let fonts = FONTS.get_or_init(|| {
        let mut fonts = usvg::fontdb::Database::new();
        fonts.load_font_data(FONT_DATA.to_vec());
        fonts.set_sans_serif_family("DejaVu Sans");
        std::sync::Arc::new(fonts)
    });
    let options = usvg::Options {
        font_family: "DejaVu Sans".to_string(),
        fontdb: fonts.clone(),
        ..usvg::Options::default()
    };
    // inline SVG goes without its namespace; a standalone one needs it
    let standalone = svg.replacen("<svg ", "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 1);
    let tree = usvg::Tree::from_str(&standalone, &options)
        .map_err(|e| anyhow!("a chart is not SVG resvg reads: {e}"))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| anyhow!("a chart of {}×{} pixels", size.width(), size.height()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    // opaque on white: RGB, without the alpha channel
    let rgb: Vec<u8> = (pixmap.data().chunks_exact(4))
        .flat_map(|pixel| [pixel[0], pixel[1], pixel[2]])
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size.width(), size.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let encoded = encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb));
    encoded.map_err(|e| anyhow!("encoding a chart as PNG: {e}"))?;
    Ok(out)
}

/// A named line of points in a colour.
type Series<'a> = (&'a str, &'a [(f64, f64)], RGBColor);

/// One chart of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Chart {
    /// The section it belongs to ([`super::document::Section::id`]).
    pub section: &'static str,
    /// A caption for screen readers and people.
    pub title: String,
    /// The SVG element.
    pub svg: String,
}

/// Every chart the report's data allows.
pub fn charts(report: &Report) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    let mut add = |section: &'static str, title: &str, svg: String| {
        charts.push(Chart {
            section,
            title: title.to_string(),
            svg,
        })
    };
    if let Some(parts) = &report.composition.segments {
        let names: Vec<String> = parts.iter().map(|p| p.name.clone()).collect();
        let customers: Vec<f64> = parts.iter().map(|p| p.share).collect();
        let revenue: Vec<f64> = parts
            .iter()
            .map(|p| p.revenue_share.unwrap_or(0.0))
            .collect();
        let title = "Segments: share of customers and of revenue";
        add(
            "composition",
            title,
            bars(title, &names, &customers, &revenue)?,
        );
    }
    if !report.curves.pareto.is_empty() {
        let title = "Pareto curve: share of revenue of the top customers";
        let equal = [(0.0, 0.0), (1.0, 1.0)];
        add(
            "concentration",
            title,
            lines(
                title,
                ("share of customers, largest first", "share of revenue"),
                &[
                    ("revenue", &report.curves.pareto, BLUE),
                    ("equal shares", &equal, GREY),
                ],
            )?,
        );
    }
    if let Some(cohorts) = &report.cohorts
        && !cohorts.is_empty()
    {
        let shown = &cohorts[cohorts.len().saturating_sub(36)..];
        let months = shown
            .iter()
            .map(|c| c.retention.len())
            .max()
            .unwrap_or(1)
            .min(25);
        let rows: Vec<String> = shown.iter().map(|c| c.month.clone()).collect();
        let columns: Vec<String> = (0..months).map(|m| format!("M{m}")).collect();
        let cells: Vec<Vec<Option<f64>>> = shown
            .iter()
            .map(|c| (0..months).map(|m| c.retention.get(m).copied()).collect())
            .collect();
        let title = "Cohort retention: share active M months after the first purchase";
        add(
            "cohorts",
            title,
            heatmap(title, &rows, &columns, &cells, false)?,
        );
    }
    if let Some(grid) = &report.rfm_grid {
        let rows: Vec<String> = (1..=5).rev().map(|r| format!("R{r}")).collect();
        let columns: Vec<String> = (1..=5).map(|f| format!("F{f}")).collect();
        let total: u64 = grid.customers.iter().flatten().sum();
        let cells: Vec<Vec<Option<f64>>> = grid
            .customers
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&n| Some(n as f64 / total.max(1) as f64))
                    .collect()
            })
            .collect();
        let title = "Customers by recency (R) and frequency (F) score";
        add(
            "rfm_grid",
            title,
            heatmap(title, &rows, &columns, &cells, true)?,
        );
    }
    if report.history.len() > 1 {
        let labels: Vec<String> = report.history.iter().map(|h| h.end.to_string()).collect();
        let over = |figure: fn(&super::history::Headline) -> f64| -> Vec<(f64, f64)> {
            (report.history.iter().enumerate())
                .map(|(i, h)| (i as f64, figure(h)))
                .collect()
        };
        let period = report.history[0].period.name();
        let x_name = format!("the {period} ending");
        let title = format!("Revenue per {period}");
        add(
            "trend",
            &title,
            lines_labelled(
                &title,
                (&x_name, "revenue"),
                &[("revenue", &over(|h| h.revenue), BLUE)],
                Some(&labels),
            )?,
        );
        let title = format!("Customers per {period}: active, new and churned");
        add(
            "trend",
            &title,
            lines_labelled(
                &title,
                (&x_name, "customers"),
                &[
                    ("active", &over(|h| h.active_customers as f64), BLUE),
                    ("new", &over(|h| h.new_customers as f64), ORANGE),
                    ("churned", &over(|h| h.churned_customers as f64), GREY),
                ],
                Some(&labels),
            )?,
        );
    }
    if let Some(whale) = &report.curves.whale
        && !whale.is_empty()
    {
        let title = "Whale curve: cumulative share of total profit";
        let total = [(0.0, 1.0), (1.0, 1.0)];
        add(
            "profitability",
            title,
            lines(
                title,
                (
                    "share of customers, most profitable first",
                    "share of total profit",
                ),
                &[("profit", whale, BLUE), ("total profit", &total, GREY)],
            )?,
        );
    }
    if let Some(model) = &report.model
        && let Some(holdout) = &model.holdout
        && !holdout.tracking.is_empty()
    {
        let x_name = format!(
            "{}s since the first purchase in the data",
            model.time_unit.name()
        );
        let actual: Vec<(f64, f64)> = holdout
            .tracking
            .iter()
            .map(|t| (f64::from(t.period), t.actual_cumulative))
            .collect();
        let expected: Vec<(f64, f64)> = holdout
            .tracking
            .iter()
            .map(|t| (f64::from(t.period), t.expected_cumulative))
            .collect();
        let title = "Tracking: cumulative repeat purchases, actual and expected";
        add(
            "model",
            title,
            lines(
                title,
                (&x_name, "cumulative repeat purchases"),
                &[("actual", &actual, BLUE), ("expected", &expected, ORANGE)],
            )?,
        );
        let increments = |points: &[(f64, f64)]| -> Vec<(f64, f64)> {
            let mut before = 0.0;
            (points.iter())
                .map(|&(period, cumulative)| {
                    let step = cumulative - before;
                    before = cumulative;
                    (period, step)
                })
                .collect()
        };
        let title = "Tracking: repeat purchases per period, actual and expected";
        add(
            "model",
            title,
            lines(
                title,
                (&x_name, "repeat purchases in the period"),
                &[
                    ("actual", &increments(&actual), BLUE),
                    ("expected", &increments(&expected), ORANGE),
                ],
            )?,
        );
    }
    if let Some(model) = &report.model
        && let Some(holdout) = &model.holdout
        && !holdout.by_frequency.is_empty()
    {
        let points = |pick: &dyn Fn(&crate::value::holdout::FrequencyRow) -> f64,
                      rows: &[crate::value::holdout::FrequencyRow]| {
            rows.iter()
                .map(|r| (f64::from(r.x), pick(r)))
                .collect::<Vec<(f64, f64)>>()
        };
        let actual = points(&|r| r.actual, &holdout.by_frequency);
        // with a comparison, every model fitted; else the one used
        let mut models: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        match &holdout.comparison {
            Some(comparison) => {
                for c in comparison.candidates.iter().filter(|c| c.rmse.is_some()) {
                    let mark = if c.model == comparison.chosen {
                        " (chosen)"
                    } else {
                        ""
                    };
                    models.push((
                        format!("{}{mark}", c.model.name()),
                        points(&|r| r.predicted, &c.by_frequency),
                    ));
                }
            }
            None => models.push((
                model.purchase_model.name().to_string(),
                points(&|r| r.predicted, &holdout.by_frequency),
            )),
        }
        let mut series: Vec<Series> = vec![("actual", &actual, BLUE)];
        let chosen = (models.iter())
            .position(|(name, _)| holdout.comparison.is_none() || name.ends_with("(chosen)"));
        let mut others = OTHERS.iter().cycle();
        for (i, (name, points)) in models.iter().enumerate() {
            let colour = if Some(i) == chosen {
                ORANGE
            } else {
                *others.next().unwrap_or(&GREY)
            };
            series.push((name, points, colour));
        }
        let title = "Calibration against holdout: mean holdout purchases by calibration repeat \
                     purchases (7 = 7 or more)";
        add(
            "model",
            title,
            lines(
                title,
                (
                    "repeat purchases in the calibration",
                    "mean repeat purchases in the holdout",
                ),
                &series,
            )?,
        );
    }
    if let Some(model) = &report.model
        && let Some(matrix) = &model.p_alive_matrix
    {
        let rows: Vec<String> = matrix
            .frequencies
            .iter()
            .map(|x| format!("x = {x}"))
            .collect();
        let columns: Vec<String> = (matrix.recencies.iter()).map(|t| format!("{t}")).collect();
        let title = format!(
            "P(alive) by repeat purchases (x) and the time of the last one (t_x, {}s after the \
             first), at T = {:.1}",
            model.time_unit.name(),
            matrix.tenure
        );
        add(
            "model",
            &title,
            heatmap(&title, &rows, &columns, &matrix.values, false)?,
        );
    }
    Ok(charts)
}

fn drawing<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow!("drawing a chart: {error}")
}

/// The SVG plotters wrote, as an element to inline in HTML (the namespace
/// declaration is implied there), with characters XML forbids in its
/// labels written out.
fn inline(svg: String) -> String {
    crate::io::human::printable_in_markup(&svg).replacen(
        " xmlns=\"http://www.w3.org/2000/svg\"",
        "",
        1,
    )
}

/// Horizontal bars: per name, the share of customers and below it the
/// share of revenue (two bands per name, top to bottom).
fn bars(title: &str, names: &[String], customers: &[f64], revenue: &[f64]) -> Result<String> {
    let mut svg = String::new();
    let n = names.len().max(1);
    let height = (90 + 30 * n as u32).max(200);
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let top = customers
            .iter()
            .chain(revenue)
            .fold(0.0f64, |a, &b| a.max(b));
        let bands = 2 * n;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..(top * 1.2).max(0.01), (0..bands - 1).into_segmented())
            .map_err(drawing)?;
        // band 2i + 1 (upper) holds name i's customers, 2i its revenue;
        // plotters' integer ranges include their end: 0..bands - 1
        let label = |band: &SegmentValue<usize>| match band {
            SegmentValue::CenterOf(b) if b % 2 == 1 && b / 2 < names.len() => {
                names[names.len() - 1 - b / 2].clone()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .label_style((FONT, LABEL_SIZE))
            .disable_y_mesh()
            .y_labels(bands)
            .y_label_formatter(&label)
            .x_label_formatter(&|x| format!("{:.0}%", 100.0 * x))
            .draw()
            .map_err(drawing)?;
        for (series, values, colour, upper) in [
            ("customers", customers, BLUE, 1),
            ("revenue", revenue, ORANGE, 0),
        ] {
            chart
                .draw_series(values.iter().enumerate().map(|(i, &v)| {
                    let band = 2 * (names.len() - 1 - i) + upper;
                    Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(band)),
                            (v, SegmentValue::Exact(band + 1)),
                        ],
                        colour.filled(),
                    )
                }))
                .map_err(drawing)?
                .label(series)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
            // each bar's value at its end
            let beside = TextStyle::from((FONT, LABEL_SIZE - 2).into_font()).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                ),
            );
            chart
                .draw_series(values.iter().enumerate().map(|(i, &v)| {
                    let band = 2 * (names.len() - 1 - i) + upper;
                    Text::new(
                        format!(" {:.0}%", 100.0 * v),
                        (v, SegmentValue::CenterOf(band)),
                        beside.clone(),
                    )
                }))
                .map_err(drawing)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, LABEL_SIZE))
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(inline(svg))
}

/// Lines on shared axes; y starts at 0 and ends above the highest point.
fn lines(title: &str, names: (&str, &str), series: &[Series]) -> Result<String> {
    lines_labelled(title, names, series, None)
}

/// [`lines`] over the points 0, 1, 2, ... named by `x_labels` (the
/// periods of a trend) when given.
fn lines_labelled(
    title: &str,
    (x_name, y_name): (&str, &str),
    series: &[Series],
    x_labels: Option<&[String]>,
) -> Result<String> {
    let points = || series.iter().flat_map(|(_, p, _)| p.iter());
    let x_max = points().map(|p| p.0).fold(0.0f64, f64::max).max(1e-9);
    let y_max = points().map(|p| p.1).fold(0.0f64, f64::max).max(1e-9);
    let y_min = points().map(|p| p.1).fold(0.0f64, f64::min);
    let shares = x_max <= 1.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..x_max, y_min..y_max * 1.05)
            .map_err(drawing)?;
        let percent = |v: &f64| format!("{:.0}%", 100.0 * v);
        let plain = |v: &f64| format!("{v:.0}");
        let named = |v: &f64| {
            let at = v.round();
            let label = (x_labels.unwrap_or_default().get(at.max(0.0) as usize))
                .filter(|_| (v - at).abs() < 1e-6);
            label.cloned().unwrap_or_default()
        };
        let mut mesh = chart.configure_mesh();
        mesh.label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .x_desc(x_name)
            .y_desc(y_name);
        if let Some(labels) = x_labels {
            mesh.x_labels(labels.len())
                .x_label_formatter(&named)
                .y_label_formatter(&plain);
        } else if shares {
            mesh.x_label_formatter(&percent).y_label_formatter(&percent);
        } else {
            mesh.x_label_formatter(&plain).y_label_formatter(&plain);
        }
        mesh.draw().map_err(drawing)?;
        for &(name, points, colour) in series {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(drawing)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, LABEL_SIZE))
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(inline(svg))
}

/// A grid of shares 0–1 shaded from white to blue, each cell labelled
/// with its percentage; `scaled` shades relative to the largest cell.
/// Rows top to bottom as given.
fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    cells: &[Vec<Option<f64>>],
    scaled: bool,
) -> Result<String> {
    let (n_rows, n_columns) = (rows.len().max(1), columns.len().max(1));
    let height = (90 + 24 * n_rows as u32).max(220);
    let top = cells
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-9);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, TITLE_SIZE))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (0..n_columns - 1).into_segmented(),
                (0..n_rows - 1).into_segmented(),
            )
            .map_err(drawing)?;
        // plotters' integer ranges include their end: 0..n - 1 is n bands
        let label = |labels: &[String], at: &SegmentValue<usize>, reversed: bool| match at {
            SegmentValue::CenterOf(i) if *i < labels.len() => {
                labels[if reversed { labels.len() - 1 - i } else { *i }].clone()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .label_style((FONT, LABEL_SIZE))
            .disable_mesh()
            .x_labels(n_columns)
            .y_labels(n_rows)
            .x_label_formatter(&|x| label(columns, x, false))
            .y_label_formatter(&|y| label(rows, y, true))
            .draw()
            .map_err(drawing)?;
        let font_size = if n_columns > 14 { 11 } else { 15 };
        let centred = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        );
        for (i, row) in cells.iter().enumerate() {
            let y = n_rows - 1 - i;
            for (x, cell) in row.iter().enumerate() {
                let Some(share) = cell else { continue };
                let depth = if scaled { share / top } else { *share }.clamp(0.0, 1.0);
                let shade = |full: u8| (255.0 - depth * (255.0 - f64::from(full))) as u8;
                let colour = RGBColor(shade(BLUE.0), shade(BLUE.1), shade(BLUE.2));
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                        ],
                        colour.filled(),
                    )))
                    .map_err(drawing)?;
                let ink = if depth > 0.55 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, font_size).into_font())
                    .color(&ink)
                    .pos(centred);
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{:.0}%", 100.0 * share),
                        (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                        style,
                    )))
                    .map_err(drawing)?;
            }
        }
        root.present().map_err(drawing)?;
    }
    Ok(inline(svg))
}
