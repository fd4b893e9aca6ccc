"""Reference Mann-Kendall results for brandpunt's trend test, from pymannkendall.original_test.

Run (once; the Rust tests only read the committed JSON):
    pip install pymannkendall numpy
    python tests/oracle/emerging_mann_kendall.py

pymannkendall's original test is the textbook Mann-Kendall: S, Var(S) with tie correction, z with
continuity correction, two-sided normal p. The series mimic Gi* z series of an emerging hot spot
analysis: continuous values, rounded values with many ties, constant runs, trends, short and long series.
"""

import json
import os

import numpy as np
import pymannkendall as mk

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(20261122)
    series = []
    for n in [3, 4, 5, 8, 10, 13, 24, 52, 104]:
        series.append(rng.normal(size=n))  # no ties
        series.append(np.round(rng.normal(size=n) + np.linspace(0, 2, n), 0))  # trend with many ties
        series.append(np.round(rng.normal(size=n) - np.linspace(0, 1, n), 1))  # downward, some ties
    series.append(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 5.0]))
    series.append(np.array([3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.2, 3.1]))
    out = []
    for x in series:
        r = mk.original_test(x)
        out.append({
            "x": [float(v) for v in x],
            "s": float(r.s),
            "var_s": float(r.var_s),
            "z": float(r.z),
            "p": float(r.p),
        })
    with open(os.path.join(HERE, "expected", "emerging_mann_kendall.json"), "w") as f:
        json.dump({"pymannkendall": mk.__version__, "cases": out}, f, indent=0)


if __name__ == "__main__":
    main()
