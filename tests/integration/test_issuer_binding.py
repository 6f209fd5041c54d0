"""The registry binds its issuer: the issuer id fixed at deployment, and signing keys added and revoked by the
key-admin role, visible in views, events, `role show` and the audit."""

import os

import pytest
from eth_account.signers.local import LocalAccount

from anchoring.chain import KEY_ADMIN_ROLE, Chain, Registry
from anchoring.errors import TransactionFailed
from anchoring.hashing import to_hex
from anchoring.multibase import encode_multikey
from anchoring.sender import TxSender
from issuer.roles import Roles
from tests.conftest import TEST_ISSUER_ID, deploy, funded
from tests.integration.test_contract import send
from verifier.audit import assemble, collect

pytestmark = pytest.mark.chain
KEY_GAS_LIMIT = 60_000


def test_deployment_binds_issuer_and_first_key(chain: Chain, account: LocalAccount) -> None:
    key = os.urandom(32)
    registry = deploy(chain, account, issuer_id="did:web:registrar.test.edu", signing_keys=(key,))
    deployed = registry.deployment_block()
    assert registry.issuer_id() == "did:web:registrar.test.edu"
    status = registry.signing_key(to_hex(key))
    assert (status.added_block, status.revoked_block) == (deployed, 0)
    assert status.active_at(deployed)
    assert not status.active_at(deployed - 1)
    assert registry.has_role(KEY_ADMIN_ROLE, account.address)
    names = [e.name for e in registry.events(deployed, deployed)]
    assert "IssuerBound" in names
    assert "SigningKeyAdded" in names


def test_empty_issuer_id_is_refused(chain: Chain, account: LocalAccount) -> None:
    with pytest.raises(TransactionFailed, match=r"registry rejected the call: EmptyIssuerId\(\)"):
        TxSender(chain, account).deploy_registry(admin_delay=60, issuer_id="", signing_keys=())


def test_key_life_cycle_and_its_errors(chain: Chain, registry: Registry, account: LocalAccount) -> None:
    key = os.urandom(32)
    added_gas = send(registry, account, "addSigningKey", key)
    print(f"gas of addSigningKey: {added_gas}")
    assert added_gas <= KEY_GAS_LIMIT
    added = registry.signing_key(to_hex(key)).added_block
    with pytest.raises(TransactionFailed, match=rf"KeyAlreadyAdded\(publicKey={to_hex(key)}, addedBlock={added}\)"):
        send(registry, account, "addSigningKey", key)
    with pytest.raises(TransactionFailed, match=r"registry rejected the call: ZeroKey\(\)"):
        send(registry, account, "addSigningKey", bytes(32))
    with pytest.raises(TransactionFailed, match=r"registry rejected the call: EmptyReason\(\)"):
        send(registry, account, "revokeSigningKey", key, "")
    revoke_gas = send(registry, account, "revokeSigningKey", key, "laptop stolen")
    print(f"gas of revokeSigningKey: {revoke_gas}")
    status = registry.signing_key(to_hex(key))
    assert status.revoked_block > added
    assert status.active_at(status.revoked_block - 1)
    assert not status.active_at(status.revoked_block)
    event = registry.key_revocation(to_hex(key), status.revoked_block)
    assert event is not None
    assert event.args["reason"] == "laptop stolen"
    # A revoked key never comes back, and cannot be revoked twice.
    with pytest.raises(TransactionFailed, match=r"KeyAlreadyAdded"):
        send(registry, account, "addSigningKey", key)
    with pytest.raises(TransactionFailed, match=rf"KeyNotActive\(publicKey={to_hex(key)}\)"):
        send(registry, account, "revokeSigningKey", key, "again")
    with pytest.raises(TransactionFailed, match=r"KeyNotActive"):
        send(registry, account, "revokeSigningKey", os.urandom(32), "never added")


def test_only_the_key_admin_manages_keys(chain: Chain, registry: Registry, account: LocalAccount) -> None:
    stranger = funded(chain)
    with pytest.raises(
        TransactionFailed,
        match=rf"AccessControlUnauthorizedAccount\(account={stranger.address}, neededRole=key-admin\)",
    ):
        send(registry, stranger, "addSigningKey", os.urandom(32))
    roles = Roles(chain, registry, TxSender(chain, account), 30)
    roles.grant("key-admin", stranger.address)
    key = os.urandom(32)
    send(registry, stranger, "addSigningKey", key)
    assert roles.key_active(encode_multikey(key))


def test_role_show_and_audit_list_issuer_and_keys(chain: Chain, registry: Registry, account: LocalAccount) -> None:
    key = os.urandom(32)
    roles = Roles(chain, registry, TxSender(chain, account), 30)
    roles.add_key(encode_multikey(key))
    roles.revoke_key(encode_multikey(key), "rotated")
    status = roles.status()
    assert status.issuer_id == TEST_ISSUER_ID
    assert status.key_admin == (account.address,)
    assert [k.multikey for k in status.signing_keys][-1] == encode_multikey(key)
    assert status.signing_keys[-1].reason == "rotated"
    assert status.signing_keys[0].revoked_block is None

    report = assemble(registry.address, chain.chain_id, *collect(chain, registry.address), None)
    kinds = [e.kind for e in report.entries]
    assert kinds.count("signing-key-added") == 2
    assert "issuer-bound" in kinds
    revoked = next(e for e in report.entries if e.kind == "signing-key-revoked")
    assert revoked.summary == f"signing key {encode_multikey(key)} revoked: rotated"
    assert report.clean
    assert any("signing key change" in n for n in report.notices)


def test_revoke_key_needs_a_reason(chain: Chain, registry: Registry, account: LocalAccount) -> None:
    roles = Roles(chain, registry, TxSender(chain, account), 30)
    with pytest.raises(Exception, match=r"give the reason for revoking the key with --reason"):
        roles.revoke_key(encode_multikey(os.urandom(32)), "  ")
    with pytest.raises(
        Exception,
        match=r"Multikey 'z123' is not an Ed25519 public key: its multicodec header is 0x003c, expected 0xed01",
    ):
        roles.add_key("z123")
