#!/usr/bin/env bash
# After a failed ctest run: each failed test's last lines again, at the very end
# of the log, so that a CI excerpt that keeps only a log's head and tail still
# says why (ctest --output-on-failure prints them where the test ended, which a
# long run's excerpt may cut away).
#   tests/failure-recap.sh BUILD_DIR [LINES]
set -uo pipefail
build=${1:?usage: failure-recap.sh BUILD_DIR [LINES]}
lines=${2:-25}
failed=$build/Testing/Temporary/LastTestsFailed.log
log=$build/Testing/Temporary/LastTest.log
[ -s "$failed" ] && [ -f "$log" ] || exit 0
while IFS=: read -r _ name; do
  echo "== failure recap: $name (last $lines lines of its output, $build)"
  awk -v t="$name" '
    $0 ~ ("^[0-9]+/[0-9]+ Testing: " t "$") { on = 1; next }
    on && index($0, "\"" t "\" end time:") == 1 { on = 0 }
    on { print }' "$log" | grep -v '^-*$' | tail -n "$lines"
done < "$failed"
