"""Receipt containers without a chain: the JSON Lines and zip writers, what `verify` and `extract` read out
of a container, and every kind of bad container refused with its exact message."""

import json
import multiprocessing
import os
import re
import struct
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anchoring import zipwrite
from anchoring.errors import InvalidInput, InvalidReceipt
from anchoring.receipt import MAX_RECEIPT_BYTES
from anchoring.receiptextract import extract_receipts
from anchoring.receiptfiles import (
    beside,
    beside_name,
    container_kind,
    iter_receipts,
    location_file,
    read_receipt_at,
    receipt_file_name,
)
from anchoring.receiptwrite import (
    ONE_FILE_ABOVE,
    ChunkNotWritten,
    ContainerWriter,
    Encoded,
    Slots,
    check_form,
    chosen_form,
    compact_receipt,
    encode_chunk,
    remove_stale_temps,
    temp_name,
    write_all,
)
from verifier.inputs import receipt_inputs, sniffed
from verifier.service import Session
from verifier.trust import TrustList

VALID = Path(__file__).parent.parent / "assets" / "receipts" / "valid.json"


Doc = tuple[str, str, dict[str, object]]


def documents(n: int) -> list[Doc]:
    ids = [f"urn:uuid:00000000-0000-4000-8000-{i:012d}" for i in range(n)]
    return [(cid, receipt_file_name(cid), {"type": "CredentialReceipt", "credential": {"id": cid}}) for cid in ids]


def encoded(form: str, docs: list[Doc], writer: ContainerWriter, slot: tuple[Slots, int] | None = None) -> Encoded:
    lines = []
    for cid, name, doc in docs:
        credential = json.dumps({"id": cid, "name": "Zoë\n"}, ensure_ascii=False, indent=1)  # spliced in, one line
        lines.append((cid, name, compact_receipt({**doc, "credential": None}, credential)))
    return encode_chunk(check_form(form), lines, writer.when, slot)


def write(path: Path, form: str, docs: list[Doc], chunk: int = 1000) -> dict[str, str]:
    locations: dict[str, str] = {}
    with ContainerWriter(path, check_form(form)) as writer:
        for i in range(0, len(docs), chunk):
            locations.update(writer.add(encoded(form, docs[i : i + chunk], writer)))
        writer.finish()
    return locations


def expected(doc: dict[str, object]) -> dict[str, object]:
    return {**doc, "credential": {**doc["credential"], "name": "Zoë\n"}}  # type: ignore[dict-item]


