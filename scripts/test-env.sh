#!/usr/bin/env bash
# Prepares what Bulkhead's integration tests need on a Debian machine and
# prints the environment for them (eval "$(scripts/test-env.sh)"):
#   - packages: debootstrap, busybox-static, time (installed when missing);
#   - a running Docker Engine (started when `docker info` fails);
#   - a Debian bookworm minbase root filesystem made with debootstrap, kept
#     in $BULKHEAD_TEST_CACHE (default /var/cache/bulkhead-test) and reused;
#   - a running PostgreSQL server (Debian's package) with a database for the
#     inventory store tests (BULKHEAD_TEST_POSTGRES);
#   - tracefs mounted at /sys/kernel/tracing for the eBPF sensor tests.
# Progress goes to stderr; only `export` lines go to stdout.
set -euo pipefail
cache=${BULKHEAD_TEST_CACHE:-/var/cache/bulkhead-test}
log() { printf 'test-env: %s\n' "$*" >&2; }

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/time ] || need+=(time)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  else
    log "not root: cannot install ${need[*]}"
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null; then
    log "starting dockerd"
    (dockerd >/tmp/bulkhead-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || log "Docker Engine not available; Docker tests will fail"
fi

rootfs="$cache/bookworm-minbase"
if [ ! -e "$rootfs/.complete" ] && command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ]; then
  log "debootstrap --variant=minbase bookworm into $rootfs (once)"
  rm -rf "$rootfs"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >&2
  touch "$rootfs/.complete"
fi
[ -e "$rootfs/.complete" ] && echo "export BULKHEAD_TEST_ROOTFS=$rootfs"
if dpkg -s busybox-static >/dev/null 2>&1; then echo "export BULKHEAD_TEST_BUSYBOX=/bin/busybox"; fi
if [ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || log "cannot mount tracefs; eBPF sensor tests will fail"
fi

if command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
  ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
  if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    log "creating PostgreSQL $ver cluster"
    pg_createcluster "$ver" main >&2
  fi
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "starting PostgreSQL $ver"
    pg_ctlcluster "$ver" main start >&2 || log "PostgreSQL did not start"
  fi
  for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='bulkhead'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE bulkhead LOGIN SUPERUSER PASSWORD 'bulkhead'\"" >&2
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='bulkhead_test'\"" | grep -q 1 ||
    su postgres -c "createdb -O bulkhead bulkhead_test" >&2
  echo "export BULKHEAD_TEST_POSTGRES=postgres://bulkhead:bulkhead@127.0.0.1:5432/bulkhead_test?sslmode=disable"
fi
exit 0
