# syntax=docker/dockerfile:1
#
# Gatehouse image: one static binary that runs the API server (the default)
# or the directory.
#
#   docker build -t gatehouse .
#   docker run -p 5000:5000 -v gatehouse-data:/data gatehouse
#   docker run -p 8080:8080 -v directory-data:/data gatehouse directory serve
#
# Configure with GATEHOUSE_* variables (see config.yaml), or mount a file and
# pass --config: docker run ... gatehouse --config /etc/gatehouse.yaml serve
# cmd/gatehouse/examples/compose.yaml runs the directory on PostgreSQL,
# Redis and an API server together.

# The builder's Go matches go.mod's go line.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (pure-Go SQLite, no cgo), reproducible paths, no symbol tables. CI
# runs the same command.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse
# The data directory is made here because the final image has no shell; it
# is copied with nonroot's ownership so the server can create its database.
RUN mkdir -p /out/data

# Distroless static: no shell, no package manager, CA certificates for an
# https:// directory, and the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /out/data /data
# Listen on every interface: inside a container, 127.0.0.1 is unreachable
# from the host. The SQLite databases live on the /data volume.
ENV GATEHOUSE_SERVER_ADDR=0.0.0.0:5000 \
    GATEHOUSE_IDENTITY_LOCAL_DATABASE=/data/gatehouse.db \
    GATEHOUSE_DIRECTORY_ADDR=0.0.0.0:8080 \
    GATEHOUSE_DIRECTORY_DATABASE=/data/gatehouse-directory.db
VOLUME ["/data"]
EXPOSE 5000 8080
USER 65532:65532
# SIGTERM (docker stop) makes the server finish in-flight requests for up to
# server.shutdown_timeout (10 s) before it exits: give docker stop a longer
# grace period (--stop-timeout 15) so it never kills a clean shutdown.
STOPSIGNAL SIGTERM
# Liveness of the API server at server.addr (over HTTPS when server.tls is
# set). The directory's container checks with "healthcheck --directory".
# /healthz, not /readyz: an unreachable directory or database is not cured by
# restarting this container.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck", "--timeout", "3s"]
# The working directory is / and holds no config.yaml: defaults and
# GATEHOUSE_* variables apply unless --config is given.
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
