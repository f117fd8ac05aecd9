#!/usr/bin/env bash
# The container image without a Docker engine: checks deploy/Dockerfile statically (every base image
# pinned to an exact version or digest, one Node version for both stages, a USER, ENTRYPOINT ["tern"],
# pnpm at package.json's packageManager version), then replays its instructions outside Docker, in
# order: COPY . . (the working tree minus what Dockerfile.dockerignore leaves out), every RUN line
# verbatim with /src, /out, /app and /usr/local/bin mapped to temporary folders, ENV exported, all
# under the Node and pnpm versions the Dockerfile pins. Then it runs the deployed folder's `tern` as
# the ENTRYPOINT would: --version, a one-event pipeline, and SIGTERM to tern as PID 1 of a new PID
# namespace (the drain must work without an init). Prints the deployed folder's size.
# usage: scripts/ci-image.sh   (from anywhere; needs npx, tar, and root for the PID-1 check)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DF="$ROOT/deploy/Dockerfile"
fail() { echo "ci-image: $*" >&2; exit 1; }

# --- static checks ---------------------------------------------------------------------------------
grep -qE '\\$' "$DF" && fail "$DF: no line continuations, please (each RUN line is replayed as one command)"
mapfile -t froms < <(grep -E '^FROM ' "$DF")
[ "${#froms[@]}" -ge 2 ] || fail "$DF: expected a multi-stage build (found ${#froms[@]} FROM)"
for f in "${froms[@]}"; do
  img=$(awk '{print $2}' <<<"$f")
  [[ $img =~ @sha256:[0-9a-f]{64}$ || $img =~ ^node:[0-9]+\.[0-9]+\.[0-9]+-[a-z]+(-slim)?$ ]] \
    || fail "$DF: base image not pinned to an exact version or digest: $f"
done
mapfile -t node_versions < <(grep -oE '^FROM node:[0-9]+\.[0-9]+\.[0-9]+' "$DF" | sed 's/^FROM node://' | sort -u)
[ "${#node_versions[@]}" -eq 1 ] || fail "$DF: stages use different Node versions: ${node_versions[*]}"
NODE_VERSION=${node_versions[0]}
[[ $NODE_VERSION == 24.* ]] || fail "$DF: Node $NODE_VERSION is not the Node 24 LTS line"
final=$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$DF")
grep -qE '^USER [^ ]+' <<<"$final" || fail "$DF: the final stage sets no USER"
grep -qxF 'ENTRYPOINT ["tern"]' <<<"$final" || fail "$DF: the final stage's ENTRYPOINT is not [\"tern\"]"
PNPM=$(grep -oE '^RUN npm install -g pnpm@[0-9]+\.[0-9]+\.[0-9]+$' "$DF" | sed 's/.*@//') || fail "$DF: no 'RUN npm install -g pnpm@x.y.z' line"
want_pnpm=$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")
[ "$PNPM" = "$want_pnpm" ] || fail "$DF installs pnpm@$PNPM but package.json's packageManager is pnpm@$want_pnpm"
echo "ci-image: Dockerfile pins node:$NODE_VERSION and pnpm@$PNPM; USER and ENTRYPOINT [\"tern\"] present"

