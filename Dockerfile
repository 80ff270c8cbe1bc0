# One image for every certrenew process: the command chooses the role
# (`certrenew scheduler`, `certrenew worker`, `certrenew scan`, ...).
#
# Build:  docker build -t certrenew:0.1.0 .
# Run:    docker run --rm --read-only --tmpfs /tmp certrenew:0.1.0 --help

# --- builder: resolve the locked dependencies into /app/.venv -----------------
FROM python:3.11-slim-bookworm AS builder

# uv comes from PyPI, pinned, so the build needs no other download source.
RUN pip install --no-cache-dir "uv==0.13.8"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies first, from the lock file alone, so that a code change
# reuses this layer.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --all-extras --no-install-project

# Then the project itself, installed non-editable into the same venv.
COPY certrenew ./certrenew
COPY scheduler ./scheduler
COPY worker ./worker
COPY sandbox ./sandbox
RUN uv sync --frozen --no-dev --all-extras --no-editable

# --- runtime: the venv on a slim Python, nothing else -------------------------
FROM python:3.11-slim-bookworm AS runtime

# tini forwards SIGTERM to certrenew and reaps children (Dramatiq forks its
# worker processes), so a drain on SIGTERM works as PID 1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 certrenew \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent \
        --no-create-home --shell /usr/sbin/nologin certrenew

COPY --from=builder /app/.venv /app/.venv

# Bytecode was compiled at build time; at run time the root filesystem is
# read-only, so Python must not try to write .pyc files. Scratch space is /tmp
# (an emptyDir in Kubernetes).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CERTRENEW_CONFIG=/etc/certrenew/certrenew.toml \
    TMPDIR=/tmp

WORKDIR /tmp
USER 10001:10001

# 8080: the scheduler's status page, /metrics, /healthz, /readyz.
# 9191: a worker's Prometheus metrics (Dramatiq's middleware).
EXPOSE 8080 9191

ENTRYPOINT ["/usr/bin/tini", "--", "certrenew"]
CMD ["--help"]
