//! In-memory measurements: latency histograms (also stored in the rollup tables) and the rolling
//! live statistics behind the dashboard's live feed.

pub mod histogram;
pub mod live;
pub mod runtime;

pub use histogram::LatencyHistogram;
pub use live::LiveStats;
pub use runtime::ConnectionGauge;
