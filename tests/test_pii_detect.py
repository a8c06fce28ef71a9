"""Pattern tier of PII detection (pii/detect/): pure, so strings in, spans out; no sockets.

Per detector: positives with exact offsets, and the hard negatives the product promises to leave
alone (UUIDs, git SHAs, epoch times, versions, order numbers, Luhn-invalid cards, bad IBANs,
placeholders, bare words). Then overlap resolution, type filtering and offsets.
"""

from __future__ import annotations

import base64
import itertools
import json
import time

import pytest

from pii.detect import TYPES, Span, detect
from pii.ner import rules as ner_rules

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Overrides conftest's loopback-server fixture: these tests open no socket."""
    return None


def found(text: str, types: frozenset[str] | None = None) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.type) for s in detect(text, types)]


def only(text: str, value: str, typ: str) -> None:
    """`value` is the one span in `text`, with exactly its offsets."""
    spans = detect(text)
    start = text.index(value)
    assert spans == [Span(start, start + len(value), typ)], found(text)


def jwt(header: dict[str, object], payload: dict[str, object], sig: str = "c2lnbmF0dXJlLWJ5dGVzLWhlcmU") -> str:
    def enc(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc(header)}.{enc(payload)}.{sig}"


# --- the interface ---------------------------------------------------------------------------


def test_types_are_the_pattern_types() -> None:
    assert frozenset(
        {
            "EMAIL", "PHONE", "IP_ADDRESS", "DATE_OF_BIRTH", "CREDIT_CARD", "IBAN", "NATIONAL_ID", "API_KEY", "JWT",
            "CONNECTION_STRING", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIVATE_KEY",
        }
    ) == TYPES  # fmt: skip


def test_empty_and_clean_text() -> None:
    assert detect("") == []
    assert detect("Thanks, that helps. Anything else I can do for you?") == []
    assert detect("a@b.co", frozenset()) == []


def test_span_is_frozen_and_slotted() -> None:
    s = Span(1, 2, "EMAIL")
    with pytest.raises(AttributeError):
        s.start = 3  # type: ignore[misc]
    assert not hasattr(s, "__dict__")


# --- EMAIL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Mi correo es montgomeryfrank@laurent.com.", "montgomeryfrank@laurent.com"),
        ("Email:cleto4@corp.chauvet.com", "cleto4@corp.chauvet.com"),
        ("USER_EMAIL = 'martindonna@sita.com'", "martindonna@sita.com"),
        ("reply to <jane.doe+billing@mail.example.co.uk>", "jane.doe+billing@mail.example.co.uk"),
        ("GET /lookup?email=williamstewart%2Btest%40freeman.com 200", "williamstewart%2Btest%40freeman.com"),
    ],
)
def test_email(text: str, value: str) -> None:
    only(text, value, "EMAIL")


@pytest.mark.parametrize(
    "text",
    [
        "The Email field on the signup form is required.",
        "icons: logo@2x.png, @types/node, user@localhost, pkg@1.2.3",
        "git clone git@github.com:org/repo.git",
        "Call get_user_email() before saving.",
        "ssh -i ~/.ssh/id_ed25519 deploy@bastion.internal -p 2222; ftp://anonymous@ftp.example.org/pub",
    ],
)
def test_email_negatives(text: str) -> None:
    assert found(text) == []


# --- PHONE -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Our on-call phone is +34 790 207 501 — use it only for P1 incidents.", "+34 790 207 501"),
        ("They called from +1 602 494 9103 twice this morning.", "+1 602 494 9103"),
        ('contact_phone = "+31 6 26 39 29 90"', "+31 6 26 39 29 90"),
        ("twilio api:core:messages:create --to \"+91 7695443886\" --body 'x'", "+91 7695443886"),
        ("tel: +49 (0)30 1234567", "+49 (0)30 1234567"),
        ("Puede llamarme al 1-267-653-8842.", "1-267-653-8842"),
        ("Pouvez-vous me rappeler au 801.613.5434 ?", "801.613.5434"),
        ("My number is (415) 555-2671, thanks", "(415) 555-2671"),
        ("reach me on 415-555-2671x123", "415-555-2671x123"),
        ("SMS codes are sent to (31) 98551-1019, but I lost that phone.", "(31) 98551-1019"),
        ("MOBILE = '0161 771 0139'", "0161 771 0139"),
        ("Sie erreichen mich unter 030 12345678.", "030 12345678"),
        ("Téléphone : 06 12 34 56 78", "06 12 34 56 78"),
    ],
)
def test_phone(text: str, value: str) -> None:
    only(text, value, "PHONE")


