# Interlock container image: the HTTP API, the watcher and the archiver (`interlock serve`).
#
#   docker build -t interlock .
#   docker run --rm -p 3000:3000 -e INTERLOCK_API_KEY=change-me \
#     -v "$PWD/interlock.yaml:/project/interlock.yaml:ro" \
#     -v "$PWD/pipelines:/project/pipelines:ro" -v "$PWD/evaluators:/project/evaluators:ro" interlock
#
# Configuration: the project lives in /project (the working directory). Mount interlock.yaml there,
# with the archetypes/, pipelines/, evaluators/ and calendars/ directories it names; anything written
# as ${VAR} or ${VAR:-default} in it is read from the container's environment. /data is a writable
# volume for what the server writes (an SQLite store, a file alert log).
#
# Environment:
#   INTERLOCK_API_KEY     API token (X-API-Key or Authorization: Bearer). Required: the default
#                         command listens on 0.0.0.0, which `interlock serve` refuses without a token
#                         (or server.apiKey in interlock.yaml) unless run with --insecure.
#   INTERLOCK_PUBLIC_URL  the URL orchestrators use to reach this server for completion callbacks
#                         (default: this container's host name and port).
#   INTERLOCK_HEALTH_URL  what the health check asks (default http://127.0.0.1:3000/api/health).
#
# Other commands run the same way: `docker run ... interlock validate`, `... interlock status`.

ARG PYTHON_VERSION=3.11

# ---- builder: a wheel of this project -----------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# .dockerignore lets through only what the wheel is built from.
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime --------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

ARG VERSION=0.1.0

LABEL org.opencontainers.image.title="interlock" \
      org.opencontainers.image.description="Readiness gate for data pipelines: evaluate readiness traits, then trigger exactly once." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INTERLOCK_HEALTH_URL=http://127.0.0.1:3000/api/health

RUN groupadd --system --gid 10001 interlock \
    && useradd --system --uid 10001 --gid interlock --home-dir /home/interlock --create-home \
       --shell /usr/sbin/nologin interlock

COPY --from=builder /wheels/ /tmp/wheels/
# The dependency versions tested with (deploy/constraints.txt; pyproject.toml holds the floors).
COPY --from=builder /src/deploy/constraints.txt /tmp/constraints.txt
# Next to Interlock: the PostgreSQL driver of the archiver. Byte code is compiled here, at install
# time, because the non-root user cannot write it at run time.
RUN pip install -c /tmp/constraints.txt /tmp/wheels/*.whl "psycopg[binary]>=3.2" \
    && rm -rf /tmp/wheels /tmp/constraints.txt /root/.cache \
    && mkdir -p /project /data \
    && chown interlock:interlock /project /data

WORKDIR /project
# numeric, so a runtime can check it is not root (Kubernetes runAsNonRoot)
USER 10001:10001
EXPOSE 3000

# 200 when the store answers and the watcher is alive; 503 (urlopen raises) when degraded.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['INTERLOCK_HEALTH_URL'], timeout=4)"]

ENTRYPOINT ["interlock"]
CMD ["serve", "--host", "0.0.0.0"]
