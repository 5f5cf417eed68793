#!/usr/bin/env bash
# Debian tools the tests run for real: a Lua 5.1 interpreter (the language Argo CD runs
# health checks and actions in), and zsh and fish, which run the completion scripts of
# kubectl sluice (test/sandbox/completion.test.ts; bash is there already). Installed once; a
# no-op when present.
set -euo pipefail
need=()
command -v lua5.1 >/dev/null || need+=(lua5.1)
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
[ ${#need[@]} -eq 0 ] && exit 0
[ "$(id -u)" = 0 ] && sudo="" || sudo="sudo"
echo "installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${need[@]}" >/dev/null; }
