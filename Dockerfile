# Multi-stage build: compile with the Debian toolchain image, run on a slim image as a
# non-root user. Configure with environment variables (see README.md); for production
# set PAYERWATCH_ENV=production, DATABASE_URL, PAYERWATCH_SECRET_KEY and
# PAYERWATCH_ALLOWED_HOSTS.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
RUN cargo build --release --locked --bin payerwatch

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/payerwatch --uid 10001 payerwatch
COPY --from=build /src/target/release/payerwatch /usr/local/bin/payerwatch
USER payerwatch
WORKDIR /var/lib/payerwatch
ENV PAYERWATCH_BIND=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///var/lib/payerwatch/payerwatch.db
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/payerwatch"]
CMD ["serve"]
