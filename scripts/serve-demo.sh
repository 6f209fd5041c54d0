#!/usr/bin/env bash
# `make serve`: the web verifier in the foreground on the demo workspace (made by `make demo` when it is not
# there yet). Its local chain is brought up first and stopped again when the server stops (Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=".venv/bin/credanchor"
WS="demo-workspace"
if [ ! -f "$WS/credanchor.toml" ]; then
  echo "no demo workspace yet: running the demo first (scripts/demo.sh)"
  scripts/demo.sh
fi
"$CLI" chain up -w "$WS"
trap '"$CLI" chain down -w "$WS"' EXIT
PORT="${PORT:-8000}"
echo "Open http://127.0.0.1:$PORT/ to verify a file, e.g. one of $WS/receipts/demo/*.json;"
echo "credential pages: http://127.0.0.1:$PORT/credentials/<receipt name without .json>"
"$CLI" serve -w "$WS" --port "$PORT" || [ $? -eq 130 ]
