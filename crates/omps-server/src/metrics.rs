//! A small Prometheus registry: request counts and latency by route and status, pushes by
//! organization and outcome, upstream call latency. Label values never contain credentials.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    request_latency: BTreeMap<String, Histogram>,
    pushes: BTreeMap<(String, String), u64>,
    catalog_updates: BTreeMap<(String, String), u64>,
    upstream_latency: BTreeMap<(String, String), Histogram>,
}

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut guard = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// One HTTP request on `route` (the matched route template, never the raw path).
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.with(|r| {
            *r.requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default() += 1;
            r.request_latency
                .entry(route.to_owned())
                .or_default()
                .observe(elapsed.as_secs_f64());
        });
    }

    /// One push outcome (`ok`, or the error id).
    pub fn push(&self, org: &str, outcome: &str) {
        self.with(|r| {
            *r.pushes
                .entry((org.to_owned(), outcome.to_owned()))
                .or_default() += 1;
        });
    }

    /// One catalog update outcome (`updated`, `unchanged`, or the catalog error id).
    pub fn catalog(&self, org: &str, outcome: &str) {
        self.with(|r| {
            *r.catalog_updates
                .entry((org.to_owned(), outcome.to_owned()))
                .or_default() += 1;
        });
    }

    /// One upstream call (`store`, `koji`, `greenwave`, `publish`) and its operation.
    pub fn upstream(&self, service: &str, operation: &str, elapsed: Duration) {
        self.with(|r| {
            r.upstream_latency
                .entry((service.to_owned(), operation.to_owned()))
                .or_default()
                .observe(elapsed.as_secs_f64());
        });
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        self.with(|r| {
            let mut out = String::new();
            out.push_str("# HELP omps_http_requests_total HTTP requests by route and status.\n# TYPE omps_http_requests_total counter\n");
            for ((method, route, status), n) in &r.requests {
                let _ = writeln!(out, "omps_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}", escape(route));
            }
            out.push_str("# HELP omps_http_request_duration_seconds HTTP request latency by route.\n# TYPE omps_http_request_duration_seconds histogram\n");
            for (route, h) in &r.request_latency {
                write_histogram(&mut out, "omps_http_request_duration_seconds", &format!("route=\"{}\"", escape(route)), h);
            }
            out.push_str("# HELP omps_pushes_total Pushes by organization and outcome.\n# TYPE omps_pushes_total counter\n");
            for ((org, outcome), n) in &r.pushes {
                let _ = writeln!(out, "omps_pushes_total{{organization=\"{}\",outcome=\"{outcome}\"}} {n}", escape(org));
            }
            out.push_str("# HELP omps_catalog_updates_total Catalog updates after pushes by organization and outcome.\n# TYPE omps_catalog_updates_total counter\n");
            for ((org, outcome), n) in &r.catalog_updates {
                let _ = writeln!(out, "omps_catalog_updates_total{{organization=\"{}\",outcome=\"{outcome}\"}} {n}", escape(org));
            }
            out.push_str("# HELP omps_upstream_duration_seconds Upstream call latency.\n# TYPE omps_upstream_duration_seconds histogram\n");
            for ((service, op), h) in &r.upstream_latency {
                write_histogram(&mut out, "omps_upstream_duration_seconds", &format!("service=\"{service}\",operation=\"{op}\""), h);
            }
            out
        })
    }
}

fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (bound, count) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("POST", "/v2/{org}/zipfile", 200, Duration::from_millis(30));
        m.request("POST", "/v2/{org}/zipfile", 200, Duration::from_millis(3));
        m.push("myorg", "ok");
        m.upstream("store", "push", Duration::from_millis(7));
        m.catalog("myorg", "updated");
        m.catalog("myorg", "OMPSCatalogRegistryError");
        m.catalog("myorg", "updated");
        let text = m.render();
        assert!(
            text.contains(
                "omps_catalog_updates_total{organization=\"myorg\",outcome=\"updated\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains(
            "omps_catalog_updates_total{organization=\"myorg\",outcome=\"OMPSCatalogRegistryError\"} 1"
        ));
        assert!(text.contains("omps_http_requests_total{method=\"POST\",route=\"/v2/{org}/zipfile\",status=\"200\"} 2"), "{text}");
        assert!(text.contains(
            "omps_http_request_duration_seconds_bucket{route=\"/v2/{org}/zipfile\",le=\"0.005\"} 1"
        ));
        assert!(
            text.contains(
                "omps_http_request_duration_seconds_count{route=\"/v2/{org}/zipfile\"} 2"
            )
        );
        assert!(text.contains("omps_pushes_total{organization=\"myorg\",outcome=\"ok\"} 1"));
        assert!(text.contains(
            "omps_upstream_duration_seconds_count{service=\"store\",operation=\"push\"} 1"
        ));
    }
}
