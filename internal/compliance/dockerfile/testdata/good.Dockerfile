# syntax=docker/dockerfile:1
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY . .
RUN go build -o /app ./cmd/app

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://example.com/tool.tgz /opt/
ENV APP_HOME=/app GPG_KEY=ABCDEF
USER 10001:10001
HEALTHCHECK CMD ["/app", "-health"]

FROM runtime
COPY --from=build /app /app
ENTRYPOINT ["/app"]
