# syntax=docker/dockerfile:1
# Datastream's image: one static binary on a distroless base, run as a
# non-root user. Every component is a command of it:
#   docker build -t datastream .
#   docker run --rm datastream version
# docker-compose.yml runs the three components with RabbitMQ and MySQL.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
ARG COMMIT=unknown
# -trimpath and no cgo: a static binary that holds no path of the builder.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/datastream ./cmd/datastream
RUN /out/datastream version && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/datastream /usr/local/bin/datastream
# The producer's read positions (mount a volume here to keep them).
COPY --from=build --chown=65532:65532 /out/state /var/lib/datastream
USER 65532:65532
WORKDIR /var/lib/datastream
ENV DATASTREAM_METRICS_LISTEN=:9464
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s CMD ["/usr/local/bin/datastream", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/datastream"]
CMD ["--help"]