@pytest.mark.parametrize("form", ["jsonl", "zip"])
def test_every_location_written_reads_back_its_receipt(tmp_path: Path, form: str) -> None:
    docs = documents(2500)
    path = tmp_path / f"receipts.{form}"
    locations = write(path, form, docs)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
    for cid, _, document in docs:
        assert location_file(locations[cid]) == path
        assert json.loads(read_receipt_at(locations[cid])) == expected(document)
    entries = list(iter_receipts(path))
    assert [json.loads(e.data or b"") for e in entries] == [expected(d) for _, _, d in docs]
    if form == "zip":
        # members named as the `dir` form's files, each one line of compact JSON
        assert [e.name for e in entries] == [name for _, name, _ in docs]
        assert (
            entries[0].data
            == json.dumps(expected(docs[0][2]), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        )
        assert entries[0].source == f"{path}:{docs[0][1]}"
    else:
        assert entries[1].source == f"{path} line 2"
        assert path.read_bytes().count(b"\n") == 2500


def test_a_zip_of_more_than_65535_members_is_zip64_and_reads_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    locations = write(path, "zip", documents(70_000), chunk=5000)
    data = path.read_bytes()
    assert b"PK\x06\x06" in data[-200:]  # the ZIP64 end record and its locator
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert len(archive.infolist()) == 70_000
    last = "urn:uuid:00000000-0000-4000-8000-000000069999"
    assert json.loads(read_receipt_at(locations[last]))["credential"]["id"] == last


def test_offsets_past_4_gib_go_in_a_zip64_extra_field() -> None:
    member = zipwrite.Member("a.json", 7, 10, 8, 2**32 + 5)
    directory = zipwrite.central_directory([member], (0, 33), 2**32 + 100)
    header_offset = struct.unpack_from("<L", directory, 42)[0]
    assert header_offset == 0xFFFFFFFF
    assert struct.unpack_from("<2HQ", directory, 46 + len("a.json")) == (1, 8, 2**32 + 5)
    assert directory.index(b"PK\x06\x06") < directory.index(b"PK\x06\x07") < directory.index(b"PK\x05\x06")


def test_a_container_being_written_has_only_a_temporary_name(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    stale = tmp_path / ".receipts.jsonl.1234.tmp"
    stale.write_bytes(b"half a container from a killed run")
    writer = ContainerWriter(path, "jsonl")
    assert not stale.exists()  # a killed run's leftovers are cleared first
    writer.add(encoded("jsonl", documents(3), writer))
    assert not path.exists()
    assert temp_name(path).exists()
    assert container_kind(path) is None
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    remove_stale_temps(path)


_WRITER: ContainerWriter | None = None
"""The writer the processes of a test's pool write their chunks into (inherited as they fork)."""


def write_chunk(form: str, number: int, docs: list[Doc]) -> Encoded:
    assert _WRITER is not None
    return encoded(form, docs, _WRITER, (_WRITER.slots, number))


@pytest.mark.parametrize("form", ["jsonl", "zip"])
def test_chunks_written_by_their_workers_make_the_same_container(tmp_path: Path, form: str) -> None:
    """Chunks written straight into the container by worker processes, started last chunk first, make it byte
    for byte as the chunks' bytes handed to the writer would: each waits for the range of the one before it."""
    global _WRITER
    docs, when = documents(2500), datetime(2026, 6, 30, 12, 0, 7, tzinfo=UTC)
    (tmp_path / "given").mkdir()
    (tmp_path / "written").mkdir()
    given, written = tmp_path / "given" / f"receipts.{form}", tmp_path / "written" / f"receipts.{form}"
    with ContainerWriter(given, check_form(form), when) as writer:
        expected_locations = {}
        for i in range(0, 2500, 1000):
            expected_locations.update(writer.add(encoded(form, docs[i : i + 1000], writer)))
        writer.finish()
    locations = {}
    with ContainerWriter(written, check_form(form), when) as writer:
        _WRITER = writer
        try:
            with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [pool.submit(write_chunk, form, n, docs[n * 1000 : n * 1000 + 1000]) for n in (2, 1, 0)]
                chunks = [future.result(timeout=60) for future in reversed(futures)]
        finally:
            _WRITER = None
        for chunk in chunks:
            assert chunk.blob == b""
            locations.update(writer.add(chunk))
        assert [chunk.offset for chunk in chunks] == [0, sum(chunks[0].spans), sum(chunks[0].spans + chunks[1].spans)]
        writer.finish()
    assert written.read_bytes() == given.read_bytes()
    assert list(written.parent.iterdir()) == [written]
    assert {
        cid: location.replace(str(written), str(given)) for cid, location in locations.items()
    } == expected_locations
    for cid, _, document in docs[::97]:
        assert json.loads(read_receipt_at(locations[cid])) == expected(document)


def test_a_chunk_that_gives_up_fails_those_after_it_instead_of_keeping_them_waiting(tmp_path: Path) -> None:
    with ContainerWriter(tmp_path / "receipts.jsonl", "jsonl") as writer:
        assert writer.slots.write(0, [b"first\n"]) == 0
        writer.slots.give_up()  # chunk 1 will not come
        with pytest.raises(ChunkNotWritten, match=r"^chunk 2 of the container was not written: one before it failed$"):
            writer.slots.write(2, [b"third\n"])
        writer.abort()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("short", [False, True], ids=["whole writes", "short writes"])
@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.binary(max_size=40), max_size=2600))
def test_a_chunks_parts_are_written_in_order_whatever_each_write_takes(short: bool, parts: list[bytes]) -> None:
    """`write_all` writes the parts at an offset as one buffer would (IOV_MAX at a time), also where each write
    takes only some of its bytes."""

    def takes_seven_at(fd: int, buffers: list[bytes], offset: int) -> int:
        return os.pwrite(fd, b"".join(buffers)[:7], offset)

    with tempfile.TemporaryFile(buffering=0) as handle, pytest.MonkeyPatch.context() as patch:
        if short:
            patch.setattr(os, "pwritev", takes_seven_at)
        handle.write(b"#####")  # what is before the offset stays
        handle.seek(0)  # and the file's position is not where an offset write goes
        write_all(handle.fileno(), parts, 5)
        handle.seek(0)
        assert handle.read() == b"#####" + b"".join(parts)


