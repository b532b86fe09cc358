#!/usr/bin/env bash
# deploy/backup.sh — one backup of CampusPass into $BACKUP_DIR/<UTC time>/:
#   database.dump  pg_dump custom format (restore with deploy/restore.sh or pg_restore)
#   private.tar    the private store (ID photos, import files), as files
#   manifest.json  row counts, migrations and every file's SHA-256, to check a restore against
# Needs DATABASE_URL (PostgreSQL) and PRIVATE_STORAGE_ROOT, as in /etc/campuspass/campuspass.env.
# Keeps KEEP_DAYS (30) days of backups. Copy $BACKUP_DIR off the host (another building's disk).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$here/.venv/bin/python}
: "${DATABASE_URL:?DATABASE_URL must be set}" "${PRIVATE_STORAGE_ROOT:?PRIVATE_STORAGE_ROOT must be set}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/campuspass}
KEEP_DAYS=${KEEP_DAYS:-30}
umask 077
dest="$BACKUP_DIR/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dest.partial"

# The manifest first: the tables only grow, so the dump taken a moment later holds at least this.
(cd "$here" && "$PY" manage.py backup_manifest "$dest.partial/manifest.json" >/dev/null)
pg_dump --dbname="$DATABASE_URL" --format=custom --no-owner --no-privileges --file="$dest.partial/database.dump"
tar -C "$PRIVATE_STORAGE_ROOT" -cf "$dest.partial/private.tar" .
(cd "$dest.partial" && sha256sum database.dump private.tar manifest.json > SHA256SUMS)
mv "$dest.partial" "$dest"   # only a complete backup gets its final name
find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name '20*' -mtime +"$KEEP_DAYS" -exec rm -rf {} +
echo "backup written: $dest"
