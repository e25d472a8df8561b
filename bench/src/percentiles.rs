//! p50, p99 and max of a sample, read from an HDR histogram (hdrhistogram): the one place the
//! benchmarks compute percentiles (the scheduler's, the ledger's, the mocks' and a run's lags).

use hdrhistogram::Histogram;

/// Significant digits the histogram keeps: a figure is off by at most 1 in 100 000 of itself,
/// far below what the tables print (three or four digits) and below any run-to-run noise.
const SIGNIFICANT_DIGITS: u8 = 5;

/// Nearest-rank p50 and p99 and the largest value of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Values in the sample.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// The figures of `values`, recorded in steps of `resolution` (the smallest difference that
    /// matters, in the values' unit: 0.001 for microseconds to the nanosecond). Values may be
    /// negative (a propagation can be seen before its ack): the histogram, which holds
    /// non-negative integers, records them above the sample's smallest value. All zeros for an
    /// empty sample.
    pub fn of(values: &[f64], resolution: f64) -> Percentiles {
        let Some(low) = values.iter().copied().reduce(f64::min) else {
            return Percentiles::default();
        };
        let floor = low.min(0.0);
        let mut histogram =
            Histogram::<u64>::new(SIGNIFICANT_DIGITS).expect("5 significant digits are allowed");
        for value in values {
            // `record`, not `saturating_record`: the latter clamps to the histogram's first range
            // instead of growing it.
            histogram
                .record(((value - floor) / resolution).round() as u64)
                .expect("an auto-resizing histogram takes any value");
        }
        let figure = |steps: u64| steps as f64 * resolution + floor;
        Percentiles {
            count: values.len(),
            p50: figure(histogram.value_at_quantile(0.50)),
            p99: figure(histogram.value_at_quantile(0.99)),
            max: figure(histogram.max()),
        }
    }

    /// The figures as JSON, in the sample's unit.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.count, "p50": self.p50, "p99": self.p99, "max": self.max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_figures_of_a_small_sample() {
        let values: Vec<f64> = (1..=200).map(f64::from).collect();
        let figures = Percentiles::of(&values, 1.0);
        assert_eq!(figures.count, 200);
        assert_eq!(
            (figures.p50, figures.p99, figures.max),
            (100.0, 198.0, 200.0)
        );
    }

    #[test]
    fn values_beyond_the_first_range_grow_the_histogram() {
        let seconds = Percentiles::of(&[1.6, 9.8, 159.6], 1e-6);
        assert!((seconds.p50 - 9.8).abs() < 1e-3, "{seconds:?}");
        assert!((seconds.max - 159.6).abs() < 1e-2, "{seconds:?}");
    }

    #[test]
    fn negative_values_and_an_empty_sample() {
        let figures = Percentiles::of(&[-3.0, -1.0, 2.0], 0.5);
        assert_eq!((figures.p50, figures.p99, figures.max), (-1.0, 2.0, 2.0));
        assert_eq!(Percentiles::of(&[], 1.0).count, 0);
    }
}
