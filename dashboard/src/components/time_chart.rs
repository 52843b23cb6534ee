//! A hand-drawn SVG chart over time: bars or lines (several lines share one scale), a "nice"
//! y-axis top, and time labels under it. The SVG stretches to the card's width.

use std::rc::Rc;

use yew::prelude::*;

use crate::format::DASH;
use crate::plot::{bars, line_path, nice_ceiling};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 140.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// CSS class (its colour).
    pub class: &'static str,
    pub label: AttrValue,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Bars,
    Lines,
}

#[derive(Properties, PartialEq)]
pub struct TimeChartProps {
    pub title: AttrValue,
    pub kind: ChartKind,
    pub series: Rc<Vec<Series>>,
    /// Formats a y value (the axis top, the peak).
    pub format: Callback<f64, String>,
    /// Labels under the x axis: oldest, middle, newest.
    pub x_labels: [AttrValue; 3],
    /// `data-chart` for tests and styling.
    pub chart: AttrValue,
    pub peak_label: AttrValue,
}

#[component]
pub fn TimeChart(props: &TimeChartProps) -> Html {
    let peak = props
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = nice_ceiling(peak);
    let shapes = match props.kind {
        ChartKind::Bars => props
            .series
            .iter()
            .map(|s| {
                let values: Vec<f64> = s.values.iter().map(|v| v.unwrap_or(0.0)).collect();
                html! {
                    <g class={classes!("bars", s.class)}>
                        { for bars(&values, top, WIDTH, HEIGHT).into_iter().filter(|b| b.height > 0.0).map(|b| html! {
                            <rect x={b.x.to_string()} y={b.y.to_string()} width={b.width.max(0.6).to_string()} height={b.height.to_string()} />
                        }) }
                    </g>
                }
            })
            .collect::<Html>(),
        ChartKind::Lines => props
            .series
            .iter()
            .map(|s| {
                html! {
                    <path class={classes!("line", s.class)} d={line_path(&s.values, top, WIDTH, HEIGHT)} />
                }
            })
            .collect::<Html>(),
    };
    let peak_text = if peak > 0.0 {
        props.format.emit(peak)
    } else {
        DASH.to_owned()
    };
    html! {
        <div class="card chart" data-chart={props.chart.clone()}>
            <div class="chart-head">
                <h3>{ props.title.clone() }</h3>
                <div class="legend">
                    { for props.series.iter().filter(|_| props.series.len() > 1).map(|s| html! {
                        <span class={classes!("legend-item", s.class)}><span class="swatch"></span>{ s.label.clone() }</span>
                    }) }
                    <span class="muted small">{ format!("{} {}", props.peak_label, peak_text) }</span>
                </div>
            </div>
            <div class="chart-body">
                <div class="y-axis small muted">
                    <span>{ props.format.emit(top) }</span>
                    <span>{ props.format.emit(top / 2.0) }</span>
                    <span>{ "0" }</span>
                </div>
                <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} preserveAspectRatio="none" role="img" aria-label={props.title.clone()}>
                    <line class="grid" x1="0" x2={WIDTH.to_string()} y1="0.5" y2="0.5" />
                    <line class="grid" x1="0" x2={WIDTH.to_string()} y1={(HEIGHT / 2.0).to_string()} y2={(HEIGHT / 2.0).to_string()} />
                    <line class="axis" x1="0" x2={WIDTH.to_string()} y1={(HEIGHT - 0.5).to_string()} y2={(HEIGHT - 0.5).to_string()} />
                    { shapes }
                </svg>
            </div>
            <div class="x-axis small muted">
                { for props.x_labels.iter().map(|l| html! { <span>{ l.clone() }</span> }) }
            </div>
        </div>
    }
}
