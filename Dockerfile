# syntax=docker/dockerfile:1
#
# Gatehouse API server image.
#
#   docker build -t gatehouse .
#   docker run -p 5000:5000 -v gatehouse-data:/data gatehouse
#
# Configure with GATEHOUSE_* variables (see config.yaml), or mount a file and
# pass --config: docker run ... gatehouse --config /etc/gatehouse.yaml serve

# The builder's Go matches go.mod's go line.
FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (pure-Go SQLite), reproducible paths, no symbol tables. CI runs the
# same command.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse
# The data directory is made here because the final image has no shell; it
# is copied with nonroot's ownership so the server can create its database.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
COPY --from=build --chown=65532:65532 /out/data /data
# Listen on every interface: inside a container, 127.0.0.1 is unreachable
# from the host. The database lives on the /data volume.
ENV GATEHOUSE_SERVER_ADDR=0.0.0.0:5000
ENV GATEHOUSE_IDENTITY_LOCAL_DATABASE=/data/gatehouse.db
VOLUME ["/data"]
EXPOSE 5000
USER nonroot:nonroot
# The working directory is / and holds no config.yaml: defaults and
# GATEHOUSE_* variables apply unless --config is given.
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
