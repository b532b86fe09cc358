#!/usr/bin/env bash
# make deploy-replay: follow README "Running it for real" on this machine, in a throw-away directory,
# a new PostgreSQL database and one Redis db, with the repository's own deploy/ files, then check the
# result over HTTPS through nginx. What it does not cover is said at the end of that README section.
#   REPLAY_PG       admin URL of the PostgreSQL server   (default postgres://postgres@127.0.0.1:5432)
#   REPLAY_REDIS    Redis URL to use (a db of its own)   (default redis://127.0.0.1:6379/14)
#   REPLAY_PORT     first of three loopback ports        (default 18440: https, http, gunicorn)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PG=${REPLAY_PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${REPLAY_REDIS:-redis://127.0.0.1:6379/14}
base=${REPLAY_PORT:-18440}
https_port=$base http_port=$((base + 1)) app_port=$((base + 2))
work=$(mktemp -d /tmp/campuspass-replay.XXXXXX)
db="cp_replay_$$" restored_db="cp_replay_$$_restored"
pids=()
say() { printf '\n--- %s\n' "$*"; }
fail() { echo "REPLAY FAILED: $*" >&2; exit 1; }
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG/postgres" -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  psql "$PG/postgres" -qc "drop database if exists $restored_db with (force)" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

command -v nginx >/dev/null || { apt-get install -y -qq nginx-light >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }; }

say "step 1: a fresh clone and a clean venv (make install)"
opt="$work/opt/campuspass"
git clone --quiet "$repo" "$opt"
make -C "$opt" install >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; fail "make install"; }

say "step 2: a new database"
psql "$PG/postgres" -qc "create database $db" >/dev/null

say "step 3: the private store (one host: a local directory)"
store="$work/srv/campuspass-private" var="$work/var/lib/campuspass"
install -d -m 700 "$store" "$var" "$work/backups" "$work/run"
chmod 755 "$work" && install -d -m 755 "$work/var" "$work/var/www" "$work/var/www/static"  # nginx's user reads static

say "step 4: the env file from deploy/campuspass.env.example"
envfile="$work/etc/campuspass.env"
mkdir -p "$work/etc" && cp "$opt/deploy/campuspass.env.example" "$envfile"
setv() { if grep -qE "^#? ?$1=" "$envfile"; then sed -i -E "s|^#? ?$1=.*|$1=$2|" "$envfile"; else echo "$1=$2" >>"$envfile"; fi; }
setv SECRET_KEY "$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
setv ALLOWED_HOSTS "127.0.0.1,localhost"
setv CSRF_TRUSTED_ORIGINS "https://127.0.0.1:$https_port"
setv SITE_URL "https://127.0.0.1:$https_port"
setv DATABASE_URL "$PG/$db"
setv REDIS_URL "$REDIS"
setv CAMPUSPASS_VAR_DIR "$var"
setv PRIVATE_STORAGE_ROOT "$store"
setv STATIC_ROOT "$work/var/www/static"
setv PAYMENT_PROVIDER simulator
setv ALLOW_SIMULATOR_IN_PRODUCTION 1
setv SMS_BACKEND file
setv SMS_FILE_PATH "$var/sms.jsonl"
setv ALLOW_TEST_SMS_IN_PRODUCTION 1
setv METRICS_TOKEN replay-metrics-token
setv GUNICORN_BIND "127.0.0.1:$app_port"
setv GUNICORN_WORKERS 2
setv PROMETHEUS_MULTIPROC_DIR "$work/run/metrics"
redis-cli -u "$REDIS" flushdb >/dev/null

say "step 5: migrate, collectstatic, check --deploy, first administrator"
cd "$opt"
run() { bash -c 'set -a; . "$0"; exec .venv/bin/python manage.py "$@"' "$envfile" "$@"; }
run migrate --noinput >/dev/null
run collectstatic --noinput >/dev/null
run check --deploy --fail-level WARNING
DJANGO_SUPERUSER_PASSWORD=replay-Admin-2026 run createsuperuser --noinput --username admin --email admin@example.edu.cn >/dev/null

