#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the tests use are up on 127.0.0.1 (starts them if not).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! command -v kubectl >/dev/null 2>&1; then
  # The Kubernetes credential tests run kubectl through the egress door.
  echo "installing kubectl (Debian kubernetes-client)"
  (apt-get install -y -q kubernetes-client || (apt-get update -q && apt-get install -y -q kubernetes-client)) >/dev/null
fi
# `tollgate sandbox rules --check` and its tests need nft (Debian's nftables).
if ! command -v nft >/dev/null 2>&1 && [ ! -x /usr/sbin/nft ]; then
  echo "installing nftables"
  (apt-get install -y -q nftables || (apt-get update -q && apt-get install -y -q nftables)) >/dev/null \
    || echo "could not install nftables: the sandbox rules tests will be skipped" >&2
fi
# promtool checks ops/alerts.yml in the tests (Debian's prometheus package; its service is not started).
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (Debian prometheus)"
  (apt-get install -y -q --no-install-recommends prometheus \
    || (apt-get update -q && apt-get install -y -q --no-install-recommends prometheus)) >/dev/null \
    || echo "could not install prometheus: the promtool test will be skipped" >&2
fi
for _ in $(seq 1 50); do
  if pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "PostgreSQL and Redis are up"
    exit 0
  fi
  sleep 0.2
done
echo "PostgreSQL or Redis did not come up" >&2
exit 1
