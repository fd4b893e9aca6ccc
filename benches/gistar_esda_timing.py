"""Time esda's Gi* on the same input as benches/gistar.rs (200 x 200 grid of 100 m cells, 150 m band).

Run: python benches/gistar_esda_timing.py   (pip install esda libpysal)
Prints the best and median wall time of esda.G_Local(y, w, transform='B', star=True, permutations=0)
over repeated runs (weights built once, outside the timing, as in the Rust benchmark), plus the time to
build the DistanceBand weights.
"""

import math
import statistics
import time
import warnings

import esda
import numpy as np
from libpysal.weights import DistanceBand

warnings.filterwarnings("ignore")


def synthetic_count(c, r):
    # Same as benches/gistar.rs; Python's % is Euclidean for a positive modulus like rem_euclid.
    h = ((c * 73856093) ^ (r * 19349663)) % 1000003
    background = float(h % 5)

    def bump(cx, cy, s, a):
        d2 = (c - cx) ** 2 + (r - cy) ** 2
        return math.floor(a * math.exp(-d2 / (2.0 * s * s)))

    return background + bump(50.0, 60.0, 6.0, 30.0) + bump(140.0, 120.0, 10.0, 15.0)


def main(n=200, repeats=15):
    cells = [(c, r) for r in range(n) for c in range(n)]
    y = np.array([synthetic_count(c, r) for c, r in cells])
    centres = np.array([[(c + 0.5) * 100.0, (r + 0.5) * 100.0] for c, r in cells])
    t0 = time.perf_counter()
    w = DistanceBand(centres, threshold=150.0, binary=True, silence_warnings=True)
    t_w = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
        times.append(time.perf_counter() - t0)
    print(f"esda {esda.__version__}: G_Local star, {n}x{n} cells, band 150 m, nnz {w.s0:.0f}")
    print(f"  DistanceBand build: {t_w * 1000:.1f} ms")
    print(f"  G_Local: best {min(times) * 1000:.1f} ms, median {statistics.median(times) * 1000:.1f} ms")
    print(f"  sum(y) = {y.sum():.0f}, max Gi* z = {g.Zs.max():.6f}")


if __name__ == "__main__":
    main()
