# turnpike: one image, three roles (town, provider, requester).
# Built elsewhere (this project's CI machines have no Docker engine); `deno compile` needs to
# download its runtime, which a normal build host can.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno compile --frozen -A --unstable-worker-options --include stages --include pipeline \
      --include fixtures --output /out/turnpike cli.ts

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates tar gzip \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home turnpike
COPY --from=build /out/turnpike /usr/local/bin/turnpike
USER turnpike
ENV TURNPIKE_HOME=/home/turnpike/.turnpike
# 7100: NIP-01/HTTP of a town; 3000: its BTP server.
EXPOSE 7100 3000
ENTRYPOINT ["turnpike"]
CMD ["--help"]