@pytest.mark.parametrize("form", ["jsonl", "zip"])
def test_lines_given_with_their_line_break_are_stored_as_those_without(tmp_path: Path, form: str) -> None:
    lines = [(cid, name, json.dumps(doc).encode()) for cid, name, doc in documents(5)]
    with ContainerWriter(tmp_path / f"r.{form}", check_form(form)) as writer:
        bare = encode_chunk(check_form(form), lines, writer.when)
        broken = encode_chunk(check_form(form), [(c, n, line + b"\n") for c, n, line in lines], writer.when)
        writer.abort()
    assert bare == broken
    assert bare.raw_sizes == [len(line) + 1 for _, _, line in lines]


def test_a_chunk_that_is_not_what_its_entries_say_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    writer = ContainerWriter(path, "jsonl")
    chunk = encoded("jsonl", documents(3), writer)
    listed = sum(chunk.spans)
    with pytest.raises(ValueError, match=f"^a chunk of 3 receipts held 10 bytes, not the {listed} listed$"):
        writer.add(replace(chunk, blob=b"0123456789"))
    with pytest.raises(ValueError, match="^a chunk of 3 receipts was written at byte 5, not at 0$"):
        writer.add(replace(chunk, blob=b"", offset=5))
    writer.add(encoded("jsonl", documents(3), writer, (writer.slots, 0)))
    writer.slots.write(1, [b"a chunk its writer never added\n"])
    with pytest.raises(
        ValueError, match=f"^the container holds {listed + 31} bytes, not the {listed} its chunks listed$"
    ):
        writer.finish()
    writer.abort()
    assert list(tmp_path.iterdir()) == []  # nothing left: no temporary container


