# turnpike: one image, three roles (town, provider, requester).
#
# It runs as the unprivileged user `turnpike`: a provider in it uses the rootless skill sandbox,
# which needs user namespaces and a fresh /proc inside the container (docs/OPERATIONS.md):
#   docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined turnpike node up ...
# Skills are Deno scripts, so the image keeps Deno itself rather than a `deno compile` binary.
#
# Building needs Docker Hub (the two images below), Debian's apt mirrors and the npm registry
# (docs/OPERATIONS.md "Installing"); behind a mirror:
#   docker build --build-arg DENO_IMAGE=<mirror>/denoland/deno:bin-2.9.6 \
#     --build-arg BASE=<mirror>/debian:bookworm-slim -t turnpike .
ARG BASE=debian:bookworm-slim
ARG DENO_IMAGE=denoland/deno:bin-2.9.6
FROM ${DENO_IMAGE} AS deno

FROM ${BASE}
# util-linux (unshare, setpriv, mount, pivot_root) and bash build the sandbox; git, tar and gzip
# serve the ci-run skill.
RUN apt-get update && apt-get install -y --no-install-recommends \
      bash ca-certificates git gzip tar util-linux mount \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 turnpike
COPY --from=deno /deno /usr/local/bin/deno
WORKDIR /opt/turnpike
RUN chown turnpike:turnpike /opt/turnpike
USER turnpike
ENV DENO_DIR=/home/turnpike/.cache/deno DENO_NO_UPDATE_CHECK=1 \
    TURNPIKE_HOME=/home/turnpike/.turnpike
COPY --chown=turnpike:turnpike deno.json deno.lock ./
RUN deno install --frozen
COPY --chown=turnpike:turnpike . .
RUN deno cache cli.ts
# 7100: NIP-01/HTTP of a town; 3000: its BTP server.
EXPOSE 7100 3000
ENTRYPOINT ["deno", "run", "-A", "--config", "/opt/turnpike/deno.json", "/opt/turnpike/cli.ts"]
CMD ["--help"]
