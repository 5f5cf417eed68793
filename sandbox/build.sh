#!/usr/bin/env bash
# Builds the sandbox's upstream binaries from the Go module proxy into a cache outside
# the checkout, keyed by version, so a fresh clone (what CI uses) reuses them.
#   sandbox/build.sh [kubernetes|etcd|kwok|flux|argo-rollouts|argocd|helm|krew|all]
# Each target is skipped when its binaries are already in the cache.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# Flux's newest (v1.10) needs Go 1.27; v1.9.6 is the newest that builds with the machine's 1.26.
FLUX_SOURCE_VERSION=${FLUX_SOURCE_VERSION:-v1.9.6}
FLUX_KUSTOMIZE_VERSION=${FLUX_KUSTOMIZE_VERSION:-v1.9.6}
# source-controller v1.9.6 requires github.com/fluxcd/pkg/artifact v0.18.3, which the Go module
# proxy here refuses (403 "not available"); v0.18.0, the newest it serves, has the same API.
FLUX_SOURCE_PINS=${FLUX_SOURCE_PINS:-github.com/fluxcd/pkg/artifact=v0.18.0}
# Argo Rollouts, built only for bench/scale's side-by-side comparison (not for tests).
ARGO_ROLLOUTS_VERSION=${ARGO_ROLLOUTS_VERSION:-v1.9.3}
# Helm, for the chart's tests (lint, template, install into the sandbox): v4 is served here.
HELM_VERSION=${HELM_VERSION:-v4.3.2}
# krew and validate-krew-manifest, for the release's krew manifest (its go.mod has no replaces).
KREW_VERSION=${KREW_VERSION:-v0.4.3}
# Argo CD, only for the opt-in `--with-argocd` sandbox (issue 21): the application controller and
# the repo server in one binary. Its go.mod asks for Go 1.27.0 (the approved go1.27.3 toolchain).
ARGOCD_VERSION=${ARGOCD_VERSION:-v3.6.2}
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${SLUICE_CACHE:-$HOME/.cache/sluice}

say() { printf '[sandbox build] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Go is only needed when something has to be built: cached binaries work without it.
need_go() {
  command -v go >/dev/null || die "Go is not installed (needed once to build the sandbox's Kubernetes binaries into $CACHE). Install Go >= 1.26 (https://go.dev/dl/) and retry."
}

# Two builds of one target at once would race on the same output directory (and double the
# time on a small machine): the second waits for the first, then finds its result cached.
lock() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/build.lock"
  if ! flock -n 9; then
    say "another sandbox build is running; waiting for it (see $CACHE/logs/)"
    flock 9
  fi
}

# Run a long build step with a heartbeat so a person watching knows it is alive.
with_progress() {
  local label=$1; shift
  local log=$CACHE/logs/$label.log start=$SECONDS
  mkdir -p "$CACHE/logs"
  say "$label: building (log: $log)"
  "$@" >"$log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 15
    kill -0 "$pid" 2>/dev/null && say "$label: still building, $((SECONDS - start))s elapsed"
  done
  if ! wait "$pid"; then
    say "$label: build failed after $((SECONDS - start))s; last lines of $log:"
    tail -n 25 "$log" >&2
    exit 1
  fi
  say "$label: done in $((SECONDS - start))s"
}

