#!/usr/bin/env bash
# `bulkhead check docker` on a host with N running containers (default 50):
# wall time of RUNS runs (default 7), median and spread, after one warm-up.
# Also times the Engine API calls the check makes (docker info, ps, inspect
# of every container) with the docker CLI, as the floor any tool pays.
#
#   bench/check-docker.sh [CONTAINERS] [RUNS]
#
# The containers run a static busybox FROM scratch image built here, with
# a mix of settings (half hardened, half with host namespaces and added
# capabilities), and are removed at exit. docker-bench-security (the
# reference tool, a shell script) is not packaged in Debian; when
# DOCKER_BENCH (a checkout's docker-bench-security.sh) is set it is timed
# the same way.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
runs=${2:-7}
work=$(mktemp -d)
label=bulkhead-bench=check-docker-$$
cleanup() {
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null
  docker rmi -f bulkhead-bench/check-docker:$$ >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(scripts/test-env.sh)" >/dev/null
cp "${BULKHEAD_TEST_BUSYBOX:?}" "$work/busybox"
cat > "$work/Dockerfile" <<'DF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sleep", "86400"]
DF
DOCKER_BUILDKIT=0 docker build -q -t bulkhead-bench/check-docker:$$ "$work" >/dev/null 2>&1
for i in $(seq 1 "$n"); do
  if [ $((i % 2)) = 0 ]; then
    docker run -d --label "$label" --read-only --user 1000 --memory 32m --pids-limit 20 \
      --security-opt no-new-privileges bulkhead-bench/check-docker:$$ >/dev/null
  else
    docker run -d --label "$label" --cap-add SYS_ADMIN --pid host -v /etc:/host-etc:ro \
      bulkhead-bench/check-docker:$$ >/dev/null
  fi
done
go build -o "$work/bulkhead" ./cmd/bulkhead
running=$(docker ps -q | wc -l)
echo "running containers: $running (of which $n started here); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median %.3f s  min %.3f  max %.3f  (n=%d)\n", m, a[1], a[NR], NR}'; }
timeit() { # command... ; prints seconds
  local s e
  s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N)
  echo "$e - $s" | bc
}
"$work/bulkhead" check docker -o json >/dev/null # warm-up
echo "bulkhead check docker ($running containers):"
for _ in $(seq 1 "$runs"); do timeit "$work/bulkhead" check docker -o json; done | median
echo "results per run: $("$work/bulkhead" check docker -o json | grep -c '"checkID"')"
echo "floor: docker info + docker ps + docker inspect of every container (CLI):"
for _ in $(seq 1 "$runs"); do timeit sh -c 'docker info >/dev/null; docker inspect $(docker ps -q) >/dev/null'; done | median
if [ -n "${DOCKER_BENCH:-}" ]; then
  echo "docker-bench-security:"
  for _ in $(seq 1 "$runs"); do timeit sh "$DOCKER_BENCH"; done | median
else
  echo "docker-bench-security: not run (not packaged in Debian; set DOCKER_BENCH=/path/docker-bench-security.sh)"
fi
