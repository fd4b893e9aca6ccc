#!/usr/bin/env bash
# Wall time and peak resident memory of importing one police delivery, for several row counts (issue 12 item 5:
# the import's memory must not grow with the row count). Each count runs `benches/import_delivery.rs` in its
# IMPORT_BENCH_ONCE mode: it writes a synthetic delivery (Windows-1252, `;`, addresses from a 1 M-address
# synthetic BAG), builds the locator, resets the peak RSS (/proc/self/clear_refs) and imports the file once
# with `import_incident_file` into a fresh SQLite file. The printed peak is the locator plus the import.
#
# Usage: benches/import_memory.sh [ROWS...]        (default: 1000000 2000000 5000000)
# Env:   IMPORT_BENCH_DIR  where the delivery and the store are written (default: the system temp folder;
#                          5 M rows need ~0.6 GB for the delivery and ~3 GB for the store)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(1000000 2000000 5000000)
cargo bench --bench import_delivery --no-run
bin=$(cargo bench --bench import_delivery --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\))$/\1/p' | tail -n 1)
for n in "${rows[@]}"; do
    IMPORT_BENCH_ONCE=1 IMPORT_BENCH_ROWS="$n" nice "$bin" --bench | grep '^once'
done
