#!/usr/bin/env bash
# One measured run of one peer shipping N Tetragon events to the fake ES.
# Copied from the shared baseline harness (../shared/bench/run-peer.sh) with tern's branches added
# (tern-raw, tern-json, tern-ecs), so tern is measured exactly as the other shippers were.
#
# usage: bench/run-peer.sh <peer> <N> [results.jsonl]
#   peers: rsyslog syslog-ng syslog-ng-raw logagent pino-elasticsearch pino-elasticsearch-default
#          naive-python floor-cat floor-node floor-node-post
#
# Starts bench/fake-es.mjs on 127.0.0.1:$PORT (default 19200), starts the shipper under
# /usr/bin/time -v, polls GET /_count_stats until N docs arrived (tail-style shippers are then
# sent SIGTERM; pipe/batch ones are waited for), stops the fake ES and appends one JSON line:
#   wall_s       shipper start -> fake ES received doc N (its own last_doc_ms clock); for the floors
#                that send nothing: process exit
#   eps          N / wall_s
#   cpu_s        shipper user+sys CPU seconds: tail-style = /proc/<pid>/stat at the moment N arrived
#                (excludes shutdown); others = /usr/bin/time -v of the finished process
#   cpu_total_s  /usr/bin/time -v user+sys including shutdown
#   rss_mb       peak RSS of the shipper process (/usr/bin/time -v "Maximum resident set size")
#   es_cpu_s     the fake ES's own CPU seconds over the run
# Tail-style runs also leave <run dir>/threads.txt: CPU seconds per shipper thread when N arrived.
# Env: PORT, DATA (input file; default /tmp/bench/data/tetragon-N.jsonl, generated if absent),
#      TIMEOUT (s, default 900), KEEP=1 keeps the run dir, BENCH_TMP (default /tmp/bench),
#      POLL_S (count poll interval, default 0.25)
set -uo pipefail

PEER=${1:?peer}; N=${2:?N}
BENCH_TMP=${BENCH_TMP:-/tmp/bench}
RESULTS=${3:-$BENCH_TMP/results.jsonl}
BENCH=$(cd "$(dirname "$0")" && pwd)
PEERS=$BENCH/peers   # the shared harness's peer configurations (copied from ../shared/bench/peers)
PORT=${PORT:-19200}
TIMEOUT=${TIMEOUT:-900}
DATA=${DATA:-$BENCH_TMP/data/tetragon-$N.jsonl}
RSYSLOG_ROOT=${RSYSLOG_ROOT:-$BENCH_TMP/opt/rsyslog}
LOGAGENT=${LOGAGENT:-$BENCH_TMP/npm-logagent/node_modules/.bin/logagent}
PINO_ES=${PINO_ES:-$BENCH_TMP/npm-pino/node_modules/.bin/pino-elasticsearch}

mkdir -p "$BENCH_TMP/data"
if [ ! -f "$DATA" ]; then node "$BENCH/../gen-tetragon.mjs" "$N" "$DATA"; fi
LINES=$(wc -l < "$DATA")
[ "$LINES" -ge "$N" ] || { echo "data file has $LINES < $N lines" >&2; exit 2; }
RUN=$(mktemp -d "$BENCH_TMP/run.$PEER.XXXXXX")

now_ms() { date +%s%3N; }
es_stat() { curl -s --max-time 2 "http://127.0.0.1:$PORT/_count_stats" 2>/dev/null; }
jfield() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# ---- fake ES --------------------------------------------------------------------------------
NEED_ES=1
case $PEER in floor-cat|floor-node) NEED_ES=0;; esac
FE_PID=
if [ $NEED_ES = 1 ]; then
  node "$BENCH/fake-es.mjs" --port "$PORT" --out "$RUN/fake-es.json" --dump "$RUN/first-request.body" --quiet 2>"$RUN/fake-es.err" &
  FE_PID=$!
  for _ in $(seq 100); do curl -s --max-time 1 "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break; sleep 0.05; done
