# Multi-stage: dependencies are installed in a full image, the runtime is slim and non-root.
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
# One plain-JavaScript file: tsx at run time would cost the controller ~150 MB of memory.
COPY bin ./bin
COPY crds ./crds
COPY machines ./machines
COPY analysis ./analysis
COPY controller ./controller
COPY cli ./cli
COPY tsconfig.json ./
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY crds ./crds
COPY machines ./machines
COPY analysis ./analysis
COPY controller ./controller
COPY cli ./cli
# tsx compiles on first import; give it a writable cache with a read-only root filesystem.
ENV TSX_TSCONFIG_PATH=/app/tsconfig.json XDG_CACHE_HOME=/tmp
COPY tsconfig.json ./
USER node
EXPOSE 8080 8090
COPY --from=deps /app/dist ./dist
ENTRYPOINT ["node", "dist/sluice.mjs"]
CMD ["controller"]
