# The one `acikkapi` binary in a small, non-root runtime image.
#   docker build -t acikkapi:0.1.0 .
# Every service runs from it: `acikkapi serve --services <name>`.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# protoc is vendored (crates/proto); only a C compiler for the -sys crates.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p acikkapi --bin acikkapi \
 && cp target/release/acikkapi /acikkapi

# glibc, CA roots and tzdata, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /acikkapi /usr/local/bin/acikkapi
USER 10001:10001
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/acikkapi"]
CMD ["serve"]
