# syntax=docker/dockerfile:1
# store-sim image. Build from the repository root:
#   docker build -f deploy/docker/store-sim.Dockerfile -t autosync/store-sim:dev .
# Stage 1 installs exactly what deploy/local/install-deps installs and builds the release preset;
# stage 2 is Debian 12 slim with only the shared libraries the binary needs (checked against
# ldd by tests/deploy/ldd-coverage.sh), running as uid 10001.
FROM debian:bookworm-slim AS build
COPY deploy/local/install-deps /tmp/install-deps
RUN /tmp/install-deps && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DAUTOSYNC_BUILD_TESTS=OFF \
 && cmake --build --preset release --target store-sim \
 && strip --strip-debug build/release/bin/store-sim

FROM debian:bookworm-slim
# store-sim: the fake store APIs for the dev overlay and demos, not a production service.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libsimdjson14 libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin autosync
COPY --from=build /src/build/release/bin/store-sim /usr/local/bin/store-sim
USER 10001:10001
EXPOSE 8090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/store-sim"]
