//! Latency percentiles and the source's report (JSON or one line per figure).

use serde::Serialize;

/// Latencies are recorded in microseconds: precise enough for loopback, and four bytes
/// per message keeps a million-message run's record small.
pub type Micros = u32;

/// The nearest-rank percentile (`p` in 0..=100) of sorted samples, in milliseconds;
/// 0 when there are none.
pub fn percentile_ms(sorted: &[Micros], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[index]) / 1000.0
}

/// Acceptance latency summary (end of DATA written → reply read).
#[derive(Debug, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Sorts `samples` and summarises them.
    pub fn from_samples(samples: &mut [Micros]) -> Self {
        samples.sort_unstable();
        Latency {
            p50: percentile_ms(samples, 50.0),
            p90: percentile_ms(samples, 90.0),
            p99: percentile_ms(samples, 99.0),
            max: percentile_ms(samples, 100.0),
        }
    }
}

/// What `posthorn-bench source` prints; the key names are relied upon by the bench
/// scripts.
#[derive(Debug, Serialize)]
pub struct Report {
    pub sent: u64,
    pub failed: u64,
    pub connect_errors: u64,
    pub elapsed_seconds: f64,
    pub messages_per_second: f64,
    pub latency_ms: Latency,
    /// Only in `--rate` mode: how late the worst message was started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind_schedule_ms_max: Option<f64>,
}

impl Report {
    /// The human form: one figure per line.
    pub fn human(&self) -> String {
        let mut text = format!(
            "sent: {}\nfailed: {}\nconnect errors: {}\nelapsed: {:.3} s\n\
             rate: {:.1} msg/s\nlatency p50: {:.3} ms\nlatency p90: {:.3} ms\n\
             latency p99: {:.3} ms\nlatency max: {:.3} ms\n",
            self.sent,
            self.failed,
            self.connect_errors,
            self.elapsed_seconds,
            self.messages_per_second,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.max,
        );
        if let Some(behind) = self.behind_schedule_ms_max {
            text.push_str(&format!("behind schedule max: {behind:.3} ms\n"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let samples: Vec<Micros> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 50.0), 50.0);
        assert_eq!(percentile_ms(&samples, 90.0), 90.0);
        assert_eq!(percentile_ms(&samples, 99.0), 99.0);
        assert_eq!(percentile_ms(&samples, 100.0), 100.0);
        assert_eq!(percentile_ms(&samples, 0.0), 1.0);
    }

    #[test]
    fn percentiles_of_few_samples_pick_an_observed_value() {
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
        assert_eq!(percentile_ms(&[2500], 50.0), 2.5);
        assert_eq!(percentile_ms(&[1000, 2000, 3000], 50.0), 2.0);
        assert_eq!(percentile_ms(&[1000, 2000, 3000], 99.0), 3.0);
    }

    #[test]
    fn summary_sorts_its_samples() {
        let mut samples = vec![5000, 1000, 3000, 2000, 4000];
        let latency = Latency::from_samples(&mut samples);
        assert_eq!(
            latency,
            Latency {
                p50: 3.0,
                p90: 5.0,
                p99: 5.0,
                max: 5.0
            }
        );
    }
}
