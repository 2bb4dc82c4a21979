# Everything runs from the virtualenv at .venv, created by `make install`.
# Targets that need it depend on the stamp file, so a fresh clone sets itself up.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install system-tools demo test bench lock clean metadata

install: $(STAMP) system-tools

# --no-deps everywhere: the lock is complete, and MediaPipe's declared protobuf<5
# would otherwise make pip backtrack for many minutes against Beam's protobuf>=5.
# requirements-test.lock (mlcroissant, which the tests read releases with) goes on top: it moves no pinned
# version, and the worker image never installs it. --no-build-isolation: its jsonpath-rw is an sdist, built
# with the lock's own setuptools and wheel.
$(STAMP): requirements.lock requirements-test.lock setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -r requirements-test.lock
	touch $(STAMP)

# Optional tools some tests use (the report's browser check, shellcheck on run_dataflow.sh,
# ffmpeg for rotated clips and other containers made from the real clips).
# Installed with apt where it is available and we are root; otherwise those tests skip with a reason.
SYSTEM_TOOLS := chromium shellcheck ffmpeg
system-tools:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing$$missing with apt-get"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null) \
	    || echo "note: apt-get could not install$$missing; the tests that need them will skip"; \
	else echo "note:$$missing not installed (needs apt as root); the tests that need them will skip"; fi

# `make demo FEATURES=v2` shows features v2 (default v1, the team's definition).
FEATURES ?= v1
demo: install
	$(PY) -m pipeline.demo --feature_version=$(FEATURES)

# One worker per core, each taking whole modules (--dist loadfile), so a module's fixtures share one
# pipeline run. On these 2-core machines: 1,074–1,078 tests in 6 min 3 s to 6 min 18 s (fresh clones, 2026-12-07; 761 tests
# in 5 min 44 s to 6 min 21 s on 2026-12-03), plus about 1 min of first-time set-up (pip), and
# about 1 min more for apt when chromium, shellcheck or ffmpeg is missing.
test: install
	$(PY) -m pytest -n auto --dist loadfile tests

# Memory of a worker, Gemini requests per sentence, the fan-out speed-up, requests to the bucket
# per row of a weekly re-run, a run's bookkeeping at 100,000 rows and the job's size, what the dataset
# release costs a run, the duplicate audit at 10,000 and 100,000 synthetic clips, then the fixed cost of a
# one-video run alternated with a bare `import apache_beam`, and last the pipeline alternated
# with the notebook's Pool(2) and pose-format's videos_to_poses on 6 HD clips (ratios printed last).
bench: install
	$(PY) -m bench.worker_memory
	$(PY) -m bench.bench_augment
	$(PY) -m bench.run_bench
	$(PY) -m bench.bucket_requests
	$(PY) -m bench.bookkeeping
	$(PY) -m bench.release
	$(PY) -m bench.duplicates
	$(PY) -m bench.fixed_cost
	$(PY) -m bench.vs_pool

# The Flex Template spec is generated from the options; a test holds metadata.json to it.
metadata: install
	$(PY) -m pipeline.flex_template --output metadata.json

# Re-resolve requirements.in into requirements.lock in a scratch virtualenv, then requirements-test.in on top of it
# into requirements-test.lock (what it adds), failing if the test requirements would move a pinned version.
lock:
	rm -rf /tmp/ghsl-lock-venv && $(PYTHON) -m venv /tmp/ghsl-lock-venv
	/tmp/ghsl-lock-venv/bin/pip install --quiet --upgrade pip==26.3
	/tmp/ghsl-lock-venv/bin/pip install --quiet $$(grep -v '^#' requirements.in)
	/tmp/ghsl-lock-venv/bin/pip install --quiet --no-deps mediapipe==0.10.21 absl-py flatbuffers scikit-video==1.1.11
	/tmp/ghsl-lock-venv/bin/pip freeze --all | grep -v "^pip==" > requirements.lock
	/tmp/ghsl-lock-venv/bin/pip install --quiet $$(grep -v '^#' requirements-test.in)
	/tmp/ghsl-lock-venv/bin/pip freeze --all | grep -v "^pip==" > /tmp/ghsl-lock-venv/with-test.txt
	@moved=$$(grep -vxFf /tmp/ghsl-lock-venv/with-test.txt requirements.lock || true); \
	if [ -n "$$moved" ]; then echo "requirements-test.in moves pinned versions: $$moved" >&2; exit 1; fi
	grep -vxFf requirements.lock /tmp/ghsl-lock-venv/with-test.txt > requirements-test.lock

clean:
	rm -rf $(VENV) .pytest_cache
