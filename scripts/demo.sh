#!/usr/bin/env bash
# `make demo`: a registrar issues a batch of signed credentials on a real local chain, a verifier checks a
# receipt, a tampered copy, a forged signature and another issuer's credential re-anchored in this registry are
# rejected, one credential is revoked, an auditor inspects every anchor, and with the chain stopped a receipt
# verifies offline from its own evidence while a forged evidence blob is rejected. Everything happens in
# ./demo-workspace, which is recreated on each run.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=".venv/bin/credanchor"
WS="demo-workspace"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# expect_rejected WHAT FILE [verify options...]: verify must reject FILE with exit code 1.
expect_rejected() {
  local what=$1 file=$2 code
  shift 2
  set +e
  "$CLI" verify "$file" -w "$WS" "$@"
  code=$?
  set -e
  if [ "$code" -ne 1 ]; then echo "demo: expected $what to be rejected (exit 1), got $code" >&2; exit 1; fi
}

if [ -f "$WS/credanchor.toml" ]; then "$CLI" chain down -w "$WS" >/dev/null || true; fi
rm -rf "$WS"
PORT=$(.venv/bin/python -c 'from anchoring.localnode import free_port; print(free_port())')

step "Registrar: create a workspace (config, template, database, encrypted anchoring and signing keys)"
"$CLI" init "$WS" --issuer-id "did:web:registrar.example.edu" --issuer-name "Example University Registrar" --port "$PORT"

step "Registrar: start the local chain (a real Anvil node); deploy the registry bound to the issuer and its key"
"$CLI" chain up -w "$WS"
"$CLI" key show -w "$WS"
"$CLI" profile export --out "$WS/public" -w "$WS"

step "Registrar: issue a batch of 10 credentials from CSV (one transaction, receipts self-checked)"
"$CLI" issue scripts/sample-records.csv --achievement example --out "$WS/receipts/demo" -w "$WS"
RECEIPT=$(ls "$WS"/receipts/demo/*.json | head -n 1)
OTHER=$(ls "$WS"/receipts/demo/*.json | sed -n 2p)

step "Verifier: check one receipt (its eddsa-rdfc-2022 signature, anchor, issuer binding) against the chain"
"$CLI" verify "$RECEIPT" -w "$WS" --require-signature

step "Verifier: a copy with the credits raised from 3 to 30 is rejected"
TAMPERED="$WS/tampered-receipt.json"
.venv/bin/python - "$RECEIPT" "$TAMPERED" <<'PY'
import json, sys
receipt = json.load(open(sys.argv[1]))
receipt["credential"]["credentialSubject"]["creditsEarned"] = 30
json.dump(receipt, open(sys.argv[2], "w"), indent=2)
PY
expect_rejected "the tampered receipt" "$TAMPERED"
echo "(rejected, exit code 1, as it should be)"

.venv/bin/python scripts/demo_forgeries.py "$WS" "$RECEIPT" "$WS"
step "Verifier: a copy whose signature was altered is rejected (the anchor alone is not enough)"
expect_rejected "the forged signature" "$WS/forged-signature.json"
echo "(rejected, exit code 1, as it should be)"

step "Verifier: another college's credential, anchored in this trusted registry, is rejected (issuer mismatch)"
expect_rejected "the other issuer's credential" "$WS/other-issuer.json"
echo "(rejected, exit code 1, as it should be: a registry vouches only for the issuer it is bound to)"

step "Registrar: revoke one credential; verifiers now see it as revoked"
"$CLI" revoke "$(basename "$OTHER" .json)" --reason "Issued in error" -w "$WS"
expect_rejected "the revoked receipt" "$OTHER" --brief

step "Registrar: issue a class list kept in Excel (.xlsx: title-case headers, date cells, first sheet)"
"$CLI" issue scripts/sample-records.xlsx --achievement example --out "$WS/receipts/spring-xlsx" -w "$WS"

step "Registrar: issue Excel's semicolon-separated export with a byte-order mark (European locales)"
"$CLI" issue scripts/sample-records-semicolon.csv --achievement example --out "$WS/receipts/summer-csv" -w "$WS"

step "Registrar: the delivery list of the .xlsx batch (who gets which receipt; personal data, mode 0600)"
"$CLI" deliveries 2 -w "$WS"
ls -l "$WS/receipts/spring-xlsx/delivery.csv"

step "Registrar: find a student's credential by e-mail, and read it"
"$CLI" credentials --email lea.dubois@example.org -w "$WS"
FOUND=$("$CLI" credentials --email lea.dubois@example.org --json -w "$WS")
"$CLI" show "$(.venv/bin/python -c 'import json, sys; print(json.loads(sys.argv[1])[0]["credentialId"])' "$FOUND")" -w "$WS"

step "Auditor: every anchor, revocation, key and role change, checked against the published manifests"
REGISTRY=$(.venv/bin/python -c "import tomllib; print(tomllib.load(open('$WS/credanchor.toml','rb'))['chain']['registry'])")
set +e
"$CLI" audit --registry "$REGISTRY" --rpc-url "http://127.0.0.1:$PORT" --manifests "$WS/manifests"
code=$?
set -e
if [ "$code" -ne 1 ]; then echo "demo: expected the audit to flag the forgery's anchor (exit 1), got $code" >&2; exit 1; fi
echo "(the one problem is the anchor the forgery step made outside any batch: no manifest covers it)"

step "Verifier: record the block hash the receipt's evidence rests on, then stop the chain for good"
"$CLI" checkpoint "$RECEIPT" -o "$WS/checkpoints.toml" -w "$WS"
"$CLI" chain down -w "$WS"

step "Verifier: with no node at all, the receipt's own chain evidence and the checkpoint prove its anchor"
"$CLI" verify "$RECEIPT" --offline --checkpoints "$WS/checkpoints.toml" -w "$WS"

step "Verifier: offline too, a receipt whose evidence was altered (one trie node) is rejected"
.venv/bin/python - "$RECEIPT" "$WS/forged-evidence.json" <<'PY'
import json, sys
receipt = json.load(open(sys.argv[1]))
nodes = receipt["evidence"][0]["nodes"]
nodes[-1] = nodes[-1][:-2] + ("00" if nodes[-1][-2:] != "00" else "01")
json.dump(receipt, open(sys.argv[2], "w"), indent=2)
PY
expect_rejected "the forged evidence" "$WS/forged-evidence.json" --offline --checkpoints "$WS/checkpoints.toml"
echo "(rejected, exit code 1, as it should be)"

step "Done"
cat <<MSG
The chain's state is kept in $WS/chain/state.json. To explore further:
  .venv/bin/credanchor chain up -w $WS      # bring the chain back, anchors intact
  .venv/bin/credanchor verify $WS/receipts/demo/*.json -w $WS
MSG
