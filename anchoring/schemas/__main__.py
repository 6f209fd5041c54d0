import json
from pathlib import Path

from anchoring.receipt import receipt_schema

target = Path(__file__).parent / "receipt-v1.schema.json"
target.write_text(json.dumps(receipt_schema(), indent=2) + "\n", encoding="utf-8")
print(f"wrote {target}")
