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
import re
import string
from collections.abc import Iterable, Iterator

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
Table = tuple[tuple[str, str, tuple[Part, ...]], ...]
FIXED: Table = (
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
    # AI and agent tooling, hosting, CI (added with their rules in session 4)
    ("cerebras", "cerebras", ("csk-", (LOWER_ALNUM, 48))),
    ("replicate", "replicate", ("r8_", (B62, 37))),
    ("fireworks", "fireworks", ("fw_", (B62, 24))),
    ("elevenlabs", "elevenlabs", ("sk_", (HEX, 48))),
    ("cartesia", "cartesia", ("sk_car_", (B62, 24))),
    ("pinecone", "pinecone", ("pcsk_", (B62, 5), "_", (B62, 60))),
    ("langsmith", "langsmith", ("lsv2_pt_", (HEX, 32), "_", (HEX, 10))),
    ("tavily", "tavily", ("tvly-dev-", (B62, 32))),
    ("firecrawl", "firecrawl", ("fc-", (HEX, 32))),
    ("e2b", "e2b", ("e2b_", (HEX, 40))),
    ("browserbase", "browserbase", ("bb_live_", (URLSAFE, 27))),
    ("docker-hub", "docker", ("dckr_pat_", (URLSAFE, 27))),
    ("buildkite", "buildkite", ("bkua_", (HEX, 40))),
    ("circleci-personal", "circleci", ("CCIPAT_", (B62, 22), "_", (HEX, 40))),
    ("contentful", "contentful", ("CFPAT-", (URLSAFE, 43))),
    ("figma", "figma", ("figd_", (URLSAFE, 40))),
    ("netlify", "netlify", ("nfp_", (B62, 36))),
    ("render", "render", ("rnd_", (B62, 28))),
    ("neon", "neon", ("napi_", (LOWER_ALNUM, 64))),
    ("supabase", "supabase", ("sbp_", (HEX, 40))),
    ("tailscale", "tailscale", ("tskey-auth-", (B62, 17), "-", (B62, 32))),
    ("airtable", "airtable", ("pat", (B62, 14), ".", (HEX, 64))),
    ("resend", "resend", ("re_", (B62, 8), "_", (B62, 24))),
    ("dropbox-short-lived", "dropbox", ("sl.", (URLSAFE, 140))),
)
KEYWORD: Table = (
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
    """Every family in every syntax, one fresh token each; identifiers camel-cased or upper-cased
    as each language does."""
    return _samples("secret", (("fixed", FIXED), ("keyword", KEYWORD)), SYNTAXES, seed, styled=True)


def _samples(
    prefix: str,
    tables: Iterable[tuple[str, Table]],
    syntaxes: tuple[tuple[str, str], ...],
    seed: int,
    *,
    styled: bool = False,
) -> Iterator[dict]:
    rng = random.Random(seed)
    for kind, table in tables:
        for family, ident, parts in table:
            for syntax, template in syntaxes:
                if styled and kind == "keyword" and syntax == "curl-header":
                    continue  # a bare header value carries no provider name
                secret = _render(parts, rng)
                if styled:
                    i = ident if ident.isupper() else _camel(ident)
                    text = template.format(i=i, U=ident.upper().replace("-", "_"), s=secret)
                    if ident.isupper():  # an environment name used as-is (Sidekiq's BUNDLE_…)
                        text = text.replace(f"{ident}Token", ident).replace(f"{ident}_token", ident)
                        text = text.replace(f"{ident}_TOKEN", ident)
                else:
                    text = template.format(i=ident, s=secret)
                start = text.index(secret)
                yield {
                    "id": f"{prefix}-{family}-{syntax}",
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
    # names of credentials holding words, code, references and public identifiers
    'tokenizer = "bert-base-uncased"\napi_key_header = "X-Api-Key"\ntoken_type: "Bearer"',
    'secret_name: "prod-database-credentials"\nauth_method: client_credentials\npassword_policy: strict',
    'KEY_ALGORITHM = "RSASSA_PSS_SHA_256"\nSIGNING_KEY_PATH = "/etc/keys/signing.pem"',
    "heroku_app: shrouded-everglades\ntravis_dist: jammy\nsumo_category: prod/api/nginx",
    'github_repo: "octocat/Hello-World"\nslack_channel: "#deploys"\ntwitter_handle: "@nasa"',
    "const accessToken = await getAccessTokenForUser(userId);\nconst refreshToken = session.refreshToken;",
    'String apiKey = System.getenv("PAYMENTS_API_KEY");\nvar authHeader = request.getHeader("Authorization");',
    "export GITHUB_TOKEN=$(gh auth token)\nexport NPM_TOKEN=${NPM_TOKEN:-}\nAWS_PROFILE=staging",
    "secretKeyRef:\n  name: stripe-credentials\n  key: STRIPE_SECRET_KEY",
    'password = getpass.getpass("Password: ")\ntoken = os.environ["SLACK_BOT_TOKEN"]',
    '<add key="ApiKeyHeaderName" value="X-Functions-Key" />\n<add key="TokenLifetime" value="01:00:00" />',
    "The Stripe dashboard shows the publishable key prefix; the Discord bot posts release notes daily.",
    "Rotate the Twilio credentials quarterly and keep the Datadog API key in the vault, never in code.",
    "keyboardShortcuts: {save: 'CtrlOrCommandS', quit: 'CtrlOrCommandQ'}",
    'auth_token_name = "XMLHttpRequestAuthorization"\nsession_key = "UserPreferencesStore"',
    "Use the staging cluster for load tests; the production cluster is reserved for the release candidate.",
    "cache_key = f\"user:{user_id}:profile\"\nlock_key = 'scheduler:leader:lock'",
    'jwt_audience: "https://api.internal.example"\njwt_issuer: "https://auth.internal.example/"',
    "The confluence page on onboarding lists the jira project keys for every team in the platform group.",
    "docker run -e DATADOG_API_KEY=$DD_API_KEY -e DD_SITE=datadoghq.eu datadog/agent:latest",
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
            person = f"{rng.choice(_LAST)}, {rng.choice(_FIRST)}"
            dob = _date(rng, 1940, 2004)
            line = f'{r + 1},"{person}",{dob},{_date(rng, 2019, 2025)},"called, left a message"\n'
            start = len(text) + line.index(dob)
            spans.append({"start": start, "end": start + len(dob), "type": "DATE_OF_BIRTH"})
            start = len(text) + line.index(person)  # the NER tier's (the pattern tier scores the date)
            spans.append({"start": start, "end": start + len(person), "type": "PERSON"})
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


# --- held-out-style secrets: a scanner's rule fixtures ----------------------------------------------
# Written as a scanner's own fixtures are: a rule's keyword is the identifier, used as it is
# (`sumoToken`, `sumo_token`, `sumo_TOKEN`), and the secret is a random draw from the rule's
# character class, so letters-only draws, lowercase-only draws and odd lengths all occur. The
# families and classes come from providers' documented formats and the scanners' public rule
# descriptions (not from pii/secret_rules.py); some identifiers are compound (`linked-in`,
# `CO_API_KEY`), as the scanners' keyword lists have them.
AN = LOWER_ALNUM  # [a-z0-9]
ANX = LOWER_ALNUM + "=_-"  # [a-z0-9=_-]
ANS = LOWER_ALNUM + "_-"  # [a-z0-9_-]
ANL = LOWER_ALNUM + "/=_+-"  # [a-z0-9/=_+-]
MIXED = LOWER + UPPER + DIGITS


def _uuid(alphabet: str = HEX) -> tuple[Part, ...]:
    return ((alphabet, 8), "-", (alphabet, 4), "-", (alphabet, 4), "-", (alphabet, 4), "-", (alphabet, 12))


HELDOUT_KEYWORD: Table = (
    ("adafruit-api-key", "adafruit", ((ANS, 32),)),
    ("adobe-client-id", "adobe", ((HEX, 32),)),
    ("airtable-api-key", "airtable", ((AN, 17),)),
    ("algolia-api-key", "algolia", ((AN, 32),)),
    ("alibaba-secret-key", "alibaba", ((AN, 30),)),
    ("asana-client-id", "asana", ((DIGITS, 16),)),
    ("asana-client-secret", "asana", ((AN, 32),)),
    ("atlassian-api-token", "atlassian", ((AN, 24),)),
    ("confluence-api-token", "confluence", ((AN, 24),)),
    ("jira-api-token", "jira", ((AN, 24),)),
    ("bitbucket-client-id", "bitbucket", ((AN, 32),)),
    ("bitbucket-client-secret", "bitbucket", ((ANX, 64),)),
    ("bittrex-access-key", "bittrex", ((AN, 32),)),
    ("cisco-meraki-api-key", "meraki", ((HEX, 40),)),
    ("cloudflare-api-key", "cloudflare", ((ANS, 40),)),
    ("cloudflare-global-api-key", "cloudflare", ((HEX, 37),)),
    ("codecov-access-token", "codecov", ((AN, 32),)),
    ("cohere-api-token", "cohere", ((MIXED, 40),)),
    ("cohere-env", "CO_API_KEY", ((MIXED, 40),)),
    ("coinbase-access-token", "coinbase", ((ANS, 64),)),
    ("confluent-access-token", "confluent", ((AN, 16),)),
    ("confluent-secret-key", "confluent", ((AN, 64),)),
    ("contentful-delivery-api-token", "contentful", ((ANX, 43),)),
    ("datadog-access-token", "datadog", ((AN, 40),)),
    ("discord-api-token", "discord", ((HEX, 64),)),
    ("discord-client-id", "discord", ((DIGITS, 18),)),
    ("discord-client-secret", "discord", ((ANX, 32),)),
    ("droneci-access-token", "droneci", ((AN, 32),)),
    ("dropbox-api-token", "dropbox", ((AN, 15),)),
    ("dropbox-short-lived", "dropbox", ("sl.", (ANX, 135))),
    ("dropbox-long-lived", "dropbox", ((AN, 11), "AAAAAAAAAA", (ANX, 43))),
    ("etsy-access-token", "etsy", ((AN, 24),)),
    ("facebook-secret", "facebook", ((HEX, 32),)),
    ("facebook-access-token", "facebook", ((DIGITS, 15), "|", (ANS, 32))),
    ("fastly-api-token", "fastly", ((ANX, 32),)),
    ("finicity-api-token", "finicity", ((HEX, 32),)),
    ("finicity-client-secret", "finicity", ((AN, 20),)),
    ("finnhub-access-token", "finnhub", ((AN, 20),)),
    ("flickr-access-token", "flickr", ((AN, 32),)),
    ("freshbooks-access-token", "freshbooks", ((AN, 64),)),
    ("gitter-access-token", "gitter", ((ANS, 40),)),
    ("gocardless-api-token", "gocardless", ("live_", (ANX, 40))),
    ("heroku-api-key", "heroku", _uuid()),
    ("hubspot-api-key", "hubspot", _uuid(HEX.upper())),
    ("intercom-api-key", "intercom", ((ANX, 60),)),
    ("jfrog-api-key", "jfrog", ((AN, 73),)),
    ("jfrog-identity-token", "artifactory", ((AN, 64),)),
    ("kraken-access-token", "kraken", ((ANL, 86),)),
    ("kucoin-access-token", "kucoin", ((HEX, 24),)),
    ("kucoin-secret-key", "kucoin", _uuid()),
    ("launchdarkly-access-token", "launchdarkly", ((ANX, 40),)),
    ("linear-client-secret", "linear", ((HEX, 32),)),
    ("linkedin-client-id", "linkedin", ((AN, 14),)),
    ("linkedin-client-secret", "linked-in", ((AN, 16),)),
    ("lob-api-key", "lob", ("live_", (HEX, 35))),
    ("lob-pub-api-key", "lob", ("test_pub_", (HEX, 31))),
    ("looker-client-id", "looker", ((AN, 20),)),
    ("looker-client-secret", "looker", ((AN, 24),)),
    ("mailchimp-api-key", "mailchimp", ((HEX, 32), "-us20")),
    ("mailgun-signing-key", "mailgun", ((HEX, 32), "-", (HEX, 8), "-", (HEX, 8))),
    ("mattermost-access-token", "mattermost", ((AN, 26),)),
    ("messagebird-api-token", "messagebird", ((AN, 25),)),
    ("messagebird-client-id", "message_bird", _uuid()),
    ("netlify-access-token", "netlify", ((ANX, 43),)),
    ("new-relic-user-api-id", "new-relic", ((AN, 64),)),
    ("nytimes-access-token", "nytimes", ((ANX, 32),)),
    ("okta-access-token", "okta", ("00", (URLSAFE, 40))),
    ("plaid-client-id", "plaid", ((AN, 24),)),
    ("plaid-secret-key", "plaid", ((AN, 30),)),
    ("plaid-api-token", "plaid", ("access-sandbox-", *_uuid())),
    ("privateai-api-token", "private_ai", ((AN, 32),)),
    ("rapidapi-access-token", "rapidapi", ((ANS, 50),)),
    ("sendbird-access-id", "sendbird", _uuid()),
    ("sendbird-access-token", "sendbird", ((HEX, 40),)),
    ("sentry-access-token", "sentry", ((HEX, 64),)),
    ("snyk-api-token", "snyk", _uuid()),
    ("sonar-api-token", "sonar", ("squ_", (ANX, 40))),
    ("squarespace-access-token", "squarespace", _uuid()),
    ("sumologic-access-id", "sumo", ("su", (MIXED, 12))),
    ("sumologic-access-token", "SUMO", ((MIXED, 64),)),
    ("travisci-access-token", "travis", ((AN, 22),)),
    ("twitch-api-token", "twitch", ((AN, 30),)),
    ("twitter-api-key", "twitter", ((AN, 25),)),
    ("twitter-api-secret", "twitter", ((AN, 50),)),
    ("twitter-access-token", "twitter", ((DIGITS, 19), "-", (MIXED, 40))),
    ("twitter-access-secret", "twitter", ((AN, 45),)),
    ("twitter-bearer-token", "twitter", ("A" * 22, (MIXED + "%", 90))),
    ("zendesk-secret-key", "zendesk", ((AN, 40),)),
    ("yandex-aws-access-token", "yandex", ("YC", (URLSAFE, 38))),
    ("yandex-access-token", "yandex", ("t1.", (URLSAFE, 40), ".", (URLSAFE, 86))),
    ("beamer-api-token", "beamer", ("b_", (ANX, 44))),
    ("nuget-password", "nuget", ((MIXED, 24),)),
    ("generic-client-secret", "client", ((MIXED + "._-", 32),)),
    ("generic-api", "api", ((MIXED, 28),)),
)
# Fixed shapes the first table does not repeat: found with no keyword, so the identifier is neutral.
HELDOUT_FIXED: Table = (
    ("aws-abia", "storage", ("ABIA", (UPPER_ALNUM, 16))),
    ("aws-acca", "storage", ("ACCA", (UPPER_ALNUM, 16))),
    ("anthropic-short", "claude", ("sk-ant-api03-", (URLSAFE, 93), "AA")),
    ("openai-svcacct", "llm", ("sk-svcacct-", (URLSAFE, 58), "T3BlbkFJ", (URLSAFE, 58))),
    ("openai-admin", "llm", ("sk-admin-", (URLSAFE, 58), "T3BlbkFJ", (URLSAFE, 58))),
    ("github-user-to-server", "gh", ("ghu_", (B62, 36))),
    ("gitlab-feed", "gl", ("glft-", (URLSAFE, 20))),
    ("gitlab-cicd-job", "gl", ("glcbt-", (HEX, 5), "_", (URLSAFE, 20))),
    ("gitlab-incoming-mail", "gl", ("glimt-", (LOWER_ALNUM, 25))),
    ("gitlab-agent", "gl", ("glagent-", (URLSAFE, 50))),
    ("gitlab-oauth-secret", "gl", ("gloas-", (URLSAFE, 64))),
    ("gitlab-scim", "gl", ("glsoat-", (URLSAFE, 20))),
    ("gitlab-ff-client", "gl", ("glffct-", (URLSAFE, 20))),
    ("gitlab-pat-routable", "gl", ("glpat-", (URLSAFE, 27), ".", (LOWER_ALNUM, 2), (LOWER_ALNUM, 7))),
    ("slack-legacy-bot", "chat", ("xoxb-", (DIGITS, 10), "-", (B62, 24))),
    ("slack-legacy-workspace", "chat", ("xoxa-2-", (B62, 60))),
    ("slack-config-access", "chat", ("xoxe.xoxp-1-", (B62, 163))),
    ("slack-config-refresh", "chat", ("xoxe-1-", (B62, 146))),
    (
        "slack-workflow-webhook",
        "chat",
        (
            "https://hooks.slack.com/workflows/T",
            (UPPER_ALNUM, 10),
            "/A",
            (UPPER_ALNUM, 10),
            "/",
            (DIGITS, 18),
            "/",
            (B62, 24),
        ),
    ),
    (
        "teams-webhook",
        "chat",
        (
            "https://contoso.webhook.office.com/webhookb2/",
            *_uuid(),
            "@",
            *_uuid(),
            "/IncomingWebhook/",
            (HEX, 32),
            "/",
            *_uuid(),
        ),
    ),
    ("discord-webhook", "chat", ("https://discord.com/api/webhooks/", (DIGITS, 18), "/", (URLSAFE, 68))),
    ("stripe-prod", "pay", ("sk_prod_", (B62, 99))),
    ("stripe-restricted-test", "pay", ("rk_test_", (B62, 99))),
    ("square-secret", "pay", ("sq0csp-", (URLSAFE, 43))),
    ("shopify-custom", "shop", ("shpca_", (HEX, 32))),
    ("shopify-private", "shop", ("shppa_", (HEX, 32))),
    ("twilio-upper", "sms", ("SK", (HEX.upper(), 32))),
    ("sendgrid-short", "mail", ("SG.", (URLSAFE, 22), ".", (URLSAFE, 43))),
    ("mailgun-pub", "mail", ("pubkey-", (HEX, 32))),
    ("mailgun-private", "mail", ("key-", (HEX, 32))),
    ("huggingface-short", "hub", ("hf_", (LOWER + UPPER, 34))),
    ("huggingface-org-mixed", "hub", ("api_org_", (LOWER + UPPER, 34))),
    ("grafana-cloud-b64", "dash", ("glc_", (B64, 60), "==")),
    ("grafana-api-b64", "dash", ("eyJrIjoi", (B64, 70), "=")),
    ("vault-service-short", "secrets", ("hvs.", (URLSAFE, 90))),
    ("vault-batch-long", "secrets", ("hvb.", (URLSAFE, 138))),
    ("terraform-hex", "infra", ((HEX, 14), ".atlasv1.", (ANX, 67))),
    ("doppler-service", "cfg", ("dp.st.", (LOWER_ALNUM, 43))),
    ("doppler-scim", "cfg", ("dp.scim.", (B62, 43))),
    ("dynatrace-mixed", "apm", ("dt0c01.", (UPPER_ALNUM, 24), ".", (UPPER_ALNUM, 64))),
    ("newrelic-insert", "apm", ("NRII-", (URLSAFE, 32))),
    ("newrelic-browser", "apm", ("NRJS-", (HEX, 19))),
    ("age-lower", "crypt", ("AGE-SECRET-KEY-1", (BECH32, 58))),
    ("sentry-org", "err", ("sntrys_eyJpYXQiOjE2ODQ4NzU1MjMuMjgyMTU3LCJ1cmwiOiJodHRwczovL3NlbnRyeS5pbyIs", (B64, 80))),
    ("pypi-upload", "pkg", ("pypi-AgEIcHlwaS5vcmc", (URLSAFE, 50))),
    ("npm-access", "pkg", ("npm_", (B62, 36))),
    ("rubygems", "pkg", ("rubygems_", (HEX, 48))),
    ("artifactory-reference", "pkg", ("cmVmdGtuOjAxOjE", (B62, 49))),
    ("planetscale-oauth", "db", ("pscale_oauth_", (URLSAFE, 43))),
    ("planetscale-password", "db", ("pscale_pw_", (URLSAFE, 43))),
    ("clickhouse-secret", "db", ("4b1d", (B62, 38))),
    ("defined-networking", "net", ("dnkey-", (URLSAFE, 26), "-", (URLSAFE, 52))),
    ("flyio-macaroon", "deploy", ("fm2_", (B64, 120))),
    ("harness-sat", "ci", ("sat.", (URLSAFE, 22), ".", (B62, 24), ".", (B62, 20))),
    ("easypost-test", "ship", ("EZTK", (B62, 54))),
    ("flutterwave-public", "pay", ("FLWPUBK_TEST-", (HEX, 32), "-X")),
    ("flutterwave-encryption", "pay", ("FLWSECK_TEST-", (HEX, 12))),
    ("settlemint-app", "chain", ("sm_aat_", (B62, 16))),
    ("settlemint-service", "chain", ("sm_sat_", (B62, 16))),
    (
        "authress",
        "auth",
        ("sc_", (LOWER_ALNUM, 12), ".", (LOWER_ALNUM, 5), ".acc_", (LOWER_ALNUM, 20), ".", (URLSAFE, 60)),
    ),
    ("sidekiq-url", "gems", ("https://", (HEX, 8), ":", (HEX, 8), "@gems.contribsys.com/")),
    ("mapbox-secret", "maps", ("sk.", (LOWER_ALNUM, 60), ".", (LOWER_ALNUM, 22))),
    ("cohere-prefixed", "llm", ("co_", (B62, 40))),
    ("azure-ad-secret", "ad", ((B62, 3), "7Q~", (URLSAFE, 31))),
    ("jwt-hs256", "session", ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ", (B62, 60), ".", (URLSAFE, 43))),
    ("jwt-base64-rs", "session", ("ZXlKaGJHY2lPaUpTVXpJMU5pSjkuZXlK", (B62, 80))),
    ("jwt-base64-wrapped", "session", ("ZXlKaGJHY2lPaUpJVXpJMU5pSXNJblI1Y0NJNklrcFhWQ0o5LmV5SnpkV0lp", (B64, 16))),
)

# The scanner's generator: its syntaxes with the identifier as the rule names it.
# The syntaxes of the scanner's fixture generator (the first table's, with the identifier where it
# puts `{U}`), and three more that agents paste.
_GENERATOR = frozenset(
    {
        "ini-quoted", "ini-spaced", "ini-unquoted", "ini-unquoted-spaced", "json", "json-escaped", "xml",
        "xml-multiline", "yaml", "yaml-single", "yaml-double", "yaml-literal", "yaml-folded", "csharp", "go",
        "go-short", "go-backticks", "java", "kotlin", "php-concat", "python-single", "python-double", "csv",
        "logstash", "make-recursive", "make-simple", "make-shell", "make-evaluated", "make-conditional",
        "make-append", "shell-export", "hcl", "toml", "java-property", "ts-typed", "ruby",
    }
)  # fmt: skip
HELDOUT_SYNTAXES: tuple[tuple[str, str], ...] = (
    *((name, t.replace("{U}", "{i}")) for name, t in SYNTAXES if name in _GENERATOR),
    ("php-coalesce", '${i}Token ??= "{s}";'),
    ("xml-attribute", '<entry name="{i}Token" value="{s}" />'),
    ("curl-header", 'curl -H "X-{i}-Token: {s}" https://api.example.com/v1/me'),
)


def heldout_secret_samples(seed: int = 11) -> Iterator[dict]:
    """Every held-out-style family in every syntax, one fresh draw each; the identifier as it stands."""
    return _samples("heldout", (("fixed", HELDOUT_FIXED), ("keyword", HELDOUT_KEYWORD)), HELDOUT_SYNTAXES, seed)


# --- names without a cue, street addresses, national phones, PII-free prose in other languages ------
# Names are common ones of each language, picked without looking at pii/world_names.py, in sentences
# that do not introduce them ("X sent the report"), so only a gazetteer or a model can find them.
_BARE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "ru",
        ("Дмитрий Соколов", "Елена Кузнецова", "Сергей Волков", "Мария Попова", "Алексей Морозов"),
        ("{p} прислал отчёт вчера вечером.", "Отчёт подготовил {p}, проверь цифры.", "Вопрос к {p} по договору."),
    ),
    (
        "uk",
        ("Олена Шевченко", "Тарас Бондаренко", "Оксана Ковальчук"),
        ("{p} надіслала звіт учора.", "Договір підписав {p}."),
    ),
    (
        "el",
        ("Γιώργος Παπαδόπουλος", "Μαρία Κωνσταντίνου", "Δημήτρης Νικολάου", "Σοφία Αλεξίου"),
        ("Ο/Η {p} θα στείλει την αναφορά αύριο.", "Την αναφορά την έγραψε ο/η {p}."),
    ),
    ("he", ("יוסי כהן", "מיכל לוי", "אברהם פרידמן", "נועה שפירא"), ("{p} שלח את הקובץ אתמול", "הדוח נכתב על ידי {p}")),
    (
        "ar",
        ("محمد الأحمد", "فاطمة الزهراء", "أحمد السيد", "خالد منصور"),
        ("أرسل {p} الملف أمس", "كتب التقرير {p} هذا الصباح"),
    ),
    (
        "zh",
        ("王伟", "李静", "张敏", "刘洋", "陈杰"),
        ("{p}明天去开会。", "这份报告是{p}写的。", "请把文件发给{p}。"),
    ),
    (
        "ja",
        ("佐藤", "鈴木", "高橋", "山本健太", "小林美咲"),
        ("{p}さんに確認してください。", "明日は{p}さんが来ます。", "{p}は明日来ます。"),
    ),
    (
        "ko",
        ("김서연", "이민호", "박지민", "최유진"),
        ("{p}은 내일 회의에 참석합니다.", "보고서는 {p} 님이 작성했습니다."),
    ),
    (
        "pl",
        ("Krzysztof Kowalski", "Agnieszka Nowak", "Tomasz Lewandowski"),
        ("{p} wysłał raport wczoraj.", "Umowę podpisał {p}."),
    ),
    (
        "cs",
        ("Tomáš Dvořák", "Kateřina Svobodová", "Lukáš Černý"),
        ("{p} poslal zprávu včera.", "Smlouvu podepsal {p}."),
    ),
    ("tr", ("Mehmet Demir", "Zeynep Şahin", "Emre Çelik"), ("{p} raporu dün gönderdi.", "Toplantıya {p} katılacak.")),
)
_ADDRESSES: tuple[tuple[str, str], ...] = (
    ("ru", "Доставка по адресу: ул. Тверская, д. 7, кв. 15."),
    ("tr", "Kargo Bağdat Caddesi No:120 adresine gelecek."),
    ("cs", "Kancelář je na adrese Národní třída 15."),
    ("el", "Η έδρα μας είναι στη Λεωφόρος Κηφισίας 120."),
    ("he", "המשלוח יגיע לרחוב ביאליק 7"),
    ("ar", "التوصيل إلى شارع الجامعة 22"),
    ("zh", "寄到上海市浦东新区世纪大道100号。"),
    ("ja", "送付先は大阪府大阪市北区梅田3-1-1です。"),
    ("ko", "배송지: 부산광역시 해운대구 해운대로 264"),
    ("pl", "Proszę wysłać na ul. Długa 44 w Gdańsku."),
    ("fr", "Livraison au 18 rue de la Paix, Paris."),
    ("es", "Envíalo a Calle de Alcalá 45, Madrid."),
    ("de", "Bitte an Schillerstraße 12 senden."),
)
_NATIONAL_PHONES: tuple[tuple[str, str], ...] = (
    ("de", "Ruf mich an unter 0171/48551228."),
    ("fr", "Appelez-moi au 01.90.06.44.98 demain."),
    ("es", "Llámame al 612 34 56 78 por la tarde."),
    ("nl", "Bel me op 06-12345678."),
    ("it", "Chiamami al 347 123 4567."),
    ("pl", "Zadzwoń pod numer 512 345 678."),
    ("cs", "Zavolejte mi na 602 123 456."),
    ("ru", "Позвоните мне: 8 912 345-67-89."),
    ("tr", "Telefonum 0532 123 45 67."),
    ("el", "Τηλ. 210 123 4567"),
    ("ko", "전화 010-1234-5678 로 연락 주세요."),
    ("zh", "我的电话是 138 1234 5678。"),
)
# Prose without any person, place or number worth masking, in the same languages: what the rules
# must leave alone (common nouns, titles, weekdays, organisations' generic words).
_MULTILINGUAL_CLEAN: tuple[str, ...] = (
    "Сегодня хорошая погода, и мы пойдём гулять после обеда.",
    "Отчёт готов, осталось проверить таблицы и отправить руководителю.",
    "Η συνάντηση θα γίνει αύριο το πρωί στο γραφείο της εταιρείας.",
    "Το νέο σύστημα λειτουργεί καλύτερα από το παλιό.",
    "הפגישה מחר בבוקר במשרד עם כל הצוות",
    "צריך לעדכן את המערכת לפני סוף השבוע",
    "الاجتماع غدا صباحا في المكتب مع الفريق",
    "يجب تحديث النظام قبل نهاية الأسبوع",
    "我们需要提高程序的安全性和稳定性。",
    "明天上午开会，请大家准时参加。",
    "会議は明日の午前十時から始まります。",
    "原因を調べて、結果を田んぼの写真と一緒に送ります。",
    "이미지를 업로드하고 정보를 확인하세요.",
    "회의는 내일 오전에 시작합니다.",
    "Spotkanie odbędzie się jutro rano w biurze.",
    "Zpráva je hotová, zbývá jen zkontrolovat tabulky.",
    "Toplantı yarın sabah ofiste yapılacak.",
    "Die Besprechung findet morgen früh im Büro statt.",
    "La réunion aura lieu demain matin au bureau.",
    "The new release notes are in the shared folder; please review them before Friday.",
    "Нова версія програми працює швидше.",
)


def _sample(sid: str, text: str, values: list[tuple[str, str]], meta: dict) -> dict:
    spans = [{"start": text.index(v), "end": text.index(v) + len(v), "type": t} for v, t in values]
    return {"id": sid, "text": text, "spans": spans, "meta": meta}


def bare_name_samples() -> Iterator[dict]:
    """Names in other scripts with no cue phrase before them."""
    for lang, people, templates in _BARE:
        for k, p in enumerate(people):
            for j, t in enumerate(templates):
                yield _sample(f"bare-{lang}-{k}-{j}", t.format(p=p), [(p, "PERSON")], {"lang": lang})


# Whole postal addresses, gold as one span from the street to the postal code or country (what a
# leak benchmark labels as one ADDRESS): masking only the street or the town leaves the rest.
_FULL_ADDRESSES: tuple[tuple[str, str], ...] = (
    ("Please ship the order to {a} by Friday.", "1600 Pennsylvania Ave NW, Washington, DC 20500"),
    ("Mail the form to {a}.", "350 Fifth Avenue, New York, NY 10118"),
    ("Our office: {a}", "221B Baker Street, London NW1 6XE, United Kingdom"),
    ("Rechnung bitte an {a} senden.", "Friedrichstraße 43, 10117 Berlin"),
    ("Adresse : {a}", "18 rue de la Paix, 75002 Paris, France"),
    ("He lives at {a} now.", "88 Queen Street, Brisbane QLD 4000, Australia"),
    ("Return it to {a}", "290 Bremner Blvd, Toronto, ON M5V 3L9, Canada"),
)


def full_address_samples() -> Iterator[dict]:
    for k, (template, address) in enumerate(_FULL_ADDRESSES):
        yield _sample(f"full-address-{k}", template.format(a=address), [(address, "LOCATION")], {"kind": "address"})


def address_samples() -> Iterator[dict]:
    """Street addresses in their countries' formats (the street line is the LOCATION)."""
    streets = {
        "ru": "ул. Тверская, д. 7, кв. 15", "tr": "Bağdat Caddesi No:120", "cs": "Národní třída 15",
        "el": "Λεωφόρος Κηφισίας 120", "he": "רחוב ביאליק 7", "ar": "شارع الجامعة 22",
        "zh": "上海市浦东新区世纪大道100号", "ja": "大阪府大阪市北区梅田3-1-1",
        "ko": "부산광역시 해운대구 해운대로 264",
        "pl": "ul. Długa 44", "fr": "18 rue de la Paix", "es": "Calle de Alcalá 45", "de": "Schillerstraße 12",
    }  # fmt: skip
    for lang, text in _ADDRESSES:
        street = streets[lang] if streets[lang] in text else streets[lang].replace("רחוב", "לרחוב")
        yield _sample(f"address-{lang}", text, [(street, "LOCATION")], {"lang": lang})


def national_phone_samples() -> Iterator[dict]:
    phone = re.compile(r"[\d(][\d ./()-]{6,}\d")
    for lang, text in _NATIONAL_PHONES:
        m = phone.search(text)
        assert m is not None
        yield _sample(f"phone-{lang}", text, [(m.group(), "PHONE")], {"lang": lang})


def multilingual_clean_samples() -> list[dict]:
    return [
        {"id": f"clean-ml-{k}", "text": t, "spans": [], "meta": {"clean": True}}
        for k, t in enumerate(_MULTILINGUAL_CLEAN)
    ]


# --- identifiers named by their label (passports, licences, accounts, tax and health ids) -----------
_LABELLED_IDS: tuple[tuple[str, str], ...] = (
    ("My passport number is {v}, issued in 2019.", "C03005988"),
    ("Passport No: {v}", "533380006"),
    ("driver's license {v} (California)", "D1234567"),
    ("Driving licence number: {v}", "MORGA657054SM9IJ"),
    ("Please wire it to account number {v}, routing {r}.", "4820193746"),
    ("Bank acct {v}", "000123456789"),
    ("Our EIN is {v}.", "94-1234567"),
    ("VAT number: {v}", "GB123456789"),
    ("Steuer-ID: {v}", "12 345 678 901"),
    ("Medicare ID {v}", "1EG4-TE5-MK73"),
    ("NHS number: {v}", "485 777 3456"),
    ("patient MRN {v}", "00482917"),
    ("Codice fiscale: {v}", "RSSMRA85T10A562S"),
    ("PESEL {v}", "85031412345"),
    ("CPF: {v}", "123.456.789-09"),
    ("CURP {v}", "GODE561231HDFRRN09"),
    ("member id {v} on the insurance card", "XJH829301752"),
    ("Card PIN: {v}", "4921"),
    ("VIN {v}", "1HGCM82633A004352"),
)
_LABELLED_ID_CLEAN: tuple[str, ...] = (
    "See RFC 7231 section 6 and RFC 9110 for the status codes.",
    "Policy version 3.2.1 applies to all accounts created after March.",
    "The account settings page moved; pin the tab so you can find it.",
    "SELECT account_id, created_at FROM accounts WHERE region = 'eu-west-1' LIMIT 20;",
    "Our tax rate for 2024 is 21% and the VAT threshold did not change.",
)


def labelled_id_samples() -> Iterator[dict]:
    for k, (template, value) in enumerate(_LABELLED_IDS):
        text = template.format(v=value, r="021000021")
        values = [(value, "NATIONAL_ID")] + ([("021000021", "NATIONAL_ID")] if "{r}" in template else [])
        yield _sample(f"labelled-id-{k}", text, values, {"kind": "labelled-id"})


def labelled_id_clean_samples() -> list[dict]:
    return [
        {"id": f"clean-id-{k}", "text": t, "spans": [], "meta": {"clean": True}}
        for k, t in enumerate(_LABELLED_ID_CLEAN)
    ]
