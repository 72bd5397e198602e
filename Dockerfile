# syntax=docker/dockerfile:1
#
# thinkgate image: build stage compiles TypeScript, the production stage carries only
# runtime dependencies, the compiled dist/ and openapi.yaml, and runs as the non-root `node`.
#
#   docker build -t thinkgate .
#   docker run --init -p 8080:8080 -e THINKGATE_UPSTREAMS=http://vllm:8000 thinkgate
#
# Run with --init (or compose's `init: true`): Node as PID 1 does not reap zombies, and an
# init forwards SIGTERM so thinkgate drains in-flight streams before it exits.
# The same image runs the vLLM simulator: `node dist/src/sim/main.js --host 0.0.0.0 --port 8000`.

# Pinned by full tag (Node 20's last line, bookworm-slim); bump deliberately.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

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
LABEL org.opencontainers.image.title="thinkgate" \
      org.opencontainers.image.description="OpenAI-compatible gateway that enforces min and max thinking budgets (s1 budget forcing) over vLLM" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production \
    THINKGATE_HOST=0.0.0.0 \
    THINKGATE_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY openapi.yaml ./
USER node
EXPOSE 8080
# Liveness only (/health); readiness (/ready) depends on upstreams and belongs to the orchestrator.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.THINKGATE_PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/index.js"]
