#!/usr/bin/env bash
# `make demo`: a registrar issues a batch of signed credentials on a real local chain, a verifier checks a
# receipt and sees a tampered copy, a forged signature and another issuer's credential re-anchored in this
# registry rejected; earners get baked PNG and SVG badges and certificate PDFs that verify on their own (and
# tampered ones that do not), and e-mails delivered to a local SMTP server; one credential is revoked; an
# auditor inspects every anchor; an employer checks a receipt through the web verifier's API; and with the
# batch anchored on two local chains, both stopped, a receipt verifies offline from its own evidence while a
# forged evidence blob is rejected. Everything happens in ./demo-workspace, recreated on each run.
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

step "Registrar: credential pages will be served by \`make serve\` at http://127.0.0.1:8000 ([share] base_url)"
printf '\n[share]\nbase_url = "http://127.0.0.1:8000"\n' >> "$WS/credanchor.toml"

step "Registrar: anchor on a second chain too (another local Anvil node, chain id 31338), so no one chain decides"
PORT2=$(.venv/bin/python -c 'from anchoring.localnode import free_port; print(free_port())')
"$CLI" chain add --chain-id 31338 --port "$PORT2" -w "$WS"

step "Registrar: start both local chains (real Anvil nodes); deploy each registry bound to the issuer and its key"
"$CLI" chain up -w "$WS"
"$CLI" key show -w "$WS"
"$CLI" profile export --out "$WS/public" -w "$WS"

step "Registrar: issue a batch of 10 credentials from CSV (one transaction per chain, receipts self-checked)"
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

step "Earner: bake the receipt into a PNG and an SVG badge (Open Badges 3.0 baking, plus the receipt)"
BADGE="${RECEIPT%.json}"
"$CLI" bake "$RECEIPT" --format png -w "$WS"
"$CLI" bake "$RECEIPT" --format svg -w "$WS"

step "Verifier: both badges verify in full (the credential other OB 3.0 tools read is the receipt's own)"
"$CLI" verify "$BADGE.png" "$BADGE.svg" -w "$WS" --require-signature --details

step "Anyone: extract the receipt and the bare OB 3.0 credential from the SVG"
"$CLI" extract "$BADGE.svg" -o "$WS/extracted"

step "Verifier: a PNG whose credits were raised from 3 to 30 (CRCs recomputed) is rejected"
.venv/bin/python - "$BADGE.png" "$WS" <<'PY'
import json, sys
from anchoring.errors import InvalidInput
from anchoring.pngchunks import SIGNATURE, itxt, raw, read_chunks

def forge(data: bytes, keywords: tuple[bytes, ...]) -> bytes:
    out = []
    for chunk in read_chunks(data, sys.argv[1], InvalidInput):
        keyword, _, text = chunk.data.partition(b"\0\0\0\0\0")
        if chunk.type != b"iTXt" or keyword not in keywords:
            out.append(raw(chunk))
            continue
        doc = json.loads(text)
        credential = doc.get("credential", doc)  # the receipt chunk holds the credential inside
        credential["credentialSubject"]["creditsEarned"] = 30
        out.append(itxt(keyword.decode(), json.dumps(doc, ensure_ascii=False)))
    return SIGNATURE + b"".join(out)

data = open(sys.argv[1], "rb").read()
open(f"{sys.argv[2]}/tampered-both.png", "wb").write(forge(data, (b"openbadgecredential", b"credanchorreceipt")))
open(f"{sys.argv[2]}/tampered-one.png", "wb").write(forge(data, (b"openbadgecredential",)))
PY
expect_rejected "the PNG changed in both copies of the credential" "$WS/tampered-both.png" --brief
expect_rejected "the PNG changed only where other OB tools look" "$WS/tampered-one.png" --brief
echo "(both rejected, exit code 1, as they should be)"

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