@pytest.mark.parametrize(
    "text",
    [
        "Order ORD-2025-115535 shipped, invoice INV-2024-0042.",
        "It took 1052 ms; retry after 30000 ms on port 5432.",
        "We are on release build 20240220.6339 of the agent.",
        "The deadline is 2024-06-16; amounts €5.675,14 and $12,299.70.",
        "migration 0042_add_phone_index applied; phone_field_required: true",
        "The SSN and phone fields are optional in our schema.",
        "numpy: np.array(['+1980-02-29'], dtype='M8[D]')",
    ],
)
def test_phone_negatives(text: str) -> None:
    assert found(text) == []


# --- IP_ADDRESS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Traffic spikes are all coming from 130.129.95.59.", "130.129.95.59"),
        ("My VPN assigns me 192.168.143.99 — is that range blocked?", "192.168.143.99"),
        ("server at 10.0.0.12:5432", "10.0.0.12"),
        ("Traffic from 2a00:c3eb:9e69:79ed:a2f6:f48d:1de8:19ee today", "2a00:c3eb:9e69:79ed:a2f6:f48d:1de8:19ee"),
        ("peer 2001:db8:85a3::8a2e:370:7334 reset", "2001:db8:85a3::8a2e:370:7334"),
        ("link fe80::1ff:fe23:4567:890a%eth0 up", "fe80::1ff:fe23:4567:890a%eth0"),
        ('"source_ip": "8.8.4.4"', "8.8.4.4"),
    ],
)
def test_ip(text: str, value: str) -> None:
    only(text, value, "IP_ADDRESS")


@pytest.mark.parametrize(
    "text",
    [
        "upgrade to version 1.2.3.4 or v10.2.0.1 please",
        "We rolled back to 2.14.3.1 as a workaround.",
        "Locally it works fine at http://localhost:9090/v1/orders and http://127.0.0.1:8080/ and [::1]",
        "bind 0.0.0.0:8000, netmask 255.255.255.0",
        "at 12:34:56, std::vector<int> and xs[1::2]",
        "OID 1.3.6.1.4.1.311 and build 1.28.5-gke.520",
        'cidr_blocks = ["10.0.0.0/16", "172.16.0.0/12"]',
    ],
)
def test_ip_negatives(text: str) -> None:
    assert found(text) == []


# --- DATE_OF_BIRTH ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("**Customer**: DOB: 02-Oct-1958", "02-Oct-1958"),
        ("[18:53] customer: D.O.B. November 6, 1965", "November 6, 1965"),
        ("kyc: age check dob=1990-01-13 result=pass", "1990-01-13"),
        ('"birth_date": "1951-05-06",', "1951-05-06"),
        ("Patient born on 12/03/1985 at St Mary's", "12/03/1985"),
        ("Date of birth: 3 March 1985", "3 March 1985"),
        ("geb. 12.03.1985 in Köln", "12.03.1985"),
        ("Fecha de nacimiento: 12/03/1985", "12/03/1985"),
        ("His birthday is March 3rd, 1985.", "March 3rd, 1985"),
        ('{"dateOfBirth": "1979-11-30", "createdAt": "2024-01-02"}', "1979-11-30"),
        ("She was born in Lyon on 3 March 1985.", "3 March 1985"),
        ("Née le 5 mars 1980 à Lyon.", "5 mars 1980"),
        ("customer_dob | 1969-07-20", "1969-07-20"),
    ],
)
def test_date_of_birth(text: str, value: str) -> None:
    only(text, value, "DATE_OF_BIRTH")


def test_date_of_birth_from_table_columns() -> None:
    md = "| Birth Date | Plan |\n|---|---|\n| 1978-03-18 | pro |\n\n_Last updated 2025-03-22._"
    assert found(md) == [("1978-03-18", "DATE_OF_BIRTH")]
    sql = "INSERT INTO users (ssn, date_of_birth, created_at) VALUES\n  ('x', '1957-01-26', '2023-01-07');"
    assert found(sql) == [("1957-01-26", "DATE_OF_BIRTH")]
    last_login = "| Id | Last Login |\n|---|---|\n| 7 | 2024-09-19 |"
    assert found(last_login) == []


@pytest.mark.parametrize(
    "text",
    [
        "The deadline for the migration is June 16, 2024.",
        "The report generated on 2023-09-12 looks correct; see 14 November 2024.",
        "It happened again at 2023-08-14T22:12:17.571Z.",
        "The DOB field is optional; created 2024-01-01",
        "born 2199-01-01 is not a birth date",
        "She was born in 1985 and joined on 2020-01-01.",  # the label is not this date's
        "The birthday campaign starts 2024-05-01.",
    ],
)
def test_date_negatives(text: str) -> None:
    assert found(text) == []


# --- CREDIT_CARD -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1111",
        "5134219894922412",
        "2369-9934-5471-0465",  # Mastercard 2-series
        "3782-822463-10005",  # Amex 4-6-5
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        "4222222222222",  # 13-digit Visa
    ],
)
def test_credit_card(value: str) -> None:
    only(f"Use the corporate card {value} for the renewal.", value, "CREDIT_CARD")


