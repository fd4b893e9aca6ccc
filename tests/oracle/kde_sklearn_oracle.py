#!/usr/bin/env python3
"""Oracle for brandpunt's KDE: scikit-learn KernelDensity on real point data shipped in the libpysal wheel.

Usage:  pip install libpysal scikit-learn && python tests/oracle/kde_sklearn_oracle.py
Writes  tests/oracle/expected/kde_sklearn.json (read by tests/oracles/kde_sklearn.rs; Python is not needed at test time).

Data: libpysal.examples `geodanet/crimes.shp` (287 crime points, US survey feet) and `juvenile/juvenile.shp`
(168 offender residences, arbitrary grid units). The coordinates are used as plain numbers ("map units");
brandpunt treats them as metres, so its per-km2 output is 1e6 x the density per map unit^2 stored here.

Relation of scikit-learn's kernels to methods.md (2-D, bandwidth h, u = d/h):
  gaussian      sklearn: exp(-d^2/(2h^2)) / (2 pi h^2)          == methods.md gaussian (sigma = h)
  epanechnikov  sklearn: (1 - u^2) / (pi h^2 / 2) = 2/(pi h^2)(1-u^2) for d < h  == methods.md epanechnikov
  tophat        sklearn: 1 / (pi h^2) for d < h                 == methods.md uniform
(sklearn normalises its kernels for the dimension of the data; the 2-D constants above are checked below by
evaluating a single point at distance 0 and h/2.) `exp(score_samples(X)) * sum(w)` is the summed kernel density
per map unit^2 (score_samples is the log of the weight-normalised mean density). atol = rtol = 0 makes the
tree evaluation exact, so agreement to 1e-9 relative is expected.

Grid convention (methods.md): cell centre (i, j) = (minx + (i + 0.5) c, maxy - (j + 0.5) c), row-major, top row
first, width = ceil((maxx - minx) / c), height = ceil((maxy - miny) / c).
"""
import json
import math
import os

import numpy as np
import libpysal
import sklearn
from sklearn.neighbors import KernelDensity

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "expected", "kde_sklearn.json")
EX = os.path.dirname(libpysal.examples.__file__)


def load_points(rel):
    f = libpysal.io.open(os.path.join(EX, rel))
    pts = np.array([tuple(p) for p in f], dtype=float)
    f.close()
    return pts


def centres(minx, maxy, cell, width, height):
    xs = minx + (np.arange(width) + 0.5) * cell
    ys = maxy - (np.arange(height) + 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)  # row-major, top row first
    return np.column_stack([gx.ravel(), gy.ravel()])


def check_constants():
    """The 2-D normalisation of sklearn's kernels, as documented above."""
    h = 3.0
    one = np.array([[0.0, 0.0]])
    q = np.array([[0.0, 0.0], [h / 2, 0.0]])
    want = {
        "gaussian": [1 / (2 * math.pi * h * h), math.exp(-0.125) / (2 * math.pi * h * h)],
        "epanechnikov": [2 / (math.pi * h * h), 2 / (math.pi * h * h) * 0.75],
        "tophat": [1 / (math.pi * h * h), 1 / (math.pi * h * h)],
    }
    for k, w in want.items():
        got = np.exp(KernelDensity(kernel=k, bandwidth=h).fit(one).score_samples(q))
        assert np.allclose(got, w, rtol=1e-12, atol=0), (k, got, w)


def arcgis_default_bandwidth(pts):
    """methods.md default radius, computed independently with numpy (unit weights)."""
    n = len(pts)
    c = pts.mean(axis=0)
    d = np.hypot(pts[:, 0] - c[0], pts[:, 1] - c[1])
    sd = math.sqrt(((pts[:, 0] - c[0]) ** 2).sum() / n + ((pts[:, 1] - c[1]) ** 2).sum() / n)
    dm = float(np.median(d))
    return 0.9 * min(sd, math.sqrt(1 / math.log(2)) * dm) * n ** -0.2


def main():
    check_constants()
    datasets = {
        # name: (file, cell size, bandwidths)
        "crimes": ("geodanet/crimes.shp", 150.0, [400.0, 1000.0]),
        "juvenile": ("juvenile/juvenile.shp", 2.5, [6.0]),
    }
    cases = []
    points_out = {}
    for name, (rel, cell, bandwidths) in datasets.items():
        pts = load_points(rel)
        points_out[name] = {
            "x": pts[:, 0].tolist(),
            "y": pts[:, 1].tolist(),
            "default_bandwidth": arcgis_default_bandwidth(pts),
        }
        # Extent: bounding box grown by the largest bandwidth, not snapped (the Rust side takes it as given).
        pad = max(bandwidths)
        minx, miny = pts.min(axis=0) - pad
        maxx, maxy = pts.max(axis=0) + pad
        width = math.ceil((maxx - minx) / cell)
        height = math.ceil((maxy - miny) / cell)
        grid = centres(minx, maxy, cell, width, height)
        # Deterministic weights for the weighted cases: 1, 2, 3, 1, 2, 3, ...
        weights = (np.arange(len(pts)) % 3 + 1).astype(float)
        for kernel in ["gaussian", "epanechnikov", "tophat"]:
            for h in bandwidths:
                for weighted in [False, True]:
                    if weighted and h != bandwidths[0]:
                        continue
                    kde = KernelDensity(kernel=kernel, bandwidth=h, atol=0, rtol=0)
                    if weighted:
                        kde.fit(pts, sample_weight=weights)
                        total = weights.sum()
                    else:
                        kde.fit(pts)
                        total = float(len(pts))
                    dens = np.exp(kde.score_samples(grid)) * total
                    cases.append({
                        "dataset": name,
                        "kernel": kernel,
                        "bandwidth": h,
                        "weighted": weighted,
                        "minx": float(minx), "miny": float(miny), "maxx": float(maxx), "maxy": float(maxy),
                        "cell": cell, "width": width, "height": height,
                        "density_per_unit2": dens.tolist(),
                    })
    out = {
        "generator": "tests/oracle/kde_sklearn_oracle.py",
        "sklearn_version": sklearn.__version__,
        "libpysal_version": libpysal.__version__,
        "weights_rule": "weight of point k = k % 3 + 1 in the weighted cases",
        "points": points_out,
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print(f"wrote {OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
