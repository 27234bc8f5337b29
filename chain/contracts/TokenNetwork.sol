// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IERC20Transfer {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title TokenNetwork: ERC-20 payment channels between two participants (Raiden-style).
/// @notice One open channel per participant pair. Each side deposits with `setTotalDeposit`;
/// payments move off chain as EIP-712 balance proofs with cumulative `transferredAmount`.
/// A participant submits only its partner's balance proof, never its own (a payer's own signature
/// must never be evidence that it owes less): at close, and during the settle timeout with a higher
/// nonce. The submitter may take less than the proof's `transferredAmount` (a town takes what it
/// delivered, not the cover of packets it refused), never more, and what a participant is booked
/// to have transferred never decreases. docs/PROTOCOL.md "Payment channels" has the rules.
/// While open, a participant takes tokens out with `setTotalWithdraw`, signed by both sides; the
/// cumulative `withdrawn` leaves the channel, so settlement shares deposits minus withdrawals.
/// Locked transfers are not supported: `lockedAmount` must be 0 and `locksRoot` zero.
contract TokenNetwork {
    enum ChannelState {
        None,
        Opened,
        Closed
    }

    struct Channel {
        address participant1;
        address participant2;
        ChannelState state;
        uint64 settleTimeout;
        uint64 settleAt;
        address closer;
    }

    struct Participant {
        uint256 deposit;
        uint256 transferredAmount;
        uint256 nonce;
        uint256 withdrawn;
    }

    /// @notice 2: only a partner's proof is taken (version 1 took either participant's). Nodes refuse
    /// a TokenNetwork without it (docs/OPERATIONS.md "Payment channels").
    uint256 public constant VERSION = 2;
    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant BALANCE_PROOF_TYPEHASH = keccak256(
        "BalanceProof(bytes32 channelId,uint256 nonce,uint256 transferredAmount,uint256 lockedAmount,bytes32 locksRoot)"
    );
    bytes32 public constant COOPERATIVE_SETTLE_TYPEHASH = keccak256(
        "CooperativeSettle(bytes32 channelId,address participant1,uint256 balance1,address participant2,uint256 balance2)"
    );
    bytes32 public constant WITHDRAW_TYPEHASH =
        keccak256("Withdraw(bytes32 channelId,address participant,uint256 totalWithdraw,uint256 expiration)");
    // secp256k1 n / 2: signatures with a higher s are malleable copies and are refused.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    IERC20Transfer public immutable token;
    uint64 public immutable minSettleTimeout;
    uint64 public immutable maxSettleTimeout;
    uint256 public channelCounter;

    mapping(bytes32 => Channel) private _channels;
    mapping(bytes32 => mapping(address => Participant)) private _participants;
    mapping(bytes32 => bytes32) private _pairChannel;

    event ChannelOpened(
        bytes32 indexed channelId, address indexed participant1, address indexed participant2, uint256 settleTimeout
    );
    event ChannelNewDeposit(bytes32 indexed channelId, address indexed participant, uint256 totalDeposit);
    event ChannelClosed(
        bytes32 indexed channelId, address indexed closer, address signer, uint256 nonce, uint256 transferredAmount
    );
    event BalanceProofUpdated(
        bytes32 indexed channelId, address indexed signer, uint256 nonce, uint256 transferredAmount
    );
    event ChannelWithdraw(bytes32 indexed channelId, address indexed participant, uint256 totalWithdraw);
    event ChannelSettled(bytes32 indexed channelId, uint256 amount1, uint256 amount2);

    error InvalidPartner();
    error ChannelExists(bytes32 channelId);
    error SettleTimeoutOutOfRange(uint256 given, uint256 min, uint256 max);
    error WrongChannelState(bytes32 channelId, ChannelState state);
    error NotParticipant(address account);
    error DepositNotIncreased(uint256 current, uint256 requested);
    error LocksNotSupported();
    error BadSignature();
    error StaleNonce(uint256 stored, uint256 given);
    error NotPartnerProof(address signer);
    error TakenAboveSigned(uint256 signed, uint256 taken);
    error TransferredAmountDecreased(uint256 stored, uint256 given);
    error SettleTimeoutOver(uint256 settleAt);
    error SettleTimeoutNotOver(uint256 settleAt);
    error BalancesDoNotAddUp(uint256 total, uint256 given);
    error TokenTransferFailed();
    error WithdrawExpired(uint256 expiration, uint256 timestamp);
    error WithdrawNotIncreased(uint256 current, uint256 requested);
    error WithdrawBeyondDeposit(uint256 deposit, uint256 requested);

    constructor(address token_, uint64 minSettleTimeout_, uint64 maxSettleTimeout_) {
        token = IERC20Transfer(token_);
        minSettleTimeout = minSettleTimeout_;
        maxSettleTimeout = maxSettleTimeout_;
    }

    /// @notice Opens a channel between the caller and `partner`; the id is unique per opening.
    function openChannel(address partner, uint64 settleTimeout) external returns (bytes32 channelId) {
        if (partner == address(0) || partner == msg.sender) revert InvalidPartner();
        if (settleTimeout < minSettleTimeout || settleTimeout > maxSettleTimeout) {
            revert SettleTimeoutOutOfRange(settleTimeout, minSettleTimeout, maxSettleTimeout);
        }
        bytes32 pair = _pairKey(msg.sender, partner);
        if (_pairChannel[pair] != bytes32(0)) revert ChannelExists(_pairChannel[pair]);
        channelCounter += 1;
        channelId = keccak256(abi.encode(block.chainid, address(this), msg.sender, partner, channelCounter));
        _pairChannel[pair] = channelId;
        _channels[channelId] = Channel(msg.sender, partner, ChannelState.Opened, settleTimeout, 0, address(0));
        emit ChannelOpened(channelId, msg.sender, partner, settleTimeout);
    }

    /// @notice Raises `participant`'s deposit to `totalDeposit`, pulling the difference from the caller.
    function setTotalDeposit(bytes32 channelId, address participant, uint256 totalDeposit) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        _requireParticipant(channel, participant);
        Participant storage p = _participants[channelId][participant];
        if (totalDeposit <= p.deposit) revert DepositNotIncreased(p.deposit, totalDeposit);
        uint256 added = totalDeposit - p.deposit;
        p.deposit = totalDeposit;
        emit ChannelNewDeposit(channelId, participant, totalDeposit);
        if (!token.transferFrom(msg.sender, address(this), added)) revert TokenTransferFailed();
    }

    /// @notice Raises `participant`'s cumulative withdrawal to `totalWithdraw` and pays it the
    /// difference. Both participants sign the message (the partner checks off chain that what
    /// remains covers what the participant owes); the monotonic total stops a replay.
    function setTotalWithdraw(
        bytes32 channelId,
        address participant,
        uint256 totalWithdraw,
        uint256 expiration,
        bytes calldata participantSignature,
        bytes calldata partnerSignature
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        _requireParticipant(channel, participant);
        if (block.timestamp > expiration) revert WithdrawExpired(expiration, block.timestamp);
        Participant storage p = _participants[channelId][participant];
        if (totalWithdraw <= p.withdrawn) revert WithdrawNotIncreased(p.withdrawn, totalWithdraw);
        if (totalWithdraw > p.deposit) revert WithdrawBeyondDeposit(p.deposit, totalWithdraw);
        address partner = participant == channel.participant1 ? channel.participant2 : channel.participant1;
        bytes32 digest =
            _digest(keccak256(abi.encode(WITHDRAW_TYPEHASH, channelId, participant, totalWithdraw, expiration)));
        if (_recover(digest, participantSignature) != participant || _recover(digest, partnerSignature) != partner) {
            revert BadSignature();
        }
        uint256 amount = totalWithdraw - p.withdrawn;
        p.withdrawn = totalWithdraw;
        emit ChannelWithdraw(channelId, participant, totalWithdraw);
        _pay(participant, amount);
    }

    /// @notice Closes the channel, optionally with the partner's balance proof (nonce 0: none), of
    /// which the caller takes `takenAmount` (at most the proof's `transferredAmount`); starts the
    /// settle timeout.
    function closeChannel(
        bytes32 channelId,
        uint256 nonce,
        uint256 transferredAmount,
        uint256 lockedAmount,
        bytes32 locksRoot,
        bytes calldata signature,
        uint256 takenAmount
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        _requireParticipant(channel, msg.sender);
        address signer = address(0);
        if (nonce != 0) {
            signer = _storePartnerProof(
                channelId, channel, nonce, transferredAmount, lockedAmount, locksRoot, signature, takenAmount
            );
        }
        channel.state = ChannelState.Closed;
        channel.closer = msg.sender;
        channel.settleAt = uint64(block.timestamp) + channel.settleTimeout;
        emit ChannelClosed(channelId, msg.sender, signer, nonce, nonce != 0 ? takenAmount : 0);
    }

    /// @notice During the settle timeout, a participant replaces its partner's balance proof with a
    /// newer one of the partner's (higher nonce), taking `takenAmount` of it: never less than what
    /// is stored, never more than the proof's `transferredAmount`. Either participant may call it
    /// (the non-closer answers a close that left out its newest claim; the closer may add a newer one).
    function updateNonClosingBalanceProof(
        bytes32 channelId,
        uint256 nonce,
        uint256 transferredAmount,
        uint256 lockedAmount,
        bytes32 locksRoot,
        bytes calldata signature,
        uint256 takenAmount
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Closed);
        _requireParticipant(channel, msg.sender);
        if (block.timestamp > channel.settleAt) revert SettleTimeoutOver(channel.settleAt);
        address signer = _storePartnerProof(
            channelId, channel, nonce, transferredAmount, lockedAmount, locksRoot, signature, takenAmount
        );
        emit BalanceProofUpdated(channelId, signer, nonce, takenAmount);
    }

    /// @notice After the settle timeout, pays both sides what the latest balance proofs say.
    function settleChannel(bytes32 channelId) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Closed);
        if (block.timestamp <= channel.settleAt) revert SettleTimeoutNotOver(channel.settleAt);
        address a = channel.participant1;
        address b = channel.participant2;
        Participant memory pa = _participants[channelId][a];
        Participant memory pb = _participants[channelId][b];
        // What the contract still holds for this channel; withdrawn <= deposit always holds.
        uint256 total = pa.deposit - pa.withdrawn + pb.deposit - pb.withdrawn;
        // Capping at the total keeps the sums below from overflowing on an absurd proof.
        uint256 ta = pa.transferredAmount > total ? total : pa.transferredAmount;
        uint256 tb = pb.transferredAmount > total ? total : pb.transferredAmount;
        uint256 creditA = pa.deposit - pa.withdrawn + tb;
        uint256 amountA = creditA > ta ? creditA - ta : 0;
        if (amountA > total) amountA = total;
        uint256 amountB = total - amountA;
        _forget(channelId, a, b);
        emit ChannelSettled(channelId, amountA, amountB);
        _pay(a, amountA);
        _pay(b, amountB);
    }

    /// @notice Settles at once with the final balances both participants signed.
    function cooperativeSettle(
        bytes32 channelId,
        uint256 balance1,
        uint256 balance2,
        bytes calldata signature1,
        bytes calldata signature2
    ) external {
        Channel storage channel = _channelIn(channelId, ChannelState.Opened);
        address a = channel.participant1;
        address b = channel.participant2;
        uint256 total = _held(channelId, a) + _held(channelId, b);
        if (balance1 + balance2 != total) revert BalancesDoNotAddUp(total, balance1 + balance2);
        bytes32 digest = _digest(
            keccak256(abi.encode(COOPERATIVE_SETTLE_TYPEHASH, channelId, a, balance1, b, balance2))
        );
        if (_recover(digest, signature1) != a || _recover(digest, signature2) != b) revert BadSignature();
        _forget(channelId, a, b);
        emit ChannelSettled(channelId, balance1, balance2);
        _pay(a, balance1);
        _pay(b, balance2);
    }

    function getChannel(bytes32 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    function getParticipant(bytes32 channelId, address participant) external view returns (Participant memory) {
        return _participants[channelId][participant];
    }

    /// @notice The open or closed channel between two accounts, or zero.
    function channelOf(address a, address b) external view returns (bytes32) {
        return _pairChannel[_pairKey(a, b)];
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("TokenNetwork"), keccak256("1"), block.chainid, address(this))
        );
    }

    /// @dev Stores the caller's partner's proof: signed by the partner (the caller's own signature is
    /// refused), a higher nonce than stored, and an amount taken that never lowers the stored one.
    function _storePartnerProof(
        bytes32 channelId,
        Channel storage channel,
        uint256 nonce,
        uint256 transferredAmount,
        uint256 lockedAmount,
        bytes32 locksRoot,
        bytes calldata signature,
        uint256 takenAmount
    ) private returns (address signer) {
        if (lockedAmount != 0 || locksRoot != bytes32(0)) revert LocksNotSupported();
        bytes32 digest = _digest(
            keccak256(abi.encode(BALANCE_PROOF_TYPEHASH, channelId, nonce, transferredAmount, lockedAmount, locksRoot))
        );
        signer = _recover(digest, signature);
        address partner = msg.sender == channel.participant1 ? channel.participant2 : channel.participant1;
        if (signer != partner) revert NotPartnerProof(signer);
        if (takenAmount > transferredAmount) revert TakenAboveSigned(transferredAmount, takenAmount);
        Participant storage p = _participants[channelId][signer];
        if (nonce <= p.nonce) revert StaleNonce(p.nonce, nonce);
        if (takenAmount < p.transferredAmount) revert TransferredAmountDecreased(p.transferredAmount, takenAmount);
        p.nonce = nonce;
        p.transferredAmount = takenAmount;
    }

    /// @dev What the contract still holds of a participant's deposit; withdrawn <= deposit always.
    function _held(bytes32 channelId, address participant) private view returns (uint256) {
        Participant storage p = _participants[channelId][participant];
        return p.deposit - p.withdrawn;
    }

    function _channelIn(bytes32 channelId, ChannelState state) private view returns (Channel storage channel) {
        channel = _channels[channelId];
        if (channel.state != state) revert WrongChannelState(channelId, channel.state);
    }

    function _requireParticipant(Channel storage channel, address account) private view {
        if (account != channel.participant1 && account != channel.participant2) revert NotParticipant(account);
    }

    function _forget(bytes32 channelId, address a, address b) private {
        delete _pairChannel[_pairKey(a, b)];
        delete _participants[channelId][a];
        delete _participants[channelId][b];
        delete _channels[channelId];
    }

    function _pay(address to, uint256 amount) private {
        if (amount != 0 && !token.transfer(to, amount)) revert TokenTransferFailed();
    }

    function _pairKey(address a, address b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address signer) {
        if (signature.length != 65) revert BadSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if ((v != 27 && v != 28) || uint256(s) > HALF_ORDER) revert BadSignature();
        signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert BadSignature();
    }
}