def test_credit_card_in_odd_places() -> None:
    only("**Customer**: cc#2400089706519282", "2400089706519282", "CREDIT_CARD")
    sql = "INSERT INTO payouts (tracking_number, pan) VALUES ('6537476296409177', '3484-993126-56114');"
    assert found(sql) == [("3484-993126-56114", "CREDIT_CARD")]


@pytest.mark.parametrize(
    "text",
    [
        "The tracking reference on the parcel is 6870 4118 3604 7688.",  # Luhn-invalid
        "Our order confirmation number is 4775 7665 3553 3942.",
        'TRACKING_NUMBER = "5286494520742355"',
        "epoch 1712664593 and 1712664593000 ms",
        'masked XXXX-XXXX-XXXX-4242 and •••• •••• •••• 1881; CARD_LAST4 = "7715"',
        "1234567812345678 is not a card: no network starts with 12",
    ],
)
def test_credit_card_negatives(text: str) -> None:
    assert found(text) == []


# --- IBAN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Please wire the refund to IBAN GB51 CITI 0480 6132 4147 37.", "GB51 CITI 0480 6132 4147 37"),
        ('"payout_iban": "GB17SRLG48315817948331",', "GB17SRLG48315817948331"),
        ("IBAN ES65 3236 9760 2243 3538 3644, BIC NWBKGB2L.", "ES65 3236 9760 2243 3538 3644"),
        ("Payouts should go to NL90 ABNA 5648 2134 92 starting next month.", "NL90 ABNA 5648 2134 92"),
        ("bank_iban: FR76 9608 5936 0767 9735 5254 233", "FR76 9608 5936 0767 9735 5254 233"),
        ("IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "DE89 3704 0044 0532 0130 00"),
    ],
)
def test_iban(text: str, value: str) -> None:
    only(text, value, "IBAN")


@pytest.mark.parametrize(
    "text",
    [
        "expect(isValidIban('FR6547174935892650412938724')).toBe(false);",  # wrong check digits
        'see TestValidIBAN: "DE55 6968 0065 7309 7073 66" must be rejected',
        "DE88 3704 0044 0532 0130 00 and GB28NWBK60161331926819",
        "The Email, Phone and IBAN columns are empty; [IBAN removed]",
        "XX89370400440532013000 has no such country",
    ],
)
def test_iban_negatives(text: str) -> None:
    assert found(text) == []


# --- NATIONAL_ID -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("For the background check, their SSN is 350-36-8841.", "350-36-8841"),
        ("Social Security No.: 678 72 9117", "678 72 9117"),
        ("payload national_id=204-286-710", "204-286-710"),  # Canadian SIN, Luhn
        ("SIN: 130 692 544", "130 692 544"),
        ("their burgerservicenummer is 620097759.", "620097759"),  # Dutch BSN, 11-test
        ('bsn: "514453163",', "514453163"),
        ('niNumber: "RN159562D",', "RN159562D"),  # UK NINO
        ("NI number: AB 12 34 56 C", "AB 12 34 56 C"),
        ("DNI 12345678Z", "12345678Z"),  # Spanish DNI letter
        ("NIE X1234567L", "X1234567L"),
        ("Aadhaar: 2345 6789 0124", "2345 6789 0124"),  # Verhoeff
    ],
)
def test_national_id(text: str, value: str) -> None:
    only(text, value, "NATIONAL_ID")


def test_national_id_from_columns() -> None:
    sql = "INSERT INTO users (ssn, address_line1) VALUES\n  ('435244942', '91, avenue Toussaint');"
    assert found(sql) == [("435244942", "NATIONAL_ID")]
    md = "| Name | Ssn | Amount |\n|---|---|---|\n| A | 774 007 272 | 2462.23 EUR |"
    assert found(md) == [("774 007 272", "NATIONAL_ID")]


@pytest.mark.parametrize(
    "text",
    [
        "SSN 666-45-6789, 000-12-3456, 900-12-3456, 123-00-4567, 123-45-0000",  # never-issued ranges
        "SSN: 000123456",
        "SIN: 130 692 545",  # Luhn fails
        "BSN 111222334",  # 11-test fails
        "DNI 12345678A",  # wrong letter
        "Aadhaar: 2345 6789 0125",  # Verhoeff fails
        "nino QQ123456C and BG123456A",  # prefixes never issued
        "Order #1553809 and invoice 123456782 and SO80147394 and PO-202302575",
        "The SSN field stays hashed (9775a3060b64867540fd9f137760aae779b333ffe803ae41f3bccb7477459718).",
    ],
)
def test_national_id_negatives(text: str) -> None:
    assert found(text) == []


# --- API keys and generic secrets ------------------------------------------------------------

