"""Reference values for brandpunt's spatial weights, Gi* and local Moran's I, from PySAL.

Run (once; the Rust tests only read the committed JSON):
    pip install esda libpysal geopandas
    python tests/oracle/gistar_esda.py

Writes tests/oracle/expected/gistar_esda.json with, per case, the libpysal neighbour sets and esda results:
- Gi*: esda.G_Local(y, w, transform='B', star=True).Zs and two-sided p = 2 * p_norm (p_norm is one-sided).
- local Moran: esda.Moran_Local(y, w) (row-standardised) Is, the analytic z under total randomisation
  (Is - EI) / sqrt(VI), under conditional randomisation (Is - EIc) / sqrt(VIc), and the quadrant q.
Data: the libpysal example files copied to tests/fixtures/pysal/ (columbus CRIME, stl homicide rates,
geodanet/crimes counted on a square grid, and the unique crime points for distance band / KNN).
"""

import json
import os
import sys
import warnings

import esda
import geopandas as gpd
import libpysal
import numpy as np
from libpysal.weights import KNN, DistanceBand, Queen, Rook, W

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures", "pysal")


def neighbour_lists(w):
    # libpysal ids are 0..n-1 in file order for from_shapefile / from_dataframe / point arrays.
    return [sorted(int(j) for j in w.neighbors[i]) for i in range(w.n)]


def gi_star(y, w):
    g = esda.G_Local(y, w, transform="B", star=True, permutations=0)
    return {"z": [float(v) for v in g.Zs], "p": [float(2.0 * v) for v in g.p_norm]}


def moran(y, w):
    m = esda.Moran_Local(y, w, transformation="r", permutations=0)
    return {
        "I": [float(v) for v in m.Is],
        "z": [float(v) for v in (m.Is - m.EI) / np.sqrt(m.VI)],
        "z_conditional": [float(v) for v in (m.Is - m.EIc) / np.sqrt(m.VIc)],
        "q": [int(v) for v in m.q],
    }


def main():
    out = {"esda": esda.__version__, "libpysal": libpysal.__version__}

    col = gpd.read_file(os.path.join(FIX, "columbus.shp"))
    wq = Queen.from_shapefile(os.path.join(FIX, "columbus.shp"))
    wr = Rook.from_shapefile(os.path.join(FIX, "columbus.shp"))
    y = col["CRIME"].to_numpy(dtype=float)
    out["columbus"] = {
        "queen": neighbour_lists(wq),
        "rook": neighbour_lists(wr),
        "crime": [float(v) for v in y],
        "gistar_queen": gi_star(y, wq),
        "gistar_rook": gi_star(y, wr),
        "moran_queen": moran(y, Queen.from_shapefile(os.path.join(FIX, "columbus.shp"))),
    }

    stl = gpd.read_file(os.path.join(FIX, "stl_hom.shp"))
    sq = Queen.from_shapefile(os.path.join(FIX, "stl_hom.shp"))
    srk = Rook.from_shapefile(os.path.join(FIX, "stl_hom.shp"))
    out["stl"] = {"queen": neighbour_lists(sq), "rook": neighbour_lists(srk)}
    for col_name in ["HR7984", "HR8488", "HR8893"]:
        y = stl[col_name].to_numpy(dtype=float)
        out["stl"][col_name] = {
            "y": [float(v) for v in y],
            "gistar_queen": gi_star(y, sq),
            "moran_queen": moran(y, Queen.from_shapefile(os.path.join(FIX, "stl_hom.shp"))),
        }

    # geodanet crimes: counts on a square grid of CELL units aligned to multiples of CELL, all cells of
    # the bounding box (zeros included), cell centres as points; row-major (row = floor(y / CELL)).
    crimes = gpd.read_file(os.path.join(FIX, "crimes.shp"))
    xy = np.c_[crimes.geometry.x.to_numpy(), crimes.geometry.y.to_numpy()]
    CELL = 400.0
    cols = np.floor(xy[:, 0] / CELL).astype(int)
    rows = np.floor(xy[:, 1] / CELL).astype(int)
    cells = [(c, r) for r in range(rows.min(), rows.max() + 1) for c in range(cols.min(), cols.max() + 1)]
    index = {cell: k for k, cell in enumerate(cells)}
    counts = np.zeros(len(cells))
    for c, r in zip(cols, rows):
        counts[index[(c, r)]] += 1.0
    centres = np.array([[(c + 0.5) * CELL, (r + 0.5) * CELL] for c, r in cells])
    grid = {"cell": CELL, "cells": [[int(c), int(r)] for c, r in cells], "counts": [float(v) for v in counts]}
    for band in [600.0, 850.0]:
        wb = DistanceBand(centres, threshold=band, binary=True, silence_warnings=True)
        grid[f"band_{int(band)}"] = {"neighbours": neighbour_lists(wb), "gistar": gi_star(counts, wb)}
    out["geodanet_grid"] = grid

    # Unique crime points (first occurrence order): coincident points make KNN order arbitrary and
    # libpysal's sparse distance matrix drops zero distances.
    _, first = np.unique(xy, axis=0, return_index=True)
    pts = xy[np.sort(first)]
    db = DistanceBand(pts, threshold=250.0, binary=True, silence_warnings=True)
    k = 5
    knn = KNN(pts, k=k)
    # Points whose k-th and (k+1)-th nearest distances tie have an arbitrary neighbour set: flag them.
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    ds = np.sort(d, axis=1)
    tie = [bool(abs(ds[i, k - 1] - ds[i, k]) < 1e-9) for i in range(len(pts))]
    out["geodanet_points"] = {
        "points": [[float(a), float(b)] for a, b in pts],
        "band_250": neighbour_lists(db),
        "knn_5": neighbour_lists(knn),
        "knn_5_tie": tie,
    }

    path = os.path.join(HERE, "expected", "gistar_esda.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
