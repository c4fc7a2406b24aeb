//! Prometheus metrics: one registry, made first at start-up and handed to every part that
//! records, which registers its series in it once, when that part is built.
//!
//! No recorder is installed process-wide. The `metrics` crate's macros (`metrics::counter!`)
//! would record into that global one, so they are not used (`clippy.toml` forbids them): a
//! series comes from a [`Metrics`] or from nowhere, and a test reads only what it recorded.

use std::sync::Arc;
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Seconds. From sub-millisecond reads up to the request timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histograms' samples must be folded into their buckets ([`Metrics::run_upkeep`]).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Where a series was registered from; the Prometheus exporter reads none of it.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Labels of one series: names, and values known when it is registered.
pub type Labels<'a> = &'a [(&'static str, &'a str)];

/// The registry every series of the process is registered in, and what `/metrics` renders.
/// Clones share it.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry, with every series of the service described and
    /// `hello_birthday_build_info` set.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is a non-empty constant")
            .build_recorder();
        let metrics = Self {
            handle: recorder.handle(),
            recorder: Arc::new(recorder),
        };
        metrics.describe();
        let region = super::aws_region();
        let mut build = vec![("version", env!("CARGO_PKG_VERSION"))];
        build.extend(region.as_deref().map(|region| ("region", region)));
        metrics.gauge("hello_birthday_build_info", &build).set(1.0);
        metrics
    }

    pub fn counter(&self, name: &'static str, labels: Labels<'_>) -> Counter {
        self.recorder
            .register_counter(&key(name, labels), &METADATA)
    }

    pub fn gauge(&self, name: &'static str, labels: Labels<'_>) -> Gauge {
        self.recorder.register_gauge(&key(name, labels), &METADATA)
    }

    pub fn histogram(&self, name: &'static str, labels: Labels<'_>) -> Histogram {
        self.recorder
            .register_histogram(&key(name, labels), &METADATA)
    }

    /// Every series, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds histograms' samples into their buckets. Rendering does it too; without either,
    /// the samples pile up in memory. Run every [`UPKEEP_INTERVAL`] while serving.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    fn describe(&self) {
        let text = SharedString::const_str;
        let counter = |name, help| {
            self.recorder
                .describe_counter(KeyName::from_const_str(name), None, text(help));
        };
        let gauge = |name, help| {
            self.recorder
                .describe_gauge(KeyName::from_const_str(name), None, text(help));
        };
        let histogram = |name, help| {
            self.recorder.describe_histogram(
                KeyName::from_const_str(name),
                Some(Unit::Seconds),
                text(help),
            );
        };
        counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status.",
        );
        histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
        );
        histogram(
            "store_operation_duration_seconds",
            "Time a store operation took, by backend and operation.",
        );
        counter(
            "store_operation_errors_total",
            "Store operations that failed, by backend, operation and kind.",
        );
        gauge(
            "store_pool_connections",
            "Connections the store holds open to its database, by backend and state (in_use, idle); sampled every 2 s.",
        );
        gauge(
            "store_pool_max_connections",
            "Most connections the store may open (--database-pool-size), by backend.",
        );
        gauge(
            "store_pool_waiting",
            "Operations waiting for a connection or for one to be opened, by backend; sampled every 2 s.",
        );
        counter(
            "store_pool_waits_total",
            "Operations that found every connection of a full pool in use and had to wait, by backend.",
        );
        counter(
            "store_pool_timeouts_total",
            "Operations that got no connection before their deadline and were answered 503, by backend.",
        );
        counter(
            "store_write_statements_total",
            "Statements that carried the service's writes, by backend: with the PUTs, writes per commit.",
        );
        counter(
            "http_requests_shed_total",
            "Requests answered 503 at once because every in-flight slot stayed taken for the queue timeout.",
        );
        gauge(
            "http_connections_open",
            "Client connections open now (at most --max-connections).",
        );
        counter(
            "http_connections_closed_total",
            "Client connections ended, by reason: closed (by the client, or by us at shutdown), idle_timeout, header_read_timeout, headers_too_large (hyper answered 431), malformed (hyper answered 400 or reset the stream), error (reset or protocol error).",
        );
        counter(
            "log_lines_dropped_total",
            "Log lines dropped because stdout could not keep up.",
        );
        gauge(
            "hello_birthday_build_info",
            "Always 1; the labels say which build runs (version) and where (region, when known).",
        );
    }
}

fn key(name: &'static str, labels: Labels<'_>) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|&(label, value)| Label::new(label, value.to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registry_renders_only_its_own_series() {
        let ours = Metrics::new();
        let theirs = Metrics::new();
        ours.counter("http_requests_shed_total", &[]).increment(2);
        let _registered = theirs.counter("http_requests_shed_total", &[]);
        assert!(ours.render().contains("http_requests_shed_total 2"));
        assert!(theirs.render().contains("http_requests_shed_total 0"));
    }

    #[test]
    fn a_series_registered_twice_is_one_series() {
        let metrics = Metrics::new();
        let labels = [("reason", "closed")];
        metrics
            .counter("http_connections_closed_total", &labels)
            .increment(1);
        metrics
            .counter("http_connections_closed_total", &labels)
            .increment(1);
        let rendered = metrics.render();
        assert!(
            rendered.contains(r#"http_connections_closed_total{reason="closed"} 2"#),
            "{rendered}"
        );
    }

    #[test]
    fn durations_get_the_latency_buckets_and_build_info_is_set() {
        let metrics = Metrics::new();
        metrics
            .histogram("store_operation_duration_seconds", &[("operation", "get")])
            .record(0.002);
        let rendered = metrics.render();
        assert!(
            rendered.contains(
                r#"store_operation_duration_seconds_bucket{operation="get",le="0.0025"} 1"#
            )
        );
        assert!(rendered.contains("hello_birthday_build_info{version="));
    }
}
