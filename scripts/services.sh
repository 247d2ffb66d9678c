#!/usr/bin/env bash
# Make sure the services the tests talk to are running: Redis on 127.0.0.1:6379 and PostgreSQL on
# 127.0.0.1:5432 (trust auth, database "test"). Installs them from Debian's packages when missing,
# and Debian's chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium).
set -euo pipefail
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_apt+=(postgresql)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)   # validates demo/local compose file
[ -x /usr/bin/chromium ] || need_apt+=(chromium)                           # dashboard browser tests
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "→ installing ${need_apt[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! redis_up; then
  echo "→ starting redis-server"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
fi

pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
if [ -n "$version" ]; then
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    echo "→ allowing trust auth for 127.0.0.1 in $hba (test machine)"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_up && pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  fi
  if ! pg_up; then
    echo "→ starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 50); do pg_up && break; sleep 0.1; done
  fi
fi
if pg_up && command -v psql >/dev/null 2>&1; then
  if ! psql -h 127.0.0.1 -U postgres -Atc "select 1 from pg_database where datname='test'" postgres 2>/dev/null | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "create database test" postgres >/dev/null 2>&1 || true
  fi
fi
redis_up && echo "✓ redis on 127.0.0.1:6379" || echo "! redis is not reachable"
pg_up && echo "✓ postgresql on 127.0.0.1:5432" || echo "! postgresql is not reachable"
[ -x /usr/bin/chromium ] && echo "✓ chromium at /usr/bin/chromium" || echo "! /usr/bin/chromium is missing"
