# ikesrv: two commands on a fresh Debian 12 machine as root:
#   make run    builds, then serves the embedded demo config
#   make test   installs the Debian test peers if missing, builds, runs the whole suite
# Debian's own interpreter when there is one: it is built with profile-guided and
# link-time optimisation, and ikesrv spends most of its CPU in the interpreter (another
# python3 earlier on PATH, e.g. pyenv's default build, costs ~6 % more CPU per SA).
# `make PYTHON=...` chooses another; a venv made by another interpreter is remade.
PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ikesrv-built
SOURCES := pyproject.toml setup.py ikesrv/_fast/codec.py $(wildcard ikesrv/_fast/*.pyx ikesrv/_fast/*.pxd)
PYTEST_ARGS ?=

.PHONY: build run test test-fast bench lab clean deps FORCE

build: $(STAMP)

# Debian packages needed to build (only those missing are installed)
deps:
	@PYTHON=$(PYTHON) tests/harness/apt-ensure.sh build

$(STAMP): $(SOURCES) $(VENV)/.python
	@PYTHON=$(PYTHON) tests/harness/apt-ensure.sh build
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel 'Cython>=3.1,<3.4'
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -c "import ikesrv._fast.codec, ikesrv._fast.prf, ikesrv._fast.dh, ikesrv._fast.md4, ikesrv._fast.des, ikesrv._fast.cbc, ikesrv._fast.isakmp; print('ikesrv: compiled extensions OK')"
	@touch $(STAMP)

# the interpreter the venv was made with: when PYTHON names another, the venv is remade
$(VENV)/.python: FORCE
	@want=$$(readlink -f "$$(command -v $(PYTHON))"); \
	have=$$(cat $@ 2>/dev/null || true); \
	if [ "$$want" != "$$have" ]; then \
		if [ -n "$$have" ] || [ -e $(VENV) ]; then echo "venv: $$have -> $$want, remaking $(VENV)"; rm -rf $(VENV); fi; \
		mkdir -p $(VENV) && echo "$$want" > $@; \
	fi

FORCE:

run: build
	$(VENV)/bin/ikesrv serve

# test peers: strongSwan, libreswan (unpacked), ike-scan, slapd, tshark, Prometheus
lab:
	@tests/harness/apt-ensure.sh peers

test: lab build
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: build
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

# bench e2e's like-for-like baseline: strongSwan with the load-tester's fake_kernel
bench: lab build
	@bench/build-charon-fake-kernel.sh
	$(PY) -m bench

clean:
	rm -rf $(VENV) build *.egg-info ikesrv/_fast/*.c ikesrv/_fast/*.so ikesrv/_fast/*.html
