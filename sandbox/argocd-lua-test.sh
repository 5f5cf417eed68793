#!/usr/bin/env bash
# Runs Argo CD's own tests of its built-in resource customizations (util/lua: TestLuaHealthScript
# and TestLuaResourceActionsScript) on resource_customizations/sluice.dev, exactly as they would
# run once that directory is contributed upstream:
#   sandbox/argocd-lua-test.sh [extra go test flags, e.g. -json]
# It copies Argo CD's module source into a scratch tree under the cache (kept between runs; the
# customizations are refreshed every run), puts the published gitops-engine at ./gitops-engine
# as sandbox/build.sh does, and runs `go test` there with upstream's go.mod and go.sum.
set -euo pipefail

ARGOCD_VERSION=${ARGOCD_VERSION:-v3.6.2}
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}
# Not $CACHE/src/argocd-*: sandbox/build.sh deletes and recreates that tree.
SCRATCH=$CACHE/argocd-lua-test-$ARGOCD_VERSION
# Argo CD's go.mod asks for Go 1.27.0; go1.27.3 is the approved toolchain (as in sandbox/build.sh).
export GOTOOLCHAIN=go1.27.3 GOFLAGS=-mod=mod CGO_ENABLED=0

say() { printf '[argocd lua test] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
command -v go >/dev/null || die "Go is not installed (needed to run Argo CD's tests)"

# Two runs at once would rewrite the same scratch tree under each other.
mkdir -p "$CACHE"
exec 9>"$CACHE/argocd-lua-test.lock"
flock 9

module_dir() { (cd "$(mktemp -d)" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'); }

if [ ! -f "$SCRATCH/.copied" ]; then
  mod=github.com/argoproj/argo-cd/v3 engine=github.com/argoproj/argo-cd/gitops-engine/v3
  mod_dir=$(module_dir "$mod@$ARGOCD_VERSION"); engine_dir=$(module_dir "$engine@$ARGOCD_VERSION")
  [ -f "$mod_dir/go.mod" ] && [ -f "$engine_dir/go.mod" ] || die "could not download $mod and $engine $ARGOCD_VERSION"
  say "copying $mod $ARGOCD_VERSION to $SCRATCH"
  rm -rf "$SCRATCH"
  cp -r "$mod_dir" "$SCRATCH"; chmod -R u+w "$SCRATCH"
  cp -r "$engine_dir" "$SCRATCH/gitops-engine"; chmod -R u+w "$SCRATCH/gitops-engine"
  touch "$SCRATCH/.copied"
fi

# Only ours: the action tests name their subtests discovery/<inputPath> and
# actions/<action>/<inputPath>, without the group or kind, so no -run filter can tell
# sluice.dev's from argoproj.io/Rollout's. The health test's subtests do carry
# <group>/<kind>, and the filter below selects ours by them as well.
find "$SCRATCH/resource_customizations" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
cp -r "$REPO_DIR/resource_customizations/sluice.dev" "$SCRATCH/resource_customizations/"

cd "$SCRATCH"
exec go test ./util/lua/ -count=1 -v \
  -run '^TestLuaHealthScript$/^sluice\.dev$/^Rollout$|^TestLuaResourceActionsScript$' "$@"
