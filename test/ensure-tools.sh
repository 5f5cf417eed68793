#!/usr/bin/env bash
# Debian tools the unit tests run for real: a Lua 5.1 interpreter (the language Argo CD runs
# health checks and actions in). Installed once; a no-op when present.
set -euo pipefail
need=()
command -v lua5.1 >/dev/null || need+=(lua5.1)
[ ${#need[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] && sudo="" || sudo="sudo"
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${need[@]}" >/dev/null; }
