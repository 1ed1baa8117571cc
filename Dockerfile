# syntax=docker/dockerfile:1
# The service's image (the default target) and dinero-sim's (`--target dinero-sim`).
#   docker build -t dinero-bridge .
#   docker build --target dinero-sim -t dinero-sim .
# Dependencies are compiled in a layer of their own (cargo-chef): a change to src/ rebuilds
# only the workspace's crates. The runtime holds the release binary and nothing to build with.

FROM rust:1.95.0-slim-bookworm AS chef
# rdkafka builds librdkafka from source with its configure script and make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --version 0.1.73 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --workspace --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin dinero-bridge --bin dinero-sim

FROM debian:12.11-slim AS runtime-base
# A numeric user, so Kubernetes can check runAsNonRoot; its home is the data directory.
RUN mkdir -p /var/lib/dinero-bridge \
    && chown 10001:10001 /var/lib/dinero-bridge
WORKDIR /var/lib/dinero-bridge
USER 10001:10001

FROM runtime-base AS dinero-sim
COPY --from=builder /src/target/release/dinero-sim /usr/local/bin/dinero-sim
RUN ["/usr/local/bin/dinero-sim", "--version"]
EXPOSE 8090
ENTRYPOINT ["/usr/local/bin/dinero-sim"]
CMD ["--listen", "0.0.0.0:8090"]

FROM runtime-base AS dinero-bridge
COPY --from=builder /src/target/release/dinero-bridge /usr/local/bin/dinero-bridge
COPY config/dinero-bridge.toml /usr/share/doc/dinero-bridge/dinero-bridge.toml
# The smoke step: the binary runs on this base (its libraries are all there).
RUN ["/usr/local/bin/dinero-bridge", "--version"]
# In a container the service listens on every interface; the Helm chart's ports match.
ENV DINERO_BRIDGE__HTTP__LISTEN=0.0.0.0:8080
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/dinero-bridge"]
CMD ["serve"]
