"""Roles from OIDC claims, the four-eyes rule and the refusal to serve the network without sign-in."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.errors import RagloopError
from core.settings import AuthSettings
from ragloop.access import LOCAL, Forbidden, check_approval, check_listen, identity_from_claims
from ragloop.cli import app

COGNITO = AuthSettings(group_roles={"ragloop-reviewers": "reviewer", "ragloop-admins": "admin"})


def test_roles_come_from_the_groups_claim_or_the_email_allow_lists():
    user = identity_from_claims({"sub": "1", "email": "a@x.org", "cognito:groups": ["staff"]}, COGNITO)
    assert user.roles == {"user"} and user.signed_in and user.user_id == "1"
    reviewer = identity_from_claims({"sub": "2", "cognito:groups": ["ragloop-reviewers"]}, COGNITO)
    assert reviewer.roles == {"user", "reviewer"}
    admin = identity_from_claims({"sub": "3", "cognito:groups": "ragloop-admins,staff"}, COGNITO)
    assert admin.roles == {"user", "reviewer", "admin"}  # an admin may review too
    entra = AuthSettings(roles_claim="groups", reviewer_emails=["Rita@Example.com"])
    assert identity_from_claims({"sub": "4", "email": "rita@example.com"}, entra).has("reviewer")
    assert not identity_from_claims({"sub": "5", "cognito:groups": ["ragloop-admins"]}, entra).has("admin")
    with pytest.raises(Forbidden, match="no subject"):
        identity_from_claims({"email": "x@y.z"}, COGNITO)


def test_four_eyes_rule_and_the_reviewer_role():
    rita = identity_from_claims({"sub": "rita", "cognito:groups": ["ragloop-reviewers"]}, COGNITO)
    ann = identity_from_claims({"sub": "ann"}, COGNITO)
    check_approval(rita, "ann", COGNITO)
    with pytest.raises(Forbidden, match="four-eyes"):
        check_approval(rita, "rita", COGNITO)
    check_approval(rita, "rita", AuthSettings(four_eyes=False))
    with pytest.raises(Forbidden, match="needs the reviewer role"):
        check_approval(ann, "bob", COGNITO)
    check_approval(LOCAL, "local", COGNITO)  # one local user: nobody else could approve


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_sign_in(address):
    check_listen(address, sign_in_configured=False)


@pytest.mark.parametrize("address", ["0.0.0.0", "10.1.2.3", "::"])
def test_listening_beyond_this_machine_needs_sign_in(address):
    with pytest.raises(RagloopError, match="without sign-in"):
        check_listen(address, sign_in_configured=False)
    check_listen(address, sign_in_configured=True)


def test_ui_refuses_to_start_on_all_interfaces_without_sign_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["ui", "--address", "0.0.0.0"])
    assert result.exit_code == 1 and "refusing to listen on 0.0.0.0 without sign-in" in result.output
