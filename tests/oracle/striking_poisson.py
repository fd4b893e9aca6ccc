"""Oracle for brandpunt::analysis::striking.

1. Poisson tail probabilities: P(X >= obs | mu) = poisson.sf(obs - 1, mu), P(X <= obs | mu) = poisson.cdf(obs, mu).
2. An end-to-end scenario: deterministic monthly histories for a set of areas, the expected value computed here
   independently (mean of the previous 12 months, or the seasonal mean of the same month in earlier years when
   at least two are available), one-sided exact Poisson p-values and Benjamini-Hochberg (statsmodels
   multipletests, method "fdr_bh") per direction at alpha 0.05.

Run: python3 tests/oracle/striking_poisson.py  (writes tests/oracle/expected/striking_*.csv)
Needs scipy, statsmodels.
"""
import csv
import os

from scipy.stats import poisson
from statsmodels.stats.multitest import multipletests

here = os.path.dirname(os.path.abspath(__file__))

TAILS = [(0, 0.5), (1, 0.5), (3, 0.7), (5, 1.2), (10, 4.0), (12, 4.25), (0, 3.0), (2, 9.5),
         (40, 25.0), (150, 120.3), (1, 1e-3), (7, 7.0), (30, 60.0), (200, 260.0)]
with open(os.path.join(here, "expected", "striking_poisson_tails.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["observed", "expected", "p_at_least", "p_at_most"])
    for obs, mu in TAILS:
        w.writerow([obs, mu, repr(float(poisson.sf(obs - 1, mu))), repr(float(poisson.cdf(obs, mu)))])


def history(i, months):
    """Deterministic monthly counts of area i, oldest first, the last one being the month under test."""
    base = 3 + (i * 7) % 11
    counts = [base + ((m * (i + 3)) % 5) + (2 if m % 12 in (0, 1) else 0) for m in range(months)]
    # A few areas get a striking last month, a few a striking drop.
    if i % 6 == 0:
        counts[-1] = counts[-1] * 3 + 4
    if i % 6 == 3:
        counts[-1] = 0
    return counts


def expected(counts, seasonal, season=12, window=12, min_seasons=2):
    hist = counts[:-1]
    if seasonal:
        same = [hist[j] for j in range(len(hist) - season, -1, -season)]
        if len(same) >= min_seasons:
            return sum(same) / len(same), "seasonal", len(same)
    prev = hist[-window:]
    return sum(prev) / len(prev), "previous_periods", len(prev)


N_AREAS = 24
for name, seasonal, months in [("mean12", False, 13), ("seasonal", True, 37)]:
    rows = []
    for i in range(N_AREAS):
        c = history(i, months)
        mu, kind, n = expected(c, seasonal)
        obs = c[-1]
        rows.append([f"BU0000{i:04d}", ",".join(map(str, c)), obs, mu, kind, n,
                     float(poisson.sf(obs - 1, mu)), float(poisson.cdf(obs, mu))])
    up = multipletests([r[6] for r in rows], alpha=0.05, method="fdr_bh")[0]
    down = multipletests([r[7] for r in rows], alpha=0.05, method="fdr_bh")[0]
    with open(os.path.join(here, "expected", f"striking_scenario_{name}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["area_id", "counts", "observed", "expected", "baseline", "baseline_periods",
                    "p_increase", "p_decrease", "significant_increase", "significant_decrease"])
        for r, u, d in zip(rows, up, down):
            w.writerow(r[:3] + [repr(r[3]), r[4], r[5], repr(r[6]), repr(r[7]), int(u), int(d)])
print("wrote striking oracles")
