# keepalived-vip-operator image: the operator and the node agent (same image,
# other subcommand). Multi-stage: build with dev dependencies, run with
# production dependencies, keepalived, iproute2, tini and the node binary only
# (no npm, npx or corepack in the runtime image).
#
# BASE_IMAGE (build stages) must be Debian bookworm with Node.js 24 and npm on
# the PATH; RUNTIME_BASE_IMAGE plain Debian bookworm. Defaults: the locally
# made base images (hack/image/base-image.sh, for hosts with no registry). With
# a registry: --build-arg BASE_IMAGE=node:24-bookworm-slim
#             --build-arg RUNTIME_BASE_IMAGE=debian:bookworm-slim
#
# Behind a TLS-intercepting proxy, pass its CA bundle to npm as a build secret
# (never stored in a layer): --secret id=npm-ca,src=/path/to/ca-bundle.crt
ARG BASE_IMAGE=localhost/keepalived-vip-node:v24.22.3-bookworm
ARG RUNTIME_BASE_IMAGE=localhost/keepalived-vip-debian:bookworm

# 1: Compile TypeScript to dist/.
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
    && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npx tsc -p tsconfig.build.json \
    && cp "$(readlink -f "$(command -v node)")" /src/node

# 2: Production dependencies only.
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=warn

# 3: Runtime: keepalived + iproute2 from Debian, node, the compiled code, its deps.
FROM ${RUNTIME_BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends keepalived iproute2 tini \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
COPY --from=build /src/node /usr/local/bin/node
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY package.json LICENSE ./
COPY --from=build /src/dist/ dist/
ENV NODE_ENV=production
# hack/image/build.sh passes VERSION (package.json), REVISION (git commit) and
# CREATED (build time); they change only these last layers.
ARG VERSION=unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/keepalived-vip/keepalived-vip-operator
LABEL org.opencontainers.image.title="keepalived-vip-operator" \
      org.opencontainers.image.description="Highly available virtual IPs for Kubernetes Services with keepalived (VRRP)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
# `keepalived-vip --version` and the build_info metrics report this commit.
ENV KEEPALIVED_VIP_REVISION=${REVISION}
# The operator runs as this non-root user. The agent DaemonSet (built by the
# operator) overrides it with user 0 and only NET_ADMIN, NET_RAW, NET_BROADCAST, SYS_NICE.
USER 65532:65532
# tini is PID 1: it forwards signals to node and reaps orphaned keepalived
# children, which node as PID 1 would leave as zombies.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/main.js"]
