#!/usr/bin/env bash
# deploy/restore.sh BACKUP TARGET_DATABASE_URL TARGET_PRIVATE_ROOT
# Restores a backup of deploy/backup.sh into a FRESH, empty PostgreSQL database and an empty
# directory, then checks what came back against the backup's manifest (tables, migrations, every
# file's SHA-256). Exit 0 only if everything came back. Never touches the live database: point the
# site at the restored one (DATABASE_URL, PRIVATE_STORAGE_ROOT) only after this passed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$here/.venv/bin/python}
if [ $# -ne 3 ]; then
  echo "usage: $0 BACKUP_DIR TARGET_DATABASE_URL TARGET_PRIVATE_ROOT" >&2
  exit 2
fi
backup=$1 target_db=$2 target_root=$3
for f in database.dump private.tar manifest.json SHA256SUMS; do
  [ -f "$backup/$f" ] || { echo "恢复失败：备份目录缺少 $f（不是完整的备份）。" >&2; exit 1; }
done
(cd "$backup" && sha256sum --quiet -c SHA256SUMS) || { echo "恢复失败：备份文件校验和不符（文件已损坏）。" >&2; exit 1; }
tables=$(psql "$target_db" -Atc "select count(*) from pg_tables where schemaname = 'public'")
if [ "$tables" != 0 ]; then
  echo "恢复失败：目标数据库不是空库（已有 $tables 张表）。请先 createdb 一个新库。" >&2
  exit 1
fi
mkdir -p "$target_root"
if [ -n "$(ls -A "$target_root")" ]; then
  echo "恢复失败：目标目录 $target_root 不是空目录。" >&2
  exit 1
fi
pg_restore --dbname="$target_db" --no-owner --no-privileges --exit-on-error --single-transaction "$backup/database.dump"
tar -C "$target_root" -xf "$backup/private.tar"
cd "$here"
DATABASE_URL=$target_db PRIVATE_STORAGE_ROOT=$target_root "$PY" manage.py restore_check "$backup/manifest.json"
echo "If this code is newer than the backup, run 'manage.py migrate' against the restored database next."
