# keepalived-vip-operator image: the operator and the node agent (same image,
# other subcommand). Multi-stage: build with dev dependencies, run with
# production dependencies, keepalived, iproute2 and tini only.
#
# BASE_IMAGE must be Debian bookworm with Node.js 20 and npm on the PATH.
# Default: the locally made base image (hack/image/base-image.sh, for hosts
# with no registry). With a registry: --build-arg BASE_IMAGE=node:20-bookworm-slim
#
# Behind a TLS-intercepting proxy, pass its CA bundle to npm as a build secret
# (never stored in a layer): --secret id=npm-ca,src=/path/to/ca-bundle.crt
ARG BASE_IMAGE=localhost/keepalived-vip-base:bookworm

# 1: Compile TypeScript to dist/.
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
    && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npx tsc -p tsconfig.build.json

# 2: Production dependencies only.
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn

# 3: Runtime: keepalived + iproute2 from Debian, the compiled code, its deps.
FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends keepalived iproute2 tini \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY package.json ./
COPY --from=build /src/dist/ dist/
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="keepalived-vip-operator" \
      org.opencontainers.image.description="Highly available virtual IPs for Kubernetes Services with keepalived (VRRP)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
ENV NODE_ENV=production
# The operator runs as this non-root user. The agent DaemonSet (built by the
# operator) overrides it with user 0 and only NET_ADMIN, NET_RAW, NET_BROADCAST, SYS_NICE.
USER 65532:65532
# tini is PID 1: it forwards signals to node and reaps orphaned keepalived
# children, which node as PID 1 would leave as zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main.js"]
