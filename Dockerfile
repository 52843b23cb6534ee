# api-proxy container image: `docker compose up -d` (see docker-compose.yml), or
#   docker build -t api-proxy . && docker run -p 127.0.0.1:3000:3000 -v "$PWD/data:/data" api-proxy

# ---- build ----------------------------------------------------------------------------------------
# The binary is built by scripts/build-release.sh, the script ./start.sh runs (tested natively by
# tests/first-start/run.sh); only the profile differs (`release`: fat LTO, one codegen unit). The
# dashboard is the build shipped in dashboard/prebuilt (checked against its sources by
# scripts/check-dashboard-prebuilt.sh), so no trunk is needed here.
FROM rust:1-slim-bookworm AS builder
WORKDIR /src
# jemalloc (api-proxy's allocator) is built from source with make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, against stub sources: this layer is rebuilt only when a Cargo.toml or
# Cargo.lock changes, not on every source edit.
COPY Cargo.toml Cargo.lock ./
# Build settings, among them the bundled SQLite's compile flags.
COPY .cargo/ .cargo/
COPY server/Cargo.toml server/Cargo.toml
COPY shared/Cargo.toml shared/Cargo.toml
COPY bench/mock-upstream/Cargo.toml bench/mock-upstream/Cargo.toml
COPY dashboard/Cargo.toml dashboard/Cargo.toml
COPY bench/loadgen/Cargo.toml bench/loadgen/Cargo.toml
COPY bench/bare-forwarder/Cargo.toml bench/bare-forwarder/Cargo.toml
RUN mkdir -p server/src shared/src bench/mock-upstream/src bench/loadgen/src bench/bare-forwarder/src dashboard/src \
    && echo 'fn main() {}' > server/build.rs \
    && echo 'fn main() {}' > server/src/main.rs \
    && echo 'fn main() {}' > dashboard/src/main.rs \
    && echo 'fn main() {}' > bench/loadgen/src/main.rs \
    && echo 'fn main() {}' > bench/bare-forwarder/src/main.rs \
    && mkdir -p server/benches && echo 'fn main() {}' > server/benches/hot_paths.rs \
    && touch server/src/lib.rs shared/src/lib.rs bench/mock-upstream/src/lib.rs \
    && cargo build --locked --profile release -p api-proxy \
    && rm -rf server/build.rs server/src server/benches shared/src bench/mock-upstream/src bench/loadgen/src bench/bare-forwarder/src dashboard/src

# The real sources (a dashboard/dist built on the host stays out: .dockerignore). Touching the
# crate roots makes cargo rebuild them over the stubs, whatever modification times COPY kept.
COPY . .
RUN touch server/build.rs server/src/main.rs server/src/lib.rs shared/src/lib.rs \
    && scripts/build-release.sh --profile release \
    && install -m 0755 target/release/api-proxy /usr/local/bin/api-proxy

# ---- run ------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin apiproxy \
    && mkdir -p /data \
    && chown apiproxy:apiproxy /data \
    && chmod 0700 /data

WORKDIR /app
COPY --from=builder /usr/local/bin/api-proxy /usr/local/bin/api-proxy
COPY configs/ /app/configs/

# Listening on every interface inside the container: client keys are then required on /v1
# (POST /api/client_keys). Publish the port on 127.0.0.1 only unless you mean to share it.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATABASE_PATH=/data/api-proxy.db
VOLUME /data
EXPOSE 3000
USER apiproxy
# SIGTERM (docker stop) drains in-flight requests before exiting.
STOPSIGNAL SIGTERM
CMD ["api-proxy"]
