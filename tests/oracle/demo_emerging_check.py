"""Independent check that the demo city's planted patterns are classified as intended.

Emerging hot spot analysis with the rules of shared/reference/methods.md, written from scratch in
NumPy/SciPy (no brandpunt code): 100 m RD cells, weekly steps, queen (3x3) neighbours incl. the
cell itself, time window 1 (steps t and t-1), Gi* with the global mean/SD over the whole cube,
two-sided p, Benjamini-Hochberg FDR at 0.10 over all bins, Mann-Kendall (continuity corrected,
ties) on the z series, ESRI categories. Input: the true police incident locations of a generated
demo (truth_incidents.csv) and ground_truth.json.

Usage (after generating the default city into DIR, e.g. with `brandpunt demo --dir DIR` or the
ignored test generate_default_city in tests/cli/demo_regenerate.rs):
    python3 tests/oracle/demo_emerging_check.py DIR > tests/oracle/expected/demo_emerging_default.json
"""
import sys, csv, json, hashlib, datetime as dt
import numpy as np
from scipy.stats import norm
from scipy.ndimage import convolve

d = sys.argv[1]
gt = json.load(open(f"{d}/ground_truth.json"))
first = dt.date.fromisoformat(gt["generator"]["first_day"]); T = gt["generator"]["weeks"]
rows = [r for r in csv.DictReader(open(f"{d}/truth_incidents.csv"), delimiter=';') if r["bron"] == "politie" and r["x_m"]]
xs = np.array([float(r["x_m"]) for r in rows]); ys = np.array([float(r["y_m"]) for r in rows])
wk = np.array([(dt.date.fromisoformat(r["begin"][:10]) - first).days // 7 for r in rows])
ok = (wk >= 0) & (wk < T)
xs, ys, wk = xs[ok], ys[ok], wk[ok]
ix = (xs // 100).astype(int); iy = (ys // 100).astype(int)
x0, y0 = ix.min() - 1, iy.min() - 1
nx, ny = ix.max() - x0 + 2, iy.max() - y0 + 2
cube = np.zeros((nx, ny, T))
np.add.at(cube, (ix - x0, iy - y0, wk), 1)
active = cube.sum(axis=2) > 0
A = active.astype(float)
k3 = np.ones((3, 3, 1)); k2 = np.ones((3, 3))
# spatial sums then time window (t, t-1)
s = convolve(cube, k3, mode="constant")
S = s.copy(); S[:, :, 1:] += s[:, :, :-1]
nb_sp = convolve(A, k2, mode="constant")  # active neighbours incl self
W = np.repeat(nb_sp[:, :, None], T, axis=2) * 2.0; W[:, :, 0] = nb_sp  # first step no t-1
vals = cube[active]  # (nloc, T)
n = vals.size; xbar = vals.mean(); sd = vals.std()
Wa = W[active]; Sa = S[active]
z = (Sa - xbar * Wa) / (sd * np.sqrt((n * Wa - Wa**2) / (n - 1)))
p = 2 * norm.sf(np.abs(z))
ps = np.sort(p.ravel()); k = np.arange(1, ps.size + 1)
okk = ps <= k * 0.10 / ps.size
cut = ps[okk].max() if okk.any() else -1
sig = p <= cut
hot = sig & (z > 0); cold = sig & (z < 0)
def mk(x):
    nn = len(x); s = 0
    for i in range(nn - 1):
        s += np.sign(x[i+1:] - x[i]).sum()
    _, c = np.unique(x, return_counts=True)
    var = (nn*(nn-1)*(2*nn+5) - (c*(c-1)*(2*c+5)).sum()) / 18
    if var <= 0: return 0, 1
    zz = (s - np.sign(s)) / np.sqrt(var)
    return zz, 2 * norm.sf(abs(zz))
def classify(h, c, zs):
    nn = len(h)
    if h[-1]:
        H = h.sum()
        if H >= 0.9 * nn:
            zz, pp = mk(zs)
            if pp < 0.05: return "intensifying_hot_spot" if zz > 0 else "diminishing_hot_spot"
            return "persistent_hot_spot"
        if H == 1: return "new_hot_spot"
        run = 0
        for v in h[::-1]:
            if v: run += 1
            else: break
        if run >= 2 and H == run: return "consecutive_hot_spot"
        if c[:-1].any(): return "oscillating_hot_spot"
        return "sporadic_hot_spot"
    if c[-1]: return "cold"
    if h.sum() >= 0.9 * nn: return "historical_hot_spot"
    return "no_pattern"
locs = np.argwhere(active)
cls = {}
for i, (a, b) in enumerate(locs):
    cls[(int(a + x0) * 100, int(b + y0) * 100)] = classify(hot[i], cold[i], z[i])
from collections import Counter
out = {
    "truth_incidents_sha256": hashlib.sha256(open(f"{d}/truth_incidents.csv", "rb").read()).hexdigest(),
    "generator": gt["generator"],
    "locations": len(locs),
    "fdr_cutoff_p": float(cut),
    "classes_all_locations": dict(sorted(Counter(cls.values()).items())),
    "patterns": {},
}
for pat in gt["patterns"]:
    if "cells_100m" not in pat: continue
    got = Counter(cls.get(tuple(c), "inactive") for c in pat["cells_100m"])
    out["patterns"][pat["name"]] = {"expected": pat["expected_emerging_class"], "cells": dict(sorted(got.items()))}
print(json.dumps(out, indent=1, sort_keys=True))
