"""Where the SMTP password comes from, and the settings `notify` refuses before it connects anywhere."""

from pathlib import Path

import pytest

from anchoring.errors import InvalidInput
from issuer.config import SmtpConfig
from issuer.smtp import smtp_password, transport_for


def test_the_password_comes_from_the_environment_then_the_file_it_names_then_the_config(tmp_path: Path) -> None:
    (tmp_path / "config.pass").write_text("from config\n")
    (tmp_path / "env.pass").write_text("from env file\r\n")
    config = SmtpConfig(password_file="config.pass")
    assert smtp_password(config, tmp_path, {}) == "from config"
    named = {"CREDANCHOR_SMTP_PASSWORD_FILE": str(tmp_path / "env.pass")}
    assert smtp_password(config, tmp_path, named) == "from env file"
    assert smtp_password(config, tmp_path, {**named, "CREDANCHOR_SMTP_PASSWORD": "from env"}) == "from env"
    assert smtp_password(SmtpConfig(), tmp_path, {}) is None


@pytest.mark.parametrize(
    ("settings", "environ", "problem"),
    [
        (
            {"password_file": "missing.pass", "username": "u"},
            {},
            "SMTP password file {root}/missing.pass: no such file",
        ),
        ({}, {"CREDANCHOR_SMTP_PASSWORD": "p"}, "an SMTP password is given but [smtp] username is not set"),
        ({"ca_file": "ca.pem"}, {}, "[smtp] ca_file {root}/ca.pem: no such file"),
        (
            {"host": "mail.example.edu", "starttls": False, "username": "u"},
            {"CREDANCHOR_SMTP_PASSWORD": "p"},
            "refusing to send the SMTP password to mail.example.edu:587 unencrypted: set [smtp] starttls = true",
        ),
    ],
)
def test_settings_refused_before_connecting(
    tmp_path: Path, settings: dict[str, str | bool], environ: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        transport_for(SmtpConfig.model_validate(settings), tmp_path, environ)
    assert str(raised.value) == problem.format(root=tmp_path)


def test_a_password_in_clear_is_allowed_to_this_machine_only(tmp_path: Path) -> None:
    local = SmtpConfig(host="localhost", starttls=False, username="u")
    transport = transport_for(local, tmp_path, {"CREDANCHOR_SMTP_PASSWORD": "p"})
    assert (transport.where, transport.starttls, transport.password) == ("localhost:587", False, "p")
