#!/bin/bash
# Instructions a touch costs the worker, counted by valgrind (the same count whatever
# else the machine is doing): `engine_tool round BATCH` run twice under callgrind, with
# LOW and HIGH timed rounds, on fresh copies of the cpu_per_touch base
# (`python -m bench.cpu_per_touch --db postgres` makes it); prints
# (instructions at HIGH - at LOW) / ((HIGH - LOW) * BATCH).
# Run from the work tree whose code is measured: bench/callgrind_round.sh [BATCH LOW HIGH]
set -euo pipefail
BATCH=${1:-400}; LOW=${2:-2}; HIGH=${3:-12}
DB=tf_callgrind_round
count() {
  psql -h 127.0.0.1 -U postgres -d postgres -q -c "DROP DATABASE IF EXISTS $DB" \
       -c "CREATE DATABASE $DB TEMPLATE tf_cpu_base" >/dev/null
  TOUCHFLOW_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$DB PYTHONHASHSEED=0 \
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$(dirname "$0")/../.venv/bin/python" -m bench.engine_tool round "$BATCH" "$1" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
low=$(count "$LOW"); high=$(count "$HIGH")
echo "$(( (high - low) / ((HIGH - LOW) * BATCH) )) instructions a touch (round $BATCH, $LOW vs $HIGH rounds)"