_ANT = "sk-ant-api03-XpYQxACTW0GCmrKoiP0Pi31ioDlWbltJ0KCGDbk52BRBrbpOfhSaGPWviwMrrbIbMgDpg80-tBr_kReezarTQv_NoDxEIAA"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (f"Can you check why {_ANT} hits the rate limit?", _ANT),
        ("OPENAI_API_KEY=sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678Stu901Vwx234", None),
        ('github_token: "ghp_1l9b9qt6kkAlmgWk7Z2u6ZgUf3tIqKDmYsPZ"', "ghp_1l9b9qt6kkAlmgWk7Z2u6ZgUf3tIqKDmYsPZ"),
        ("| 1978-03-18 | sk_live_UA5laPsBCtCPrSpTSiaysRpb |", "sk_live_UA5laPsBCtCPrSpTSiaysRpb"),
        ("I accidentally pushed whsec_yf2sX5ZjvrN0ISD3tdKeS9l9302dCEUH to a public repo", None),
        ("slack xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", None),
        ("maps AIzaSyD3x4mpl3K3y1234567890abcdefghijkl", None),
        ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", None),
        ("sendgrid_api_key: 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", None),
        ("Our integration uses token 8e76cb1b4557775801196ff9fd38a7d47b3b67bc; is it still valid?", None),
        ("Can you check why 65faab82806974b12bda9cdc9b1872450be5773c hits the rate limit so quickly?", None),
        ('"api_key": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"', "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("Authorization: Bearer q8ZrT2vLw9XkP4mB7nYc1JdH", "q8ZrT2vLw9XkP4mB7nYc1JdH"),
        ('DB_PASSWORD="S3cure!Pass2024"', "S3cure!Pass2024"),
        ("<password>Tr0ub4dor&3x</password>", "Tr0ub4dor&3x"),
        ("Authorization: Basic dXNlcjpzM2NyZXRwYXNzd29yZA==", "dXNlcjpzM2NyZXRwYXNzd29yZA=="),
        ("mytool --api-key 7f3kQ9zL2mN8pR4tV6wX1yB5 --verbose", "7f3kQ9zL2mN8pR4tV6wX1yB5"),
        ("I accidentally pushed Xk29fLq8ZmN3vB7rT1yW4pQ6sD0hJ5cG to a public repo, please revoke it!", None),
    ],
)
def test_api_key(text: str, value: str | None) -> None:
    if value is None:  # the key is the text's one token that looks like one
        value = next(w.strip(";,") for w in text.split() if any(c.isdigit() for c in w) and len(w) > 20)
        value = value.split("=", 1)[-1]
    only(text, value, "API_KEY")


@pytest.mark.parametrize(
    "text",
    [
        "OPENAI_API_KEY=sk-...XXXX and ${OPENAI_API_KEY} and <YOUR_API_KEY> and sk-****",
        'openaiApiKey: "<paste token>"\nOPENAI_API_KEY = "%(DB_PASSWORD)s"',
        '"aws_secret_access_key": "xxxxxxxxxxxxxxxxxxxxxxxx"',
        "Charge ch_3MmlLrLkdIwHu7ix0snN0B15 and cus_NffrFeUfNV2Hib and pi_3MtwBwLkdIwHu7ix28a3tqPa succeeded.",
        "Charge in_1kEm3gTkkMWkmpGvvifkmc4w and evt_q2Np6KrHrp1n3LAhCEsQEqZs.",
        'COMMIT_SHA = "537530cedea403cf3cc402e5f75b17f31bf21c57"',
        "sentry_release: 92c509c592274e7f72e392fe6fae797081fd1dea",
        'idempotency_key: "08b6b160-be05-43fa-89aa-b97122f4dda5"',
        "The pagination cursor token eyJvZmZzZXQiOjI3NTgsInNvcnQiOiJjcmVhdGVkX2F0In0 returns an empty page.",
        "max_tokens: 4096, token_type: bearer, password: hunter2",
        "const sig = req.headers['stripe-signature']; process.env.STRIPE_WEBHOOK_SECRET",
        'System.getenv("PARTNER_API_KEY"); private_key = ed25519.Ed25519PrivateKey.generate()',
        '"key_sha256": "16b791a1e04886ccbbb4d448d6ff791267dc458ae599475d08d5cced29d11614"',
        "Integrity hash: sha512-NLN83MRW8cLhC045ewnLPr/nYCJLhV6ipyjPZ2IGSLx9h5hfQD8SKVTvfOiBu3tMKfJtfA72MtTZb3lfAVQ==",
        "secret_key_base = 'file:///etc/secrets/base.key'",
        "Email: <EMAIL_1>, phone <PHONE_2>, token = <API_KEY_3>, card <CREDIT_CARD_4>",
        "Can you check why commit 65faab82806974b12bda9cdc9b1872450be5773c broke the build? Then rotate the on-call.",
        "PASSWORD_RESET_TEMPLATE=password_reset_v2; pk_live_51H8xYzAbCdEfGhIjKlMnOpQr is publishable",
        "The token bucket refills 100 tokens per second. Password policy: at least 12 characters.",
    ],
)
def test_api_key_negatives(text: str) -> None:
    assert found(text) == []


