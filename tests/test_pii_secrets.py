"""The secrets tier against generated credentials: every family of loadtests/pii_evalsets.py in every
assignment syntax (config formats, a dozen languages, Makefiles, curl), plus the cases the issue
names one by one. Pure: pii.detect on strings."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from pii import detect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
import pii_evalsets


def _masked(text: str, start: int, end: int) -> bool:
    return pii_evalsets.masked(detect(text), start, end)


def test_every_fixed_shape_family_is_masked_in_every_syntax() -> None:
    leaks = []
    for d in pii_evalsets.secret_samples(seed=11):
        if d["meta"]["kind"] == "fixed":
            sp = d["spans"][0]
            if not _masked(d["text"], sp["start"], sp["end"]):
                leaks.append(d["id"])
    assert leaks == []


def test_keyword_families_are_masked_next_to_their_provider_name() -> None:
    total, missed = Counter(), Counter()
    for d in pii_evalsets.secret_samples(seed=12):
        if d["meta"]["kind"] == "keyword":
            sp = d["spans"][0]
            total[d["meta"]["syntax"]] += 1
            missed[d["meta"]["syntax"]] += not _masked(d["text"], sp["start"], sp["end"])
    assert sum(missed.values()) <= 0.02 * sum(total.values()), missed.most_common(5)


def test_heldout_style_fixtures_every_fixed_family_and_nearly_every_keyword_value() -> None:
    """The scanner-fixture-style set: the rule's keyword used as the identifier as it stands
    (`sumo_TOKEN`), random draws from each rule's alphabet (letters-only draws included)."""
    total, leaks = Counter(), Counter()
    fixed_leaks = []
    for d in pii_evalsets.heldout_secret_samples(seed=5):
        sp = d["spans"][0]
        kind = d["meta"]["kind"]
        total[kind] += 1
        if not _masked(d["text"], sp["start"], sp["end"]):
            leaks[kind] += 1
            if kind == "fixed":
                fixed_leaks.append(d["id"])
    assert fixed_leaks == []
    assert leaks["keyword"] <= 0.01 * total["keyword"], leaks


def test_generated_clean_texts_stay_untouched() -> None:
    assert {d["id"]: detect(d["text"]) for d in pii_evalsets.clean_samples() if detect(d["text"])} == {}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        # the syntaxes that used to hide almost every secret
        ('var stripeToken string = "{v}"', "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ('$telegramToken .= "{v}";', "5729301846:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"),
        ('System.setProperty("GRAFANA_TOKEN", "{v}");', "glsa_pF8u2Xn7QkW4rTz9LmB3cVy6HdJs1aEo_3f9a1c2e"),
        ("<hfOrgToken>\n    {v}\n</hfOrgToken>", "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"),
        (
            'VAULT_TOKEN ::= "{v}"',
            "hvs.CAESIJ7x2Lk9QmV4bN8pR3tY6wZ1aD5fG0hK2jL4nM7qS9uX" + "Gh4KHGh2cy5abcDEF123ghiJKL456mnoPQR789stuV",
        ),
        (
            'TF_TOKEN :::= "{v}"',
            "xq7mP2nR9sT4vW.atlasv1.kL3jH8gF5dS2aZ9xC6vB1nM4qW7eR0tY3uI6oP9aS2dF5gH8jK1lZ4xC7vB0nM3qW6eR9t",
        ),
        ('AGE_KEY ?= "{v}"', "AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" + "QPZRY9X8GF2TVDW0S3JN54KHCE"),
        # UUID-shaped keys and long digit ids count next to their provider's name
        ('heroku_api_key: "{v}"', "3f2b8c1e-9a4d-4e5f-8b7a-1c2d3e4f5a6b"),
        ('discord_client_id = "{v}"', "123456789012345678"),
        ("export BUNDLE_ENTERPRISE__CONTRIBSYS__COM={v}", "cafe1234:dead5678"),
        # a base64-wrapped JWT and curl's credentials
        ("auth={v}", "ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5LmV5SnpkV0lpT2lJeE1qTTBOVFkzT0Rrd0luMA"),
        ("curl -u deploy:{v} https://registry.internal/v2/", "Xk9!mQ2#pL7zR4"),
        # letters-only keys drawn at random, next to their provider's name
        ('travisToken = "{v}"', "hikphqwrlmuwjmcdvbmdbv"),
        ("sumo_TOKEN := '{v}'", "suPzqzUPdiCrlF"),
        ('$fastlyToken .= "{v}";', "B-tZAZtcmsvoLMLYHvuyWGQBzIoBn-Sn"),
        # a dotted value whose parts are random is no code expression
        ('client_secret = "{v}"', "nQdygp_c4C2ENoOKQesI1.VynJx72eCj"),
        (
            "yandexToken := `{v}`",
            "t1.LuLolPa7BBhxdbTmhlnThcl8yChTEp2sOv_jl21S." + "xMAmWptjV3cmUyI7LyCZ" * 4 + "fbkuqK",
        ),
        # webhooks on a tenant's subdomain; base64 with + and / in a Grafana key
        (
            "url: {v}",
            "https://contoso.webhook.office.com/webhookb2/5267c197-6806-53e9-fa5b-dbffe3174ba8@bc9bae20-c2f4-618e"
            "-c6f0-2cc4609bf363/IncomingWebhook/483848540dacb425e03ef33677325fc9/b9331d38-0bc4-c176-bc74-bf9a7241e306",
        ),
        ("key={v}", "eyJrIjoiVJLa9sH/q/ei2r92UjEVOqw2sr32hhqO3pvEI+gzCxGfPYe54PTn6Z7RCCMI2o+pPOZL6x="),
        ("[message_bird]\ntoken = {v}", "659bd2be-f0ef-3061-449a-22bd0e796142"),
        # a literal assigned to a password key, whatever its wording
        ('administrator_login_password = "{v}"', "thisIsDog11"),
        ("DB_PASSWORD={v}", "rootpasswd"),
    ],
)
def test_secret_in_the_syntaxes_that_used_to_hide_it(text: str, value: str) -> None:
    text = text.format(v=value)
    start = text.index(value)
    assert _masked(text, start, start + len(value)), detect(text)