fi

# ---- shipper command --------------------------------------------------------------------------
MODE=exit      # exit: runs to completion by itself; tail: must be stopped once N arrived
STDIN=/dev/null
case $PEER in
  rsyslog)
    MODE=tail
    sed -e "s|@WORKDIR@|$RUN|g" -e "s|@FILE@|$DATA|g" -e "s|@PORT@|$PORT|g" "$PEERS/rsyslog/rsyslog.conf" > "$RUN/rsyslog.conf"
    CMD=("$RSYSLOG_ROOT/usr/sbin/rsyslogd" -n -f "$RUN/rsyslog.conf" -i "$RUN/rsyslog.pid"
         -M "$RSYSLOG_ROOT/usr/lib/x86_64-linux-gnu/rsyslog")
    ;;
  syslog-ng|syslog-ng-raw)
    MODE=tail
    if [ "$PEER" = syslog-ng-raw ]; then
      TPL='${MESSAGE}'; PARSER=''
    else
      TPL='$(format-json --scope none --key .t.* --shift 3)'; PARSER='parser { json-parser(prefix(".t.")); };'
    fi
    sed -e "s|@FILE@|$DATA|g" -e "s|@PORT@|$PORT|g" -e "s|@TEMPLATE@|$TPL|g" -e "s|@PARSER@|$PARSER|g" \
      "$PEERS/syslog-ng/syslog-ng.conf" > "$RUN/syslog-ng.conf"
    CMD=(/usr/sbin/syslog-ng -F --no-caps -f "$RUN/syslog-ng.conf" -R "$RUN/syslog-ng.persist"
         -p "$RUN/syslog-ng.pid" -c "$RUN/syslog-ng.ctl")
    ;;
  logagent)
    MODE=tail
    sed -e "s|@WORKDIR@|$RUN|g" -e "s|@FILE@|$DATA|g" -e "s|@PORT@|$PORT|g" "$PEERS/logagent/logagent.yml" > "$RUN/logagent.yml"
    export LOGSENE_BULK_SIZE=1000 LOGSENE_LOG_INTERVAL=1000 LOGSENE_TMP_DIR=$RUN
    CMD=(node "$LOGAGENT" -c "$RUN/logagent.yml")
    ;;
  pino-elasticsearch)          # ~1000 docs per bulk (flush-bytes 1.4 MB), like the other peers
    STDIN=$DATA
    CMD=(node "$PINO_ES" --node "http://127.0.0.1:$PORT" --index tetragon --es-version 8 --flush-bytes 1400000 --flush-interval 1000)
    ;;
  pino-elasticsearch-default)  # shipped defaults: flush-bytes 1000 => ~1 doc per bulk request
    STDIN=$DATA
    CMD=(node "$PINO_ES" --node "http://127.0.0.1:$PORT" --index tetragon --es-version 8)
    ;;
  tern-*)
    # tern tails the file (MODE=tail) like syslog-ng/rsyslog/logagent and ships to the fake ES.
    # bench/harness/tern/<peer>.yaml is the pipeline. TERN_DIST=1 runs the compiled binary (what the
    # image and npm ship: `pnpm build` first), else the sources (type stripping).
    MODE=tail
    [ -f "$BENCH/tern/$PEER.yaml" ] || { echo "no pipeline $BENCH/tern/$PEER.yaml" >&2; exit 2; }
    sed -e "s|@FILE@|$DATA|g" -e "s|@PORT@|$PORT|g" -e "s|@DATA_DIR@|$RUN/state|g" "$BENCH/tern/$PEER.yaml" > "$RUN/pipeline.yaml"
    TERN_NODE=${TERN_NODE:-node}
    if [ "${TERN_DIST:-0}" = 1 ]; then
      # TERN_NODE_OPTIONS: tern's NODE_OPTIONS only (compare.mjs passes the container image's).
      CMD=(env NODE_OPTIONS="${TERN_NODE_OPTIONS:-}" "$BENCH/../../packages/cli/dist/bin.js" run -c "$RUN/pipeline.yaml" --log-level warn)
    else
      CMD=("$TERN_NODE" --conditions=tern-src "$BENCH/../../packages/cli/src/bin.ts" run -c "$RUN/pipeline.yaml" --log-level warn)
    fi
    ;;
  naive-python)
    CMD=(python3 "$PEERS/naive-python/naive_forwarder.py" "$DATA" "http://127.0.0.1:$PORT/api/v1/ingest/humio-structured")
    ;;
  floor-cat)
    CMD=(cat "$DATA")
    ;;
  floor-node)
    CMD=(node "$BENCH/floor-node.mjs" "$DATA")
    ;;
  floor-node-post)
    CMD=(node "$BENCH/floor-node.mjs" "$DATA" --post "http://127.0.0.1:$PORT")
    ;;
  *) echo "unknown peer $PEER" >&2; exit 2;;
