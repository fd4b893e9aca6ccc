"""Oracle for brandpunt::analysis::homogeneity (the profile breakdowns' tests of homogeneity across groups).

- `chi2`: scipy.stats.chi2_contingency(table, correction=False): Pearson's statistic, p-value and df of the test
  that every row (group) has the same distribution over the columns (classes).
- `risk`: the log-linear Poisson model count ~ group + class with log(exposure) as offset (no interaction),
  fitted here by direct maximisation of the likelihood (scipy.optimize.minimize, BFGS), not by iterative
  proportional fitting as brandpunt does; Pearson's statistic over the cells with exposure, df = those cells -
  (groups + classes - 1), p = scipy.stats.chi2.sf.

Every table here has expected counts large enough for the chi-square approximation (brandpunt's method `chi2`).
Run: /usr/bin/python3 tests/oracle/profile_homogeneity.py  (writes tests/oracle/expected/profile_homogeneity.csv)
Needs scipy and numpy.
"""
import csv
import os

import numpy as np
from scipy.optimize import minimize
from scipy.stats import chi2, chi2_contingency

CHI2 = [
    [[12, 30, 45, 8], [20, 25, 30, 15], [9, 40, 38, 12]],
    [[50, 30], [20, 60]],
    [[10, 20], [30, 40]],
    [[25, 25, 25, 25, 25], [30, 20, 25, 28, 22], [18, 33, 21, 30, 24], [26, 24, 27, 19, 29]],
    [[120, 80, 40, 12], [100, 95, 50, 9], [60, 150, 70, 30]],
]

RISK = [
    # observed, exposure
    ([[10, 100], [100, 100]], [[1000, 10000], [1000, 10000]]),
    ([[30, 40, 25], [12, 50, 40], [25, 20, 35]], [[800, 2000, 1500], [300, 2500, 2100], [900, 700, 1600]]),
    ([[40, 22, 15, 30], [18, 35, 26, 14]], [[2000, 1500, 900, 1600], [1700, 1800, 1500, 900]]),
]


def fmt(t):
    return "|".join(" ".join(str(v) for v in row) for row in t)


def risk(observed, exposure):
    o = np.array(observed, dtype=float)
    n = np.array(exposure, dtype=float)
    g, c = o.shape

    def mu(theta):
        a = np.concatenate([[0.0], theta[1:g]])
        b = np.concatenate([[theta[0]], theta[g:]])
        return n * np.exp(a[:, None] + b[None, :])

    def nll(theta):
        m = mu(theta)
        return float(np.sum(m - o * np.log(m)))

    # Parameters: log rate of class 0 in group 0, group effects 1..g-1, log rates of classes 1..c-1.
    x0 = np.full(g + c - 1, np.log(o.sum() / n.sum()))
    x0[1:g] = 0.0
    best = minimize(nll, x0, method="BFGS", options={"gtol": 1e-12, "maxiter": 100000})
    m = mu(best.x)
    stat = float(np.sum((o - m) ** 2 / m))
    df = g * c - (g + c - 1)
    return stat, float(chi2.sf(stat, df)), df


here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "expected", "profile_homogeneity.csv")
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["test", "observed", "exposure", "statistic", "p_value", "df"])
    for t in CHI2:
        stat, p, df, _ = chi2_contingency(t, correction=False)
        w.writerow(["chi2", fmt(t), "", repr(float(stat)), repr(float(p)), int(df)])
    for o, n in RISK:
        stat, p, df = risk(o, n)
        w.writerow(["risk", fmt(o), fmt(n), repr(stat), repr(p), df])
print(out)
