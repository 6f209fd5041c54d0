import json
from pathlib import Path

from anchoring.receipt import EVIDENCE_RECEIPT_VERSION, MULTI_ANCHOR_RECEIPT_VERSION, RECEIPT_VERSION, receipt_schema

for version in (RECEIPT_VERSION, EVIDENCE_RECEIPT_VERSION, MULTI_ANCHOR_RECEIPT_VERSION):
    target = Path(__file__).parent / f"receipt-v{version}.schema.json"
    target.write_text(json.dumps(receipt_schema(version), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {target}")
