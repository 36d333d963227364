"""WeCom's callback encryption (WXBizMsgCrypt, 企业微信回调加解密), written from the published
protocol (developer.work.weixin.qq.com/document/path/90968), with ``cryptography``.

- **Signature**: SHA-1 of the four strings token, timestamp, nonce and the ciphertext,
  sorted and joined; compared in constant time.
- **Cipher**: AES-256-CBC; the key is ``base64(EncodingAESKey + "=")`` (32 bytes), the IV
  its first 16 bytes.
- **Padding**: PKCS#7 with a block size of 32 (not AES's 16). On decryption the padding
  is validated — its length 1–32, every padding byte equal — and a message whose padding
  is wrong is refused, not trimmed.
- **Plaintext**: 16 random bytes, the message's length as 4 bytes big-endian, the
  message, then the receive id (the corp id, or the robot's id), which must be ours.

Every refusal is a :class:`CryptoError`; the callback turns any of them into a 4xx.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom's PKCS#7 block size
KEY_CHARS = 43  # an EncodingAESKey: 43 base64 characters, 32 bytes once "=" is added


class CryptoError(Exception):
    """A callback message that cannot be trusted or read."""


class SignatureError(CryptoError):
    """The signature does not match the token, timestamp, nonce and ciphertext."""


class DecryptError(CryptoError):
    """The ciphertext is not base64, not whole blocks, badly padded or badly framed."""


class ReceiveIdError(CryptoError):
    """The message was encrypted for another receiver (corp or robot id)."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The hex SHA-1 of the four strings sorted and joined (WeCom's ``msg_signature``)."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - the protocol's hash


def pad(data: bytes) -> bytes:
    """PKCS#7 padding to a multiple of 32 bytes (a whole block when already aligned)."""
    count = BLOCK - len(data) % BLOCK
    return data + bytes([count]) * count


def unpad(data: bytes) -> bytes:
    """``data`` without its PKCS#7 padding, refused unless the padding is valid."""
    if not data or len(data) % 16:
        raise DecryptError("the plaintext is not whole blocks")
    count = data[-1]
    if not 1 <= count <= BLOCK or count > len(data):
        raise DecryptError("bad padding length")
    if not hmac.compare_digest(data[-count:], bytes([count]) * count):
        raise DecryptError("bad padding bytes")
    return data[:-count]


class WXBizMsgCrypt:
    """The signature check, decryption and encryption of one callback configuration:
    its ``token``, ``encoding_aes_key`` (43 characters) and ``receive_id``."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token or not receive_id:
            raise CryptoError("token and receive id are required")
        if len(encoding_aes_key) != KEY_CHARS:
            raise CryptoError("the EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("the EncodingAESKey is not base64") from exc
        if len(key) != 32:
            raise CryptoError("the EncodingAESKey is not 32 bytes")
        self.token = token
        self.receive_id = receive_id
        self._key = key

    # --- signatures ------------------------------------------------------------------------
    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").encode()):
            raise SignatureError("signature mismatch")

    # --- the cipher --------------------------------------------------------------------------
    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The message inside ``encrypted`` (base64), after the padding and receive id
        checks."""
        try:
            blob = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("the ciphertext is not base64") from exc
        if not blob or len(blob) % 16:
            raise DecryptError("the ciphertext is not whole blocks")
        decryptor = self._cipher().decryptor()
        plain = unpad(decryptor.update(blob) + decryptor.finalize())
        if len(plain) < 20:
            raise DecryptError("the plaintext is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise DecryptError("the message length overruns the plaintext")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if not hmac.compare_digest(receive_id, self.receive_id.encode()):
            raise ReceiveIdError("the message is for another receiver")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise DecryptError("the message is not UTF-8") from exc

    def encrypt(self, message: str, random: bytes | None = None) -> str:
        """``message`` framed, padded and encrypted, as base64 (``random``: the 16 leading
        bytes, drawn from the system when not given)."""
        body = message.encode()
        head = random if random is not None else os.urandom(16)
        if len(head) != 16:
            raise CryptoError("the random prefix is 16 bytes")
        plain = head + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(pad(plain)) + encryptor.finalize()).decode()

    # --- the callback's two uses --------------------------------------------------------------
    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """URL verification (验证URL有效性): the plain text to answer with."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(
        self, msg_signature: str, timestamp: str, nonce: str, encrypted: str
    ) -> str:
        """A received message's XML, once its signature is checked."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_reply(self, message: str, timestamp: str, nonce: str) -> dict[str, str]:
        """A passive reply's fields: ``Encrypt``, ``MsgSignature``, ``TimeStamp``, ``Nonce``."""
        encrypted = self.encrypt(message)
        return {
            "Encrypt": encrypted,
            "MsgSignature": signature(self.token, timestamp, nonce, encrypted),
            "TimeStamp": timestamp,
            "Nonce": nonce,
        }