esac
printf '%q ' "${CMD[@]}" > "$RUN/cmd.txt"; echo >> "$RUN/cmd.txt"

# ---- run ---------------------------------------------------------------------------------------
OUTF=$RUN/shipper.out
case $PEER in floor-*) OUTF=/dev/null;; esac
T0=$(now_ms)
if [ "$STDIN" = /dev/null ]; then
  /usr/bin/time -v -o "$RUN/time.txt" "${CMD[@]}" < /dev/null > "$OUTF" 2> "$RUN/shipper.err" &
else  # stdin-fed peers: `cat FILE | shipper` (time -v measures the shipper only)
  cat "$STDIN" | /usr/bin/time -v -o "$RUN/time.txt" "${CMD[@]}" > "$OUTF" 2> "$RUN/shipper.err" &
fi
TPID=$!
SPID=
if [ $MODE = tail ]; then
  for _ in $(seq 200); do SPID=$(pgrep -P $TPID | head -1); [ -n "$SPID" ] && break; kill -0 $TPID 2>/dev/null || break; sleep 0.01; done
fi

DOCS=0; DONE_MS=; CPU_AT_DONE=; RSS_AT_DONE_KB=; STATUS=ok
TICK=$(getconf CLK_TCK)
# floors send nothing: their wall is plain process exit
[ $NEED_ES = 0 ] && wait $TPID 2>/dev/null
while :; do
  if [ $NEED_ES = 1 ]; then
    S=$(es_stat); DOCS=$(echo "$S" | jfield docs); DOCS=${DOCS:-0}
    if [ "$DOCS" -ge "$N" ]; then
      DONE_MS=$(echo "$S" | jfield last_doc_ms)
      if [ $MODE = tail ] && [ -n "$SPID" ] && [ -r /proc/$SPID/stat ]; then
        read -r -a ST < <(sed 's/^.*) //' /proc/$SPID/stat)   # fields from 3 on: utime=14 stime=15 -> idx 11,12
        CPU_AT_DONE=$(awk -v u="${ST[11]}" -v s="${ST[12]}" -v t="$TICK" 'BEGIN{printf "%.2f", (u+s)/t}')
        RSS_AT_DONE_KB=$(awk '/VmHWM/{print $2}' /proc/$SPID/status)
        # per-thread CPU seconds at that moment (which thread is the bottleneck?)
        for t in /proc/$SPID/task/*; do
          printf '%s\t%s\n' "$(cat $t/comm)" "$(sed 's/^.*) //' $t/stat | awk -v t=$TICK '{printf "%.2f", ($12+$13)/t}')"
        done | sort -t$'\t' -k2 -rn > "$RUN/threads.txt"
      fi
      break
    fi
  fi
  if ! kill -0 $TPID 2>/dev/null; then
    # exited by itself; one last look at the count
    if [ $NEED_ES = 1 ]; then
      S=$(es_stat); DOCS=$(echo "$S" | jfield docs); DOCS=${DOCS:-0}
      DONE_MS=$(echo "$S" | jfield last_doc_ms)
      [ "$DOCS" -ge "$N" ] || STATUS="incomplete:$DOCS"
    fi
    break
  fi
  if [ $(( $(now_ms) - T0 )) -gt $(( TIMEOUT * 1000 )) ]; then STATUS="timeout:$DOCS"; break; fi
  # wall_s comes from the fake ES's own clock (last_doc_ms), so a slow poll costs no precision;
  # polling fast (curl+sed forks) would steal CPU from the shipper on this 2-core box.
  sleep "${POLL_S:-0.25}"
done

if [ $MODE = tail ] || [[ $STATUS == timeout* ]]; then
  [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null
  for _ in $(seq 100); do kill -0 $TPID 2>/dev/null || break; sleep 0.1; done
  kill -0 $TPID 2>/dev/null && { [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null; }
fi
wait $TPID 2>/dev/null
EXIT_MS=$(now_ms)
[ $NEED_ES = 0 ] && DONE_MS=$EXIT_MS
[ -z "$DONE_MS" ] && DONE_MS=$EXIT_MS

ES_CPU=; ES_BULKS=; ES_MAXB=; ES_DOCS=
if [ -n "$FE_PID" ]; then
  kill -TERM $FE_PID 2>/dev/null; wait $FE_PID 2>/dev/null
  if [ -f "$RUN/fake-es.json" ]; then
    ES_CPU=$(jfield cpu_s < "$RUN/fake-es.json"); ES_BULKS=$(jfield bulk_requests < "$RUN/fake-es.json")
    ES_MAXB=$(jfield max_bulk_docs < "$RUN/fake-es.json"); ES_DOCS=$(jfield docs < "$RUN/fake-es.json")
    LS_REQ=$(jfield logscale_requests < "$RUN/fake-es.json"); ES_BULKS=$(( ES_BULKS + LS_REQ ))
  fi
fi

tv() { awk -F': ' -v k="$1" '$1 ~ k {print $2}' "$RUN/time.txt" | tail -1; }
U=$(tv 'User time'); SY=$(tv 'System time'); RSS=$(tv 'Maximum resident set size')
CPU_TOTAL=$(awk -v u="${U:-0}" -v s="${SY:-0}" 'BEGIN{printf "%.2f", u+s}')
CPU=${CPU_AT_DONE:-$CPU_TOTAL}
WALL=$(awk -v a="$T0" -v b="$DONE_MS" 'BEGIN{printf "%.3f", (b-a)/1000}')
EPS=$(awk -v n="$N" -v w="$WALL" 'BEGIN{ if (w>0) printf "%.0f", n/w; else print 0 }')
RSSMB=$(awk -v k="${RSS:-0}" 'BEGIN{printf "%.1f", k/1024}')

LINE=$(printf '{"peer":"%s","n":%s,"status":"%s","wall_s":%s,"eps":%s,"cpu_s":%s,"cpu_total_s":%s,"rss_mb":%s,"es_cpu_s":%s,"es_docs":%s,"requests":%s,"max_bulk_docs":%s,"run":"%s","ts":"%s"}' \
  "$PEER" "$N" "$STATUS" "$WALL" "$EPS" "$CPU" "$CPU_TOTAL" "$RSSMB" "${ES_CPU:-null}" "${ES_DOCS:-null}" "${ES_BULKS:-null}" "${ES_MAXB:-null}" "$RUN" "$(date -u +%FT%TZ)")
echo "$LINE" | tee -a "$RESULTS"
if [ "${KEEP:-0}" != 1 ] && [ "$STATUS" = ok ]; then
  rm -rf "$RUN"/*.persist "$RUN"/imfile-state* 2>/dev/null
fi
[ "$STATUS" = ok ]
