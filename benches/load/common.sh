# Shared by the load scripts (benches/load_tiles.sh, benches/soak.sh, benches/forecast_api.sh); source it, do not run it.

# wait_for_server OUT: wait until the server writing its stdout to OUT announces its address and answers
# /readyz; sets BASE to that address.
wait_for_server() {
  local out=$1
  for _ in $(seq 300); do grep -q "listening on" "$out" 2>/dev/null && break; sleep 0.1; done
  BASE=$(sed -n 's/^listening on //p' "$out")
  [ -n "$BASE" ] || { echo "the server did not start (see $out)" >&2; return 1; }
  until curl -sf "$BASE/readyz" >/dev/null; do sleep 0.1; done
}

# tile_range META ZOOM: the XYZ tile range "X0 X1 Y0 Y1" (y down) covering the bbox of /api/meta's JSON META.
tile_range() {
  echo "$1" | sed -n 's/.*"bbox":\[\([^]]*\)\].*/\1/p' | awk -F, -v z="$2" '
    function tx(lon) { return int((lon + 180) / 360 * 2^z) }
    function ty(lat,  r) { r = lat * 3.141592653589793 / 180; return int((1 - log(sin(r)/cos(r) + 1/cos(r)) / 3.141592653589793) / 2 * 2^z) }
    { print tx($1), tx($3), ty($4), ty($2) }'
}

# last_day META: the last day of the data period in /api/meta's JSON META.
last_day() {
  echo "$1" | sed -n 's/.*"last":"\([0-9-]*\)".*/\1/p'
}
