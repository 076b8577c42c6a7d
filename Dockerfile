# syntax=docker/dockerfile:1
#
# One image for every Tessera process. The default command runs the gateway; the
# chunk-worker, the notifier and the migration job override it:
#   node services/chunk-worker/dist/main.js
#   node services/notifier/dist/main.js
#   node libs/adapters/dist/postgres/migrate-cli.js
#
#   docker build -t tessera:local .
#
# No HEALTHCHECK here on purpose: the image is shared by processes on different ports
# (gateway 3000, notifier 3001, chunk-worker 3002, the migrations none), so each
# service's health check lives in docker-compose.yml / k8s/.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------
# base: Node 20 plus the npm the lockfile was written with (package.json
# "packageManager"); the image's bundled npm 10 is older than that.
FROM ${NODE_IMAGE} AS base
ARG NPM_VERSION=11.19.1
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
RUN npm install -g "npm@${NPM_VERSION}" && npm cache clean --force
WORKDIR /app

# ---------------------------------------------------------------------------
# build: every dependency (dev ones and turbo's optional platform binary included),
# then `tsc -b` per package through turbo.
FROM base AS build
ENV TURBO_TELEMETRY_DISABLED=1
# Manifests first, so the dependency layer is reused while only sources change.
# Every workspace's package.json (tests/* included), so `npm ci` sees the same
# workspaces as the lockfile and lays out node_modules exactly as it describes; a
# missing service manifest would silently drop that service's dependencies.
COPY package.json package-lock.json .npmrc ./
COPY libs/domain/package.json libs/domain/
COPY libs/adapters/package.json libs/adapters/
COPY libs/client/package.json libs/client/
COPY services/gateway/package.json services/gateway/
COPY services/chunk-worker/package.json services/chunk-worker/
COPY services/notifier/package.json services/notifier/
COPY tests/e2e/package.json tests/e2e/
COPY tests/bench/package.json tests/bench/
COPY tests/fuzz/package.json tests/fuzz/
COPY tests/faults/package.json tests/faults/
COPY tests/tus/package.json tests/tus/
COPY tests/browser/package.json tests/browser/
COPY tests/client/package.json tests/client/
RUN --mount=type=cache,target=/root/.npm npm ci
COPY . .
# Only the shipped packages (and the libs they depend on): the e2e tests are not in the image.
RUN npm run build -- \
      --filter=@tessera/gateway... \
      --filter=@tessera/chunk-worker... \
      --filter=@tessera/notifier...

# ---------------------------------------------------------------------------
# runtime: production dependencies + compiled output only, run by an unprivileged user.
FROM base AS runtime
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
COPY libs/domain/package.json libs/domain/
COPY libs/adapters/package.json libs/adapters/
COPY libs/client/package.json libs/client/
COPY services/gateway/package.json services/gateway/
COPY services/chunk-worker/package.json services/chunk-worker/
COPY services/notifier/package.json services/notifier/
COPY tests/e2e/package.json tests/e2e/
COPY tests/bench/package.json tests/bench/
COPY tests/fuzz/package.json tests/fuzz/
COPY tests/faults/package.json tests/faults/
COPY tests/tus/package.json tests/tus/
COPY tests/browser/package.json tests/browser/
COPY tests/client/package.json tests/client/
# --omit=dev drops turbo, typescript, jest... (turbo's binary is an optional dependency of
# a dev dependency: never needed here, we only run node). --ignore-scripts: the only
# runtime package with an install script (msgpackr-extract, optional) ships prebuilt
# binaries and loads them without it.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts
COPY --from=build /app/libs/domain/dist libs/domain/dist
COPY --from=build /app/libs/adapters/dist libs/adapters/dist
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/chunk-worker/dist services/chunk-worker/dist
COPY --from=build /app/services/notifier/dist services/notifier/dist
# BLOB_DIR's default mount point (BLOB_STORE=fs), owned by the runtime user: a fresh Docker
# named volume copies this ownership, so the services can write to it without running as root.
# The code under /app stays root-owned: the runtime user can read it, not change it.
RUN mkdir -p /data/blobs && chown 1000:1000 /data/blobs
ENV BLOB_DIR=/data/blobs
# Numeric uid:gid (the image's `node` user): Kubernetes' runAsNonRoot can only verify
# a numeric user.
USER 1000:1000
EXPOSE 3000 3001 3002
CMD ["node", "services/gateway/dist/main.js"]
