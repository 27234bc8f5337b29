# turnpike: one image, three roles (town, provider, requester), with anvil for `turnpike demo`.
#
# It runs as the unprivileged user `turnpike`: a provider in it uses the rootless skill sandbox,
# which needs user namespaces and a fresh /proc inside the container (docs/OPERATIONS.md
# "The image"):
#   docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined turnpike node up ...
# Skills are Deno scripts, so the image keeps Deno itself rather than a `deno compile` binary.
#
# The two images below come from Docker Hub by default. With no registry, `deno task image`
# makes both here (a Debian base by debootstrap, Deno from npm) and builds with them; behind a
# mirror, name them: --build-arg DENO_IMAGE=<mirror>/denoland/deno:bin-2.9.6
# --build-arg BASE=<mirror>/debian:bookworm-slim. The RUN steps need Debian's apt mirrors and
# the npm registry (`docker build --network host` on an engine without a bridge).
ARG BASE=debian:bookworm-slim
ARG DENO_IMAGE=denoland/deno:bin-2.9.6
FROM ${DENO_IMAGE} AS deno

# anvil, as tools/package.json pins it (the npm package's binary for this platform), for the
# demo's local chain; copied out of Deno's node_modules layout to where tools/ installs it.
FROM ${BASE} AS anvil
# Deno's roots for the npm registry: its own (mozilla) by default; `deno task image` adds `system`,
# so a TLS-inspecting proxy whose CA the base carries is trusted as on the host.
ARG DENO_TLS_CA_STORE=mozilla
COPY --from=deno /deno /usr/local/bin/deno
COPY tools/package.json /tmp/tools-package.json
WORKDIR /opt/anvil
RUN deno eval 'const { dependencies: d } = JSON.parse(Deno.readTextFileSync("/tmp/tools-package.json")); \
      Deno.writeTextFileSync("package.json", JSON.stringify({ dependencies: { "@foundry-rs/anvil": d["@foundry-rs/anvil"] } }));' \
    && deno install \
    && mkdir /out \
    && cp -rL node_modules/.deno/@foundry-rs+anvil-*/node_modules/@foundry-rs/anvil-* /out/ \
    && /out/anvil-*/bin/anvil --version

FROM ${BASE}
# util-linux (unshare, setpriv, mount, pivot_root) and bash build the sandbox; git, tar and gzip
# serve the ci-run skill; libsecp256k1-1 verifies the town's paid writes natively
# (protocol/native_schnorr.ts); libargon2-1 derives the passphrase's key (identity/native_argon2.ts).
RUN apt-get update && apt-get install -y --no-install-recommends \
      bash ca-certificates git gzip tar util-linux mount libsecp256k1-1 libargon2-1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 turnpike
COPY --from=deno /deno /usr/local/bin/deno
RUN printf '#!/bin/sh\nexec deno run -A --config /srv/turnpike/deno.json /srv/turnpike/cli.ts "$@"\n' \
      > /usr/local/bin/turnpike \
    && chmod 755 /usr/local/bin/turnpike
# Not under /opt/turnpike: a skill's sandbox mounts its Deno and cache there
# (roles/provider/sandbox/sandbox_mounts.ts), over the project it binds at its own path.
WORKDIR /srv/turnpike
RUN chown turnpike:turnpike /srv/turnpike
USER turnpike
# The profiles' root exists in the image, so a named volume mounted there belongs to turnpike.
RUN mkdir -p /home/turnpike/.turnpike
ENV DENO_DIR=/home/turnpike/.cache/deno DENO_NO_UPDATE_CHECK=1 \
    TURNPIKE_HOME=/home/turnpike/.turnpike
ARG DENO_TLS_CA_STORE=mozilla
COPY --chown=turnpike:turnpike deno.json deno.lock ./
RUN deno install --frozen
COPY --from=anvil /out/ /srv/turnpike/tools/node_modules/@foundry-rs/
COPY --chown=turnpike:turnpike . .
RUN deno cache cli.ts
# 7100: NIP-01/HTTP of a town; 3000: its BTP server.
EXPOSE 7100 3000
ENTRYPOINT ["turnpike"]
CMD ["--help"]