# --- AWS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "AWS_ACCESS_KEY_ID=AKIAVYXOIFRVTB42NH5N",
        "| enterprise | 8392.04 EUR | AKIAF4VMTNAMA3U7OS3Y | x |",
        "temporary creds ASIAY34FZKBOKMUTVV7A expire soon",
    ],
)
def test_aws_access_key(text: str) -> None:
    value = next(w for w in text.replace("=", " ").split() if w.startswith(("AKIA", "ASIA")))
    only(text, value, "AWS_ACCESS_KEY")


@pytest.mark.parametrize(
    "text",
    [
        '"secret_access_key": "dScO2Y1UQoXk4zqzNcM8BWGil7KvYct18vSMcHBW"',
        "AWS_SECRET_ACCESS_KEY=UNSGpKnzDz2ArgWvO39nsEed+nI8h8H+UDkgbtDa",
        '{"secretAccessKey":"FXrZd2Jo9A9M2gXy5iRxtVO2RiLqs7X6cye+BR31"}',
        "The secret access key is lN7IIT4zn8Fe03rrdIFtEQDZDbe8juODleTNod0M.",
    ],
)
def test_aws_secret_key(text: str) -> None:
    value = next(
        w.strip("\"'.,{}:") for w in text.replace("=", " ").replace(":", " ").split() if len(w.strip("\"'.,{}")) == 40
    )
    only(text, value, "AWS_SECRET_KEY")


def test_documentation_shaped_keys_are_masked_fail_closed() -> None:
    # A provider's exact shape is enough: "EXAMPLE" or "test" in the token does not let it through.
    only("AKIAIOSFODNN7EXAMPLE is the documentation key", "AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY")
    only("token: ghp_ExampleTokenValueForTheDocs1234567", "ghp_ExampleTokenValueForTheDocs1234567", "API_KEY")
    # Only a body of one repeated character is a placeholder, not a key.
    assert found("AKIAXXXXXXXXXXXXXXXX and sk-xxxxxxxxxxxxxxxxxxxxxxxx") == []


def test_aws_negatives() -> None:
    # 40 characters, but nothing says AWS or secret: a git SHA-like or random id stays untouched.
    assert found("request_id=Zk9aX1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvWxYz") == []


# --- JWT -------------------------------------------------------------------------------------


def test_jwt() -> None:
    token = jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "455256", "iat": 1720347678})
    only(f'idToken = "{token}"', token, "JWT")
    only(f"ACCESS_TOKEN={token}", token, "JWT")  # also a generic secret: the specific type wins the tie


def test_jwt_negatives() -> None:
    no_alg = jwt({"typ": "JWT"}, {"sub": "1"})
    assert found(f"value {no_alg}") == []
    assert found('"next": "eyJvZmZzZXQiOjE5MTQsInNvcnQiOiJpZCJ9"') == []  # a cursor, not a JWT


# --- CONNECTION_STRING -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "mongodb+srv://postgres:I3fJ2BJCUdbp~y@atlas-main.9lzfp.mongodb.net/orders?retryWrites=true&w=majority",
        "postgres://svc_billing:u1PaBW_Ma2M3l_EDJ@orders.hzu9wfxi9f73.eu-west-1.rds.amazonaws.com:5432/main",
        "postgresql+psycopg2://api:ly*Q5ED~!AnI9@db.hart.biz:5432/prod?sslmode=require",
        "redis://:TJdV2GL4VnQDVc6fr@mq-prod-08.int:6379/0",
        "amqps://svc:Zx9kLm2Pq@rabbit.prod:5671/vhost",
        "mysql://root:s3cr3tPW@localhost:3306/app",  # localhost, but with a password
        "jdbc:postgresql://db.hayes-yang.com:5432/payments?user=reporting&password=GCk8JH2ojRcmbL9J&ssl=true",
        "DefaultEndpointsProtocol=https;AccountName=backup47;AccountKey=HRTrsItPJXEP562yIBpKZtoBR+cALr49iW/OAz==;"
        "EndpointSuffix=core.windows.net",
        "Endpoint=sb://notif.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Upuks6Bnwer60oTgRf41r=",
        "Server=tcp:x.database.windows.net,1433;Initial Catalog=db;User ID=admin;Password=P4ss!w0rd;Encrypt=True;",
        "host=db.prod user=app password=Tr0ub4dor dbname=main",
        "Driver={ODBC Driver 17 for SQL Server};Server=tcp:db,1433;Uid=app;Pwd=Xk9!mQ2z;",
    ],
)
def test_connection_string(value: str) -> None:
    only(f'I set the DSN to "{value}" but the migration still fails.', value, "CONNECTION_STRING")


