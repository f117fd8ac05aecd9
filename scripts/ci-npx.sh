#!/usr/bin/env bash
# The npm package as a user gets it: packs tern-forwarder (scripts/pack-cli.ts, after `pnpm build`),
# then, in empty temporary folders and a clean npm environment, under Node 22 and Node 24:
#   npm install <tarball>; npx tern-forwarder --version; npx tern-forwarder run --once -c pipeline.yaml
# with a one-event pipeline that also runs the ECS mapper in a worker thread (module layout). Then
# the README's workstation command for any Node: npx -y -p node@24 -p <tarball> -- tern run …
# usage: scripts/ci-npx.sh   (after pnpm build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "ci-npx: $*" >&2; exit 1; }

TGZ=$(node "$ROOT/scripts/pack-cli.ts" --out "$TMP")
VERSION=$(node -p "require('$ROOT/packages/cli/package.json').version")
echo "ci-npx: packed $(basename "$TGZ") ($(du -k "$TGZ" | cut -f1) KiB)"

# A user's shell: none of the npm_config_* that an outer `npx -p …` (as in .ci/run) leaves behind,
# which would make an inner npx run its argument as a command.
clean_env=(env)
for v in $(env | grep -o '^npm_config_[^=]*' || true); do clean_env+=(-u "$v"); done

sample() {
  head -n 1 "$ROOT/examples/quickstart/tetragon.log" >"$1/one.log"
  cat >"$1/pipeline.yaml" <<'YAML'
data_dir: ./.tern
sources: { in: { type: file, include: ["./one.log"] } }
transforms: { ecs: { type: ecs, inputs: [in], profile: tetragon, workers: 1 } }
sinks: { out: { type: file, inputs: [ecs], path: ./out.ndjson } }
YAML
}
check_out() {
  [ -f "$1/out.ndjson" ] && [ "$(wc -l <"$1/out.ndjson")" -eq 1 ] && grep -q '"module":"cilium_tetragon"' "$1/out.ndjson" \
    || fail "$2: expected one ECS event in out.ndjson"
}

for major in 22 24; do
  nodedir=$TMP/node$major
  npm install --silent --no-audit --no-fund --prefix "$nodedir" "node@$major" >/dev/null
  dir=$TMP/user$major && mkdir -p "$dir" && sample "$dir"
  (
    cd "$dir"
    export PATH="$nodedir/node_modules/.bin:$PATH"
    nv=$(node --version)
    [[ $nv == v$major.* ]] || fail "expected Node $major, got $nv"
    "${clean_env[@]}" npm install --silent --no-audit --no-fund "$TGZ" >/dev/null
    got=$("${clean_env[@]}" npx tern-forwarder --version)
    [ "$got" = "$VERSION" ] || fail "Node $major: npx tern-forwarder --version printed '$got'"
    "${clean_env[@]}" npx tern-forwarder run --once -c pipeline.yaml --log-level warn
    check_out "$dir" "Node $major"
    echo "ci-npx: Node $nv: npm install <tarball>, npx tern-forwarder --version ($got) and run --once: 1 event, exit 0"
  )
done

# The README's command for a machine whose own Node is older: one npx, Node 24 and tern together.
dir=$TMP/readme && mkdir -p "$dir" && sample "$dir"
(cd "$dir" && "${clean_env[@]}" npx -y -p node@24 -p "$TGZ" -- tern run --once -c pipeline.yaml --log-level warn)
check_out "$dir" "npx -p node@24 -p <tarball> -- tern"
echo "ci-npx: npx -y -p node@24 -p $(basename "$TGZ") -- tern run --once -c pipeline.yaml: 1 event, exit 0"
