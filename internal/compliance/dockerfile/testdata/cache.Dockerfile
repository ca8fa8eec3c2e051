FROM python:3.13-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111
RUN --mount=type=cache,target=/var/lib/apt,sharing=locked \
    apt-get update && apt-get install -y -o APT::Install-Recommends=false git
HEALTHCHECK NONE
USER app
