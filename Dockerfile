# benecafe-sim container image.
#
#   docker build --build-arg SIM_GIT_COMMIT="$(git rev-parse HEAD)" -t benecafe-sim .
#   docker run --rm --network host -e SIM_CONTROL_TOKEN=change-me benecafe-sim
#
# With --network host (Linux) partners on the same machine call it from 127.0.0.1, which the
# shipped vendors allow. Published ports (-p 8080:8080 -p 8443:8443) work too, but the cert calls
# then come from Docker's network, not 127.0.0.1: add that to the vendor's allowedIps.
#
# Two stages: `build` compiles the simulator in a Rust image, `runtime` is a slim Debian with
# the binary, the shipped fixtures and a non-root user (uid 10001).
#
# Using a binary built on the host instead (what .ci/image-smoke does, offline): the `build`
# stage then only picks up target/release/benecafe-sim from the build context, and the
# `runtime` stage is exactly the same.
#
#   cargo build --release
#   docker build --build-arg BINARY=prebuilt \
#     --build-arg RUST_IMAGE=debian:bookworm-slim -t benecafe-sim .
#
# The binary is linked against the host's glibc: build it on Debian 12 (or older) for the
# Debian 12 runtime. This is a build argument rather than a separate stage because the classic
# builder (DOCKER_BUILDKIT=0, docker.io 20.10 on Debian 12) runs every stage before the target,
# so a stage that needs the host binary, or one that needs the Rust image, would break the other
# path there. Both paths work with the classic builder and with BuildKit.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
# `compile`: cargo build --release --locked here. `prebuilt`: use target/release/benecafe-sim
# from the build context (.dockerignore lets that one file of target/ through).
ARG BINARY=compile
# The commit GET /_sim/version reports (the build context holds no .git): optional.
ARG SIM_GIT_COMMIT=
WORKDIR /src
COPY . .
RUN set -eu; \
    case "$BINARY" in \
      compile) cargo build --release --locked --bin benecafe-sim ;; \
      prebuilt) test -x target/release/benecafe-sim \
                  || { echo "BINARY=prebuilt: no target/release/benecafe-sim in the build context; run cargo build --release first" >&2; exit 1; } ;; \
      *) echo "BINARY must be compile or prebuilt, not '$BINARY'" >&2; exit 1 ;; \
    esac; \
    install -D -m 0755 target/release/benecafe-sim /out/benecafe-sim

FROM ${RUNTIME_IMAGE} AS runtime
LABEL org.opencontainers.image.title="benecafe-sim" \
      org.opencontainers.image.description="A local stand-in for the eZenedu welfare mall (benecafe) as its partner vendors see it" \
      org.opencontainers.image.licenses="MIT"
# No apt here: TLS is rustls with the simulator's own certificate (nothing to verify against a
# CA store), so the image needs nothing beyond the base, and it builds offline.
RUN groupadd --gid 10001 benecafe \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --no-log-init \
      --shell /usr/sbin/nologin benecafe \
 && mkdir -p /data \
 && chown 10001:10001 /data \
 && chmod 0750 /data
COPY fixtures/ /usr/share/benecafe-sim/fixtures/
COPY --from=build /out/benecafe-sim /usr/local/bin/benecafe-sim

ENV SIM_HTTP_ADDR=0.0.0.0:8080 \
    SIM_HTTPS_ADDR=0.0.0.0:8443 \
    SIM_FIXTURES=/usr/share/benecafe-sim/fixtures \
    SIM_DATA_DIR=/data \
    SIM_LOG_FORMAT=json
# The generated certificate and key (and a --state file, if one is put there). A new volume
# takes the ownership above, so the non-root user can write it; a bind mount must be writable
# by uid 10001.
VOLUME ["/data"]
EXPOSE 8080 8443
USER 10001:10001
# On SIGTERM the simulator first drains (with a Redis store: not ready for SIM_DRAIN_SECONDS,
# default 5, while still serving), then stops accepting, lets requests in flight finish (up to
# 10 s) and saves state. A second SIGTERM stops it at once.
STOPSIGNAL SIGTERM
# Ready: the store answers and no stop is under way. No curl in the image: bash's /dev/tcp asks
# the plain-HTTP listener, on the port of SIM_HTTP_ADDR, for /_sim/readyz and wants a 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["bash", "-c", "port=${SIM_HTTP_ADDR##*:}; exec 3<>\"/dev/tcp/127.0.0.1/$port\" && printf 'GET /_sim/readyz HTTP/1.0\\r\\nHost: 127.0.0.1:%s\\r\\n\\r\\n' \"$port\" >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/benecafe-sim"]
