# syntax=docker/dockerfile:1
#
# scalebot: production image. Two stages:
#   deps     installs the production dependencies from the lockfile (`npm ci --omit=dev`);
#   runtime  node:20-slim (Debian bookworm) with tini, the sources and those node_modules, as a
#            non-root user. No build step: `tsx` (a production dependency) loads the TypeScript.
#
#   docker build -t scalebot:0.1.0 .
#   docker run --rm -e SLACK_BOT_TOKEN=xoxb-… -e SLACK_APP_TOKEN=xapp-… \
#     -e SCALEBOT_CONFIG=/etc/scalebot/catalog.yml -v "$PWD/examples:/etc/scalebot:ro" scalebot:0.1.0
#
# For reproducible builds, pin both FROM lines to a digest: node:20-slim@sha256:….
# test/unit/dockerfile.test.ts checks the properties that matter (there is no Docker engine in CI).

FROM node:20-slim AS deps
WORKDIR /app
ENV NODE_ENV=production
# package.json overrides msgpackr-extract with file:./vendor/msgpackr-extract-stub, so vendor/ must
# be there before `npm ci`; node_modules/msgpackr-extract ends up a symlink to ../vendor/….
COPY package.json package-lock.json ./
COPY vendor/ ./vendor/
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-slim AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to node (which shuts the bot down cleanly) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# A dedicated user with a numeric id, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 scalebot \
 && useradd --system --uid 10001 --gid scalebot --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin scalebot
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000
# Everything below stays owned by root: the bot cannot modify its own code or dependencies.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY vendor/ ./vendor/
COPY bin/ ./bin/
COPY src/ ./src/
COPY commands/ ./commands/
COPY workflows/ ./workflows/
USER 10001:10001
EXPOSE 3000
# For `docker run`; Kubernetes ignores it and uses the probes in deploy/kubernetes/deployment.yaml.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# node directly, not `npm start`: npm would sit between tini and node and not pass SIGTERM on reliably.
CMD ["node", "--import", "tsx", "src/main.ts"]