def test_documentation_shaped_keys_are_masked() -> None:
    text = 'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"  # the key from the AWS docs'
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [("AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY")]
    text = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_KEY")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "heroku_app_name: my-staging-app-2024",
        "discord_channel: 123456789012345678",  # a channel is no credential
        "github_username: octocat-1234567",
        "sentry_release: 92c509c592274e7f72e392fe6fae797081fd1dea",
        "twitter_url: https://twitter.com/example_account_123",
        'STRIPE_API_KEY = os.environ["STRIPE_API_KEY"]',
        "curl -u $CI_USER:$CI_PASSWORD https://example.com",
        "b_render_the_list_of_items_in_the_sidebar_for_v2 = None",
        # letters-only values that read as names stay
        'travis_token_name = "releaseManagerToken"',
        "sumo_category: productionNginxAccessLogs",
        "private_key = ed25519.Ed25519PrivateKey.generate()",
        'signing_key_class = "XMLHttpRequestSigner"',
        # password keys set to a reference, a type or a setting; words about a password
        "password: required",
        "password = user_password",
        "password: !vault |",
        "db_password: *default_pw",
        'password_hash_scheme = "bcryptSha256"',
        "If the password is incorrect three times, the account locks.",
    ],
)
def test_provider_names_without_a_credential(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Please use `Xk29dLq0Pz7RmW4tBv81NcYs` for staging.", "Xk29dLq0Pz7RmW4tBv81NcYs"),
        ("Log in with admin and 7f3kQ9pL2xZm8WvR4tYb1NcE, then change it.", "7f3kQ9pL2xZm8WvR4tYb1NcE"),
    ],
)
def test_a_bare_high_entropy_token_in_an_instruction(text: str, value: str) -> None:
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(value, "API_KEY")]


def test_a_commit_in_an_instruction_is_no_credential() -> None:
    assert detect("Use commit 9fceb02d0ae598e95dc970b74767f19372d61af8 for staging.") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('curl -u ":Qm7vR2xLk9!t" https://localhost:9200', '":Qm7vR2xLk9!t"'),  # empty user
        ('curl -u "Qm7vR2xLk9!t:" https://localhost:9200', '"Qm7vR2xLk9!t:"'),  # empty password
        ("curl --user ops:'tW4nR8kQ2zP6' -X PATCH https://api.internal", "ops:'tW4nR8kQ2zP6'"),
        ('curl --user "{3c1e}":"{Hq8ZtV2mK5}" https://gw.internal', '"{3c1e}":"{Hq8ZtV2mK5}"'),
        (
            "curl --header 'Authorization:  9d2f6a1e-7c3b-4e8a-b5d0-1f2e3a4b5c6d'",
            "9d2f6a1e-7c3b-4e8a-b5d0-1f2e3a4b5c6d",
        ),
        ('curl -X POST --header "Api-Token: Rk38Fh2q9Lp" https://x.internal', "Rk38Fh2q9Lp"),
        ('curl -H "Token: 7c1e9a0b3d5f2e4a" https://x.internal', "7c1e9a0b3d5f2e4a"),
        (
            'curl -H "apikey: 6b1d3f5a-2c4e-4a6b-8d0f-1a3c5e7b9d2f" https://x.internal',
            "6b1d3f5a-2c4e-4a6b-8d0f-1a3c5e7b9d2f",
        ),
    ],
)
def test_curl_credentials_in_any_quoting_and_header(text: str, value: str) -> None:
    start = text.index(value)
    assert _masked(text, start, start + len(value)), detect(text)


@pytest.mark.parametrize(
    "text",
    [
        "curl -i -u 'test:test'",
        'curl -sL --user "$1:$2" "$3"',
        "curl -u <user:password> https://example.com",
        "curl --user neo4j:[PASSWORD] http://localhost:7474",
        'curl -u "${username}":"${password}"',
        'curl --user "xxx:yyy"',
        "curl http://127.0.0.1:5000/file --user user:pass --digest",
        'curl -H "Authorization: Bearer <your token>" https://example.com',
        'curl -H "Authorization: Bearer $(gcloud auth print-access-token)" https://example.com',
        'curl -H "Content-Type: application/json" -H "Accept: application/json" https://example.com',
    ],
)
def test_curl_stand_ins_stay(text: str) -> None:
    assert detect(text) == []
