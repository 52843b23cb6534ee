//! In-memory measurements: latency histograms (also stored in the rollup tables), the rolling
//! live statistics behind the dashboard's live feed, and the Prometheus metrics of `/metrics`.

pub mod histogram;
pub mod live;
pub mod prometheus;
pub mod runtime;

pub use histogram::LatencyHistogram;
pub use live::LiveStats;
pub use prometheus::Metrics;
pub use runtime::ConnectionGauge;
