# ruff: noqa: RUF001 - names and places in their own scripts
"""Generated evaluation sets for the PII tiers, built the way an outsider would build them.

- `secret_samples()`: a fresh token for every credential family (written here from each provider's
  documented token format, independently of pii/secret_rules.py), embedded in every assignment
  syntax agents paste: config formats, a dozen languages, Makefiles, curl.
- `clean_samples()`: PII-free texts full of hard negatives (ids, hashes, code, prose naming
  providers), for the false-positive rate.

Deterministic for a seed. Each sample is `{"id", "text", "spans": [{"start", "end", "type"}], "meta"}`,
the shape of ../shared/pii/dev_sample.jsonl, so the same scorer reads both.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
HEX = "0123456789abcdef"
B62 = LOWER + UPPER + DIGITS
URLSAFE = B62 + "_-"
B64 = B62 + "+/"
LOWER_ALNUM = LOWER + DIGITS
UPPER_ALNUM = UPPER + DIGITS
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".upper()

# (family, identifier used in the assignment, token parts). A part is a literal string or an
# (alphabet, length) pair. `fixed` families have a shape that needs no context; the others are
# recognisable only next to their provider's name, like the scanners' keyword rules.
Part = str | tuple[str, int]
FIXED: tuple[tuple[str, str, tuple[Part, ...]], ...] = (
    ("aws-access-key", "aws_access_key_id", ("AKIA", (UPPER_ALNUM, 16))),
    ("aws-docs-key", "aws_access_key_id", ("AKIA", (UPPER_ALNUM, 9), "EXAMPLE")),
    ("aws-sts-key", "aws", ("ASIA", (UPPER_ALNUM, 16))),
    ("openai-project", "openai", ("sk-proj-", (URLSAFE, 74), "T3BlbkFJ", (URLSAFE, 74))),
    ("openai-legacy", "openai", ("sk-", (B62, 20), "T3BlbkFJ", (B62, 20))),
    ("anthropic", "anthropic", ("sk-ant-api03-", (URLSAFE, 93), "AA")),
    ("anthropic-admin", "anthropic", ("sk-ant-admin01-", (URLSAFE, 93), "AA")),
    ("github-pat", "github", ("ghp_", (B62, 36))),
    ("github-oauth", "github", ("gho_", (B62, 36))),
    ("github-app", "github", ("ghs_", (B62, 36))),
    ("github-refresh", "github", ("ghr_", (B62, 36))),
    ("github-fine-grained", "github", ("github_pat_", (B62, 22), "_", (B62, 59))),
    ("gitlab-pat", "gitlab", ("glpat-", (URLSAFE, 20))),
    ("gitlab-deploy", "gitlab", ("gldt-", (URLSAFE, 20))),
    ("gitlab-runner", "gitlab", ("glrt-", (URLSAFE, 20))),
    ("gitlab-trigger", "gitlab", ("glptt-", (HEX, 40))),
    ("gitlab-registration", "gitlab", ("GR1348941", (URLSAFE, 20))),
    ("slack-bot", "slack", ("xoxb-", (DIGITS, 12), "-", (DIGITS, 13), "-", (B62, 24))),
    ("slack-user", "slack", ("xoxp-", (DIGITS, 12), "-", (DIGITS, 12), "-", (DIGITS, 13), "-", (HEX, 32))),
    ("slack-app", "slack", ("xapp-1-A", (UPPER_ALNUM, 10), "-", (DIGITS, 13), "-", (HEX, 64))),
    (
        "slack-webhook",
        "slack",
        ("https://hooks.slack.com/services/T", (UPPER_ALNUM, 8), "/B", (UPPER_ALNUM, 8), "/", (B62, 24)),
    ),
    ("stripe-secret", "stripe", ("sk_live_", (B62, 24))),
    ("stripe-restricted", "stripe", ("rk_live_", (B62, 24))),
    ("stripe-test", "stripe", ("sk_test_", (B62, 24))),
    ("stripe-webhook", "stripe", ("whsec_", (B62, 32))),
    ("google-api", "google", ("AIza", (URLSAFE, 35))),
    ("huggingface", "huggingface", ("hf_", (B62, 34))),
    ("huggingface-org", "huggingface", ("api_org_", (LOWER + UPPER, 34))),
    ("sendgrid", "sendgrid", ("SG.", (URLSAFE, 22), ".", (URLSAFE, 43))),
    ("npm", "npm", ("npm_", (B62, 36))),
    ("pypi", "pypi", ("pypi-AgEIcHlwaS5vcmc", (URLSAFE, 70))),
    ("digitalocean-pat", "digitalocean", ("dop_v1_", (HEX, 64))),
    ("digitalocean-oauth", "digitalocean", ("doo_v1_", (HEX, 64))),
    ("shopify", "shopify", ("shpat_", (HEX, 32))),
    ("shopify-shared", "shopify", ("shpss_", (HEX, 32))),
    ("groq", "groq", ("gsk_", (B62, 52))),
    ("xai", "xai", ("xai-", (B62, 80))),
    ("perplexity", "perplexity", ("pplx-", (B62, 48))),
    ("age", "age", ("AGE-SECRET-KEY-1", (BECH32, 58))),
    (
        "1password-secret-key",
        "onepassword",
        (
            "A3-",
            (UPPER_ALNUM, 6),
            "-",
            (UPPER_ALNUM, 11),
            "-",
            (UPPER_ALNUM, 5),
            "-",
            (UPPER_ALNUM, 5),
            "-",
            (UPPER_ALNUM, 5),
        ),
    ),
    ("1password-service", "onepassword", ("ops_eyJ", (B64, 260))),
    ("adobe-secret", "adobe", ("p8e-", (B62, 32))),
    ("alibaba", "alibaba", ("LTAI", (B62, 20))),
    ("artifactory", "artifactory", ("AKCp", (B62, 69))),
    ("atlassian", "atlassian", ("ATATT3", (URLSAFE, 186))),
    ("azure-ad", "azure", ((B62, 3), "8Q~", (URLSAFE, 34))),
    ("clickhouse", "clickhouse", ("4b1d", (B62, 38))),
    ("clojars", "clojars", ("CLOJARS_", (LOWER_ALNUM, 60))),
    ("cloudflare-origin-ca", "cloudflare", ("v1.0-", (HEX, 24), "-", (HEX, 146))),
    ("databricks", "databricks", ("dapi", (HEX, 32))),
    ("doppler", "doppler", ("dp.pt.", (B62, 43))),
    ("duffel", "duffel", ("duffel_live_", (URLSAFE, 43))),
    ("dynatrace", "dynatrace", ("dt0c01.", (UPPER_ALNUM, 24), ".", (UPPER_ALNUM, 64))),
    ("easypost", "easypost", ("EZAK", (B62, 54))),
    ("facebook-page", "facebook", ("EAAM", (B62, 120))),
    ("flutterwave", "flutterwave", ("FLWSECK_TEST-", (HEX, 32), "-X")),
    ("fly", "fly", ("fo1_", (URLSAFE, 43))),
    ("frameio", "frameio", ("fio-u-", (URLSAFE, 64))),
    ("grafana-api", "grafana", ("eyJrIjoi", (B62, 90))),
    ("grafana-cloud", "grafana", ("glc_", (B62, 48))),
    ("grafana-service-account", "grafana", ("glsa_", (B62, 32), "_", (HEX, 8))),
    ("harness", "harness", ("pat.", (URLSAFE, 22), ".", (B62, 24), ".", (B62, 20))),
    ("terraform-cloud", "terraform", ((LOWER_ALNUM, 14), ".atlasv1.", (URLSAFE, 64))),
    ("heroku-v2", "heroku", ("HRKU-AA", (URLSAFE, 58))),
    ("infracost", "infracost", ("ico-", (B62, 32))),
    ("intra42", "intra42", ("s-s4t2ud-", (HEX, 64))),
    ("jwt-base64", "jwt", ("ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5", (B62, 60))),
    ("linear", "linear", ("lin_api_", (B62, 40))),
    ("maxmind", "maxmind", ((B62, 6), "_", (B62, 29), "_mmk")),
    ("notion", "notion", ("ntn_", (DIGITS, 11), (B62, 35))),
    ("openshift", "openshift", ("sha256~", (URLSAFE, 43))),
    ("planetscale", "planetscale", ("pscale_tkn_", (URLSAFE, 43))),
    ("postman", "postman", ("PMAK-", (HEX, 24), "-", (HEX, 34))),
    ("prefect", "prefect", ("pnu_", (B62, 36))),
    ("pulumi", "pulumi", ("pul-", (HEX, 40))),
    ("readme", "readme", ("rdme_", (LOWER_ALNUM, 70))),
    ("rubygems", "rubygems", ("rubygems_", (HEX, 48))),
    ("scalingo", "scalingo", ("tk-us-", (URLSAFE, 48))),
    ("sendinblue", "sendinblue", ("xkeysib-", (HEX, 64), "-", (B62, 16))),
    ("sentry-user", "sentry", ("sntryu_", (HEX, 64))),
    ("settlemint", "settlemint", ("sm_pat_", (B62, 16))),
    ("shippo", "shippo", ("shippo_live_", (HEX, 40))),
    ("square", "square", ("sq0atp-", (URLSAFE, 22))),
    ("twilio", "twilio", ("SK", (HEX, 32))),
    ("vault-service", "vault", ("hvs.", (URLSAFE, 95))),
    ("vault-batch", "vault", ("hvb.", (URLSAFE, 140))),
    ("newrelic-user", "newrelic", ("NRAK-", (UPPER_ALNUM, 27))),
    ("typeform", "typeform", ("tfp_", (URLSAFE, 59))),
    ("mapbox", "mapbox", ("pk.", (LOWER_ALNUM, 60), ".", (LOWER_ALNUM, 22))),
    ("mailgun", "mailgun", ("key-", (HEX, 32))),
    ("telegram", "telegram", ((DIGITS, 10), ":AA", (URLSAFE, 33))),
    ("octopus", "octopus", ("API-", (UPPER_ALNUM, 26))),
    ("sourcegraph", "sourcegraph", ("sgp_", (HEX, 16), "_", (HEX, 40))),
    ("yandex", "yandex", ("AQVN", (URLSAFE, 36))),
)
KEYWORD: tuple[tuple[str, str, tuple[Part, ...]], ...] = (
    ("heroku-uuid", "heroku", ((HEX, 8), "-", (HEX, 4), "-", (HEX, 4), "-", (HEX, 4), "-", (HEX, 12))),
    (
        "hubspot-uuid",
        "hubspot",
        ((HEX.upper(), 8), "-", (HEX.upper(), 4), "-", (HEX.upper(), 4), "-", (HEX.upper(), 4), "-", (HEX.upper(), 12)),
    ),
    ("snyk-uuid", "snyk", ((HEX, 8), "-", (HEX, 4), "-", (HEX, 4), "-", (HEX, 4), "-", (HEX, 12))),
    ("discord-client-id", "discord", ((DIGITS, 18),)),
    ("asana-client-id", "asana", ((DIGITS, 16),)),
    ("discord-secret", "discord", ((HEX, 64),)),
    ("adafruit", "adafruit", ((LOWER_ALNUM, 32),)),
    ("airtable", "airtable", ((LOWER_ALNUM, 17),)),
    ("algolia", "algolia", ((LOWER_ALNUM, 32),)),
    ("bitbucket", "bitbucket", ((LOWER_ALNUM, 32),)),
    ("cloudflare", "cloudflare", ((LOWER_ALNUM, 40),)),
    ("codecov", "codecov", ((LOWER_ALNUM, 32),)),
    ("confluent", "confluent", ((LOWER_ALNUM, 16),)),
    ("datadog", "datadog", ((LOWER_ALNUM, 40),)),
    ("dropbox", "dropbox", ((LOWER_ALNUM, 15),)),
    ("fastly", "fastly", ((URLSAFE, 32),)),
    ("finnhub", "finnhub", ((LOWER_ALNUM, 20),)),
    ("gitter", "gitter", ((LOWER_ALNUM, 40),)),
    ("intercom", "intercom", ((URLSAFE, 60),)),
    ("kucoin", "kucoin", ((HEX, 24),)),
    ("launchdarkly", "launchdarkly", ((URLSAFE, 40),)),
    ("linkedin", "linkedin", ((LOWER_ALNUM, 14),)),
    ("mattermost", "mattermost", ((LOWER_ALNUM, 26),)),
    ("netlify", "netlify", ((URLSAFE, 40),)),
    ("plaid", "plaid", ((LOWER_ALNUM, 30),)),
    ("sendbird", "sendbird", ((HEX, 40),)),
    ("sumologic", "sumo", ("su", (B62, 12))),
    ("travis", "travis", ((LOWER_ALNUM, 22),)),
    ("twitch", "twitch", ((LOWER_ALNUM, 30),)),
    ("twitter", "twitter", ((LOWER_ALNUM, 25),)),
    ("zendesk", "zendesk", ((LOWER_ALNUM, 40),)),
    ("okta", "okta", ("00", (URLSAFE, 40))),
    ("sidekiq", "BUNDLE_ENTERPRISE__CONTRIBSYS__COM", ((HEX, 8), ":", (HEX, 8))),
    ("jira", "jira", ((LOWER_ALNUM, 24),)),
)

# Assignment syntaxes: {i} the identifier, {s} the secret. Identifiers are camel-cased ({I}) where
# the language does so and upper-cased ({U}) for environment variables.
SYNTAXES: tuple[tuple[str, str], ...] = (
    ("ini-quoted", '{i}Token="{s}"'),
    ("ini-spaced", '{i}Token = "{s}"'),
    ("ini-unquoted", "{i}Token={s}"),
    ("ini-unquoted-spaced", "{i}Token = {s}"),
    ("json", '{{\n    "{i}_token": "{s}"\n}}'),
    ("json-escaped", '\\{{\n    \\"{i}_token\\": \\"{s}\\"\n\\}}'),
    ("xml", "<{i}Token>{s}</{i}Token>"),
    ("xml-multiline", "<{i}Token>\n    {s}\n</{i}Token>"),
    ("yaml", "{i}_token: {s}"),
    ("yaml-single", "{i}_token: '{s}'"),
    ("yaml-double", '{i}_token: "{s}"'),
    ("yaml-literal", "{i}_token: |\n  {s}"),
    ("yaml-folded", "{i}_token: >\n  {s}"),
    ("toml", '[{i}]\ntoken = "{s}"'),
    ("dotenv", "{U}_TOKEN={s}"),
    ("shell-export", "export {U}_TOKEN='{s}'"),
    ("hcl", 'variable "{i}_token" {{\n  default = "{s}"\n}}'),
    ("csharp", 'string {i}Token = "{s}";'),
    ("go", 'var {i}Token string = "{s}"'),
    ("go-short", '{i}Token := "{s}"'),
    ("go-backticks", "{i}Token := `{s}`"),
    ("java", 'String {i}Token = "{s}";'),
    ("java-property", 'System.setProperty("{U}_TOKEN", "{s}");'),
    ("kotlin", 'var {i}Token = "{s}"'),
    ("kotlin-typed", 'val {i}Token: String = "{s}"'),
    ("php-concat", '${i}Token .= "{s}";'),
    ("php-array", "'{i}_token' => '{s}',"),
    ("python-single", "{i}Token = '{s}'"),
    ("python-double", '{i}Token = "{s}"'),
    ("python-dict", 'config["{i}_token"] = "{s}"'),
    ("js-object", "const config = {{ {i}Token: '{s}' }};"),
    ("ts-typed", 'const {i}Token: string = "{s}";'),
    ("ruby", 'ENV["{U}_TOKEN"] ||= "{s}"'),
    ("csv", "{i}Token,{s},"),
    ("logstash", '  "{i}Token" => "{s}"'),
    ("make-recursive", '{U}_TOKEN = "{s}"'),
    ("make-simple", '{U}_TOKEN := "{s}"'),
    ("make-shell", '{U}_TOKEN ::= "{s}"'),
    ("make-evaluated", '{U}_TOKEN :::= "{s}"'),
    ("make-conditional", '{U}_TOKEN ?= "{s}"'),
    ("make-append", '{U}_TOKEN += "{s}"'),
    ("curl-header", 'curl -H "Authorization: Bearer {s}" https://api.{i}.example/v1/me'),
    ("prose", "Here is the {i} token we use in staging: {s} (rotate it after the demo)."),
)


def _render(parts: tuple[Part, ...], rng: random.Random) -> str:
    return "".join(p if isinstance(p, str) else "".join(rng.choice(p[0]) for _ in range(p[1])) for p in parts)


def _camel(ident: str) -> str:
    head, *rest = ident.replace("-", "_").split("_")
    return head.lower() + "".join(w.capitalize() for w in rest)


def secret_samples(seed: int = 7) -> Iterator[dict]:
    """Every family in every syntax, one fresh token each."""
    rng = random.Random(seed)
    for kind, table in (("fixed", FIXED), ("keyword", KEYWORD)):
        for family, ident, parts in table:
            for syntax, template in SYNTAXES:
                if kind == "keyword" and syntax in ("curl-header",):
                    continue  # a bare header value carries no provider name
                secret = _render(parts, rng)
                i = ident if ident.isupper() else _camel(ident)
                text = template.format(i=i, U=ident.upper().replace("-", "_"), s=secret)
                if ident.isupper():  # an environment name used as-is (Sidekiq's BUNDLE_…)
                    text = text.replace(f"{ident}Token", ident).replace(f"{ident}_token", ident)
                    text = text.replace(f"{ident}_TOKEN", ident)
                start = text.index(secret)
                yield {
                    "id": f"secret-{family}-{syntax}",
                    "text": text,
                    "spans": [{"start": start, "end": start + len(secret), "type": "SECRET", "value": secret}],
                    "meta": {"family": family, "syntax": syntax, "kind": kind},
                }


# PII-free texts with the look of secrets and ids: what a gateway must leave alone.
_CLEAN: tuple[str, ...] = (
    "We moved billing from Stripe to Adyen last year; GitHub Actions deploys on every merge to main.",
    "The Discord server has 18 channels and 2,400 members; the Slack workspace is archived.",
    'request_id = "3f2b8c1e-9a4d-4e5f-8b7a-1c2d3e4f5a6b"\ntrace_id: 4bf92f3577b34da6a3ce929d0e0e4736',
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nAuthor: build bot\n    Bump version to 2.14.3",
    "def get_token(self, user_id: int) -> str:\n    return self._tokens[user_id]",
    "max_tokens: 4096\ntemperature: 0.2\nmodel: gpt-4o-mini\ntoken_limit: 128000",
    'GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\nNPM_TOKEN: "${NPM_TOKEN}"\napi_key: <YOUR_API_KEY>',
    "Order 1234567890123456 shipped; tracking number 9400111899223197428490.",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "The heroku app uses 2 dynos and the twitter feed updates every 15 minutes.",
    "password_reset_template = 'password_reset_v2'\nsecret_name = 'prod/db/credentials'",
    "SELECT id, created_at, status FROM orders WHERE customer_id = 48213 ORDER BY created_at DESC LIMIT 50;",
    "Version 3.11.4 of the SDK fixes the retry bug; see https://docs.example.com/changelog#3-11-4.",
    "cursor=eyJvZmZzZXQiOjEwMCwic29ydCI6ImNyZWF0ZWRfYXQifQ&limit=100",
    "Set STRIPE_API_KEY in your environment, then run `make deploy`. The key never goes in the repo.",
    "| service | region | replicas |\n|---|---|---|\n| api | eu-west-1 | 3 |\n| worker | us-east-2 | 5 |",
    "Our Jira board tracks PROJ-1432 and PROJ-1433; the Confluence page links both.",
    "docker pull python:3.11-slim-bookworm && docker run --rm -it python:3.11-slim-bookworm",
    "The token bucket refills 100 tokens per second; the auth service caches sessions for 15 minutes.",
    'const authorName = "release-manager"; const keyboardLayout = "qwerty";',
)


def masked(spans: list, start: int, end: int) -> bool:
    """The scorer's masking view: at least 90% of the value's characters covered by some span."""
    covered = sum(max(0, min(s.end, end) - max(s.start, start)) for s in spans)
    return covered >= 0.9 * (end - start)


def clean_samples() -> list[dict]:
    return [{"id": f"clean-{k}", "text": t, "spans": [], "meta": {"clean": True}} for k, t in enumerate(_CLEAN)]


# --- structure: quoted-comma tables and \uXXXX-escaped JSON -------------------------------------

_FIRST = ("Jane", "Rick", "Ana", "Søren", "Zoë", "Łukasz", "Ayşe", "José")
_LAST = ("Doe", "Roe", "Müller", "Kierkegaard", "Novák", "Wójcik", "Yılmaz", "García")


def _date(rng: random.Random, y0: int, y1: int) -> str:
    return f"{rng.randint(y0, y1)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _escape_some(text: str, rng: random.Random) -> str:
    """JSON-escape `@`, `+`, non-ASCII and a few random letters as `\\uXXXX`, like some encoders do."""
    return "".join(
        f"\\u{ord(c):04x}" if c in "@+" or ord(c) > 127 or (c.isalpha() and rng.random() < 0.1) else c for c in text
    )


def structure_samples(seed: int = 7, n: int = 40) -> Iterator[dict]:
    """CSV tables whose name cells are quoted and hold commas (the date of birth must be masked,
    the creation date must not), and JSON notes with `\\uXXXX` escapes around an email and phone."""
    rng = random.Random(seed)
    for k in range(n):
        rows, spans = ["id,name,birth_date,created_at,note"], []
        text = rows[0] + "\n"
        for r in range(3):
            name = f'"{rng.choice(_LAST)}, {rng.choice(_FIRST)}"'
            dob = _date(rng, 1940, 2004)
            line = f'{r + 1},{name},{dob},{_date(rng, 2019, 2025)},"called, left a message"\n'
            start = len(text) + line.index(dob)
            spans.append({"start": start, "end": start + len(dob), "type": "DATE_OF_BIRTH"})
            text += line
        yield {"id": f"table-{k}", "text": text, "spans": spans, "meta": {"kind": "quoted-csv"}}
    for k in range(n):
        user = rng.choice(_FIRST).lower().replace("ø", "o")
        email = _escape_some(f"{user}.{rng.randint(1, 99)}@example-corp.io", rng)
        phone = _escape_some(f"+44 20 7946 {rng.randint(1000, 9999)}", rng)
        text = f'{{"note": "Customer wrote from {email}, call back on {phone} tomorrow"}}'
        spans = [
            {"start": text.index(v), "end": text.index(v) + len(v), "type": t}
            for v, t in ((email, "EMAIL"), (phone, "PHONE"))
        ]
        yield {"id": f"escaped-{k}", "text": text, "spans": spans, "meta": {"kind": "escaped-json"}}


# --- names and places in other scripts (the NER tier's rules) -------------------------------------

_WORLD: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    ("ru", ("Иван Петров", "Анна Смирнова", "Ольга Иванова"), ("Москве", "Казани"), "Меня зовут {p}, живу в {c}."),
    ("he", ("דוד כהן", "שרה לוי", "יוסי מזרחי"), ("בחיפה", "בירושלים"), "שמי {p} ואני גר {c}"),
    ("ar", ("محمد علي", "فاطمة حسن", "أحمد محمود"), ("القاهرة", "بيروت"), "اسمي {p} من {c}"),
    ("zh", ("张伟", "王芳", "李娜"), ("北京", "上海"), "我叫{p}，住在{c}。"),
    ("ko", ("김민준", "이서연", "박지훈"), ("서울", "부산"), "제 이름은 {p}입니다. {c}에 살아요."),
    ("el", ("Ελένη Παπαδοπούλου", "Νίκος Γεωργίου"), ("Αθήνα", "Θεσσαλονίκη"), "Με λένε {p}, μένω στην {c}."),
    ("pl", ("Zofia Wójcik", "Piotr Nowak"), ("Krakowa", "Warszawy"), "Nazywam się {p}, jestem z {c}."),
    ("cs", ("Jiří Novák", "Petra Svobodová"), ("Praze", "Brně"), "Jmenuji se {p} a bydlím v {c}."),
    ("tr", ("Ayşe Yılmaz", "Mehmet Kaya"), ("İstanbul", "Ankara"), "Sayın {p}, {c} ofisinden yazıyorum."),
)


def world_samples() -> Iterator[dict]:
    for lang, people, cities, template in _WORLD:
        for p in people:
            for c in cities:
                text = template.format(p=p, c=c)
                spans = [
                    {"start": text.index(p), "end": text.index(p) + len(p), "type": "PERSON"},
                    {"start": text.index(c), "end": text.index(c) + len(c), "type": "LOCATION"},
                ]
                yield {"id": f"world-{lang}-{p}-{c}", "text": text, "spans": spans, "meta": {"lang": lang}}
