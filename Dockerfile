# One image for every c8s service; each Deployment picks its process with
# `command: [python, -m, services.<name>]` (deploy/5*.yaml).
#
# Build: docker build -t c8s .      Slim, non-root (uid 10001, matching the manifests' runAsUser),
# no compilers or git in the final stage. The sources stay under /app (the working directory, first
# on sys.path for `python -m`) so Tilt's live_update can sync changed modules into a running pod.
# BASE_IMAGE: any image with python3.11 on PATH and a pip >= 22.3 (for --python), like the official
# one; the test cluster (tests/cluster) passes one it builds from Debian packages, as no public registry
# is reachable there.
# c8s and its dependencies go into a virtual environment at /opt/c8s (its bin/ first on PATH), not into
# the interpreter's prefix: `pip install --prefix` lands in a scheme that depends on the base (Debian's
# python writes <prefix>/local/lib/python3.11/dist-packages, the official image
# <prefix>/lib/python3.11/site-packages), a venv's layout is the same on both. The venv is made
# --without-pip (Debian's python has no ensurepip) and filled by the base's pip through --python; it
# points at the base's interpreter, which the final stage has at the same path (same BASE_IMAGE).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api/ api/
COPY events/ events/
COPY projections/ projections/
COPY steps/ steps/
COPY ports/ ports/
COPY adapters/ adapters/
COPY services/ services/
COPY c8s/ c8s/
RUN python -m venv --without-pip /opt/c8s \
 && pip --python /opt/c8s/bin/python install --no-cache-dir .

FROM ${BASE_IMAGE}
ENV PATH=/opt/c8s/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    C8S_MODE=kubernetes
RUN groupadd --gid 10001 c8s \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin c8s
COPY --from=build /opt/c8s /opt/c8s
# APP_OWNER: who owns /app. Root (the default): the services cannot change their code. The Tiltfile
# passes 10001:10001 so that Tilt's live_update, which syncs files as the container's user, may.
ARG APP_OWNER=0:0
COPY --chown=${APP_OWNER} --from=build /src/ /app/
WORKDIR /app
USER 10001:10001
EXPOSE 8080 8443 9090
CMD ["c8s", "--help"]
