#!/usr/bin/env bash
# The service over HTTP, on a generated registry of a million entities:
#   (a) start-up until /readyz answers 200, and the "graph loaded" log line;
#   (b) resident memory once ready (VmRSS, and VmHWM for the peak);
#   (c) screening throughput and latency with oha, POST /v1/screenings, at a few
#       concurrency levels, for random and for deep entities;
#   (d) the latency of single writes: POST /v1/entities, then POST /v1/ownerships;
#   (f) screenings again while benches/writer.py writes at a steady rate, each write read
#       back at once;
#   (e) "who are the ancestors of X" answered over HTTP (GET /v1/entities/{id}/owners) and
#       by a recursive CTE in Postgres over the same ownerships table (pgbench), side by side;
#   (g) a mixed load, 90% screenings and 10% writes, each from a key of its own role, at a
#       fixed total rate for 60 s, rate after rate: the load held is the highest rate answered
#       in full with no error.
#
# Usage, from anywhere: benches/http.sh
# Settings (environment): ENTITIES=1000000 SEED=1 DURATION=20s CONCURRENCY="1 4 16 64"
#   SAMPLE=1000 WRITES=300 WRITE_RATE=200 MIXED_CONCURRENCY=16 PORT=18080 DB=ogbench_1m
#   KEEP=0 (1: reuse DB if it exists) DEEP=1 (0: no deep sample) SECTIONS="c d e f g" (which
#   measurements after start-up and memory) MIXED_RATES="1000 2000 3000 4000"
#   MIXED_DURATION=60s; CARGO_TARGET_DIR is honoured.
#
# Unless KEEP=1, it drops and recreates the database DB (whose name must start with ogbench_), sends
# requests to 127.0.0.1 only, bounds every loop in time and count, and stops the server it
# started when it ends, however it ends.
set -euo pipefail

ENTITIES=${ENTITIES:-1000000}
SEED=${SEED:-1}
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-"1 4 16 64"}
SAMPLE=${SAMPLE:-1000}
WRITES=${WRITES:-300}
WRITE_RATE=${WRITE_RATE:-200}
KEEP=${KEEP:-0}
DEEP=${DEEP:-1}
MIXED_CONCURRENCY=${MIXED_CONCURRENCY:-16}
SECTIONS=${SECTIONS:-"c d e f g"}
MIXED_RATES=${MIXED_RATES:-"1000 2000 3000 4000"}
MIXED_DURATION=${MIXED_DURATION:-60s}
PORT=${PORT:-18080}
DB=${DB:-ogbench_1m}
READY_TIMEOUT=${READY_TIMEOUT:-300}
# The date every question is asked at: after the last generated date, so answers do not
# drift with the calendar.
AS_OF=2025-07-01

case $DB in
ogbench_*) ;;
*)
    echo "http.sh: DB must start with ogbench_ (it is dropped and recreated)" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")/.."
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres
URL="postgres://postgres@127.0.0.1:5432/$DB"
BASE="http://127.0.0.1:$PORT"
BIN="${CARGO_TARGET_DIR:-target}/release/ownergraph"
OUT=$(mktemp -d /tmp/ogbench.XXXXXX)
PATH="$HOME/.cargo/bin:$PATH"

