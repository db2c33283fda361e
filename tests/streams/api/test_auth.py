"""Credentials (no broker needed; the metrics text: tests/streams/test_metrics.py)."""

from __future__ import annotations

import pytest

from rta.config import ConfigError, TenantsConfig
from streams.api.auth import (
    Authenticator,
    LoginError,
    hash_api_key,
    hash_password,
    new_api_key,
    new_session_id,
    verify_password,
)


def config(users_a: str = "", users_b: str = "") -> TenantsConfig:
    return TenantsConfig.from_toml(
        f'[tenants.a]\napi_keys = ["{hash_api_key("key-a")}"]\n{users_a}\n'
        f'[tenants.b]\napi_keys = ["{hash_api_key("key-b")}"]\n{users_b}\n')


def user(name: str, password: str) -> str:
    return f'users = [{{ user_id = "{name}", password = "{hash_password(password, None, 1000)}" }}]'


def test_passwords_are_salted_and_verified() -> None:
    h1, h2 = hash_password("pw", None, 1000), hash_password("pw", None, 1000)
    assert h1 != h2  # salted
    assert verify_password(h1, "pw") and verify_password(h2, "pw")
    assert not verify_password(h1, "pW")
    assert not verify_password("garbage", "pw")
    assert not verify_password("md5$1$00$00", "pw")


def test_api_keys_find_their_tenant_only() -> None:
    auth = Authenticator(config())
    assert auth.tenant_of_key("key-a") == "a"
    assert auth.tenant_of_key("key-b") == "b"
    assert auth.tenant_of_key("key-c") is None
    assert auth.tenant_of_key("") is None
    assert new_api_key() != new_api_key()
    assert new_session_id().startswith("HZ") and len(new_session_id()) == 34


def test_login_by_user_and_tenant() -> None:
    auth = Authenticator(config(user("sam", "one"), user("sam", "two")))
    assert auth.login("sam", "one", None) == ("a", "sam")
    assert auth.login("sam", "two", "b") == ("b", "sam")
    with pytest.raises(LoginError):
        auth.login("sam", "two", "a")  # right password, other tenant
    with pytest.raises(LoginError):
        auth.login("nobody", "one", None)
    same = Authenticator(config(user("sam", "one"), user("sam", "one")))
    with pytest.raises(LoginError) as err:
        same.login("sam", "one", None)
    assert err.value.status == 400 and "tenantId" in str(err.value)
    assert same.login("sam", "one", "b") == ("b", "sam")


def test_secrets_in_the_tenants_file_must_be_hashed() -> None:
    with pytest.raises(ConfigError, match=r"tenants\.a\.api_keys.*rta api-key"):
        TenantsConfig.from_toml('[tenants.a]\napi_keys = ["plain-key"]\n')
    with pytest.raises(ConfigError, match=r"tenants\.a\.users\.0\.password.*hash-password"):
        TenantsConfig.from_toml('[tenants.a]\nusers = [{ user_id = "u", password = "pw" }]\n')
    with pytest.raises(ConfigError, match=r"users\.0\.role: unknown key"):
        TenantsConfig.from_toml(
            f'[tenants.a]\nusers = [{{ user_id = "u", password = '
            f'"{hash_password("p", None, 1000)}", role = "x" }}]\n')
