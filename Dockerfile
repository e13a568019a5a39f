# syntax=docker/dockerfile:1.7
# The `convene` image: one binary for every role (gateway, sfu, migrate, serve) and the web UI.
#
#   docker build -t ghcr.io/convene-dev/convene:0.1.0 .
#
# Stages: the web UI (Node 20), the release binary (Rust, with cache mounts so rebuilds reuse
# the registry and target directory), and a distroless runtime that runs as uid 65532.

# ---- Web UI -------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src
# The UI imports the generated wire types from the Rust crates.
COPY crates/proto/typescript/ crates/proto/typescript/
COPY crates/gateway/typescript/ crates/gateway/typescript/
COPY web/package.json web/package-lock.json web/
RUN --mount=type=cache,target=/root/.npm cd web && npm ci --no-audit --no-fund
COPY web/ web/
RUN cd web && npm run build

# ---- convene --------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# aws-lc-sys (JWT signing) may fall back to CMake and needs a C toolchain.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates/ crates/
# Other workspace members: cargo needs their manifests even when building one package.
COPY operator/ operator/
COPY loadtest/ loadtest/
COPY docs/configuration.md docs/configuration.md
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p convene-server --bin convene \
 && install -D -m 0755 target/release/convene /out/convene

# ---- Runtime ----------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/convene /usr/local/bin/convene
COPY --from=web /src/web/dist /usr/share/convene/web
# CONVENE_WEB_DIR: the binary's built-in default is the source tree's web/dist, which does not
# exist here. The data directory only matters for `convene serve` (SQLite, generated key).
ENV CONVENE_WEB_DIR=/usr/share/convene/web \
    CONVENE_HTTP_ADDR=0.0.0.0:8080 \
    CONVENE_DATA_DIR=/home/nonroot/data
USER 65532:65532
# 8080 HTTP (API, WebSocket, UI, /metrics); 8090 the SFU's control API; 7882/udp SFU media.
EXPOSE 8080 8090 7882/udp
ENTRYPOINT ["/usr/local/bin/convene"]
CMD ["serve"]