say "step 6: the services, as their systemd units start them"
for unit in "$opt"/deploy/systemd/*.service; do
  sed "s|/opt/campuspass|$opt|g; s|/etc/campuspass|$work/etc|g; s|/srv/campuspass-private|$store|g; s|/var/lib/campuspass|$var|g" \
    "$unit" >"$work/run/$(basename "$unit")"
done
systemd-analyze verify "$work"/run/*.service 2>&1 | grep -v "^$" || true
start_unit() { # the unit's ExecStart, its user's environment file, %i / %H filled in
  local unit=$1 instance=${2:-}
  local cmd
  cmd=$(grep '^ExecStart=' "$work/run/$unit" | head -1 | cut -d= -f2- | sed "s/%i/$instance/g; s/%H/$(hostname)/g")
  bash -c 'set -a; . "$0"; cd "$1"; exec $2' "$envfile" "$opt" "$cmd" >"$work/$unit$instance.log" 2>&1 &
  pids+=($!)
}
start_unit campuspass-web.service
start_unit campuspass-worker@.service 1
start_unit campuspass-worker@.service 2
start_unit campuspass-scheduler.service

say "step 7: nginx with deploy/nginx (loopback high ports, a self-signed certificate)"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -keyout "$work/privkey.pem" -out "$work/fullchain.pem" >/dev/null 2>&1
sed -e "s|listen 80;|listen 127.0.0.1:$http_port;|; /listen \[::\]:80;/d" \
  -e "s|listen 443 ssl http2;|listen 127.0.0.1:$https_port ssl http2;|; /listen \[::\]:443/d" \
  -e "s|server 127.0.0.1:8000|server 127.0.0.1:$app_port|" \
  -e "s|/etc/ssl/campuspass|$work|g; s|/var/www/campuspass-static|$work/var/www/static|g; s|/srv/campuspass-private|$store|g" \
  -e "s|/etc/nginx/campuspass_proxy_params|$opt/deploy/nginx/campuspass_proxy_params|g" \
  -e "s|/var/log/nginx/campuspass.access.log|$work/nginx-access.log|; s|pass.example.edu.cn|127.0.0.1|g" \
  "$opt/deploy/nginx/campuspass.conf" >"$work/site.conf"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  client_body_temp_path $work/run/nginx-body;
  proxy_temp_path $work/run/nginx-proxy;
  fastcgi_temp_path $work/run/nginx-fastcgi;
  uwsgi_temp_path $work/run/nginx-uwsgi;
  scgi_temp_path $work/run/nginx-scgi;
  access_log off;
  include $work/site.conf;
}
EOF
nginx -t -c "$work/nginx.conf" -e "$work/nginx-error.log" 2>&1 | tail -1
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" -g 'daemon off;' &
pids+=($!)

say "step 8: check it"
url="https://127.0.0.1:$https_port"
for _ in $(seq 1 60); do curl -ksf "$url/health/live/" >/dev/null && break; sleep 1; done
curl -ksf "$url/health/live/" >/dev/null || { tail -30 "$work"/campuspass-web.service.log; fail "web not up"; }
check() { printf '  %-58s' "$1"; shift; if "$@"; then echo ok; else echo FAILED; fail "$*"; fi; }
code() { curl -ks -o /dev/null -w '%{http_code}' "$@"; }
check "http redirects to https" test "$(code "http://127.0.0.1:$http_port/m/")" = 301
check "landing page over TLS through nginx" test "$(code "$url/")" = 200
check "request id from nginx is echoed" bash -c "curl -ksI '$url/' | grep -qiE '^x-request-id: [0-9a-f]{32}'"
static=$(cd "$work/var/www/static" && find . -name '*.css' -print -quit | cut -c3-)
check "static files served by nginx from disk ($static)" test "$(code "$url/static/$static")" = 200
check "HSTS header" bash -c "curl -ksI '$url/' | grep -qi '^strict-transport-security'"
mkdir -p "$store/id-photos" && echo secret >"$store/id-photos/probe.jpg"
check "private store not reachable by URL" test "$(code "$url/_protected/id-photos/probe.jpg")" = 404
check "metrics refuse a missing token" test "$(code "$url/metrics")" = 403
check "metrics answer the token" bash -c "curl -ksf -H 'Authorization: Bearer replay-metrics-token' '$url/metrics' | grep -q campuspass_orders_unpaid"
ready=000
for _ in $(seq 1 30); do ready=$(code "$url/health/ready/?format=json"); [ "$ready" = 200 ] && break; sleep 2; done
check "readiness green (db, cache, redis, queue, scheduler)" test "$ready" = 200
check "back-office sign-in page" test "$(code "$url/office/")" -lt 500
check "scheduler lists jobs on Beijing time" bash -c "cd '$opt' && set -a && . '$envfile' && .venv/bin/python manage.py run_scheduler --list | grep 'Asia/Shanghai' >/dev/null"

say "step 8: backup and restore into a fresh database"
(set -a; . "$envfile"; BACKUP_DIR="$work/backups" bash "$opt/deploy/backup.sh")
psql "$PG/postgres" -qc "create database $restored_db" >/dev/null
(set -a; . "$envfile"; bash "$opt/deploy/restore.sh" "$(ls -d "$work"/backups/2*)" "$PG/$restored_db" "$work/restored")
echo
echo "REPLAY OK: README 'Running it for real' steps 1-8 replayed in $work"