section() { printf '\n== %s\n' "$*"; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
now_ns() { date +%s%N; }
ms_since() { echo $((($(now_ns) - $1) / 1000000)); }
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
strip_ansi() { sed 's/\x1b\[[0-9;]*m//g'; }

for tool in psql pgbench curl python3 bc; do
    command -v "$tool" >/dev/null || {
        echo "http.sh: $tool is required" >&2
        exit 2
    }
done
if ! command -v oha >/dev/null; then
    section "installing oha (HTTP load generator) from crates.io"
    cargo install oha --locked --version 1.16.0
fi

section "machine"
echo "cores: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "postgres: $(psql_q -d postgres -c 'SHOW server_version')"
echo "oha: $(oha --version)"
echo "work files: $OUT"

section "build (release)"
cargo build --release --quiet

SERVER=
stop_server() {
    if [[ -n $SERVER ]] && kill -0 "$SERVER" 2>/dev/null; then
        kill -TERM "$SERVER"
        wait "$SERVER" || true
    fi
    SERVER=
}
trap stop_server EXIT

if [[ $KEEP == 1 ]] && psql_q -d "$DB" -c "SELECT 1" >/dev/null 2>&1; then
    section "reusing $DB as it is (KEEP=1)"
else
    section "generate $ENTITIES entities (seed $SEED) into $DB"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $DB"
    t=$(now_ns)
    "$BIN" --database-url "$URL" gen --entities "$ENTITIES" --seed "$SEED" 2>"$OUT/gen.log"
    echo "gen: $(ms_since "$t") ms in all"
    grep 'synthetic registry loaded' "$OUT/gen.log" | strip_ansi
fi
psql_q -d "$DB" -F ' ' -c "SELECT 'entities', count(*) FROM entities
    UNION ALL SELECT 'ownerships', count(*) FROM ownerships
    UNION ALL SELECT 'list entries', count(*) FROM list_entries"

# Left to itself, autovacuum would vacuum and analyse the freshly loaded tables while the
# measurements run, taking CPU from both sides.
t=$(now_ns)
psql_q -d "$DB" -c "VACUUM (ANALYZE)"
echo "VACUUM (ANALYZE): $(ms_since "$t") ms"

section "samples: $SAMPLE random entities, $SAMPLE deep ones (10 to 12 links below their top owner)"
# Depth is the longest chain of shares links from an entity with no owner. Entities whose
# depth reaches the cut-off of 16 sit below a cross-holding (a cycle) and are left out.
# The deep sample's query walks every chain from every top owner: minutes at five million
# (DEEP=0 leaves it out).
psql_q -d "$DB" <<SQL
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;
CREATE TABLE bench.random AS
    SELECT row_number() OVER () AS n, id FROM (SELECT id FROM entities ORDER BY md5(id) LIMIT $SAMPLE) s;
CREATE TABLE bench.deep (n bigint, id text);
SQL
[[ $DEEP == 1 ]] && psql_q -d "$DB" <<SQL
INSERT INTO bench.deep
    WITH RECURSIVE down(pk, depth) AS (
        SELECT e.pk, 0 FROM entities e
        WHERE NOT EXISTS (SELECT 1 FROM ownerships o WHERE o.owned_pk = e.pk AND o.interest = 'shares')
      UNION
        SELECT o.owned_pk, d.depth + 1 FROM down d JOIN ownerships o ON o.owner_pk = d.pk
        WHERE o.interest = 'shares' AND o.valid_to IS NULL AND d.depth < 16
    ), deep AS (
        SELECT pk FROM down GROUP BY pk HAVING max(depth) BETWEEN 10 AND 12
    )
    SELECT row_number() OVER () AS n, id FROM (
        SELECT e.id FROM deep JOIN entities e USING (pk) ORDER BY md5(e.id) LIMIT $SAMPLE
    ) s;
SQL
# A small registry has no group deep enough; its empty samples are skipped.
SAMPLES=
for s in random deep; do
    psql_q -d "$DB" -c "SELECT id FROM bench.$s ORDER BY n" >"$OUT/$s.ids"
    sed 's/.*/{"entity": "&", "as_of": "'$AS_OF'"}/' "$OUT/$s.ids" >"$OUT/$s.bodies"
    sed "s|.*|$BASE/v1/entities/&/owners?as_of=$AS_OF|" "$OUT/$s.ids" >"$OUT/$s.urls"
    echo "$s: $(wc -l <"$OUT/$s.ids") ids"
    if [[ -s $OUT/$s.ids ]]; then SAMPLES="$SAMPLES $s"; fi
done
LAST=${SAMPLES##* }

section "(a) start-up"
t=$(now_ns)
# The service needs a key for everything but its probes: an admin key made for this run. The
# load comes from that one key, so its rate limit is lifted: this measures the service.
KEY=$("$BIN" keys generate)
export OWNERGRAPH_KEY=$KEY
AUTH="authorization: Bearer $KEY"
OWNERGRAPH_BOOTSTRAP_KEY=$KEY OWNERGRAPH_KEY_RATE_LIMIT=1000000000 "$BIN" --database-url "$URL" serve --no-seed --listen "127.0.0.1:$PORT" 2>"$OUT/serve.log" &
SERVER=$!
ready=
for _ in $(seq 1 $((READY_TIMEOUT * 20))); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz") == 200 ]]; then
        ready=$(ms_since "$t")
        break
    fi
    kill -0 "$SERVER" 2>/dev/null || break
    sleep 0.05
done
if [[ -z $ready ]]; then
    echo "the server did not get ready in ${READY_TIMEOUT}s:" >&2
    strip_ansi <"$OUT/serve.log" >&2
    exit 1
fi
echo "ready (/readyz 200) after $ready ms"
grep 'graph loaded' "$OUT/serve.log" | strip_ansi

section "(b) memory once ready, and once the entity name index is built"
grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status"
# The index over every entity's names is built after /readyz, off the request path.
for _ in $(seq 1 $((READY_TIMEOUT * 10))); do
    grep -q 'entity name index ready' "$OUT/serve.log" && break
    sleep 0.1
done
grep 'entity name index ready' "$OUT/serve.log" | strip_ansi
grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status"

# The contract's example policy; a fresh database has none.
curl -sf -X PUT -H "$AUTH" -H 'content-type: application/json' "$BASE/v1/policy" --data-binary @- >/dev/null <<'JSON'
{"rules": [
  {"id": "ofac-50", "kind": "sanctions", "lists": ["*"], "threshold": 50, "inclusive": true,
   "aggregate": true, "interests": ["shares"], "control": "review", "review_threshold": 25},
  {"id": "unsupported-regions", "kind": "jurisdiction", "jurisdictions": ["CN", "HK", "MO", "RU", "IR", "KP", "CU", "SY"],
   "fields": ["jurisdiction", "headquarters"], "include_persons": false,
   "threshold": 50, "inclusive": false, "aggregate": true, "interests": ["shares"],
   "control": "review", "review_threshold": 25},
  {"id": "ubo", "kind": "beneficial_ownership", "threshold": 25, "inclusive": true}
]}
JSON

# CPU time (clock ticks) of the server, and of every postgres process, to split the cost of
# a request between the two. Postgres processes that exit meanwhile are not counted, which
# is why pgbench runs (short-lived backends) are not split this way.
TICK=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local t=0 p
    for p in $(pgrep -u postgres); do t=$((t + $(ticks "$p"))); done
    echo "$t"
}

# Prints the throughput, latency and statuses of one oha run (its JSON output), with the CPU
# time per request of the service and of Postgres over it ("-" for neither). Given the rate that was asked
# for, also says whether it was held: every request answered 2xx, none failed, and at least
# 99% of the requests the rate calls for were sent and answered. Fails when it was not held.
report() { # label file server-ticks postgres-ticks [rate]
    TICK=$TICK python3 - "$@" <<'PY'
import json, os, sys
label, path, server, pg = sys.argv[1:5]
rate = float(sys.argv[5]) if len(sys.argv) > 5 else None
tick = int(os.environ["TICK"])
d = json.load(open(path))
s, p = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
n = max(sum(codes.values()), 1)
errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
ms = lambda x: f"{x * 1000:.2f} ms" if x is not None else "-"
cpu = lambda t: f"{int(t) * 1e6 / tick / n:.0f} µs"
line = (f"{label:<20} {s['requestsPerSec']:>7.0f} req/s   p50 {ms(p['p50'])}   p99 {ms(p['p99'])}"
        + (f"   cpu/req: service {cpu(server)}, postgres {cpu(pg)}" if server != "-" else "")
        + f"   statuses {codes}" + (f"   errors {errors}" if errors else ""))
held = True
if rate is not None:
    clean = not errors and all(c.startswith("2") for c in codes)
    held = clean and sum(codes.values()) >= 0.99 * rate * s["total"]
    line += "   held" if held else "   NOT HELD"
print(line)
sys.exit(0 if held else 1)
PY
}

# Runs oha with the given arguments, with the run's admin key, and reports on it.
load() {
    local label=$1 file=$2 s0 p0
    shift 2
    s0=$(ticks "$SERVER")
    p0=$(pg_ticks)
    oha --no-tui --output-format json -H "$AUTH" "$@" >"$file"
    report "$label" "$file" $(($(ticks "$SERVER") - s0)) $(($(pg_ticks) - p0))
}

if want c; then
    section "(c) screenings: POST /v1/screenings for $DURATION at each concurrency"
    for s in $SAMPLES; do
        for c in $CONCURRENCY; do
            load "screen $s c=$c" "$OUT/screen-$s-$c.json" -z "$DURATION" -c "$c" -m POST \
                -T application/json -Z "$OUT/$s.bodies" "$BASE/v1/screenings"
        done
    done
    grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status"
fi

if want f; then
    section "(f) screenings while writes run at $WRITE_RATE/s: $MIXED_CONCURRENCY clients for $DURATION"
    # benches/writer.py creates a company and has a listed entity take all of it, on a fixed
    # schedule, and screens each new company at once: it must already be blocked.
    listed=$(psql_q -d "$DB" -c "SELECT e.id FROM list_entries le
        JOIN lists l ON l.pk = le.list_pk AND l.active JOIN entities e ON e.pk = le.entity_pk
        WHERE le.deleted_at IS NULL AND le.delisted_on IS NULL AND e.deleted_at IS NULL
          AND (le.listed_on IS NULL OR le.listed_on <= DATE '$AS_OF')
        ORDER BY e.pk LIMIT 1")
    python3 benches/writer.py "$BASE" "$listed" "$WRITE_RATE" "${DURATION%s}" "$OUT/mixed" \
        >"$OUT/mixed.txt" &
    WRITER=$!
    load "screen random c=$MIXED_CONCURRENCY" "$OUT/mixed-screen.json" -z "$DURATION" \
        -c "$MIXED_CONCURRENCY" -m POST -T application/json -Z "$OUT/random.bodies" "$BASE/v1/screenings"
    wait "$WRITER" || echo "writer: some writes failed or were not visible to the next read"
    echo "writer: $(cat "$OUT/mixed.txt")"
fi

if want e; then
    section "(e) ancestors over HTTP: GET /v1/entities/{id}/owners for $DURATION"
    for s in $SAMPLES; do
        for c in 1 4; do
            load "owners $s c=$c" "$OUT/owners-$s-$c.json" -z "$DURATION" -c "$c" \
                --urls-from-file "$OUT/$s.urls"
        done
    done

    section "(e) ancestors in Postgres: recursive CTE with pgbench for $DURATION"
    for s in $SAMPLES; do
        cat >"$OUT/cte-$s.sql" <<SQL
\\set i random(1, $SAMPLE)
WITH RECURSIVE up(pk) AS (
    SELECT e.pk FROM entities e WHERE e.id = (SELECT id FROM bench.$s WHERE n = :i)
  UNION
    SELECT o.owner_pk FROM ownerships o JOIN up ON o.owned_pk = up.pk
    WHERE o.deleted_at IS NULL AND o.interest <> 'consolidation'
      AND (o.valid_from IS NULL OR o.valid_from <= DATE '$AS_OF')
      AND (o.valid_to IS NULL OR DATE '$AS_OF' < o.valid_to)
)
SELECT e.id, e.name FROM up JOIN entities e ON e.pk = up.pk;
SQL
        for c in 1 4; do
            rm -f "$OUT"/pgbench_log.*
            (cd "$OUT" && pgbench -n -M prepared -c "$c" -j "$c" -T "${DURATION%s}" -l \
                -f "cte-$s.sql" "$DB" >"pgbench-$s-$c.txt" 2>&1)
            tps=$(awk '/^tps/ {printf "%.0f", $3; exit}' "$OUT/pgbench-$s-$c.txt")
            # Per-transaction log: the third field is the latency in microseconds.
            cat "$OUT"/pgbench_log.* | awk '{print $3}' | sort -n >"$OUT/cte-$s-$c.us"
            n=$(wc -l <"$OUT/cte-$s-$c.us")
            p50=$(sed -n "$(((n + 1) / 2))p" "$OUT/cte-$s-$c.us")
            p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$OUT/cte-$s-$c.us")
            printf '%-20s %7s tx/s    p50 %.2f ms   p99 %.2f ms\n' "cte $s c=$c" "$tps" \
                "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)"
        done
    done
    # One query of the last sample in full, and the same answer from both sides.
    one=$(sed -e '1d' -e 's/:i/1/' "$OUT/cte-$LAST.sql")
    id=$(head -1 "$OUT/$LAST.ids")
    echo "EXPLAIN ANALYZE for $LAST entity $id:"
    psql_q -d "$DB" -c "EXPLAIN (ANALYZE, SUMMARY) $one" | grep -E 'Recursive Union|Planning Time|Execution Time'
    http=$(curl -sf -H "$AUTH" "$BASE/v1/entities/$id/owners?as_of=$AS_OF" |
        python3 -c 'import json, sys; print(len(json.load(sys.stdin)["items"]))')
    sql=$(psql_q -d "$DB" -c "${one/SELECT e.id, e.name FROM up/SELECT count(*) - 1 FROM up}")
    echo "ancestors of $id: $http over HTTP, $sql in SQL"
fi

if want d; then
    section "(d) writes, one at a time: $WRITES x POST /v1/entities, then $WRITES x POST /v1/ownerships"
    # Each write commits in Postgres and is applied to the graph before it is answered.
    # Bounded by count and by a two-minute budget per kind.
    write_loop() {
        local kind=$1 deadline=$(($(date +%s) + 120))
        : >"$OUT/write-$kind.txt"
        for i in $(seq 1 "$WRITES"); do
            [[ $(date +%s) -lt $deadline ]] || break
            if [[ $kind == entities ]]; then
                body="{\"id\": \"bench-w-$i\", \"kind\": \"company\", \"name\": \"Benchmark Write $i Limited\", \"jurisdiction\": \"GB\"}"
            else
                owner=$(sed -n "$((i % SAMPLE + 1))p" "$OUT/random.ids")
                body="{\"owner\": \"$owner\", \"owned\": \"bench-w-$i\", \"share\": 100, \"source\": \"benchmark\"}"
            fi
            curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H "$AUTH" \
                -H 'content-type: application/json' -d "$body" "$BASE/v1/$kind" >>"$OUT/write-$kind.txt"
        done
        awk '{print $1}' "$OUT/write-$kind.txt" | sort | uniq -c | awk '{printf "%s x %s  ", $1, $2}'
        awk '{print $2}' "$OUT/write-$kind.txt" | sort -n >"$OUT/write-$kind.s"
        local n p50 p99
        n=$(wc -l <"$OUT/write-$kind.s")
        p50=$(sed -n "$(((n + 1) / 2))p" "$OUT/write-$kind.s")
        p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$OUT/write-$kind.s")
        printf '\n%-20s %s writes   p50 %.2f ms   p99 %.2f ms\n' "POST /v1/$kind" "$n" \
            "$(echo "$p50 * 1000" | bc -l)" "$(echo "$p99 * 1000" | bc -l)"
    }
    write_loop entities
    write_loop ownerships
fi

if want g; then
    section "(g) mixed load: 90% screenings, 10% writes, $MIXED_DURATION at each total rate in: $MIXED_RATES"
    # As a deployment runs: the signup service screens with a screener key, and the registry
    # feed writes with an operator key. Both keys are checked on every request; their rate
    # limit is lifted for the run (OWNERGRAPH_KEY_RATE_LIMIT above). Half the writes add a
    # company (the service makes its id), half add an ownership: a "control" link (no share,
    # so never refused for passing 100%) from an entity that owns others to a company that
    # owns none, so that the writes, like a registry's, make no cycle. Every write is
    # committed, audited and applied to the graph before it is answered. Latency counts from
    # when a request was due (oha --latency-correction), so a server that falls behind shows.
    tag=$(date +%s)
    screener=$("$BIN" --database-url "$URL" keys create --role screener --name "bench-screener-$tag" 2>/dev/null)
    operator=$("$BIN" --database-url "$URL" keys create --role operator --name "bench-operator-$tag" 2>/dev/null)
    psql_q -d "$DB" -F ' ' -c "
        WITH owners AS (
            SELECT row_number() OVER () AS n, id FROM (
                SELECT e.id FROM entities e WHERE e.deleted_at IS NULL
                  AND EXISTS (SELECT 1 FROM ownerships o WHERE o.owner_pk = e.pk)
                ORDER BY md5(e.id) LIMIT 10000) s),
        leaves AS (
            SELECT row_number() OVER () AS n, id FROM (
                SELECT e.id FROM entities e WHERE e.deleted_at IS NULL AND e.kind = 'company'
                  AND NOT EXISTS (SELECT 1 FROM ownerships o WHERE o.owner_pk = e.pk)
                ORDER BY md5(e.id) LIMIT 10000) s)
        SELECT owners.id, leaves.id FROM owners JOIN leaves USING (n)" |
        awk '{printf "{\"owner\": \"%s\", \"owned\": \"%s\", \"interest\": \"control\", \"source\": \"benchmark\"}\n", $1, $2}' \
            >"$OUT/control.bodies"
    for i in $(seq 1 1000); do
        echo "{\"kind\": \"company\", \"name\": \"Mixed Load $i Trading Limited\", \"jurisdiction\": \"GB\"}"
    done >"$OUT/company.bodies"
    # mixed LABEL RATE KEY PATH BODIES CLIENTS: one oha at a fixed rate, in the background.
    LOADS=()
    mixed() {
        oha --no-tui --output-format json --latency-correction -H "authorization: Bearer $3" \
            -z "$MIXED_DURATION" -q "$2" -c "$6" -m POST -T application/json \
            -Z "$5" "$BASE$4" >"$OUT/g-$rate-$1.json" &
        LOADS+=($!)
    }
    HELD=none
    for rate in $MIXED_RATES; do
        reads=$((rate * 9 / 10))
        companies=$(((rate - reads) / 2))
        links=$((rate - reads - companies))
        s0=$(ticks "$SERVER")
        p0=$(pg_ticks)
        mixed screenings "$reads" "$screener" /v1/screenings "$OUT/random.bodies" 64
        mixed entities "$companies" "$operator" /v1/entities "$OUT/company.bodies" 8
        mixed ownerships "$links" "$operator" /v1/ownerships "$OUT/control.bodies" 8
        wait "${LOADS[@]}"
        LOADS=()
        echo "total $rate req/s asked; CPU over the step: service $((($(ticks "$SERVER") - s0) / TICK)) s," \
            "postgres $((($(pg_ticks) - p0) / TICK)) s"
        ok=1
        report "  screenings $reads/s" "$OUT/g-$rate-screenings.json" - - "$reads" || ok=0
        report "  entities $companies/s" "$OUT/g-$rate-entities.json" - - "$companies" || ok=0
        report "  ownerships $links/s" "$OUT/g-$rate-ownerships.json" - - "$links" || ok=0
        [[ $ok == 1 ]] || break
        HELD=$rate
    done
    echo "load held with no error: $HELD req/s in all (90% screenings, 10% writes)"
    grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status"
fi

section "memory at the end"
grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status"
stop_server
echo "server stopped; raw results in $OUT"