# --- replay the build ------------------------------------------------------------------------------
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SRC=$TMP/src OUT=$TMP/out BIN=$TMP/bin RUNDIR=$TMP/run
mkdir -p "$SRC" "$BIN" "$RUNDIR"
map() { local s=$1; s=${s//\/usr\/local\/bin/$BIN}; s=${s//\/src/$SRC}; s=${s//\/out/$OUT}; s=${s//\/app/$OUT}; printf '%s' "$s"; }
script=$TMP/replay.sh
echo 'set -euo pipefail' >"$script"
while IFS= read -r line; do
  case "$line" in
    'WORKDIR '*) echo "cd $(map "${line#WORKDIR }")" >>"$script" ;;
    'COPY . .') echo "tar -C '$ROOT' --exclude=./.git --exclude=node_modules --exclude=dist --exclude=.turbo --exclude=.tern --exclude='*.tgz' --exclude=./.ci/.tools --exclude=./bench/out -cf - . | tar -xf -" >>"$script" ;;
    'COPY --from=build /out /app') ;; # /out and /app are the same folder here
    'COPY '*) fail "$DF: the replay does not know how to run: $line" ;;
    "RUN npm install -g pnpm@$PNPM") ;; # provided by npx -p pnpm@$PNPM below
    'RUN '*) echo "echo '+ ${line#RUN }'; $(map "${line#RUN }")" >>"$script" ;;
    'ENV '*) echo "export $(map "${line#ENV }")" >>"$script" ;;
  esac
done <"$DF"
cat >>"$script" <<EOF
cd '$RUNDIR'
export PATH='$BIN':"\$PATH"
echo "node \$(node --version), deployed tern \$(tern --version)"
EOF
# The checks below run in the same shell, so they see the image's ENV and PATH.
cat >>"$script" <<'EOF'
# A one-event pipeline through the deployed binary.
head -n 1 "$TERN_SAMPLE" >one.log
cat >one.yaml <<'YAML'
data_dir: ./state-once
sources: { in: { type: file, include: ["./one.log"] } }
transforms: { ecs: { type: ecs, inputs: [in], profile: tetragon } }
sinks: { out: { type: file, inputs: [ecs], path: ./once.ndjson } }
YAML
tern run --once -c one.yaml --log-level warn
[ "$(wc -l <once.ndjson)" -eq 1 ] || { echo "ci-image: the one-event pipeline delivered $(wc -l <once.ndjson) events" >&2; exit 1; }
grep -q '"module":"cilium_tetragon"' once.ndjson || { echo "ci-image: the event was not ECS-mapped" >&2; exit 1; }
echo "one-event pipeline: delivered 1 event, exit 0"

# tern as PID 1 (what ENTRYPOINT ["tern"] gives without an init): SIGTERM must drain and exit 0.
if unshare --pid --fork --mount-proc true 2>/dev/null; then
  cp "$TERN_SAMPLE" tail.log
  cat >tail.yaml <<'YAML'
data_dir: ./state-tail
sources: { in: { type: file, include: ["./tail.log"] } }
sinks: { out: { type: file, inputs: [in], path: ./tail.ndjson } }
YAML
  want=$(wc -l <tail.log)
  unshare --pid --fork --mount-proc tern run -c tail.yaml --log-level warn &
  outer=$!
  pid=
  for _ in $(seq 1 300); do
    pid=$(pgrep -P "$outer" || true)
    [ -n "$pid" ] && [ -f tail.ndjson ] && [ "$(wc -l <tail.ndjson)" -eq "$want" ] && break
    sleep 0.1
  done
  [ -n "$pid" ] || { echo "ci-image: tern did not start under unshare" >&2; exit 1; }
  grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$pid/status" || { echo "ci-image: tern is not PID 1 of its namespace" >&2; exit 1; }
  kill -TERM "$pid"
  # A PID 1 without a SIGTERM handler would ignore the signal: give up after 30 s.
  ( sleep 30; kill -KILL "$pid" 2>/dev/null ) & watchdog=$!
  rc=0; wait "$outer" || rc=$?
  kill "$watchdog" 2>/dev/null || true
  [ "$rc" -eq 0 ] || { echo "ci-image: tern as PID 1 exited $rc after SIGTERM (expected a drain and 0)" >&2; exit 1; }
  size=$(wc -c <tail.log)
  grep -q "\"offset\":$size," state-tail/checkpoints/in.json || { echo "ci-image: the shutdown checkpoint does not stand at the end of the file ($size bytes)" >&2; exit 1; }
  echo "PID 1: SIGTERM drained $want events and exited 0"
else
  echo "PID-1 check skipped: unshare --pid is not permitted here (needs root)"
fi
EOF
export TERN_SAMPLE="$ROOT/examples/quickstart/tetragon.log"
npx -y -p "node@$NODE_VERSION" -p "pnpm@$PNPM" -- bash "$script"
echo "ci-image: deployed folder (the image's /app): $(du -sh "$OUT" | cut -f1), $(find "$OUT" -type f | wc -l) files"
