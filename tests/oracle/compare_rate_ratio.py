"""Oracle for brandpunt::analysis::compare::rate_ratio.

Exact conditional inference for a rate ratio (count_a/exposure_a)/(count_b/exposure_b): conditional on
n = a + b, a ~ Binomial(n, pi0) with pi0 = exposure_a / (exposure_a + exposure_b) under H0 (ratio 1).
p-value: scipy.stats.binomtest(a, n, pi0) two-sided (minlike rule); CI: its proportion_ci(method="exact")
(Clopper-Pearson) transformed with RR = pi / (1 - pi) * exposure_b / exposure_a.

Run: python3 tests/oracle/compare_rate_ratio.py  (writes tests/oracle/expected/compare_rate_ratio.csv)
Needs scipy (pip install scipy).
"""
import csv
import math
import os
import random

from scipy.stats import binomtest

CASES = [
    # count_a, exposure_a, count_b, exposure_b, confidence
    (12, 30.0, 5, 30.0, 0.95),
    (0, 31.0, 7, 28.0, 0.95),
    (7, 28.0, 0, 31.0, 0.95),
    (100, 365.0, 80, 365.0, 0.95),
    (3, 1.0, 9, 2.0, 0.95),
    (50, 30.0, 50, 30.0, 0.95),
    (1234, 365.0, 1100, 366.0, 0.95),
    (2, 10.0, 40, 10.0, 0.90),
    (17, 92.0, 31, 92.0, 0.99),
    (1, 7.0, 1, 7.0, 0.95),
    (9, 14.0, 2, 7.0, 0.95),
    (25, 12000.0, 60, 11800.0, 0.95),
    (5, 1.0, 0, 3.0, 0.80),
    (401, 30.0, 380, 31.0, 0.95),
]

# Plus seeded random cases over small to large counts and unequal exposures.
_rng = random.Random(20261122)
for _ in range(60):
    scale = _rng.choice([5, 50, 500, 5000])
    CASES.append((_rng.randint(0, scale), float(_rng.choice([7, 28, 30, 31, 91, 365])),
                  _rng.randint(0, scale), float(_rng.choice([7, 28, 30, 31, 92, 366])),
                  _rng.choice([0.9, 0.95, 0.99])))
CASES = [c for c in CASES if c[0] + c[2] > 0]

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "expected", "compare_rate_ratio.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["count_a", "exposure_a", "count_b", "exposure_b", "confidence",
                "p_value", "ci_lower", "ci_upper"])
    for a, ea, b, eb, conf in CASES:
        n = a + b
        pi0 = ea / (ea + eb)
        res = binomtest(a, n, pi0, alternative="two-sided")
        ci = res.proportion_ci(confidence_level=conf, method="exact")
        scale = eb / ea
        lo = ci.low / (1 - ci.low) * scale
        hi = "" if ci.high >= 1.0 else repr(float(ci.high / (1 - ci.high) * scale))
        w.writerow([a, ea, b, eb, conf, repr(float(res.pvalue)), repr(float(lo)), hi])
print("wrote", out)
