"""Independent oracle for brandpunt::analysis::aoristic (Ratcliffe aoristic weighting).

Generates seeded incident windows (exact times, hours, days; crossing midnight, month and week ends; some over
the 7-day limit; some without a time) and computes with Python's datetime:
- the 168-slot hour-of-week profile (slot = weekday() * 24 + hour, Monday 00-01 = 0),
- the 7-slot day-of-week profile,
- the monthly series over 2025-01-01 .. 2025-12-31 (zero-filled) and the weight outside that period,
each incident contributing overlap / (end - begin) to every slot (1 to its slot for an exact time).

Run: python3 tests/oracle/stats_aoristic.py
Writes tests/oracle/expected/stats_aoristic_events.csv (the input) and stats_aoristic_expected.json.
"""
import csv
import json
import os
import random
from datetime import datetime, timedelta

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(42)
LIMIT = timedelta(days=7)
FMT = "%Y-%m-%dT%H:%M:%S"

events = []
for i in range(400):
    begin = datetime(2024, 12, 20) + timedelta(seconds=rng.randrange(0, 390 * 86400))
    kind = i % 8
    if kind in (0, 1):
        end = begin
    elif kind == 2:
        end = begin + timedelta(seconds=rng.randrange(1, 3600))
    elif kind in (3, 4):
        end = begin + timedelta(seconds=rng.randrange(3600, 36 * 3600))
    elif kind == 5:
        end = begin + timedelta(seconds=rng.randrange(36 * 3600, 7 * 86400))
    elif kind == 6:
        end = begin + timedelta(seconds=rng.randrange(7 * 86400 + 1, 20 * 86400))  # over the limit
    else:
        end = None  # missing end
    events.append((begin, end))

how = [0.0] * 168
months = {}
outside = 0.0
used = long_ = missing = 0
for begin, end in events:
    if end is None:
        missing += 1
        continue
    if end - begin > LIMIT:
        long_ += 1
        continue
    used += 1
    dur = (end - begin).total_seconds()
    if dur == 0:
        how[begin.weekday() * 24 + begin.hour] += 1.0
        pieces = [(begin, 1.0)]
    else:
        pieces = []
        t = begin.replace(minute=0, second=0)
        while t < end:
            nxt = t + timedelta(hours=1)
            ov = (min(end, nxt) - max(begin, t)).total_seconds()
            if ov > 0:
                how[t.weekday() * 24 + t.hour] += ov / dur
                pieces.append((t, ov / dur))
            t = nxt
    for t, w in pieces:
        if t.year == 2025:
            months[t.month] = months.get(t.month, 0.0) + w
        else:
            outside += w

dow = [sum(how[d * 24:(d + 1) * 24]) for d in range(7)]
with open(os.path.join(here, "expected", "stats_aoristic_events.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["begin", "end"])
    for begin, end in events:
        w.writerow([begin.strftime(FMT), end.strftime(FMT) if end else ""])
with open(os.path.join(here, "expected", "stats_aoristic_expected.json"), "w") as f:
    json.dump({
        "max_window_hours": 168.0,
        "used_incidents": used,
        "excluded_long_windows": long_,
        "excluded_missing_time": missing,
        "hour_of_week": how,
        "day_of_week": dow,
        "monthly_2025": [months.get(m, 0.0) for m in range(1, 13)],
        "weight_outside_2025": outside,
    }, f, indent=1)
print("wrote aoristic oracle")
