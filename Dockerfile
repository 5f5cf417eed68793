# Multi-stage: built in a full image; the runtime holds Node and one file.
FROM node:24-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY crds ./crds
COPY machines ./machines
COPY analysis ./analysis
COPY controller ./controller
COPY cli ./cli
COPY tsconfig.json ./
# One plain-JavaScript file with every dependency inside: tsx at run time would cost the
# controller ~150 MB of memory, and node_modules is not needed beside the bundle
# (test/sandbox/bundle.test.ts runs it alone in an empty directory).
# Stamped into the bundle (`sluice --version`, sluice_build_info); `npm run release` writes them.
ARG SLUICE_VERSION
ARG SLUICE_REVISION
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# Write-back runs git (confined: controller/write-back/git-run.ts); https needs the CA bundle.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/dist/sluice.mjs ./sluice.mjs
USER node
EXPOSE 8080 8090
ENTRYPOINT ["node", "/app/sluice.mjs"]
CMD ["controller"]
