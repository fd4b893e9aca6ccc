# brandpunt: two commands on a fresh Debian/Ubuntu machine.
#   make demo  - install missing system packages, build, create the demo city, serve the map
#   make test  - the whole suite

SHELL := /bin/bash
CARGO ?= cargo
# postgresql + postgresql-postgis: the distribution's default PostgreSQL server and its PostGIS (Debian 12: 15,
# Ubuntu 24.04: 16) for the PostgreSQL store's tests (a throwaway cluster per test binary, tests/common/postgres.rs).
# gdal-bin + python3-qgis: the real GIS clients of the OGC API - Features tests (tests/api/ogc.rs: ogrinfo/ogr2ogr's
# OAPIF driver, QGIS's OAPIF provider headless). python3-qgis is large: 157 packages, 167 MB download, 653 MB on
# disk, 3 min to install on the shared 2-core machine.
SYSTEM_PACKAGES := libgdal-dev libproj-dev libsqlite3-dev clang pkg-config postgresql postgresql-postgis gdal-bin python3-qgis
DEMO_DIR ?= data/demo
PORT ?= 8080

.PHONY: fuzz demo test deps web-deps web e2e build lint fmt bench load load-national clean

## Install the system packages that are missing (Debian/Ubuntu; needs root or sudo).
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## Node, npm and chromium for the web map and its browser tests (Debian/Ubuntu; root or sudo).
web-deps:
	@missing=""; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## The web map: npm packages (from package-lock.json) and web/dist (served at / by `brandpunt serve`).
web: web-deps
	cd web && npm ci --no-audit --no-fund && node build.mjs

## Browser end-to-end tests (Playwright + chromium against a real server on the demo city).
e2e: deps web
	$(CARGO) test --test web_e2e

build: deps web
	$(CARGO) build --release

demo: build
	./target/release/brandpunt --db $(DEMO_DIR)/brandpunt.db demo --dir $(DEMO_DIR)
	@echo "Demostad staat klaar: open http://localhost:$(PORT) (stoppen met Ctrl-C)"
	./target/release/brandpunt --db $(DEMO_DIR)/brandpunt.db serve --addr 127.0.0.1:$(PORT) --public-tenant default \
		--pseudonym-key-file $(DEMO_DIR)/pseudoniemsleutel-demo.txt

## Load test of the tile server (needs wrk; figures go to BENCHMARKS.md).
load: build
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; $$SUDO apt-get install -y -qq wrk; }
	benches/load_tiles.sh

## National-scale benchmark (issue 12; needs wrk, python3, /usr/bin/time; minutes and several GB of RAM at the
## default 5 M incidents; REGIONAL=1 for 25 tenants x 80 k; figures go to BENCHMARKS.md).
load-national: build
	@command -v wrk >/dev/null || { SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; $$SUDO apt-get install -y -qq wrk; }
	BIN=./target/release/brandpunt benches/national.sh

test: deps web
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets
	$(CARGO) test --doc

bench: deps
	$(CARGO) bench

clean:
	$(CARGO) clean

## Fuzzing (cargo-fuzz on the nightly toolchain; not part of `make test`): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 300
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)
