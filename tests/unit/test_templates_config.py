"""Achievement templates and the workspace config file."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from anchoring.errors import InvalidInput
from issuer.config import add_chain_entry, load_config, set_value
from issuer.templates import load_template
from issuer.workspace import EXAMPLE_TEMPLATE, render_config


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_example_template_renders_an_ob3_achievement(tmp_path: Path) -> None:
    write(tmp_path, "example", EXAMPLE_TEMPLATE)
    template = load_template(tmp_path, "example")
    achievement = template.achievement("https://registrar.test.edu/")
    assert achievement["id"] == "https://registrar.test.edu/achievements/example"
    assert achievement["type"] == ["Achievement"]
    assert achievement["achievementType"] == "Certificate"
    assert achievement["criteria"] == {"narrative": template.criteria}
    assert achievement["creditsAvailable"] == 3.0
    assert achievement["alignment"][0]["type"] == ["Alignment"]
    assert achievement["alignment"][0]["targetCode"] == "DS-3.1"
    assert achievement["resultDescription"][0]["resultType"] == "LetterGrade"


@pytest.mark.parametrize(
    ("validity", "start", "end"),
    [
        ("P3Y", "2026-02-28T10:00:00", "2029-02-28T10:00:00"),
        ("P1Y", "2024-02-29T10:00:00", "2025-02-28T10:00:00"),
        ("P18M", "2026-08-31T00:00:00", "2028-02-29T00:00:00"),
        ("P90D", "2026-01-01T00:00:00", "2026-04-01T00:00:00"),
        ("P1Y1M1D", "2026-01-31T00:00:00", "2027-03-01T00:00:00"),
    ],
)
def test_validity_period_sets_valid_until(tmp_path: Path, validity: str, start: str, end: str) -> None:
    write(tmp_path, "t", f'name = "N"\ndescription = "D"\ncriteria = "C"\nvalidity = "{validity}"\n')
    template = load_template(tmp_path, "t")
    begin = datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert template.valid_until(begin) == datetime.fromisoformat(end).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "N"\ndescription = "D"\n', "t.toml: criteria: missing"),
        ('name = "N"\ndescription = "D"\ncriteria = "C"\ncolour = "red"\n', "t.toml: colour: unknown member"),
        (
            'name = "N"\ndescription = "D"\ncriteria = "C"\nachievement_type = "Trophy"\n',
            "t.toml: achievement_type: unknown achievement type 'Trophy' (Open Badges 3.0 AchievementType or ext:Name)",
        ),
        (
            'name = "N"\ndescription = "D"\ncriteria = "C"\nvalidity = "3 years"\n',
            "t.toml: validity: validity '3 years' must be an ISO 8601 period of years, months, days: P2Y, P18M, P90D",
        ),
        (
            'name = "N"\ndescription = "D"\ncriteria = "C"\nimage = "badge.png"\n',
            "t.toml: image: must be an http(s) URL, a DID or a URN",
        ),
        (
            'name = "N"\ndescription = "D"\ncriteria = "C"\ncredits_available = -1\n',
            "t.toml: credits_available: must be greater than or equal to 0, got -1",
        ),
        ('name = "N"\ndescription = ', "t.toml: not valid TOML: "),
    ],
    ids=["missing", "unknown key", "type", "validity", "image", "credits", "toml"],
)
def test_bad_templates(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "t", text)
    with pytest.raises(InvalidInput) as caught:
        load_template(tmp_path, "t")
    assert str(caught.value).startswith(f"{tmp_path}/{message}")


def test_unknown_achievement_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path, "alpha", "")
    write(tmp_path, "beta", "")
    with pytest.raises(InvalidInput) as caught:
        load_template(tmp_path, "gamma")
    assert str(caught.value) == f"unknown achievement 'gamma' (templates in {tmp_path}: alpha, beta)"


def test_achievement_names_cannot_walk_out_of_the_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"achievement name '\.\./x' must be letters, digits"):
        load_template(tmp_path, "../x")


def test_set_value_keeps_comments_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "credanchor.toml"
    path.write_text(render_config("https://x.edu", "X", None, 8545))
    set_value(path, "chain", "registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3")
    set_value(path, "chain", "rpc_url", "http://127.0.0.1:9999")
    text = path.read_text()
    assert 'registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n' in text
    assert "# The node to anchor on." in text
    config = load_config(path)
    assert config.chain.rpc_url == "http://127.0.0.1:9999"
    with pytest.raises(InvalidInput, match="setting chain.confirmations would make it invalid"):
        set_value(path, "chain", "confirmations", 0)
    assert load_config(path).chain.confirmations == 1
    with pytest.raises(InvalidInput, match="has no \\[nothing\\] section"):
        set_value(path, "nothing", "x", 1)


def test_config_rejects_typos_and_bad_mappings(tmp_path: Path) -> None:
    path = tmp_path / "credanchor.toml"
    path.write_text(render_config("https://x.edu", "X", None, 8545).replace("confirmations = 1", "confirmatons = 1"))
    with pytest.raises(InvalidInput, match="chain.confirmatons: unknown member"):
        load_config(path)
    path.write_text(
        render_config("https://x.edu", "X", None, 8545).replace("columns = {}", 'columns = {"Mail" = "mail"}')
    )
    with pytest.raises(InvalidInput, match="records.columns maps 'Mail' to unknown field 'mail'"):
        load_config(path)


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("id", "registrar.example.edu", "issuer.id: 'registrar.example.edu' must be an absolute http(s) URL"),
        (
            "id",
            "did:web",
            "issuer.id: 'did:web' is not a DID (did:METHOD:ID, for example did:web:registrar.example.edu)",
        ),
        ("url", "www.example.edu", "issuer.url: 'www.example.edu' must be an absolute http(s) URL, with its scheme"),
        ("image", "logo.png", "issuer.image: 'logo.png' must be an absolute http(s) URL, with its scheme"),
        ("email", "registrar-at-example.edu", "issuer.email: 'registrar-at-example.edu' is not an e-mail address"),
    ],
    ids=["id without scheme", "DID without id", "url", "image", "email"],
)
def test_issuer_profile_is_checked_so_no_invalid_credential_is_emitted(
    tmp_path: Path, member: str, value: str, message: str
) -> None:
    path = tmp_path / "credanchor.toml"
    text = render_config("did:web:registrar.example.edu", "X", None, 8545)
    line = f"{member} = {json.dumps(value)}\n"
    text = text.replace(
        'id = "did:web:registrar.example.edu"\n',
        line if member == "id" else 'id = "did:web:registrar.example.edu"\n' + line,
    )
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        load_config(path)
    assert message in str(caught.value)


def test_alignment_target_types_are_ob3_values(tmp_path: Path) -> None:
    base = 'name = "N"\ndescription = "D"\ncriteria = "C"\n[[alignment]]\ntarget_name = "T"\ntarget_url = "https://t.org"\n'
    write(tmp_path, "ok", base + 'target_type = "ceasn:Competency"\n')
    assert load_template(tmp_path, "ok").alignment[0].target_type == "ceasn:Competency"
    write(tmp_path, "ext", base + 'target_type = "ext:Skill"\n')
    assert load_template(tmp_path, "ext").alignment[0].target_type == "ext:Skill"
    write(tmp_path, "bad", base + 'target_type = "Skill"\n')
    with pytest.raises(InvalidInput) as caught:
        load_template(tmp_path, "bad")
    assert "alignment.0.target_type: unknown alignment target type 'Skill' (one of CFItem" in str(caught.value)


@pytest.mark.parametrize(
    ("issuer_id", "achievement_id", "did_document_url"),
    [
        ("did:web:registrar.example.edu", "https://registrar.example.edu/achievements/t",
         "https://registrar.example.edu/.well-known/did.json"),
        ("did:web:example.edu:registrar", "https://example.edu/registrar/achievements/t",
         "https://example.edu/registrar/did.json"),
        ("did:web:localhost%3A8443", "https://localhost:8443/achievements/t", "https://localhost:8443/.well-known/did.json"),
        ("https://registrar.example.edu/", "https://registrar.example.edu/achievements/t", "https://registrar.example.edu/"),
    ],
)  # fmt: skip
def test_did_web_issuers_get_achievement_ids_on_their_web_origin(
    tmp_path: Path, issuer_id: str, achievement_id: str, did_document_url: str
) -> None:
    from issuer.profile import hosting_url

    write(tmp_path, "t", 'name = "N"\ndescription = "D"\ncriteria = "C"\n')
    assert load_template(tmp_path, "t").achievement_id(issuer_id) == achievement_id
    assert hosting_url(issuer_id) == did_document_url


def test_chain_entries_become_the_home_chain_and_additional_ones(tmp_path: Path) -> None:
    path = tmp_path / "credanchor.toml"
    path.write_text(render_config("https://x.edu", "X", None, 8545))
    add_chain_entry(path, {"rpc_url": "http://127.0.0.1:8546", "chain_id": 31338, "local_port": 8546})
    add_chain_entry(path, {"rpc_url": "https://rpc.example.net", "chain_id": 10, "keystore": "keys/op.json"})
    text = path.read_text()
    assert text.count("[[chain]]\n") == 3
    assert "[chain]" not in text.replace("[[chain]]", "")
    assert "# The node to anchor on." in text  # the home chain's comments stay
    config = load_config(path)
    assert [c.chain_id for c in config.chains] == [31337, 31338, 10]
    assert config.chain.chain_id == 31337
    assert [c.is_local for c in config.chains] == [True, True, False]
    assert config.chain_by_id(10) == (2, config.additional_chains[1])
    with pytest.raises(InvalidInput, match=r"^chain 5 is not configured \(configured: 31337, 31338, 10\)$"):
        config.chain_by_id(5)
    # Each entry's values are set where they belong, comments and the other entries untouched.
    set_value(path, "chain", "registry", "0x5FbDB2315678afecb367f032d93F642f64180aa3", 1)
    set_value(path, "chain", "confirmations", 3, 2)
    set_value(path, "chain", "confirmations", 2)
    config = load_config(path)
    assert [c.confirmations for c in config.chains] == [2, 1, 3]
    assert [c.registry for c in config.chains] == ["", "0x5FbDB2315678afecb367f032d93F642f64180aa3", ""]
    with pytest.raises(InvalidInput, match=r"has no \[\[chain\]\] entry 4 section$"):
        set_value(path, "chain", "confirmations", 3, 3)


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        ('[[chain]]\nrpc_url = "http://a"\nchain_id = 31337\n', "two [[chain]] entries for chain id 31337"),
        ("[additional_chains]\n", "additional_chains: unknown section (list more chains as [[chain]] entries)"),
        (
            "".join(f'[[chain]]\nrpc_url = "http://a"\nchain_id = {i}\n' for i in range(1, 9)),
            "chain: 9 [[chain]] entries; at most 8",
        ),
    ],
    ids=["same chain twice", "internal name", "too many"],
)
def test_bad_chain_entries(tmp_path: Path, tail: str, message: str) -> None:
    path = tmp_path / "credanchor.toml"
    text = render_config("https://x.edu", "X", None, 8545).replace("[chain]", "[[chain]]")
    path.write_text(text + "\n" + tail)
    with pytest.raises(InvalidInput) as caught:
        load_config(path)
    assert message in str(caught.value)
