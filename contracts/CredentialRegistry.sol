// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title CredentialRegistry: one issuer's anchors of credential batches
/// @notice Each batch of credentials is a Merkle tree in OpenZeppelin StandardMerkleTree form with leaf
/// encoding ["bytes32"]: leaf = keccak256(bytes.concat(keccak256(abi.encode(digest)))). The registry stores
/// only the root, when it was anchored, and revocations; credentials themselves never touch the chain.
/// The registry also binds its issuer: the issuer id (the URL or DID of the issuer's Open Badges Profile)
/// fixed at deployment, and the Ed25519 keys that sign the issuer's credentials, each with the block it was
/// added in and, once revoked, the block of its revocation. A verifier accepts a credential's signature only
/// by a key this registry listed as active when the credential's batch was anchored.
/// @dev Roles: ANCHOR_ROLE anchors, REVOKE_ROLE revokes, KEY_ADMIN_ROLE adds and revokes signing keys, the
/// default admin grants and revokes all three. The default admin itself changes hands only by OpenZeppelin's
/// two-step, delayed transfer, so a stolen anchor key can be cut off without moving the registry's address.
contract CredentialRegistry is AccessControlDefaultAdminRules {
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");
    bytes32 public constant REVOKE_ROLE = keccak256("REVOKE_ROLE");
    bytes32 public constant KEY_ADMIN_ROLE = keccak256("KEY_ADMIN_ROLE");

    /// @notice The block this registry was deployed in: where an auditor starts reading events.
    uint256 public immutable deploymentBlock;

    /// @notice The issuer every credential anchored here must name (`issuer.id`), fixed at deployment.
    string public issuerId;

    /// @dev One storage slot per root (48+48+48+48+64 bits), written once by `anchor` and at most once more
    /// by `revokeBatch`; keeping it in one slot is what holds anchoring under 50,000 gas.
    struct Anchor {
        uint48 blockNumber;
        uint48 timestamp;
        uint48 revokedBlock;
        uint48 revokedTimestamp;
        uint64 leafCount;
    }

    /// @dev When one credential was revoked; zero when it was not.
    struct Revocation {
        uint48 blockNumber;
        uint48 timestamp;
    }

    /// @dev An Ed25519 signing key's life: added in `addedBlock`, revoked in `revokedBlock` (zero while active).
    struct SigningKey {
        uint48 addedBlock;
        uint48 revokedBlock;
    }

    mapping(bytes32 root => Anchor) private _anchors;
    mapping(bytes32 root => mapping(bytes32 leaf => Revocation)) private _revokedLeaves;
    mapping(bytes32 publicKey => SigningKey) private _signingKeys;

    event Anchored(bytes32 indexed root, uint256 leafCount, address indexed sender);
    event CredentialRevoked(bytes32 indexed root, bytes32 indexed leaf, address indexed sender, string reason);
    event BatchRevoked(bytes32 indexed root, address indexed sender, string reason);
    event IssuerBound(string issuerId);
    event SigningKeyAdded(bytes32 indexed publicKey, address indexed sender);
    event SigningKeyRevoked(bytes32 indexed publicKey, address indexed sender, string reason);

    error ZeroRoot();
    error EmptyBatch();
    error AlreadyAnchored(bytes32 root, uint256 blockNumber);
    error NotAnchored(bytes32 root);
    error AlreadyRevoked(bytes32 root, bytes32 leaf);
    error EmptyReason();
    error EmptyIssuerId();
    error ZeroKey();
    error KeyAlreadyAdded(bytes32 publicKey, uint256 addedBlock);
    error KeyNotActive(bytes32 publicKey);

    /// @param issuerId_ the issuer's Profile id (URL or DID); it never changes afterwards
    /// @param signingKeys the issuer's first Ed25519 public keys, active from this block
    constructor(
        uint48 initialAdminDelay,
        address admin,
        address anchorer,
        address revoker,
        address keyAdmin,
        string memory issuerId_,
        bytes32[] memory signingKeys
    ) AccessControlDefaultAdminRules(initialAdminDelay, admin) {
        if (bytes(issuerId_).length == 0) revert EmptyIssuerId();
        deploymentBlock = block.number;
        issuerId = issuerId_;
        emit IssuerBound(issuerId_);
        _grantRole(ANCHOR_ROLE, anchorer);
        _grantRole(REVOKE_ROLE, revoker);
        _grantRole(KEY_ADMIN_ROLE, keyAdmin);
        for (uint256 i = 0; i < signingKeys.length; ++i) {
            _addSigningKey(signingKeys[i]);
        }
    }

    /// @notice Add an Ed25519 signing key (the 32-byte public key). A key is added once, ever: a revoked
    /// key cannot come back.
    function addSigningKey(bytes32 publicKey) external onlyRole(KEY_ADMIN_ROLE) {
        _addSigningKey(publicKey);
    }

    /// @notice Revoke a signing key from this block on, with a public reason. Credentials whose batch was
    /// anchored before this block keep their signatures; later anchors cannot use the key.
    function revokeSigningKey(bytes32 publicKey, string calldata reason) external onlyRole(KEY_ADMIN_ROLE) {
        SigningKey storage key = _signingKeys[publicKey];
        if (key.addedBlock == 0 || key.revokedBlock != 0) revert KeyNotActive(publicKey);
        if (bytes(reason).length == 0) revert EmptyReason();
        key.revokedBlock = uint48(block.number);
        emit SigningKeyRevoked(publicKey, msg.sender, reason);
    }

    /// @notice When `publicKey` was added and revoked; all zero when it was never added.
    function signingKey(bytes32 publicKey) external view returns (SigningKey memory) {
        return _signingKeys[publicKey];
    }

    /// @notice Whether `publicKey` was an active signing key in block `blockNumber`.
    function keyActiveAt(bytes32 publicKey, uint256 blockNumber) external view returns (bool) {
        SigningKey memory key = _signingKeys[publicKey];
        return key.addedBlock != 0 && key.addedBlock <= blockNumber
            && (key.revokedBlock == 0 || blockNumber < key.revokedBlock);
    }

    function _addSigningKey(bytes32 publicKey) private {
        if (publicKey == bytes32(0)) revert ZeroKey();
        uint48 addedAt = _signingKeys[publicKey].addedBlock;
        if (addedAt != 0) revert KeyAlreadyAdded(publicKey, addedAt);
        _signingKeys[publicKey] = SigningKey(uint48(block.number), 0);
        emit SigningKeyAdded(publicKey, msg.sender);
    }

    /// @notice Anchor the root of a batch of `leafCount` credentials. A root is anchored once, ever.
    function anchor(bytes32 root, uint64 leafCount) external onlyRole(ANCHOR_ROLE) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (leafCount == 0) revert EmptyBatch();
        uint48 anchoredAt = _anchors[root].blockNumber;
        if (anchoredAt != 0) revert AlreadyAnchored(root, anchoredAt);
        _anchors[root] = Anchor(uint48(block.number), uint48(block.timestamp), 0, 0, leafCount);
        emit Anchored(root, leafCount, msg.sender);
    }

    /// @notice Revoke one credential of an anchored batch, by its leaf hash (see `leafHash`).
    function revokeCredential(bytes32 root, bytes32 leaf, string calldata reason) external onlyRole(REVOKE_ROLE) {
        if (_anchors[root].blockNumber == 0) revert NotAnchored(root);
        if (bytes(reason).length == 0) revert EmptyReason();
        if (_revokedLeaves[root][leaf].blockNumber != 0) revert AlreadyRevoked(root, leaf);
        _revokedLeaves[root][leaf] = Revocation(uint48(block.number), uint48(block.timestamp));
        emit CredentialRevoked(root, leaf, msg.sender, reason);
    }

    /// @notice Revoke every credential of an anchored batch.
    function revokeBatch(bytes32 root, string calldata reason) external onlyRole(REVOKE_ROLE) {
        Anchor storage a = _anchors[root];
        if (a.blockNumber == 0) revert NotAnchored(root);
        if (bytes(reason).length == 0) revert EmptyReason();
        if (a.revokedBlock != 0) revert AlreadyRevoked(root, bytes32(0));
        a.revokedBlock = uint48(block.number);
        a.revokedTimestamp = uint48(block.timestamp);
        emit BatchRevoked(root, msg.sender, reason);
    }

    /// @notice The anchor of `root`; all zero when it was never anchored.
    function anchorOf(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /// @notice When the credential with leaf `leaf` of batch `root` was revoked on its own; zero when not.
    function revocationOf(bytes32 root, bytes32 leaf) external view returns (Revocation memory) {
        return _revokedLeaves[root][leaf];
    }

    /// @notice Whether the credential is revoked, on its own or with its whole batch.
    function isRevoked(bytes32 root, bytes32 leaf) public view returns (bool) {
        return _anchors[root].revokedBlock != 0 || _revokedLeaves[root][leaf].blockNumber != 0;
    }

    /// @notice The StandardMerkleTree leaf of a credential digest.
    function leafHash(bytes32 digest) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    /// @notice Whether `proof` includes the credential `digest` in the tree with `root` (no chain state read).
    function verifyInclusion(bytes32 root, bytes32 digest, bytes32[] calldata proof) public pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leafHash(digest));
    }

    /// @notice Whether the credential is included in an anchored batch and is not revoked: the one call
    /// another contract needs to accept a credential.
    function isValid(bytes32 root, bytes32 digest, bytes32[] calldata proof) external view returns (bool) {
        return _anchors[root].blockNumber != 0 && verifyInclusion(root, digest, proof)
            && !isRevoked(root, leafHash(digest));
    }
}
