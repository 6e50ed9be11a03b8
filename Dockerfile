# syntax=docker/dockerfile:1
# The service image (docker-compose.yml, deploy/helm/batch-service).
#
# Only the service goes in: schemas, services, consumers, producers, api, telemetry. Not
# devstack (the local Kafka + FerretDB stack), testkit, tests, bench, faults or examples: they
# are not copied, and setuptools' package discovery (pyproject [tool.setuptools.packages.find]
# include = [...]) only takes the packages that exist, so none of them is installed.
# deploy/check.sh checks that every other package of that list is copied.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY schemas schemas
COPY services services
COPY consumers consumers
COPY producers producers
COPY api api
COPY telemetry telemetry
# Versions pinned by constraints.txt; the build fails if devstack got in anyway.
RUN /opt/venv/bin/pip install -c constraints.txt . \
 && cd / \
 && /opt/venv/bin/batch-service --help >/dev/null \
 && ! /opt/venv/bin/python -c "import devstack" 2>/dev/null

FROM python:3.11-slim
LABEL org.opencontainers.image.title="batch-service" \
      org.opencontainers.image.description="Folds course-batch facts from Kafka into MongoDB and announces certificate eligibility" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 batch \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin batch
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BATCH_SERVICE_HTTP_HOST=0.0.0.0 \
    BATCH_SERVICE_HTTP_PORT=8080
WORKDIR /tmp
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# The API, /healthz, /readyz and /metrics.
EXPOSE 8080
# No curl in slim: the standard library. /healthz answers 503 (urlopen raises) when the
# consumer loop has made no progress recently.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BATCH_SERVICE_HTTP_PORT', '8080'), timeout=3)"]
ENTRYPOINT ["batch-service"]
CMD ["run"]