@pytest.mark.parametrize(
    "text",
    [
        "const res = await axios.get('postgres://localhost:5432/app_test');",
        "migrated cache to redis://localhost:6379/1 for dev; mongodb://db1,db2/app",
        "DATABASE_URL=postgres://user:${DB_PASSWORD}@db/app",
        "redis://[[username]:[password]]@localhost:6379/0",
        "Server=db;Database=app;Trusted_Connection=True;",
    ],
)
def test_connection_string_negatives(text: str) -> None:
    assert found(text) == []


# --- PRIVATE_KEY -----------------------------------------------------------------------------

_PEM_BODY = "MHcCAQEEU5LEZmEf/ce8smS/XmEuDLHkD1vnWVbQSIeavD4g+LLdFPFq96+uLqzv\n8Xu2T1ozffndmSPtHqKFkiEuAtgNRc+qPw=="


def test_private_key() -> None:
    key = f"-----BEGIN EC PRIVATE KEY-----\n{_PEM_BODY}\n-----END EC PRIVATE KEY-----"
    only(f"Here is the key file contents:\n\n{key}\n\nThanks", key, "PRIVATE_KEY")
    escaped = key.replace("\n", "\\n")  # inside a JSON string
    only(f'{{"tls_key": "{escaped}"}}', escaped, "PRIVATE_KEY")
    pgp = f"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{_PEM_BODY}\n-----END PGP PRIVATE KEY BLOCK-----"
    only(pgp, pgp, "PRIVATE_KEY")


def test_private_key_truncated_runs_to_end_of_body() -> None:
    text = f"Is this key right?\n-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}\n\n**Agent**: no"
    only(text, f"-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}", "PRIVATE_KEY")


def test_private_key_negatives() -> None:
    assert (
        found('_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"\n_SK_END = b"-----END OPENSSH PRIVATE KEY-----"')
        == []
    )
    assert found("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----") == []


# --- hard negatives together -----------------------------------------------------------------


def test_hard_negatives_in_a_log() -> None:
    log = (
        "inventory-5bnjpbzk8b-2fjsh 2024-01-05T23:44:52.759+00:00 error POST /v1/tokens/refresh 204 1082ms\n"
        "web-x5cth5xtx-mlz4z 2025-04-20T06:43:44.278Z info trace_id=10f24aa948fc64a9de4be042b860cec4 "
        "span_id=36bf49b11078ef52 db.query took 30ms\n"
        "payments-worker 2023-11-29T11:31:12+00:00 deploy 01RCSGPF0K0KS32KP6CJCC4EM9 commit 4c65789d\n"
        "Request ID: 7ad51c0d-2986-4fd6-bc35-188395e941a5. created=1762574993 ts=1712664593000\n"
        "checksum=sha256:3a030dcfff7c98f810ec2c732e11891722033d3e9bbbdb2a768e00b0c2710f0f\n"
        "md5 30da8794bb886525af0b786cb78117ae\n"
        "Memory address 0x7f03a4cc522b in pid 1311; loaded config from /var/lib/postgresql/16/main/pg_wal\n"
        "Screenshot data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAASzgE/K10fcmOv6R3sN12D9yG4O1WnYP+UI2K1+DvfYAAsCVF==\n"
        "We rolled back to v7.14.26; Build 3.23.10-rc.9; release 1.28.5-gke.520; build 20240617.9508\n"
        "| #7422356 | pro | €16.408,88 | PO-202302575 | SO80147394 | ORD-2025-115535 | INC7797275 |\n"
    )
    assert found(log) == []


# --- resolution, filtering, offsets ----------------------------------------------------------


def test_longest_validated_span_wins() -> None:
    # The connection string contains an email-shaped "password@host" and a generic password=...
    url = "postgresql://app:s3cr3tPW@db.internal.example.com:5432/app?password=Another9Secret"
    assert found(f"DATABASE_URL={url}") == [(url, "CONNECTION_STRING")]
    # A phone-shaped run inside an IBAN: the IBAN wins.
    assert found("IBAN DE89 3704 0044 0532 0130 00") == [("DE89 3704 0044 0532 0130 00", "IBAN")]


def test_spans_sorted_and_disjoint() -> None:
    text = (
        "Contact jane@corp.io or +44 20 7946 0958; card 4111 1111 1111 1111; from 203.0.113.54; "
        "SSN 123-45-6789; AKIAZ7VRSQ5TXYZ12345; IBAN GB29 NWBK 6016 1331 9268 19."
    )
    spans = detect(text)
    assert [s.type for s in spans] == [
        "EMAIL", "PHONE", "CREDIT_CARD", "IP_ADDRESS", "NATIONAL_ID", "AWS_ACCESS_KEY", "IBAN",
    ]  # fmt: skip
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


