#!/usr/bin/env bash
# Builds the starting corpora in fuzz/corpus/<target>/ from public sample files, each with the
# leading byte that makes its target read it with the right reader (see fuzz_targets/*.rs).
# The corpora are not committed: the samples keep their own licences.
#
# Usage: fuzz/seed.sh DATA_DIR   (a folder laid out as the project's shared test data:
#        sanctions/…, ownership/…; OWNERGRAPH_SHARED_DATA in the tests)
set -euo pipefail
DATA=${1:?usage: fuzz/seed.sh DATA_DIR}
cd "$(dirname "$0")"

# seed TARGET BYTE FILE...: one corpus entry, the byte then the files joined by 0xFF.
seed() {
    local target=$1 byte=$2 out
    shift 2
    mkdir -p "corpus/$target"
    out="corpus/$target/seed-$(basename "$1")-$byte"
    printf "\\x$byte" >"$out"
    local first=1 f
    for f in "$@"; do
        [[ $first == 1 ]] || printf '\xff' >>"$out"
        first=0
        cat "$f" >>"$out"
    done
}
# each TARGET BYTE GLOB...: one entry per file under 128 KB (libFuzzer's inputs stay small).
each() {
    local target=$1 byte=$2 f
    shift 2
    for f in "$@"; do
        [[ -f $f && $(stat -c %s "$f") -lt 131072 ]] && seed "$target" "$byte" "$f"
    done
    return 0
}

s=$DATA/sanctions o=$DATA/ownership
# lists: 0 OFAC CSV (sdn, alt, add), 1 OFAC XML, 2 UN XML, 3 EU XML, 4 UK CSV, 5 FtM
seed lists 00 "$s/ofac/tiny/sdn.csv" "$s/ofac/tiny/alt.csv" "$s/ofac/tiny/add.csv"
each lists 01 "$s"/ofac/*.xml
each lists 02 "$s"/un/*.xml
each lists 03 "$s"/eu/*.xml
each lists 04 "$s"/uk/*.csv
each lists 05 "$s"/opensanctions/ftm/*.json
# registries: 0 BODS, 1 GLEIF XML, 2 UK PSC lines
each registries 00 "$o"/bods-v0.4-examples/*.json
each registries 01 "$o"/gleif-level2/*.xml
each registries 02 "$o"/uk-psc/*/*

# requests: one valid body of each type, in the target's order.
request() {
    mkdir -p corpus/requests
    { printf "\\x$1"; printf '%s' "$2"; } >"corpus/requests/seed-$1"
}
request 00 '{"id": "acme-sg", "kind": "company", "name": "Acme (Singapore) Pte. Ltd.", "aliases": ["Acme SG"], "jurisdiction": "SG", "headquarters": "CN", "identifiers": {"lei": "5493001KJTIIGC8Y1R12"}}'
request 01 '{"name": "Acme Holdings", "headquarters": null}'
request 02 '{"owner": "acme", "owned": "acme-sg", "interest": "shares", "share_range": {"min": 25, "max": 50}, "valid_from": "2020-01-01", "source": "registry:SG"}'
request 03 '{"id": "sdn-1", "name": "Acme Trading LLC", "kind": "company", "programs": ["RUSSIA-EO14024"], "countries": ["RU"], "identifiers": [{"scheme": "lei", "value": "5493001KJTIIGC8Y1R12"}], "entity": "acme"}'
request 04 '{"entity": "acme-sg", "as_of": "2025-07-01"}'
request 05 '{"name": "Acme Holdings Ltd", "kind": "company", "jurisdiction": "GB", "limit": 5}'
request 06 '{"scope": "all"}'
request 07 '{"decision": "escalated", "note": "shares held through a nominee"}'
request 08 '{"id": "internal", "name": "Internal watch list", "kind": "watchlist", "active": true}'
request 09 '{"active": false}'
request 0a '{"decision": "confirmed", "note": "same registration number"}'
request 0b '{"name": "signup-service", "role": "screener", "expires_at": "2027-01-01T00:00:00Z"}'
request 0c '{"rules": [{"id": "ofac-50", "kind": "sanctions", "lists": ["*"], "threshold": 50, "inclusive": true, "aggregate": true, "interests": ["shares"], "control": "review", "review_threshold": 25}]}'
for t in lists registries requests; do
    echo "$t: $(ls "corpus/$t" | wc -l) seeds"
done
