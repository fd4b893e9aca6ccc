#!/usr/bin/env python3
"""Times scikit-learn KernelDensity on the same synthetic input as `benches/kde.rs` (side-by-side figure for
BENCHMARKS.md). Not part of the test suite.

Usage: pip install scikit-learn numpy && python benches/kde_sklearn.py [n_cells_subset]

Input: 1,000,000 points from the same 64-bit LCG as benches/kde.rs (identical doubles: only +, -, *, / are
used), a 20 x 20 km extent at 10 m cells (2000 x 2000 = 4 M cell centres), bandwidth 250 m, epanechnikov
kernel (scikit-learn has no quartic kernel), exact evaluation (atol = rtol = 0, the defaults).
Evaluating all 4 M cells takes too long, so we time `score_samples` on a deterministic random subset of cell
centres (default 20,000) and extrapolate linearly to 4 M cells; fit (tree build) is timed separately and added.
scikit-learn's score_samples runs on one core.
"""
import sys
import time

import numpy as np
from sklearn.neighbors import KernelDensity

SIDE_M, X0, Y0 = 20_000.0, 120_000.0, 480_000.0
MASK = (1 << 64) - 1


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.s >> 11) / 9007199254740992.0


def synthetic_points(n):
    g = Lcg(20261122)
    centres = [(X0 + 2000.0 + 16000.0 * g.next(), Y0 + 2000.0 + 16000.0 * g.next()) for _ in range(50)]
    out = np.empty((n, 2))
    for k in range(n):
        if g.next() < 0.7:
            c = centres[min(int(g.next() * 50.0), 49)]
            dx = (g.next() + g.next() + g.next() - 1.5) * 300.0
            dy = (g.next() + g.next() + g.next() - 1.5) * 300.0
            out[k] = (c[0] + dx, c[1] + dy)
        else:
            out[k] = (X0 + SIDE_M * g.next(), Y0 + SIDE_M * g.next())
    return out


def main():
    subset = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    n, cell, h = 1_000_000, 10.0, 250.0
    width = height = int(SIDE_M / cell)
    pts = synthetic_points(n)
    print(f"points: n={n} sum_x={pts[:, 0].sum():.6f} sum_y={pts[:, 1].sum():.6f} first={pts[0].tolist()}")
    rng = np.random.default_rng(1)
    idx = rng.choice(width * height, size=subset, replace=False)
    i, j = idx % width, idx // width
    cells = np.column_stack([X0 + (i + 0.5) * cell, (Y0 + SIDE_M) - (j + 0.5) * cell])

    t0 = time.perf_counter()
    kde = KernelDensity(kernel="epanechnikov", bandwidth=h).fit(pts)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    dens = np.exp(kde.score_samples(cells)) * n * 1e6  # per km2
    t_eval = time.perf_counter() - t0
    full = t_fit + t_eval * (width * height) / subset
    print(f"fit {t_fit:.3f} s; score_samples on {subset} cells {t_eval:.3f} s "
          f"({t_eval / subset * 1e6:.1f} us/cell); extrapolated to {width * height} cells: {full:.1f} s")
    print(f"mean density on the subset: {dens.mean():.6f} per km2")


if __name__ == "__main__":
    main()