# A wrapper module that requires MODULE@VERSION and turns each local-path replace of its
# go.mod into the published module at PUBLISHED (a function of the module path), because
# `go install` refuses modules with replace directives.
make_wrapper() {
  local dir=$1 module=$2 version=$3 published_fn=$4
  mkdir -p "$dir"
  local gomod
  gomod=$(cd "$(mktemp -d)" && go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$gomod" ] || die "could not download $module@$version from the Go module proxy"
  {
    echo "module sluice.dev/sandbox/wrapper"
    echo
    echo "go 1.26"
    echo
    echo "require $module $version"
    echo
    # Derived from upstream's go.mod, never typed: every `X => ./path` replace becomes a
    # published version; replaces that already point at published versions are kept.
    awk '/^replace \($/{inblock=1; next} inblock && /^\)/{inblock=0; next}
         inblock {print; next}
         /^replace [^(]/{sub(/^replace /,""); print}' "$gomod" |
      while read -r from arrow to rest; do
        [ "$arrow" = "=>" ] || continue
        # A replace for a module upstream never requires (etcd's FORBIDDEN_DEPENDENCY
        # guards) only exists to keep it out; leaving it off keeps it out just as well.
        grep -Eq "^[[:space:]]*(require )?$from v" "$gomod" || continue
        case "$to" in
          ./*|../*) echo "replace $from => $from $($published_fn "$from")" ;;
          *) echo "replace $from => $to $rest" ;;
        esac
      done
  } >"$dir/go.mod"
}

k8s_staging_version() { echo "v0${K8S_VERSION#v1}"; }

build_kubernetes() {
  local out=$CACHE/kubernetes-$K8S_VERSION
  if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/kube-scheduler" ] && [ -x "$out/kubectl" ]; then
    say "kubernetes $K8S_VERSION: cached in $out"; return
  fi
  need_go
  local src=$CACHE/src/kubernetes-$K8S_VERSION
  make_wrapper "$src" k8s.io/kubernetes "$K8S_VERSION" k8s_staging_version
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  local cmds="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl"
  mkdir -p "$out.tmp"
  with_progress "kubernetes-$K8S_VERSION" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    for c in $cmds; do go get \"\$c@$K8S_VERSION\"; done && \
    go build -trimpath -ldflags '$ldflags' -o '$out.tmp/' $cmds"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

etcd_published_version() { echo "$ETCD_VERSION"; }

build_etcd() {
  local out=$CACHE/etcd-$ETCD_VERSION
  if [ -x "$out/etcd" ]; then say "etcd $ETCD_VERSION: cached in $out"; return; fi
  need_go
  local src=$CACHE/src/etcd-$ETCD_VERSION
  make_wrapper "$src" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" etcd_published_version
  mkdir -p "$out.tmp"
  with_progress "etcd-$ETCD_VERSION" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    go get go.etcd.io/etcd/server/v3@$ETCD_VERSION && \
    go build -trimpath -ldflags '-s -w' -o '$out.tmp/etcd' go.etcd.io/etcd/server/v3"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_kwok() {
  local out=$CACHE/kwok-$KWOK_VERSION
  if [ -x "$out/kwok" ] && [ -x "$out/kwokctl" ]; then say "kwok $KWOK_VERSION: cached in $out"; return; fi
  need_go
  mkdir -p "$out.tmp"
  with_progress "kwok-$KWOK_VERSION" env GOBIN="$out.tmp" CGO_ENABLED=0 go install -trimpath -ldflags '-s -w' \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# For modules whose local-path replaces point at their own sub-modules (Flux's ./api): the
# published sub-module at the version upstream's go.mod requires. `gomod` is make_wrapper's.
required_version() { grep -E "^[[:space:]]*(require )?$1 v" "$gomod" | awk '{print $NF}' | head -n 1; }

build_flux_one() {
  local name=$1 version=$2 pins=${3:-}
  local out=$CACHE/flux-$name-$version
  if [ -x "$out/$name" ]; then say "flux $name $version: cached in $out"; return; fi
  need_go
  local src=$CACHE/src/flux-$name-$version
  make_wrapper "$src" "github.com/fluxcd/$name" "$version" required_version
  local pin
  for pin in $pins; do echo "replace ${pin%%=*} => ${pin%%=*} ${pin#*=}" >>"$src/go.mod"; done
  mkdir -p "$out.tmp"
  with_progress "flux-$name-$version" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    go get github.com/fluxcd/$name@$version && \
    go build -trimpath -ldflags '-s -w' -o '$out.tmp/$name' github.com/fluxcd/$name"
  # The CRDs of exactly the version built, from the same downloaded module.
  mkdir -p "$out.tmp/crds"
  cp "$(cd "$src" && go list -m -f '{{.Dir}}' "github.com/fluxcd/$name")"/config/crd/bases/*.yaml "$out.tmp/crds/"
  chmod u+w "$out.tmp/crds/"*.yaml
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_flux() {
  build_flux_one source-controller "$FLUX_SOURCE_VERSION" "$FLUX_SOURCE_PINS"
  build_flux_one kustomize-controller "$FLUX_KUSTOMIZE_VERSION"
}

# Its go.mod replaces k8s.io/* with published versions already, so make_wrapper keeps them as
# they are (no local paths to map). v1.9.3 asks for Go 1.26.10, newer than the machine's 1.26.8:
# the approved go1.27.3 toolchain comes from the Go module proxy.
build_argo_rollouts() {
  local out=$CACHE/argo-rollouts-$ARGO_ROLLOUTS_VERSION
  if [ -x "$out/rollouts-controller" ]; then say "argo-rollouts $ARGO_ROLLOUTS_VERSION: cached in $out"; return; fi
  need_go
  export GOTOOLCHAIN=go1.27.3
  local src=$CACHE/src/argo-rollouts-$ARGO_ROLLOUTS_VERSION
  make_wrapper "$src" github.com/argoproj/argo-rollouts "$ARGO_ROLLOUTS_VERSION" required_version
  mkdir -p "$out.tmp"
  local pkg=github.com/argoproj/argo-rollouts
  with_progress "argo-rollouts-$ARGO_ROLLOUTS_VERSION" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    go get $pkg@$ARGO_ROLLOUTS_VERSION && \
    go build -trimpath -ldflags '-s -w -X $pkg/utils/version.version=${ARGO_ROLLOUTS_VERSION#v}' -o '$out.tmp/rollouts-controller' $pkg/cmd/rollouts-controller && \
    dir=\"\$(go list -m -f '{{.Dir}}' $pkg)\" && cp -r \"\$dir/manifests/crds\" \"\$dir/manifests/role\" '$out.tmp/' && chmod -R u+w '$out.tmp' && rm -f '$out.tmp'/*/kustomization.yaml"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# Argo CD's go.mod replaces its gitops-engine with ./gitops-engine, a directory its module zip
# does not carry, and `go get` of gitops-engine alone fails; so this builds inside a writable copy
# of the module source, with the published gitops-engine module (same version) put at
# ./gitops-engine, under upstream's own go.mod and go.sum. Upstream's cmd/main.go links every
# Argo CD command (the API server embeds the web UI's ui/dist, absent from the zip), so a small
# main links only what the sandbox runs: `argocd application-controller|repo-server ...`.
module_dir() { (cd "$(mktemp -d)" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'); }

build_argocd() {
  local out=$CACHE/argocd-$ARGOCD_VERSION
  # Sluice's own Go linked into the binary: a change to it is a new build.
  local stamp
  stamp=$(cat "$REPO_DIR/sandbox/argocd-cmd/"*.go | sha256sum | cut -c1-12)
  if [ -x "$out/argocd" ] && [ -x "$out/git-verify-wrapper.sh" ] && [ -f "$out/crds/application-crd.yaml" ] && [ -f "$out/sluice-$stamp" ]; then say "argocd $ARGOCD_VERSION: cached in $out"; return; fi
  need_go
  export GOTOOLCHAIN=go1.27.3
  local mod=github.com/argoproj/argo-cd/v3 engine=github.com/argoproj/argo-cd/gitops-engine/v3
  local mod_dir engine_dir
  mod_dir=$(module_dir "$mod@$ARGOCD_VERSION"); engine_dir=$(module_dir "$engine@$ARGOCD_VERSION")
  [ -f "$mod_dir/go.mod" ] && [ -f "$engine_dir/go.mod" ] || die "could not download $mod and $engine $ARGOCD_VERSION from the Go module proxy"
  grep -q "^replace $engine => ./gitops-engine" "$mod_dir/go.mod" || die "$mod $ARGOCD_VERSION no longer replaces $engine with ./gitops-engine; revisit build_argocd"
  local src=$CACHE/src/argocd-$ARGOCD_VERSION
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$mod_dir" "$src"; chmod -R u+w "$src"
  cp -r "$engine_dir" "$src/gitops-engine"; chmod -R u+w "$src/gitops-engine"
  mkdir -p "$src/cmd/sluice-argocd"
  cat >"$src/cmd/sluice-argocd/main.go" <<'GO'
// Written by Sluice's sandbox/build.sh: upstream's cmd/main.go, cut down to the commands the
// sandbox runs, chosen by the first argument instead of the binary's name.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	gitaskpass "github.com/argoproj/argo-cd/v3/cmd/argocd-git-ask-pass/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func init() {
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

func main() {
	// Upstream's main calls grpc.DisableSRVLookups() to undo grpclb's init, which turns gRPC's DNS
	// SRV lookups on; grpclb is not linked here, so they stay off (and that call panics, finding
	// them off already).
	// The repo server runs git with GIT_ASKPASS=argocd and ARGOCD_BINARY_NAME=argocd-git-ask-pass
	// when a repository has credentials; honour that as upstream's main does.
	if os.Getenv("ARGOCD_BINARY_NAME") == common.CommandGitAskPass {
		run(gitaskpass.NewCommand(), os.Args[1:])
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd application-controller|repo-server [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "application-controller":
		run(appcontroller.NewCommand(), os.Args[2:])
	case "repo-server":
		run(reposerver.NewCommand(), os.Args[2:])
	case "resource-action":
		if err := resourceAction(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q: this build has application-controller and repo-server\n", os.Args[1])
		os.Exit(2)
	}
}

func run(command *cobra.Command, args []string) {
	command.SetArgs(args)
	if err := command.Execute(); err != nil {
		os.Exit(1)
	}
}
GO
  cp "$REPO_DIR/sandbox/argocd-cmd/"*.go "$src/cmd/sluice-argocd/"
  mkdir -p "$out.tmp"
  local pkg=$mod/common
  with_progress "argocd-$ARGOCD_VERSION" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    go build -trimpath -ldflags '-s -w -X $pkg.version=${ARGOCD_VERSION#v} -X $pkg.gitTag=$ARGOCD_VERSION -X $pkg.gitTreeState=clean' -o '$out.tmp/argocd' ./cmd/sluice-argocd"
  # The repo server runs git-verify-wrapper.sh (and it gpg-wrapper.sh) from PATH for every
  # manifest it generates, signed or not; upstream's image puts both next to the binary.
  cp "$mod_dir/hack/git-verify-wrapper.sh" "$mod_dir/hack/gpg-wrapper.sh" "$out.tmp/"
  chmod 755 "$out.tmp/"*.sh
  # The CRDs of exactly the version built, byte-identical (kustomization.yaml is not one).
  mkdir -p "$out.tmp/crds"
  cp "$mod_dir"/manifests/crds/*-crd.yaml "$out.tmp/crds/"
  chmod u+w "$out.tmp/crds/"*.yaml
  touch "$out.tmp/sluice-$stamp"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_helm() {
  local out=$CACHE/helm-$HELM_VERSION
  if [ -x "$out/helm" ]; then say "helm $HELM_VERSION: cached in $out"; return; fi
  need_go
  local src=$CACHE/src/helm-$HELM_VERSION
  make_wrapper "$src" helm.sh/helm/v4 "$HELM_VERSION" required_version
  mkdir -p "$out.tmp"
  local pkg=helm.sh/helm/v4
  with_progress "helm-$HELM_VERSION" bash -c "cd '$src' && export CGO_ENABLED=0 GOFLAGS=-mod=mod && \
    go get $pkg@$HELM_VERSION && \
    go build -trimpath -ldflags '-s -w -X $pkg/internal/version.version=$HELM_VERSION' -o '$out.tmp/helm' $pkg/cmd/helm"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_krew() {
  local out=$CACHE/krew-$KREW_VERSION
  if [ -x "$out/krew" ] && [ -x "$out/validate-krew-manifest" ]; then say "krew $KREW_VERSION: cached in $out"; return; fi
  need_go
  mkdir -p "$out.tmp"
  with_progress "krew-$KREW_VERSION" bash -c "cd '$out.tmp' && export CGO_ENABLED=0 GOBIN='$out.tmp' && \
    go install -trimpath -ldflags '-s -w' sigs.k8s.io/krew/cmd/krew@$KREW_VERSION sigs.k8s.io/krew/cmd/validate-krew-manifest@$KREW_VERSION"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

target=${1:-all}
lock
case "$target" in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  kwok) build_kwok ;;
  flux) build_flux ;;
  argo-rollouts) build_argo_rollouts ;;
  argocd) build_argocd ;;
  helm) build_helm ;;
  krew) build_krew ;;
  all) build_etcd; build_kwok; build_kubernetes ;;
  *) die "unknown target '$target' (kubernetes, etcd, kwok, flux, argo-rollouts, argocd, helm, krew or all)" ;;
esac
