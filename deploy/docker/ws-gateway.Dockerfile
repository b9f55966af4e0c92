# syntax=docker/dockerfile:1
# ws-gateway image. Build from the repository root:
#   docker build -f deploy/docker/ws-gateway.Dockerfile -t autosync/ws-gateway:dev .
# Stage 1 installs exactly what deploy/local/install-deps installs and builds the release preset;
# stage 2 is Debian 12 slim with only the shared libraries the binary needs (checked against
# ldd by tests/deploy/ldd-coverage.sh), running as uid 10001.
FROM debian:bookworm-slim AS build
COPY deploy/local/install-deps /tmp/install-deps
RUN /tmp/install-deps && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DAUTOSYNC_BUILD_TESTS=OFF \
 && cmake --build --preset release --target ws-gateway \
 && strip --strip-debug build/release/bin/ws-gateway

FROM debian:bookworm-slim
# Only the shared libraries of the binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libfmt9 libgrpc++1.51 libgrpc29 libpq5 libpqxx-6.4 \
      libprometheus-cpp-core1.0 libprotobuf32 libsimdjson14 libspdlog1.10 libstdc++6 \
      libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin autosync
COPY --from=build /src/build/release/bin/ws-gateway /usr/local/bin/ws-gateway
# The dashboard's static files, the whole folder: index.html, app.js and the ES modules it imports
# from js/, styles, vendor/ (web/README.md lists them). --web_root points at them (the built-in
# default is the source tree's path, which does not exist in the image).
COPY --from=build /src/ws-gateway/web /usr/local/share/autosync/web
ENV AUTOSYNC_WEB_ROOT=/usr/local/share/autosync/web
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ws-gateway"]
