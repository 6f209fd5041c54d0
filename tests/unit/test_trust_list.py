"""Reading trust lists: what a verifier writes loads; limits hold without running the parser on hostile input."""

import time
from pathlib import Path

import pytest

from anchoring.tomlio import nesting_depth
from verifier.trust import MAX_TRUST_BYTES, load_trust_list

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_toml_with_strings_comments_and_dotted_keys_loads(tmp_path: Path) -> None:
    trust = tmp_path / "trust.toml"
    trust.write_text(
        "# [[[[ brackets in a comment ]]]] and a.b.c.d dots\n"
        "[[registry]]\n"
        'name = "Example [University] # not a comment"\n'
        "chain_id = 31337\n"
        f"address = '{ADDRESS}'\n"
        "[[registry]]\n"
        "name = '''Multi\n[[line]] ''name'''''\n"
        "chain_id = 1\n"
        f'address = """{ADDRESS.lower()}"""\n'
    )
    entries = load_trust_list(trust).entries
    assert [(e.name, e.chain_id) for e in entries] == [
        ("Example [University] # not a comment", 31337),
        ("Multi\n[[line]] ''name''", 1),
    ]


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"a = 1.5\nb = 1979-05-27T07:32:00.999Z", 2),
        (b'a.b.c = 1\n"x.y.z" = 2', 3),
        (b"[a . 'b.c' . d]\nx = [[1], {y.z = 2}]", 3),
        (b"x = '''a'''' # [[[\n", 1),
        (b'x = "unterminated [[[[', 1),
    ],
)
def test_nesting_depth(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_the_largest_trust_list_loads_in_seconds(tmp_path: Path) -> None:
    entry = f'[[registry]]\nname = "University number 000000"\nchain_id = 31337\naddress = "{ADDRESS}"\n'.encode()
    trust = tmp_path / "trust.toml"
    trust.write_bytes(entry * (MAX_TRUST_BYTES // len(entry)))
    started = time.monotonic()
    assert len(load_trust_list(trust).entries) == MAX_TRUST_BYTES // len(entry)
    assert time.monotonic() - started < 30
