# Everything runs from the virtualenv at .venv, created by `make install`.
# Targets that need it depend on the stamp file, so a fresh clone sets itself up.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench lock clean

install: $(STAMP)

# --no-deps everywhere: the lock is complete, and MediaPipe's declared protobuf<5
# would otherwise make pip backtrack for many minutes against Beam's protobuf>=5.
$(STAMP): requirements.lock setup.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	$(PY) -m pipeline.demo

test: install
	$(PY) -m pytest tests

bench: install
	$(PY) -m bench.run_bench

# Re-resolve requirements.in into requirements.lock in a scratch virtualenv.
lock:
	rm -rf /tmp/ghsl-lock-venv && $(PYTHON) -m venv /tmp/ghsl-lock-venv
	/tmp/ghsl-lock-venv/bin/pip install --quiet --upgrade pip==26.3
	/tmp/ghsl-lock-venv/bin/pip install --quiet $$(grep -v '^#' requirements.in)
	/tmp/ghsl-lock-venv/bin/pip install --quiet --no-deps mediapipe==0.10.21 absl-py flatbuffers scikit-video==1.1.11
	/tmp/ghsl-lock-venv/bin/pip freeze --all | grep -v "^pip==" > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache
