"""The web verifier's pure parts: the e-mail check, the chain-answer cache, upload sniffing and forms, the
chart, the VC API mapping; and that they stay pure."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anchoring.onchain import RegistryEvent, SigningKeyStatus
from credanchor.web.chart import daily_chart
from credanchor.web.uploads import UploadError, check_type, parse_form, sniff
from issuer.credentials import email_identifier, identity_hash
from issuer.records import normalise_email as issuer_normalise
from tests.unit.test_architecture import ROOT, imports
from verifier.cached import CachedReader
from verifier.checks import RootView
from verifier.recipient import check_email, check_identities, normalise_email

PURE_WEB = ["verifier/recipient.py", "credanchor/web/views.py", "credanchor/web/chart.py", "credanchor/web/vcapi.py"]


@pytest.mark.parametrize("module", PURE_WEB)
def test_pure_parts_do_no_io(module: str) -> None:
    names = imports(ROOT / module)
    assert [n for n in names if n.split(".")[0] in {"issuer", "requests", "socket", "sqlmodel", "fastapi"}] == []
    source = (ROOT / module).read_text()
    for call in ("open(", "datetime.now(", "time.time(", ".read_bytes("):
        assert call not in source


def credential_for(email: str, salt: str = "a1" * 16) -> dict[str, object]:
    return {"credentialSubject": {"identifier": [email_identifier(identity_hash(issuer_normalise(email), salt), salt)]}}


@given(st.emails(), st.sampled_from(["", " ", "\t"]))
def test_the_check_normalises_as_the_issuer_did(email: str, pad: str) -> None:
    assert normalise_email(pad + email.upper() + pad) == issuer_normalise(pad + email.upper() + pad)
    assert check_email(credential_for(email), pad + email.upper()).matches is True


def test_answers_and_their_words() -> None:
    credential = credential_for("ada@example.org")
    assert (
        check_email(credential, "ada@example.org").detail
        == "ada@example.org is the address this credential was issued to"
    )
    assert (
        check_email(credential, "bob@example.org").detail
        == "bob@example.org is not the address this credential was issued to"
    )
    assert check_email(credential, "not an address").detail == "'not an address' is not an e-mail address"
    assert check_email({}, "ada@example.org").matches is None
    assert check_identities([("zz" * 32, "salt"), ("é" * 64, "")], "ada@example.org").matches is False


class CountingReader:
    """A reader that answers from memory and counts how often it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.block = 10

    def chain_id(self) -> int:
        self.calls.append("chain_id")
        return 31337

    def head(self) -> int:
        self.calls.append("head")
        return self.block

    def root_view(self, registry: str, root: str, at_block: int) -> RootView:
        self.calls.append(f"root {root} {at_block}")
        return RootView(registry_has_code=True, anchor=None, anchored=None)

    def leaf_revocation(self, registry: str, root: str, leaf: str, at_block: int) -> RegistryEvent | None:
        self.calls.append("leaf")
        return None

    def signing_key(self, registry: str, public_key: str, at_block: int) -> SigningKeyStatus:
        self.calls.append("key")
        return SigningKeyStatus(public_key, 1, 0)

    def block_hash(self, number: int) -> str | None:
        self.calls.append(f"block {number}")
        return "0x" + "ab" * 32


def test_the_cache_keeps_answers_for_its_time_and_per_block() -> None:
    inner = CountingReader()
    now = [0.0]
    cached = CachedReader(lambda: inner, 5.0, clock=lambda: now[0])
    for _ in range(3):
        assert cached.chain_id() == 31337
        head = cached.head()
        cached.root_view("0xR", "0x1", head)
        cached.signing_key("0xR", "0xk", head)
        cached.block_hash(3)
    assert inner.calls == ["chain_id", "head", "root 0x1 10", "key", "block 3"]
    inner.block = 11
    now[0] = 5.1  # past the time: the head is read again, and answers are read at the new head
    head = cached.head()
    cached.root_view("0xR", "0x1", head)
    assert inner.calls[-2:] == ["head", "root 0x1 11"]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n....", "png"),
        (b"%PDF-1.7", "pdf"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b"  <svg/>", "svg"),
        (b"\n {}", "json"),
        (b"\xef\xbb\xbf{}", "json"),
        (b"<html></html>", None),
        (b"GIF89a", None),
    ],
)
def test_sniffing(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


def test_declared_types() -> None:
    check_type(b"{}", "application/octet-stream")
    check_type(b"{}", "")
    with pytest.raises(UploadError, match="^Content type 'text/html' is not accepted"):
        check_type(b"{}", "text/html")


def test_forms_are_parsed_in_memory() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\nada@example.org\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="r.json"\r\nContent-Type: application/json\r\n\r\n'
        b"{}\r\n--b--\r\n"
    )
    form = parse_form(body, "multipart/form-data; boundary=b")
    assert form.fields == {"email": "ada@example.org"}
    assert (form.files["file"].filename, form.files["file"].content_type, form.files["file"].data) == (
        "r.json",
        "application/json",
        b"{}",
    )
    assert parse_form(b"email=a%40b.org&x=", "application/x-www-form-urlencoded").fields == {
        "email": "a@b.org",
        "x": "",
    }
    many = (
        b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(9)) + b"--b--\r\n"
    )
    with pytest.raises(UploadError, match="^The form has more than 8 fields.$"):
        parse_form(many, "multipart/form-data; boundary=b")
    with pytest.raises(UploadError, match="^A form must be sent as multipart/form-data, not application/json.$"):
        parse_form(b"{}", "application/json")


def test_the_chart_escapes_and_carries_no_script() -> None:
    svg = daily_chart([("2026-11-29", 3, 1), ("2026-11-30", 0, 7)], "Views <b>& co</b>")
    assert '<title id="chart-title">Views &lt;b&gt;&amp; co&lt;/b&gt;</title>' in svg
    assert "<script" not in svg
    assert "style=" not in svg
    assert svg.count("<rect") == 4


def test_many_askers_at_once_cost_one_read() -> None:
    import threading

    release = threading.Event()

    class SlowReader(CountingReader):
        def root_view(self, registry: str, root: str, at_block: int) -> RootView:
            release.wait(10)
            return super().root_view(registry, root, at_block)

    inner = SlowReader()
    cached = CachedReader(lambda: inner, 5.0)
    answers: list[RootView] = []
    together = threading.Barrier(9)

    def ask() -> None:
        together.wait()
        answers.append(cached.root_view("0xR", "0x1", 10))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for asker in askers:
        asker.start()
    together.wait()  # all eight ask at once; the first read is still waiting for `release`
    release.set()
    for asker in askers:
        asker.join()
    assert len(answers) == 8
    assert inner.calls == ["root 0x1 10"]
