# The one `acikkapi` binary in a small, non-root runtime image.
#   docker build -t acikkapi:0.1.0 .          (compiles inside, public bases)
#   make image                                 (this machine: podman, a base
#                                               from Debian's packages, the
#                                               host's release binary)
# Every service runs from it: `acikkapi serve --services <name>`.
# The bases are build arguments, so a registry's mirror or a local base
# made from Debian's packages (scripts/image/base.sh) can stand in.
ARG BUILD_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# protoc is vendored (crates/proto); only a C compiler for the -sys crates.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . .
ARG ACIKKAPI_COMMIT=unknown
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    ACIKKAPI_COMMIT=${ACIKKAPI_COMMIT} cargo build --release --locked -p acikkapi --bin acikkapi \
 && cp target/release/acikkapi /acikkapi

# A release binary built on the host (`make image`), from a context that
# holds only it: `--target prebuilt`.
FROM ${RUNTIME_IMAGE} AS prebuilt
COPY acikkapi /usr/local/bin/acikkapi
USER 10001:10001
ENV TZ=Europe/Istanbul
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/acikkapi"]
CMD ["serve"]

# glibc, CA roots and tzdata, nothing else: no shell, no package manager.
FROM ${RUNTIME_IMAGE}
COPY --from=build /acikkapi /usr/local/bin/acikkapi
USER 10001:10001
ENV TZ=Europe/Istanbul
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/acikkapi"]
CMD ["serve"]
