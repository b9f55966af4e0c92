# syntax=docker/dockerfile:1
# sync-worker image. Build from the repository root:
#   docker build -f deploy/docker/sync-worker.Dockerfile -t autosync/sync-worker:dev .
# Stage 1 installs exactly what deploy/local/install-deps installs and builds the release preset;
# stage 2 is Debian 12 slim with only the shared libraries the binary needs (checked against
# ldd by tests/deploy/ldd-coverage.sh), running as uid 10001.
FROM debian:bookworm-slim AS build
COPY deploy/local/install-deps /tmp/install-deps
RUN /tmp/install-deps && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DAUTOSYNC_BUILD_TESTS=OFF \
 && cmake --build --preset release --target sync-worker \
 && strip --strip-debug build/release/bin/sync-worker

FROM debian:bookworm-slim
# ca-certificates: the worker calls the store APIs over HTTPS and verifies their certificates.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libfmt9 libgrpc++1.51 libgrpc29 libpq5 libpqxx-6.4 \
      libprometheus-cpp-core1.0 libprotobuf32 libspdlog1.10 libstdc++6 \
      libcurl4 libsimdjson14 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin autosync
COPY --from=build /src/build/release/bin/sync-worker /usr/local/bin/sync-worker
USER 10001:10001
EXPOSE 50052 9102
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sync-worker"]