def test_a_killed_runs_chunk_files_are_cleared(tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    stale = tmp_path / ".receipts.zip.1234.parts"
    stale.mkdir()
    (stale / "000000001000.part").write_bytes(b"a chunk of a killed run")
    writer = ContainerWriter(path, "zip")
    assert not stale.exists()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_container_written_again_replaces_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    write(path, "zip", documents(3))

    def killed_halfway() -> None:
        with ContainerWriter(path, "zip") as writer:
            writer.add(encoded("zip", documents(5), writer))
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        killed_halfway()
    assert len(list(iter_receipts(path))) == 3  # the old container, untouched
    write(path, "zip", documents(5))
    assert len(list(iter_receipts(path))) == 5
    assert list(tmp_path.iterdir()) == [path]


def test_what_a_file_holds_is_told_by_its_content(tmp_path: Path) -> None:
    lines = b"".join(json.dumps(d).encode() + b"\n" for _, _, d in documents(2))
    (tmp_path / "two-lines.json").write_bytes(lines)
    (tmp_path / "one-line.json").write_bytes(lines.splitlines(keepends=True)[0])
    (tmp_path / "pretty.json").write_bytes(VALID.read_bytes())
    (tmp_path / "named.jsonl").write_bytes(b"")
    (tmp_path / "archive.bin").write_bytes(b"PK\x03\x04rest")
    (tmp_path / "not-a-zip.zip").write_bytes(b"{}\n")
    assert container_kind(tmp_path / "two-lines.json") == "jsonl"
    assert container_kind(tmp_path / "one-line.json") is None
    assert container_kind(tmp_path / "pretty.json") is None
    assert container_kind(tmp_path / "named.jsonl") == "jsonl"
    assert container_kind(tmp_path / "archive.bin") == "zip"
    assert container_kind(tmp_path / "not-a-zip.zip") is None
    assert container_kind(tmp_path / "missing.jsonl") is None


def test_beside_names_a_receipts_companion_files() -> None:
    cid = "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert beside("/r/abc.json", cid, ".png") == Path("/r/abc.png")
    assert beside("/r/receipts.jsonl#120", cid, ".pdf") == Path("/r/00000000-0000-4000-8000-000000000001.pdf")
    assert beside("/r/receipts.zip#x.json", cid, ".json") == Path("/r/00000000-0000-4000-8000-000000000001.json")


_PIECES = st.sampled_from(
    [
        "",
        ".",
        "..",
        "/",
        "#",
        "a",
        "r.json",
        ".json",
        "x.",
        "receipts",
        ".jsonl",
        ".zip",
        "#12",
        "#0123456789012345",
        "#x.json",
        "#/m",
        "\\",
        "\n",
        "é",
        "urn:uuid:1",
        "a.b.c",
        "https://e.org/c/1",
    ]
)


@given(
    st.lists(_PIECES, max_size=6).map("".join),
    st.lists(_PIECES, min_size=1, max_size=4).map("".join),
    st.sampled_from([".json", ".png", ".pdf", ".svg"]),
)
def test_beside_name_is_the_name_of_beside(location: str, cid: str, suffix: str) -> None:
    try:
        expected = beside(location, cid, suffix).name
    except ValueError as exc:  # a name path parsing refuses (empty, ".."): refused the same way
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            beside_name(location, cid, suffix)
        return
    assert beside_name(location, cid, suffix) == expected


def test_beside_name_of_each_form() -> None:
    cid = "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert beside_name("/r/abc.json", cid, ".json") == "abc.json"
    assert beside_name("/r/receipts.jsonl#120", cid, ".json") == "00000000-0000-4000-8000-000000000001.json"
    assert beside_name("/r/receipts.zip#x.json", cid, ".pdf") == "00000000-0000-4000-8000-000000000001.pdf"


def problems(path: Path) -> list[str | None]:
    return [entry.problem for entry in iter_receipts(path)]


def test_a_line_over_the_limit_is_refused_alone(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    path.write_bytes(b'{"a":1}\n' + b" " * (MAX_RECEIPT_BYTES + 5) + b"\n" + b'{"b":2}\n')
    assert problems(path) == [None, f"{path} line 2: the line is over the limit of 2,097,152 bytes", None]
    assert [e.source for e in iter_receipts(path)][2] == f"{path} line 3"


def test_a_non_json_line_is_a_malformed_receipt_of_that_line(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    path.write_bytes(VALID.read_bytes().replace(b"\n", b"") + b"\nnot json\n")
    reports = [r for _, r in receipt_inputs(sniffed([path]))]
    assert reports[0] == VALID.read_bytes().replace(b"\n", b"")
    session = Session(None, TrustList(()), now=datetime.now(UTC))
    report = session.verify_bytes(reports[1], f"{path} line 2")  # type: ignore[arg-type]
    assert report.verdict == "malformed"
    assert report.steps[0].detail == f"{path} line 2: not valid JSON at line 1 column 1: Expecting value"
    with pytest.raises(InvalidReceipt, match=f"^{path} line 2: is not JSON$"):
        extract_receipts(path, "jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written from a container that is not sound


def zip_of(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def test_a_truncated_zip_is_refused_whole(tmp_path: Path) -> None:
    good = zip_of(tmp_path / "good.zip", [("a.json", VALID.read_bytes())])
    path = tmp_path / "receipts.zip"
    path.write_bytes(good.read_bytes()[:-30])
    assert container_kind(path) == "zip"
    with pytest.raises(
        InvalidReceipt, match=r"^" + str(path) + r": not a readable zip archive \(File is not a zip file\)$"
    ):
        list(iter_receipts(path))
    reports = [r for _, r in receipt_inputs(sniffed([path]))]
    assert len(reports) == 1
    assert reports[0].verdict == "malformed"  # type: ignore[union-attr]
    assert reports[0].steps[0].detail == f"{path}: not a readable zip archive (File is not a zip file)"  # type: ignore[union-attr]


def test_a_member_named_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        zip_of(path, [("a.json", b"{}"), ("a.json", b"{}")])
    with pytest.raises(InvalidReceipt, match=f"^{path}: the archive holds 'a.json' twice$"):
        list(iter_receipts(path))


@pytest.mark.parametrize(
    "name", ["../evil.json", "/etc/evil.json", "a/../../evil.json", "C:evil.json", "a\\..\\b.json"]
)
def test_a_member_name_that_leaves_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    path = zip_of(tmp_path / "receipts.zip", [("ok.json", b"{}"), (name, b"{}")])
    stored = zipfile.ZipFile(path).namelist()[1]
    with pytest.raises(InvalidReceipt) as caught:
        extract_receipts(path, "zip", tmp_path / "out")
    assert str(caught.value) == f"{path}: member {stored!r} is not a plain relative path; refused"
    assert not (tmp_path / "out").exists()


def test_members_over_the_limit_or_expanding_too_much_are_refused_alone(tmp_path: Path) -> None:
    path = zip_of(
        tmp_path / "receipts.zip",
        [("big.json", b" " * (MAX_RECEIPT_BYTES + 1)), ("bomb.json", b" " * 1_000_000), ("ok.json", b"{}")],
    )
    info = zipfile.ZipFile(path).getinfo("bomb.json")
    assert problems(path) == [
        f"{path}:big.json: 2,097,153 bytes is over the limit of 2,097,152 bytes",
        f"{path}:bomb.json: {info.compress_size:,} bytes that expand to 1,000,000 (over 100 to 1): refused as a zip bomb",
        None,
    ]


def test_a_member_that_holds_other_than_it_declares_is_refused(tmp_path: Path) -> None:
    path = zip_of(tmp_path / "receipts.zip", [("a.json", VALID.read_bytes())])
    data = bytearray(path.read_bytes())
    size = len(VALID.read_bytes())
    directory = data.index(b"PK\x01\x02")
    struct.pack_into("<L", data, directory + 24, size - 10)  # the central directory says 10 bytes fewer
    struct.pack_into("<L", data, 22, size - 10)  # and so does the local header
    path.write_bytes(bytes(data))
    assert problems(path) == [f"{path}:a.json: cannot be read (Bad CRC-32 for file 'a.json')"]


def test_extract_writes_each_receipt_as_the_dir_form_names_it(tmp_path: Path) -> None:
    docs = documents(4)
    path = tmp_path / "receipts.jsonl"
    write(path, "jsonl", docs)
    out = tmp_path / "out"
    written = extract_receipts(path, "jsonl", out, [docs[1][0]])
    assert written == [out / docs[1][1]]
    assert json.loads(written[0].read_bytes()) == expected(docs[1][2])
    with pytest.raises(InvalidInput, match=f"^{out / docs[1][1]} exists already; pass --force to replace it$"):
        extract_receipts(path, "jsonl", out, [docs[1][0]])
    assert extract_receipts(path, "jsonl", out, [docs[1][0]], force=True) == written
    with pytest.raises(InvalidInput, match=f"^{path} holds no receipt of urn:uuid:nope$"):
        extract_receipts(path, "jsonl", out, ["urn:uuid:nope"])
    assert len(extract_receipts(path, "jsonl", tmp_path / "all")) == 4


def test_extract_refuses_a_json_lines_file_holding_one_credential_twice(tmp_path: Path) -> None:
    docs = documents(2)
    path = tmp_path / "receipts.jsonl"
    write(path, "jsonl", [docs[0], docs[1], docs[0]])
    with pytest.raises(InvalidReceipt, match=f"^{path}: holds {docs[0][1]} twice$"):
        extract_receipts(path, "jsonl", tmp_path / "out")


def test_an_unknown_form_is_refused() -> None:
    with pytest.raises(ValueError, match="^receipts form 'tar' is not one of dir, jsonl, zip$"):
        check_form("tar")
    with pytest.raises(ValueError, match="^receipts form 'auto' is not one of dir, jsonl, zip$"):
        check_form("auto")  # a choice made per batch, never a batch's form
    with pytest.raises(ValueError, match="^receipts form 'tar' is not one of auto, dir, jsonl, zip$"):
        chosen_form("tar", 10)


def test_auto_writes_a_file_each_up_to_the_limit_and_one_json_lines_file_above() -> None:
    assert ONE_FILE_ABOVE == 100_000
    assert [chosen_form("auto", n) for n in (1, ONE_FILE_ABOVE, ONE_FILE_ABOVE + 1, 1_000_000)] == [
        "dir",
        "dir",
        "jsonl",
        "jsonl",
    ]
    # a form asked for by name is kept whatever the size
    assert [chosen_form(form, n) for form in ("dir", "jsonl", "zip") for n in (1, 1_000_000)] == [
        "dir",
        "dir",
        "jsonl",
        "jsonl",
        "zip",
        "zip",
    ]


def test_a_jsonl_offset_into_the_middle_of_a_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receipts.jsonl"
    locations = write(path, "jsonl", documents(3))
    offset = int(locations[documents(3)[1][0]].rsplit("#", 1)[1])
    with pytest.raises(InvalidReceipt, match=rf"^{path}#{offset + 5}: no receipt starts at byte {offset + 5}$"):
        read_receipt_at(f"{path}#{offset + 5}")


def test_members_of_one_archive_are_read_from_one_open_archive_until_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "receipts.zip"
    docs = documents(5)
    locations = write(path, "zip", docs)
    assert [json.loads(read_receipt_at(locations[cid])) for cid, _, _ in docs] == [expected(d) for _, _, d in docs]
    replaced = write(path, "zip", documents(2))  # written again: the new archive is read, not the one kept
    with pytest.raises(InvalidReceipt, match="the archive has no member"):
        read_receipt_at(locations[docs[4][0]])
    assert json.loads(read_receipt_at(replaced[docs[1][0]])) == expected(docs[1][2])