step "Registrar: issue a class list kept in Excel (.xlsx), with a baked PNG badge beside every receipt"
"$CLI" issue scripts/sample-records.xlsx --achievement example --out "$WS/receipts/spring-xlsx" --bake png -w "$WS"
ls "$WS/receipts/spring-xlsx" | head -n 4
"$CLI" verify "$WS"/receipts/spring-xlsx/*.png -w "$WS" --brief

step "Registrar: issue Excel's semicolon-separated export with a byte-order mark (European locales)"
"$CLI" issue scripts/sample-records-semicolon.csv --achievement example --out "$WS/receipts/summer-csv" -w "$WS"

step "Registrar: 200 credentials into one JSON Lines file (issue --receipts jsonl), with where the time went"
{ echo "email,name"; for i in $(seq 1 200); do echo "graduate$i@example.edu,Graduate $i"; done; } > "$WS/class-of-200.csv"
"$CLI" issue "$WS/class-of-200.csv" --achievement example --out "$WS/receipts/class-jsonl" --receipts jsonl \
  --timings -w "$WS"
ls "$WS/receipts/class-jsonl"   # receipts.jsonl, manifest/, delivery.csv: one receipt per line

step "Verifier: every receipt in the file at once; then one earner's receipt taken out of it and verified alone"
"$CLI" verify "$WS/receipts/class-jsonl/receipts.jsonl" -w "$WS" --brief
ID=$(head -n 1 "$WS/receipts/class-jsonl/receipts.jsonl" | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["credential"]["id"])')
"$CLI" extract "$WS/receipts/class-jsonl/receipts.jsonl" --id "$ID" -o "$WS/extracted-one"
"$CLI" verify "$WS/extracted-one/${ID#urn:uuid:}.json" -w "$WS" --brief

step "Registrar: a certificate PDF for one earner (receipt attached, QR code of its verification page)"
"$CLI" certificate "$RECEIPT" -w "$WS"
CERTIFICATE="${RECEIPT%.json}.pdf"
ls -l "$CERTIFICATE"

step "Verifier: the PDF alone verifies (credanchor reads the receipt attached to it)"
"$CLI" verify "$CERTIFICATE" -w "$WS"

step "Verifier: a PDF whose attached receipt had its credits raised from 3 to 30 is rejected"
.venv/bin/python - "$CERTIFICATE" "$WS/tampered-certificate.pdf" <<'PY'
import io, json, sys
from pypdf import PdfReader, PdfWriter
writer = PdfWriter(clone_from=PdfReader(sys.argv[1]))
spec = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"][1].get_object()
stream = spec["/EF"]["/F"].get_object()
receipt = json.loads(stream.get_data())
receipt["credential"]["credentialSubject"]["creditsEarned"] = 30
stream.set_data(json.dumps(receipt, indent=2).encode())
writer.write(sys.argv[2])
PY
expect_rejected "the tampered certificate" "$WS/tampered-certificate.pdf"
echo "(rejected, exit code 1, as it should be: the page is only as good as the receipt it carries)"

step "Registrar: certificates for every earner of an issued batch (issue --pdf again: nothing is anchored twice)"
# A new batch gets them as it is issued with --pdf (or [earner] pdf = true in the config).
"$CLI" issue scripts/sample-records-semicolon.csv --achievement example --out "$WS/receipts/summer-csv" --pdf -w "$WS"
ls "$WS/receipts/summer-csv"/*.pdf | head -n 3
"$CLI" verify "$WS/receipts/summer-csv"/*.pdf -w "$WS" --brief

step "Registrar: the delivery list of the .xlsx batch (who gets which receipt; personal data, mode 0600)"
"$CLI" deliveries 2 -w "$WS"
ls -l "$WS/receipts/spring-xlsx/delivery.csv"

step "Registrar: find a student's credential by e-mail, and read it"
"$CLI" credentials --email lea.dubois@example.org -w "$WS"
FOUND=$("$CLI" credentials --email lea.dubois@example.org --json -w "$WS")
"$CLI" show "$(.venv/bin/python -c 'import json, sys; print(json.loads(sys.argv[1])[0]["credentialId"])' "$FOUND")" -w "$WS"

step "Registrar: e-mail each earner of the .xlsx batch (badge attached; a local SMTP server on 127.0.0.1 stands in for the mail relay)"
SMTP_PORT=$(.venv/bin/python -c 'from anchoring.localnode import free_port; print(free_port())')
MAILDIR="$WS/maildir"
.venv/bin/python -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" &
SMTP_PID=$!
trap 'kill "$SMTP_PID" 2>/dev/null || true' EXIT
cat >> "$WS/credanchor.toml" <<EOF

[smtp]
port = $SMTP_PORT
sender = "registrar@example.edu"
starttls = false   # only for this local demo server: a real relay gets STARTTLS (the default) and a login
rate = 20
EOF
.venv/bin/python -c 'import socket, sys, time
for _ in range(100):
    try: socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); break
    except OSError: time.sleep(0.1)' "$SMTP_PORT"
"$CLI" deliveries 2 --format json -w "$WS" \
  | .venv/bin/python -c 'import json, sys; e = json.load(sys.stdin)[0]; print(e["verificationUrl"]); print(e["linkedinUrl"])'
"$CLI" notify --batch 2 --dry-run "$WS/outbox" -w "$WS"
"$CLI" notify --batch 2 -w "$WS"

step "Earner: one message each, with a text and an HTML part, the links, the receipt and the baked badge attached"
.venv/bin/python - "$MAILDIR" <<'PY'
import mailbox, sys
from collections import Counter
from email import policy
box = mailbox.Maildir(sys.argv[1], factory=None)
messages = [m for m in box]
print(f"{len(messages)} messages; per recipient: {set(Counter(m['To'] for m in messages).values())}")
first = __import__("email").message_from_bytes(bytes(messages[0]), policy=policy.default)
print("From:", first["From"]); print("To:", first["To"]); print("Subject:", first["Subject"])
print("parts:", [p.get_content_type() for p in first.walk() if not p.is_multipart()])
print("attached:", [a.get_filename() for a in first.iter_attachments()])
print(first.get_body(("plain",)).get_content()[:600])
PY

step "Registrar: running notify again sends nothing twice"
"$CLI" notify --batch 2 -w "$WS"

step "Registrar: delivery done, forget the earners' e-mail addresses of the .xlsx batch"
"$CLI" forget-addresses 2 -w "$WS"
kill "$SMTP_PID"; wait "$SMTP_PID" 2>/dev/null || true

step "Auditor: every anchor, revocation, key and role change, checked against the published manifests"
REGISTRY=$(.venv/bin/python -c "import tomllib; print(tomllib.load(open('$WS/credanchor.toml','rb'))['chain'][0]['registry'])")
set +e
"$CLI" audit --registry "$REGISTRY" --rpc-url "http://127.0.0.1:$PORT" --manifests "$WS/manifests"
code=$?
set -e
if [ "$code" -ne 1 ]; then echo "demo: expected the audit to flag the forgery's anchor (exit 1), got $code" >&2; exit 1; fi
echo "(the one problem is the anchor the forgery step made outside any batch: no manifest covers it)"

step "Employer: the web verifier (credanchor serve) answers the same as the CLI"
WEB_PORT=$(.venv/bin/python -c 'from anchoring.localnode import free_port; print(free_port())')
"$CLI" serve -w "$WS" --port "$WEB_PORT" > "$WS/serve.log" 2>&1 &
WEB_PID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$WEB_PORT/" && break; sleep 0.2; done
curl -fs --data-binary @"$RECEIPT" -H 'Content-Type: application/json' "http://127.0.0.1:$WEB_PORT/api/v1/verify" \
  | .venv/bin/python -c 'import json, sys; r = json.load(sys.stdin); print("web API:", r["verdict"], "-", r["reason"])'
curl -fs --data-binary @"$TAMPERED" -H 'Content-Type: application/json' "http://127.0.0.1:$WEB_PORT/api/v1/verify" \
  | .venv/bin/python -c 'import json, sys; r = json.load(sys.stdin); print("web API, tampered copy:", r["verdict"], "-", r["reason"])'
echo "credential page: http://127.0.0.1:$WEB_PORT/credentials/$(basename "$RECEIPT" .json) ->" \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/credentials/$(basename "$RECEIPT" .json)")"
kill -INT "$WEB_PID"; wait "$WEB_PID" || true

step "Verifier: record the block hashes the receipt's evidence rests on (both chains), then stop both chains for good"
"$CLI" checkpoint "$RECEIPT" -o "$WS/checkpoints.toml" --rpc-url "http://127.0.0.1:$PORT" --rpc-url "http://127.0.0.1:$PORT2"
cat "$WS/checkpoints.toml"
"$CLI" chain down -w "$WS"

step "Verifier: with no node at all, the receipt's own chain evidence and the checkpoints prove both anchors"
"$CLI" verify "$RECEIPT" --offline --checkpoints "$WS/checkpoints.toml" -w "$WS" --require 2

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
  make serve                                  # the web verifier on this workspace: http://127.0.0.1:8000/
                                              # (its chain brought up, both stopped again on Ctrl-C)
  .venv/bin/credanchor chain up -w $WS      # bring the chain back, anchors intact
  .venv/bin/credanchor verify $WS/receipts/demo/*.json -w $WS
MSG
