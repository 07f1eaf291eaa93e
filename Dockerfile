# One image for the service, its one-shot steps (migrate, tokens, demo traffic) and the
# plugin build. docker-compose.yml builds the targets it needs:
#   service      (default) runs `npx agog-perf serve`
#   plugin-dist  holds plugin/dist, copied into Grafana's plugin volume by compose
FROM node:20.19-bookworm-slim AS deps
WORKDIR /app
# Manifests first, so dependency layers are reused until a manifest changes.
COPY package.json package-lock.json ./
COPY service/package.json service/
COPY plugin/package.json plugin/
RUN npm ci --no-audit --no-fund
COPY . .

FROM deps AS plugin-build
# The create-plugin template's webpack config needs these ts-node options on Node 20
# (see plugin/package.json, "build").
RUN npm run build -w plugin

FROM node:20.19-bookworm-slim AS plugin-dist
COPY --from=plugin-build /app/plugin/dist /plugin-dist
# Copies the built plugin into the volume mounted at /out (Grafana's plugin folder).
CMD ["sh", "-c", "rm -rf /out/* && cp -R /plugin-dist/. /out/ && echo plugin copied"]

FROM deps AS service
ENV HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080
CMD ["npx", "agog-perf", "serve"]
