#!/usr/bin/env bash
# The demo's processes: the background worker (tasks), the scheduler (periodic jobs, no cron needed)
# and the web server. Ctrl-C stops all three.
set -euo pipefail
PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export SITE_URL=${SITE_URL:-http://$HOST:$PORT}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$PY" manage.py db_worker --no-reload --interval 1 &
pids+=($!)
if "$PY" manage.py help run_scheduler >/dev/null 2>&1; then
  "$PY" manage.py run_scheduler &
  pids+=($!)
fi
echo "CampusPass 已启动：http://$HOST:$PORT/"
echo "  职工手机端  http://$HOST:$PORT/m/"
echo "  保卫处后台  http://$HOST:$PORT/office/   （数据维护：/admin/，仅管理员）"
echo "  按 Ctrl-C 停止"
"$PY" manage.py runserver "$HOST:$PORT" --noreload