def test_type_filter() -> None:
    text = "Mail jane@corp.io, call +44 20 7946 0958, card 4111 1111 1111 1111."
    assert found(text, frozenset({"EMAIL"})) == [("jane@corp.io", "EMAIL")]
    assert found(text, frozenset({"PHONE", "CREDIT_CARD"})) == [
        ("+44 20 7946 0958", "PHONE"),
        ("4111 1111 1111 1111", "CREDIT_CARD"),
    ]
    assert found(text, frozenset({"PERSON"})) == []  # NER types are not this tier's


def test_offsets_are_python_string_indices() -> None:
    text = "Ünïcödé 😀 prefix — ☎ +34 790 207 501 and 🙂 jane@corp.io"
    got = detect(text)
    assert [(text[s.start : s.end], s.type) for s in got] == [("+34 790 207 501", "PHONE"), ("jane@corp.io", "EMAIL")]
    assert got[0].start == text.index("+34")


def test_placeholders_are_never_detected() -> None:
    masked = "Hi <PERSON_1>, mail <EMAIL_1> or call <PHONE_2>; IBAN <IBAN_1>; key=<API_KEY_1>; ip <IP_ADDRESS_3>"
    assert detect(masked) == []


def test_clean_text_is_fast() -> None:
    text = ("Thanks for the quick reply. The export job still stops halfway through on the new cluster. " * 60) + "\n"
    text *= 40  # ~220 KB
    t0 = time.process_time()
    assert detect(text) == []
    assert time.process_time() - t0 < 2.0  # ~0.01 s in practice; generous for loaded CI machines


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Passport number: X12345678 expires soon", "X12345678"),
        ("Driver's license: D1234-56789-01234", "D1234-56789-01234"),
        ("routing number 021000021", "021000021"),
        ("Tax ID: 12-3456789", "12-3456789"),
        ("Medicare number 1EG4-TE5-MK73", "1EG4-TE5-MK73"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"),
        ("CPF 123.456.789-09", "123.456.789-09"),
        ("PIN: 4921", "4921"),
    ],
)
def test_identifiers_named_by_their_label(text: str, value: str) -> None:
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(value, "NATIONAL_ID")]


@pytest.mark.parametrize(
    "text",
    [
        "See RFC 7231 and RFC 9110.",
        "the spinning pin 2 of the header",
        "Policy version 3.2.1 applies",
        "account settings updated on 2024-03-01",
        "account_id = 48213",
        "accountId = 48213",
        "Das ist ein 25000-Euro-Auftrag.",  # German "ein", not an EIN
        "a tin 50000 cans strong order",
    ],
)
def test_identifier_labels_without_an_identifier(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize("text", ["password: qwerty", "pwd=abc123", "DB_PASSWORD: 123456"])
def test_short_passwords_assigned_to_a_password_key(text: str) -> None:
    value = text.split("=")[-1].split(": ")[-1]
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(value, "API_KEY")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("PASSWORD=correct-horse-battery-staple", "correct-horse-battery-staple"),
        ("GPG_PASSPHRASE=tumble-orbit-cactus-lantern", "tumble-orbit-cactus-lantern"),
        ('password = "correct horse battery staple"', "correct horse battery staple"),
        ('{"db": {"password": "velvet falcon orbit 7"}}', "velvet falcon orbit 7"),
        ("ssh key passphrase: 'blue elephant dancing slowly'", "blue elephant dancing slowly"),
        ("Use passphrase 'orange lamp river stone' for the backup.", "orange lamp river stone"),
        ("the passphrase is correct-horse-battery-staple", "correct-horse-battery-staple"),
        ("The wifi password is sunflower-meadow-42", "sunflower-meadow-42"),
        ("the root password is `falcon-velvet-3`", "falcon-velvet-3"),
        ("vault_passcode: 'lemon-tiger-harbor'", "lemon-tiger-harbor"),
    ],
)
def test_passphrases_of_words_are_masked_whole(text: str, value: str) -> None:
    assert found(text) == [(value, "API_KEY")]


@pytest.mark.parametrize(
    "text",
    [
        'password "must be at least 12 characters"',
        '{"password": "Forgot password?", "password_hint": "Use a mix of letters"}',
        "Error: password 'does not match'",
        'password: "Enter your password"',
        "The password is case-sensitive.",
        "--password-file=/run/secrets/db-password",
        "secretName: db-password",
        "passcode length is 6",
        "The passphrase is stored in the keychain.",
        "PASSWORD_POLICY=min-length-12",
        "passwordless sign-in is enabled",
    ],
)
def test_sentences_about_passwords_are_not_passphrases(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("email me: john.doe [at] example [dot] com", "john.doe [at] example [dot] com"),
        ("write to jane(at)example(dot)co(dot)uk today", "jane(at)example(dot)co(dot)uk"),
        ("reach j.smith {at} mail.example.org", "j.smith {at} mail.example.org"),
    ],
)
def test_email_addresses_spelled_out_against_scrapers(text: str, email: str) -> None:
    assert found(text) == [(email, "EMAIL")]


