"""Oracle for brandpunt::analysis::profile relative risks.

Relative risk of an address being affected (>= 1 incident) inside a class versus outside it, with the Katz log
confidence interval.
- Tables without a zero cell: statsmodels Table2x2 (rows: in class / not in class; columns: affected / not
  affected), riskratio and riskratio_confint(method="normal").
- Tables with a zero cell: brandpunt adds 0.5 to all four cells (Haldane-Anscombe). statsmodels' shift_zeros
  (despite its docstring) only replaces the zero cells by 0.5, so these rows use the direct Katz formula on the
  corrected table with the normal quantile from scipy.

Run: python3 tests/oracle/profile_riskratio.py  (writes tests/oracle/expected/profile_riskratio.csv)
Needs statsmodels.
"""
import csv
import os

import math

import numpy as np
from scipy.stats import norm
from statsmodels.stats.contingency_tables import Table2x2

CASES = [
    # affected in class, addresses in class, affected outside, addresses outside, confidence
    (30, 400, 20, 3600, 0.95),
    (5, 50, 5, 950, 0.95),
    (0, 120, 14, 880, 0.95),
    (9, 9, 11, 991, 0.95),
    (12, 300, 0, 700, 0.95),
    (48, 1000, 52, 1000, 0.90),
    (3, 1500, 27, 2500, 0.99),
    (1, 2, 1, 2, 0.95),
]

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "expected", "profile_riskratio.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["affected_in", "n_in", "affected_out", "n_out", "confidence", "rr", "ci_lower", "ci_upper"])
    for a, n1, c, n0, conf in CASES:
        cells = [a, n1 - a, c, n0 - c]
        if min(cells) > 0:
            t = Table2x2(np.array([cells[:2], cells[2:]], dtype=float), shift_zeros=False)
            rr = float(t.riskratio)
            lo, hi = t.riskratio_confint(alpha=1 - conf, method="normal")
        else:
            ca, cb, cc, cd = (x + 0.5 for x in cells)
            rr = (ca / (ca + cb)) / (cc / (cc + cd))
            se = math.sqrt(1 / ca - 1 / (ca + cb) + 1 / cc - 1 / (cc + cd))
            z = norm.ppf(1 - (1 - conf) / 2)
            lo, hi = rr * math.exp(-z * se), rr * math.exp(z * se)
        w.writerow([a, n1, c, n0, conf, repr(rr), repr(float(lo)), repr(float(hi))])
print("wrote", out)
