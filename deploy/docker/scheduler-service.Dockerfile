# syntax=docker/dockerfile:1
# scheduler-service image. Build from the repository root:
#   docker build -f deploy/docker/scheduler-service.Dockerfile -t autosync/scheduler-service:dev .
# Stage 1 installs exactly what deploy/local/install-deps installs and builds the release preset;
# stage 2 is Debian 12 slim with only the shared libraries the binary needs (checked against
# ldd by tests/deploy/ldd-coverage.sh), running as uid 10001.
FROM debian:bookworm-slim AS build
COPY deploy/local/install-deps /tmp/install-deps
RUN /tmp/install-deps && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release -DAUTOSYNC_BUILD_TESTS=OFF \
 && cmake --build --preset release --target scheduler-service \
 && strip --strip-debug build/release/bin/scheduler-service

FROM debian:bookworm-slim
# tzdata: schedules are evaluated in IANA time zones (/usr/share/zoneinfo). libcurl4 and libssl3
# (libcrypto): notification webhooks are POSTed with libcurl and signed with OpenSSL's HMAC;
# ca-certificates: their https:// receivers are verified.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libcurl4 libfmt9 libgrpc++1.51 libgrpc29 libpq5 libpqxx-6.4 \
      libprometheus-cpp-core1.0 libprotobuf32 libspdlog1.10 libssl3 libstdc++6 \
      ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin autosync
COPY --from=build /src/build/release/bin/scheduler-service /usr/local/bin/scheduler-service
USER 10001:10001
EXPOSE 50051 9101
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/scheduler-service"]
