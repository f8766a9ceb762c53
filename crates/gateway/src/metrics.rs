//! The Prometheus recorder, installed once per process.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets.
#[cfg(not(test))]
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
#[cfg(test)]
const UPKEEP_EVERY: Duration = Duration::from_millis(50);

/// Upkeep rounds done so far (for the test that they happen).
static UPKEEPS: AtomicU64 = AtomicU64::new(0);

/// The process-wide Prometheus handle, installing the recorder on first call.
///
/// Built with `build_recorder()` rather than `install()` so that several gateways in one
/// process (tests) share one recorder instead of failing on the second install. If another
/// global recorder was installed first, metrics go there and this handle renders nothing.
pub fn metrics_handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ],
                )
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            // The recorder keeps every histogram sample (8 bytes each, one per proxied call)
            // until upkeep folds them into the buckets; `install()` would run it, but
            // `build_recorder()` does not, and a server nobody scrapes grew by ~20 bytes per
            // call for ever. One thread per process folds them every few seconds.
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                        UPKEEPS.fetch_add(1, Ordering::Relaxed);
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "no metrics upkeep thread: histograms grow until scraped");
            }
            handle
        })
        .clone()
}

/// Pre-registered handles of the proxy's per-call metrics, one set per forwarded service:
/// a handle skips the recorder's label hashing and map lookup, which the proxy would
/// otherwise pay on every call.
pub(crate) struct ProxyCallMetrics {
    service: &'static str,
    duration: metrics::Histogram,
    status_200: metrics::Counter,
    status_500: metrics::Counter,
}

impl ProxyCallMetrics {
    /// The handles of `service` (registered on first use, after the recorder is installed).
    pub(crate) fn of(service: &'static crate::proxy::services::DemService) -> &'static Self {
        use crate::proxy::services::SERVICES;
        static ALL: OnceLock<Vec<ProxyCallMetrics>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            SERVICES
                .iter()
                .map(|s| Self {
                    service: s.name,
                    duration: metrics::histogram!("tsgate_proxy_request_duration_seconds", "service" => s.name),
                    status_200: metrics::counter!("tsgate_proxy_requests_total", "service" => s.name, "status" => "200"),
                    status_500: metrics::counter!("tsgate_proxy_requests_total", "service" => s.name, "status" => "500"),
                })
                .collect()
        });
        let index = SERVICES
            .iter()
            .position(|s| std::ptr::eq(s, service))
            .unwrap_or_default();
        &all[index]
    }

    /// Records one answered call.
    pub(crate) fn answered(&self, status: http::StatusCode, elapsed: std::time::Duration) {
        self.duration.record(elapsed.as_secs_f64());
        match status.as_u16() {
            200 => self.status_200.increment(1),
            500 => self.status_500.increment(1),
            _ => metrics::counter!("tsgate_proxy_requests_total", "service" => self.service, "status" => status.as_str().to_owned())
                .increment(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without upkeep the histogram samples of every call stay in memory (the leak of
    /// ~20 bytes per proxied call).
    #[test]
    fn histogram_samples_are_folded_without_a_scrape() {
        let _ = metrics_handle();
        let before = UPKEEPS.load(Ordering::Relaxed);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while UPKEEPS.load(Ordering::Relaxed) < before + 2 {
            assert!(std::time::Instant::now() < deadline, "no upkeep ran");
            std::thread::sleep(UPKEEP_EVERY);
        }
    }
}
