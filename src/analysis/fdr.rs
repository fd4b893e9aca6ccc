//! False Discovery Rate control (Benjamini-Hochberg), as ESRI applies it to hot spot results.
//!
//! With the `n` p-values sorted ascending, the cut-off is the largest `p_(k)` with `p_(k) <= k * alpha / n`;
//! every test with `p <= cut-off` is significant. When no `k` qualifies nothing is significant.

/// The Benjamini-Hochberg cut-off: the largest p-value that is still significant at FDR level `alpha`,
/// or `None` when no test is significant. NaN p-values are ignored (never significant).
pub fn benjamini_hochberg_cutoff(p_values: &[f64], alpha: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = p_values.iter().copied().filter(|p| !p.is_nan()).collect();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    sorted
        .iter()
        .enumerate()
        .rev()
        .find(|(i, &p)| p <= (*i as f64 + 1.0) * alpha / n as f64)
        .map(|(_, &p)| p)
}

/// For each p-value, whether it is significant under Benjamini-Hochberg at level `alpha`.
pub fn fdr_significant(p_values: &[f64], alpha: f64) -> Vec<bool> {
    match benjamini_hochberg_cutoff(p_values, alpha) {
        Some(cut) => p_values.iter().map(|&p| p <= cut).collect(),
        None => vec![false; p_values.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_is_largest_qualifying_rank() {
        // n = 5, alpha = 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05.
        // Sorted p: 0.001 (<=0.01), 0.03 (>0.02), 0.035 (<=0.03? no), 0.04 (<=0.04 yes), 0.9.
        let p = [0.9, 0.04, 0.001, 0.035, 0.03];
        assert_eq!(benjamini_hochberg_cutoff(&p, 0.05), Some(0.04));
        assert_eq!(
            fdr_significant(&p, 0.05),
            vec![false, true, true, true, true]
        );
    }

    #[test]
    fn nothing_significant() {
        let p = [0.2, 0.5, 0.8];
        assert_eq!(benjamini_hochberg_cutoff(&p, 0.05), None);
        assert_eq!(fdr_significant(&p, 0.05), vec![false; 3]);
        assert_eq!(benjamini_hochberg_cutoff(&[], 0.05), None);
    }

    #[test]
    fn nan_is_never_significant() {
        let p = [f64::NAN, 0.001];
        assert_eq!(fdr_significant(&p, 0.05), vec![false, true]);
    }
}