@pytest.mark.parametrize(
    "text", ["see the [at] symbol docs", "meet (at) noon. Then go", "array[at] index.js file", "Click (at) logo.png"]
)
def test_at_in_brackets_without_a_mail_domain_is_no_email(text: str) -> None:
    assert detect(text) == []


@pytest.mark.parametrize(
    "token",
    [
        "csk-" + "k3v9q2m8x4n7b1c5z6l0p2r8t4w9y3h5j7f1g6d2s8a0e4u6i9o3",
        "r8_" + "Zk3P9qLm2Xv7Nb4Tc8Wd1Yf5Hg6Jr0Ks2EaQm",
        "lsv2_pt_" + "3f9a" * 8 + "_" + "0a1b2c3d4e",
        "tvly-dev-" + "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc",
        "pcsk_" + "4fG7h" + "_" + "Rz8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2Vb4Nm6Qw8Er0Ty2Ui4Op6As8",
        "dckr_pat_" + "Xy3-Zq8_Wm2Lp5Rt9Vb4Nc7Kd1Hf",
        "CCIPAT_" + "Wq4Er7Ty2Ui5Op8As1Df3Gh" + "_" + "9c" * 20,
        "tskey-auth-" + "kQ3Wz8Rt5Yp2Lm7Nb" + "-" + "Xv4Cz9Bq2Wr7Et5Ty3Ui8Op1As6Df0Gh",
        "sbp_" + "a1b2c3d4e5" * 4,
        "napi_" + "q8w2e4r6t8y0u2i4o6p8a0s2d4f6g8h0j2k4l6z8x0c2v4b6n8m0q1w3e5r7t9y1",
    ],
)
def test_ai_and_dev_platform_tokens_are_found_bare(token: str) -> None:
    assert found(token) == [(token, "API_KEY")]


def test_identifiers_that_start_like_a_platform_token_stay() -> None:
    text = "bb_live_stream_enabled_for_all_users = True; re_compiled_patterns_for_urls = []; fw_version_string = 3"
    assert detect(text) == []


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (
            "https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&se=2026-12-31T00:00:00Z"
            "&sig=Jk8mN2pQ5rS9tV3wX7yZ1aB4cD6eF8gH0iJ2kL4mN6o%3D",
            "Jk8mN2pQ5rS9tV3wX7yZ1aB4cD6eF8gH0iJ2kL4mN6o%3D",
        ),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=svc%2F20261202"
            "&X-Goog-Expires=900&X-Goog-Signature=8d2e7c1b9a4f6e3d0c5b8a7f2e1d4c9b6a3f0e5d",
            "8d2e7c1b9a4f6e3d0c5b8a7f2e1d4c9b6a3f0e5d",
        ),
        (
            "https://d111.cloudfront.net/a.jpg?Expires=1767225600&Signature=nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19D"
            "&Key-Pair-Id=K2JCJMDEHXQW5F",
            "nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19D",
        ),
    ],
)
def test_signed_url_signatures_are_masked(url: str, signature: str) -> None:
    at = url.index(signature)
    assert any(s.start <= at and at + len(signature) <= s.end for s in detect(url))


def test_a_sig_parameter_outside_a_signed_url_stays() -> None:
    assert detect("https://example.com/login?signature=hello-world-12345678 and /api?sig=abc") == []


def test_a_secret_in_a_url_query_ends_at_the_next_parameter() -> None:
    text = "GET https://api.example.com/v1/export?token=9f8e7d6c5b4a39281706f5e4d3c2b1a0&user=42&fmt=csv"
    assert found(text) == [("9f8e7d6c5b4a39281706f5e4d3c2b1a0", "API_KEY")]


@pytest.mark.parametrize(
    "text",
    [
        "Lunch (at) 12.30 tomorrow; Price (at) 4.99; Deployed (at) v1.2.3",
        "x = arr[at] b.c; counter [at] index.value; see image (at) logo(dot)png",
        '{"password": "Mot de passe"} {"password": "Mật khẩu"} password: "Kata sandi"',
        '{"password": "Too short"} {"password": "Required field"} errors: {password: "Too weak, try again"}',
        'passcode: "Six digit code"; stripe_key = loadStripeKeyV2; bb_test_fixtures_for_sdk_2024',
    ],
)
def test_review_false_positives_stay_clean(text: str) -> None:
    assert detect(text) == []


def test_adversarial_runs_stay_linear() -> None:
    """Inputs that took 8-30 s before (a scan to the end per signature, a name scan per capital)."""
    t0 = time.process_time()
    detect(("&Signature=" + "a" * 20) * 5000)
    detect(("?sv=1&sig=" + "A" * 20) * 5000)
    detect("a [at] " + "b." * 50000 + "1")
    ner_rules.rule_candidates("mail a@b.co " + "A" * 50000 + " x@y.z", [])
    assert time.process_time() - t0 < 2.0  # ~0.1 s in practice; generous for loaded CI machines
