"""WXBizMsgCrypt against WeCom's published test vector (developer.work.weixin.qq.com,
document 90968: URL verification and one received message), and every way a message is
refused: a wrong signature, tampered ciphertext, bad padding, another receiver."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jiayuan.assistant.wecom.crypto import (
    CryptoError,
    DecryptError,
    ReceiveIdError,
    SignatureError,
    WXBizMsgCrypt,
    pad,
    signature,
    unpad,
)

# The published vector's configuration
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
# URL verification (GET)
VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
ECHO_PLAIN = "1616140317555161061"
# A received message (POST)
MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
MSG_TIMESTAMP = "1409659813"
MSG_NONCE = "1372623149"
MSG_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qcz"
    "cdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8q"
    "Ljvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4L"
    "UMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rU"
    "PA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXd"
    "Q2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


@pytest.fixture
def crypt() -> WXBizMsgCrypt:
    return WXBizMsgCrypt(TOKEN, AES_KEY, CORP_ID)


def test_the_published_url_verification_decrypts(crypt: WXBizMsgCrypt) -> None:
    assert signature(TOKEN, VERIFY_TIMESTAMP, VERIFY_NONCE, ECHOSTR) == VERIFY_SIGNATURE
    plain = crypt.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, ECHOSTR)
    assert plain == ECHO_PLAIN


def test_the_published_message_verifies_and_decrypts(crypt: WXBizMsgCrypt) -> None:
    assert signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT) == MSG_SIGNATURE
    xml = crypt.decrypt_message(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)
    assert "<Content><![CDATA[hello]]></Content>" in xml
    assert "<MsgId>4561255354251345929</MsgId>" in xml
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in xml


def test_a_reply_round_trips_and_is_signed(crypt: WXBizMsgCrypt) -> None:
    message = "<xml><Content><![CDATA[高龄津贴每月发放]]></Content></xml>"
    reply = crypt.encrypt_reply(message, "1700000000", "42")
    assert reply["MsgSignature"] == signature(TOKEN, "1700000000", "42", reply["Encrypt"])
    assert crypt.decrypt_message(reply["MsgSignature"], "1700000000", "42", reply["Encrypt"]) == (
        message
    )
    # a fresh random prefix each time: the same text never gives the same ciphertext
    assert crypt.encrypt(message) != crypt.encrypt(message)


def test_a_wrong_signature_is_refused(crypt: WXBizMsgCrypt) -> None:
    wrong = "0" * 40
    with pytest.raises(SignatureError):
        crypt.decrypt_message(wrong, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)
    with pytest.raises(SignatureError):  # a timestamp changed after signing
        crypt.decrypt_message(MSG_SIGNATURE, "1409659814", MSG_NONCE, MSG_ENCRYPT)
    with pytest.raises(SignatureError):
        crypt.verify_url("", VERIFY_TIMESTAMP, VERIFY_NONCE, ECHOSTR)
    with pytest.raises(SignatureError):  # another token
        WXBizMsgCrypt("other", AES_KEY, CORP_ID).verify_url(
            VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, ECHOSTR
        )


def flip(encrypted: str, index: int) -> str:
    blob = bytearray(base64.b64decode(encrypted))
    blob[index] ^= 0x01
    return base64.b64encode(bytes(blob)).decode()


@pytest.mark.parametrize("index", [0, 17, 100, -17, -1])
def test_tampered_ciphertext_is_refused(crypt: WXBizMsgCrypt, index: int) -> None:
    # the signature covers the ciphertext: a changed byte fails it
    tampered = flip(MSG_ENCRYPT, index)
    with pytest.raises(SignatureError):
        crypt.decrypt_message(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, tampered)
    # re-signed by someone who knows the token but not the key, the frame breaks: the
    # length (blocks 0-1), the UTF-8 text (the body) or the padding (the last blocks)
    resigned = signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, tampered)
    with pytest.raises(DecryptError):
        crypt.decrypt_message(resigned, MSG_TIMESTAMP, MSG_NONCE, tampered)


def raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def frame(message: bytes, receive_id: bytes = CORP_ID.encode()) -> bytes:
    return b"r" * 16 + struct.pack(">I", len(message)) + message + receive_id


@pytest.mark.parametrize(
    "tail",
    [
        b"\x00" * 32,  # padding length 0
        bytes([33]) * 32,  # longer than a block of 32
        bytes([5, 5, 5, 4, 5]),  # unequal padding bytes
        bytes([2, 3, 3]),  # last byte says 3, the third from the end says 2
    ],
)
def test_bad_padding_is_refused(crypt: WXBizMsgCrypt, tail: bytes) -> None:
    body = frame(b"<xml/>")
    filler = (-(len(body) + len(tail))) % 32
    plain = body + b"z" * filler + tail
    assert len(plain) % 32 == 0
    with pytest.raises(DecryptError):
        crypt.decrypt(raw_encrypt(plain))


def test_padding_uses_blocks_of_32(crypt: WXBizMsgCrypt) -> None:
    assert pad(b"") == bytes([32]) * 32
    assert pad(b"a" * 31) == b"a" * 31 + b"\x01"
    assert len(pad(b"a" * 32)) == 64
    assert unpad(pad(b"abc")) == b"abc"
    # WeCom's own ciphertext carries 30 bytes of padding: a 16-byte pad would refuse it
    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    raw = decryptor.update(base64.b64decode(MSG_ENCRYPT)) + decryptor.finalize()
    assert raw[-1] == 30


def test_another_receive_id_is_refused(crypt: WXBizMsgCrypt) -> None:
    other = WXBizMsgCrypt(TOKEN, AES_KEY, "ww0000000000000000")
    with pytest.raises(ReceiveIdError):
        other.decrypt_message(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)
    # a message framed for a longer id that starts with ours is not ours either
    with pytest.raises(ReceiveIdError):
        crypt.decrypt(raw_encrypt(pad(frame(b"<xml/>", CORP_ID.encode() + b"x"))))


@pytest.mark.parametrize(
    "encrypted",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"short").decode(),  # not whole blocks
        base64.b64encode(b"\x00" * 33).decode(),
    ],
)
def test_garbage_is_refused(crypt: WXBizMsgCrypt, encrypted: str) -> None:
    with pytest.raises(DecryptError):
        crypt.decrypt(encrypted)


def test_a_length_beyond_the_plaintext_is_refused(crypt: WXBizMsgCrypt) -> None:
    plain = b"r" * 16 + struct.pack(">I", 10_000) + b"<xml/>" + CORP_ID.encode()
    with pytest.raises(DecryptError):
        crypt.decrypt(raw_encrypt(pad(plain)))


@pytest.mark.parametrize(
    ("token", "key", "receive_id"),
    [("", AES_KEY, CORP_ID), (TOKEN, AES_KEY[:-1], CORP_ID), (TOKEN, "!" * 43, CORP_ID),
     (TOKEN, AES_KEY, "")],
)  # fmt: skip
def test_a_bad_configuration_is_refused(token: str, key: str, receive_id: str) -> None:
    with pytest.raises(CryptoError):
        WXBizMsgCrypt(token, key, receive_id)
