"""Core API: obtaining a bearer token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema

from .errors import BilingualError
from .models import ApiToken

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_at: str


class BadCredentials(BilingualError):
    code = "unauthorized"
    status = 401


@router.post("/auth/token", auth=None, response=TokenOut)
def issue_token(request: HttpRequest, body: TokenIn) -> dict[str, str]:
    """Exchange a username and password for a bearer token (valid 30 days)."""
    user = authenticate(request, username=body.username, password=body.password)
    if user is None or not user.is_active:
        raise BadCredentials("用户名或密码错误", "wrong username or password")
    raw, row = ApiToken.issue(user)
    expires = row.expires_at.isoformat() if row.expires_at else ""
    return {"token": raw, "token_type": "Bearer", "expires_at": expires}
