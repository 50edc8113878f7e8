#!/usr/bin/env bash
# A Docker engine for `make images` and the container runner (`make docker-engine`): installs Debian's docker.io and
# mmdebstrap when missing, and starts dockerd when nothing answers on its socket. The machine may run as root without
# systemd (CI, containers), so dockerd is started directly, its output in $DOCKERD_LOG. Several checkouts may share
# one engine: a lock keeps two of them from starting dockerd at once.
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
SOCKET=/var/run/docker.sock

missing=""
for p in docker.io mmdebstrap; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_up; then exit 0; fi
exec 9>/tmp/docker-engine-start.lock
flock 9
if engine_up; then exit 0; fi
if [ -S "$SOCKET" ] && ! pgrep -x dockerd >/dev/null; then $SUDO rm -f "$SOCKET"; fi
if ! pgrep -x dockerd >/dev/null; then
  echo "dockerd is not running: starting it (log: $DOCKERD_LOG)"
  # containerd comes with docker.io; dockerd starts its own when none is running.
  # fd 9 (the lock) closed for dockerd: it would otherwise hold the lock for as long as it runs.
  $SUDO bash -c "nohup setsid dockerd >>'$DOCKERD_LOG' 2>&1 </dev/null 9>&- &"
fi
for _ in $(seq 1 120); do
  if engine_up; then
    echo "docker engine $(docker version --format '{{.Server.Version}}') ready on $SOCKET"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer on $SOCKET within 60 s; last lines of $DOCKERD_LOG:" >&2
tail -n 20 "$DOCKERD_LOG" >&2
exit 1
