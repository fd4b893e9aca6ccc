#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS_PER_TARGET seconds (default 300), one after the other,
# each with one job (the build machines have few cores), and prints per-target figures.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs the nightly toolchain (rustup toolchain install nightly) and cargo-fuzz, which is installed from
# crates.io when missing; after that (and one build that fetched the crates of fuzz/Cargo.lock) it works
# offline. The targets are built without a sanitizer (`-s none`): the fuzzed code is safe Rust, and the
# C libraries it calls (GDAL, PROJ, SQLite) are not instrumented, so AddressSanitizer would only slow
# the runs down and LeakSanitizer would report their caches. Panics, timeouts (-timeout=10 s per input)
# and memory blow-ups (-rss_limit_mb=2048) are what the runs look for.
#
# Seeds: fuzz/corpus/<target>/ (committed); new inputs go to fuzz/target/corpus/<target>/ (kept between
# runs, not committed). Logs: fuzz/target/logs/<target>.log. A crashing input is written to
# fuzz/artifacts/<target>/ and its path printed; the script then exits non-zero (after the other targets).
set -euo pipefail

SECONDS_PER_TARGET="${1:-300}"
shift || true
ALL_TARGETS=(delivery_csv delivery_xlsx address custom_area_geojson query_params)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "fuzz.sh: SECONDS_PER_TARGET moet een geheel aantal seconden zijn, niet '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/fuzz"
cd "$FUZZ"

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz.sh: de nightly-toolchain ontbreekt (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz ontbreekt; installeren vanaf crates.io ..." >&2
  cargo install cargo-fuzz --locked
fi

echo "== build (cargo +nightly fuzz build -s none)"
build() {
  local out
  if ! out="$(cargo +nightly fuzz build -s none "$@" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 30 >&2
    echo "fuzz.sh: bouwen mislukt" >&2
    exit 2
  fi
}
if [ "${#TARGETS[@]}" -eq "${#ALL_TARGETS[@]}" ]; then
  build
else
  for t in "${TARGETS[@]}"; do build "$t"; done
fi
HOST="$(rustc +nightly -vV | sed -n 's/^host: //p')"
BIN_DIR="$FUZZ/target/$HOST/release"

mkdir -p "$FUZZ/target/logs"
export RAYON_NUM_THREADS=1
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  bin="$BIN_DIR/$t"
  if [ ! -x "$bin" ]; then
    echo "fuzz.sh: doel '$t' is niet gebouwd ($bin ontbreekt)" >&2
    failed+=("$t (niet gebouwd)")
    continue
  fi
  work="$FUZZ/target/corpus/$t"
  artifacts="$FUZZ/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "$FUZZ/dict/$t.dict" ] && dict=("-dict=$FUZZ/dict/$t.dict")
  # Whole files: allow inputs well beyond the seeds so that quadratic behaviour has room to show.
  case "$t" in
    delivery_csv | delivery_xlsx | custom_area_geojson) max_len=16384 ;;
    *) max_len=4096 ;;
  esac
  log="$FUZZ/target/logs/$t.log"
  echo "== $t: ${SECONDS_PER_TARGET} s (log: $log)"
  set +e
  "$bin" "$work" "$FUZZ/corpus/$t" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${dict[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)"
  cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)"
  files="$(find "$work" -type f | wc -l)"
  kib="$(( $(du -sb "$work" | cut -f1) / 1024 ))"
  line="$t: rc=$rc execs=${execs:-?} execs/s=${rate:-?} cov=${cov:-?} corpus=${files} files/${kib} KiB peak_rss=${rss:-?} MB"
  echo "   $line"
  summary+=("$line")
  if [ "$rc" -ne 0 ]; then
    crash="$(grep -oE '(Test unit written to|Crash input saved to) [^ ]+' "$log" | tail -n 1 | awk '{print $NF}')"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" | head -n 5 >&2 || true
    echo "   FOUT in $t: invoer ${crash:-onbekend} (reproduceer: $bin ${crash:-<bestand>})" >&2
    failed+=("$t: ${crash:-zie $log}")
  fi
done

echo "== samenvatting ($(date -u +%Y-%m-%dT%H:%MZ), ${SECONDS_PER_TARGET} s per doel)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "== MISLUKT:" >&2
  printf '   %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "== geen fouten gevonden"
