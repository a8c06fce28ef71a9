# tollgate appliance image. Build: docker build -t tollgate .  Run: docker run -p 8080:8080 tollgate
FROM python:3.11-slim

# nft: `tollgate sandbox rules ... | nft -f -` in an init container (see the README).
RUN apt-get update && apt-get install -y --no-install-recommends nftables && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY egress egress
COPY pii pii
COPY budget budget
COPY audit audit
COPY config config
RUN pip install --no-cache-dir . && useradd --system --uid 10001 tollgate && mkdir -p /app/var && chown tollgate /app/var

USER tollgate
# Listen on all interfaces inside the container; the demo config binds loopback only.
RUN sed 's/host: 127.0.0.1/host: 0.0.0.0/' config/demo.yaml > /app/var/demo.yaml
EXPOSE 8080 3128 8090
ENTRYPOINT ["tollgate"]
CMD ["serve", "--config", "/app/var/demo.yaml"]
