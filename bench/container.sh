#!/usr/bin/env bash
# Measures the CPU image: its size, and the time from `docker compose up` to healthy.
#   bench/container.sh [runs]        (needs a Docker engine: source ../shared/tools/docker-engine.sh up)
# Builds the image once through the compose file, then per run: `docker compose up -d` and the
# seconds until /ready first answers 200 and until Docker reports the container healthy, then
# `docker compose down`. Uses its own compose project, image tag and host port.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
project="sentiment-bench-$$"
export IMAGE_TAG=bench API_HOST_PORT=${API_HOST_PORT:-18080}
compose() { docker compose -p "$project" -f docker-compose.yml "$@"; }
now() { date +%s.%N; }
trap 'compose down --volumes >/dev/null 2>&1' EXIT

log=$(mktemp)
compose build api >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
rm -f "$log"
size=$(docker image inspect "sentiment-service:$IMAGE_TAG" --format '{{.Size}}')
base=$(docker image inspect python:3.11-slim --format '{{.Size}}')
printf 'image sentiment-service:%s  %d MB (base python:3.11-slim %d MB, own layers %d MB)\n' \
  "$IMAGE_TAG" $((size / 1000000)) $((base / 1000000)) $(((size - base) / 1000000))

for run in $(seq "$runs"); do
  start=$(now)
  compose up --detach api >/dev/null 2>&1
  until curl -fs "http://127.0.0.1:$API_HOST_PORT/ready" >/dev/null; do
    (($(echo "$(now) - $start > 120" | bc))) && { echo "not ready after 120 s" >&2; exit 1; }
    sleep 0.05
  done
  ready=$(now)
  id=$(compose ps -q api)
  until [ "$(docker inspect "$id" --format '{{.State.Health.Status}}')" = healthy ]; do
    (($(echo "$(now) - $start > 180" | bc))) && { echo "not healthy after 180 s" >&2; exit 1; }
    sleep 0.1
  done
  healthy=$(now)
  printf 'run %d: compose up -> /ready 200 in %.1f s, -> healthy in %.1f s\n' \
    "$run" "$(echo "$ready - $start" | bc)" "$(echo "$healthy - $start" | bc)"
  compose down --volumes >/dev/null 2>&1
done
