# syntax=docker/dockerfile:1
#
# thinkgate image. Two stages: `build` compiles TypeScript with the dev dependencies,
# `production` carries only the runtime dependencies, the compiled dist/ and openapi.yaml.
#
#   docker build -t thinkgate --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 -e THINKGATE_UPSTREAMS=http://vllm:8000 thinkgate
#
# The same image runs the vLLM simulator (no model, for demos and CI):
#   docker run thinkgate node dist/src/sim/main.js --host 0.0.0.0 --port 8000
#
# Properties the Helm chart and docker-compose.yml rely on (checked by hadolint in .ci/deploy.sh
# and by test/deploy/dockerfile.test.ts):
# - runs as the non-root `node` user (uid/gid 1000 in the official Node images);
# - writes nothing outside /tmp, so it runs with a read-only root filesystem;
# - tini is PID 1: it forwards SIGTERM to Node (whose handler drains in-flight streams, see
#   src/serve.ts) and reaps zombies. Kubernetes has no `--init`, so the image brings its own.

# Pinned by full tag: Node 24, the LTS line (package.json engines admit 22 and later; CI runs
# the suite on both, .ci/run), the same version as .ci/lib/node.sh; Debian bookworm slim. Bump
# deliberately; for reproducible builds pass the digest too:
#   --build-arg NODE_IMAGE=node:24.22.3-bookworm-slim@sha256:...
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS production
# Re-declared: an ARG before the first FROM is not visible inside a stage.
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# OCI image annotations: https://github.com/opencontainers/image-spec/blob/main/annotations.md
LABEL org.opencontainers.image.title="thinkgate" \
      org.opencontainers.image.description="OpenAI-compatible gateway that enforces min and max thinking budgets (s1 budget forcing) over vLLM" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
# tini from Debian bookworm, pinned (hadolint DL3008). It is the version bookworm ships;
# when the base image moves to a newer Debian release, bump the pin with it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    THINKGATE_HOST=0.0.0.0 \
    THINKGATE_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY openapi.yaml ./
# Numeric uid:gid so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 1000:1000
EXPOSE 8080
# Liveness only (/health): readiness (/ready) depends on upstreams and belongs to the
# orchestrator. Node's global fetch, because the slim image has neither curl nor wget.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.THINKGATE_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# -g: signals go to the whole process group, so a child Node might spawn is not orphaned.
ENTRYPOINT ["/usr/bin/tini", "-g", "--"]
CMD ["node", "dist/src/index.js"]
