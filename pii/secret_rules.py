"""Credential families as data: every provider token with a fixed shape, and the provider names whose
keyword makes a nearby unprefixed value a credential.

The families are those of widely used secret scanners' public rule sets (gitleaks, trufflehog,
GitHub secret scanning); the regexes are written here from the providers' documented formats.

Two kinds of rule:

- `PREFIXED`: a token that announces itself (`ghp_`, `AKIA`, `xoxb-`, `AGE-SECRET-KEY-1`). Found
  anywhere, in any syntax, and masked whatever its entropy or wording: a documentation key costs
  nothing to mask, a real one missed costs everything. Each rule is (literal, offset, regex): the
  literal is what one trie pass finds, the token starts `offset` characters before it.
- `PROVIDER_WORDS`: names that, inside a key (`telegram_bot_token`, `BUNDLE_GEMS__CONTRIBSYS__COM`,
  `herokuApiKey`), make the value assigned to it a credential even when it is a UUID, a digit run
  or short (pii/detect/ relaxes its entropy filter for them, placeholder filters still apply).
"""

from __future__ import annotations

import re

from pii.trie import trie_regex

_B = r"[A-Za-z0-9]"  # base62
_W = r"[A-Za-z0-9_-]"  # url-safe base64 / word-ish

# (family, literal, offset, regex); the regex matches the whole token from its start.
_RULES: tuple[tuple[str, str, int, str], ...] = (
    # --- AI providers
    ("anthropic", "sk-", 0, r"sk-ant-[a-z]{2,8}\d{2}-[\w-]{20,}|sk-ant-[\w-]{32,}"),
    ("openai", "sk-", 0, r"sk-(?:proj-|svcacct-|admin-|None-)?[\w-]{20,}"),
    ("groq", "gsk_", 0, rf"gsk_{_B}{{40,}}"),
    ("xai", "xai-", 0, rf"xai-{_B}{{40,}}"),
    ("perplexity", "pplx-", 0, rf"pplx-{_B}{{40,}}"),
    ("huggingface", "hf_", 0, rf"hf_{_B}{{30,}}"),
    ("huggingface-org", "api_org_", 0, rf"api_org_{_B}{{30,}}"),
    ("cohere", "co_", 0, rf"co_{_B}{{40}}"),
    ("cerebras", "csk-", 0, r"csk-[a-z0-9]{40,}"),
    ("replicate", "r8_", 0, rf"r8_{_B}{{37}}"),
    ("fireworks", "fw_", 0, rf"fw_{_B}{{24,}}"),
    ("elevenlabs", "sk_", 0, r"sk_[a-f0-9]{48}"),
    ("cartesia", "sk_car_", 0, rf"sk_car_{_B}{{20,}}"),
    ("pinecone", "pcsk_", 0, rf"pcsk_{_B}{{4,}}_{_B}{{40,}}"),
    ("langsmith", "lsv2_", 0, r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"),
    ("tavily", "tvly-", 0, rf"tvly-(?:dev-|prod-)?{_B}{{32,}}"),
    ("firecrawl", "fc-", 0, r"fc-[a-f0-9]{32}"),
    ("e2b", "e2b_", 0, r"e2b_[a-f0-9]{40}"),
    ("browserbase", "bb_live_", 0, r"bb_live_[\w-]{20,}"),
    # --- code hosting, CI, package registries
    *(("github", f"gh{c}_", 0, rf"gh{c}_{_B}{{30,}}") for c in "pousr"),
    ("github-fine-grained", "github_pat_", 0, r"github_pat_\w{40,}"),
    ("docker-hub", "dckr_pat_", 0, r"dckr_pat_[\w-]{27,}"),
    ("buildkite", "bkua_", 0, r"bkua_[a-f0-9]{40}"),
    ("circleci-personal", "CCIPAT_", 0, rf"CCIPAT_{_B}{{20,}}_[a-f0-9]{{40}}"),
    ("contentful", "CFPAT-", 0, r"CFPAT-[\w-]{43}"),
    ("figma", "figd_", 0, r"figd_[\w-]{40,}"),
    ("netlify", "nfp_", 0, rf"nfp_{_B}{{36,}}"),
    ("render", "rnd_", 0, rf"rnd_{_B}{{28,}}"),
    ("neon", "napi_", 0, r"napi_[a-z0-9]{64}"),
    ("supabase", "sbp_", 0, r"sbp_[a-f0-9]{40}"),
    ("supabase-secret", "sb_secret_", 0, r"sb_secret_[\w-]{30,}"),
    ("tailscale", "tskey-", 0, rf"tskey-(?:auth|api|client|webhook|scim)-{_B}+-{_B}{{20,}}"),
    ("airtable", "pat", 0, rf"pat{_B}{{14}}\.[a-f0-9]{{64}}"),
    ("infisical", "st.", 0, r"st\.[a-f0-9-]{36}\.[a-f0-9]{32}\.[a-f0-9]{32}"),
    ("resend", "re_", 0, rf"re_{_B}{{8}}_{_B}{{24}}"),
    ("dropbox-short-lived", "sl.", 0, r"sl\.[\w-]{130,}"),
    ("gitlab", "gl", 0, r"gl(?:pat|dt|ffct|ft|imt|agent|oas|ptt|rt|soat|cbt)-[\w.-]{20,}"),
    ("gitlab-runner-registration", "GR1348941", 0, r"GR1348941[\w-]{20,}"),
    ("gitlab-session", "_gitlab_session=", 0, r"_gitlab_session=[0-9a-z]{32}"),
    ("npm", "npm_", 0, rf"npm_{_B}{{36}}"),
    ("pypi", "pypi-", 0, r"pypi-AgE[\w-]{50,}"),
    ("rubygems", "rubygems_", 0, r"rubygems_[a-f0-9]{48}"),
    ("clojars", "CLOJARS_", 0, r"CLOJARS_[a-zA-Z0-9]{60}"),
    ("artifactory", "AKCp", 0, rf"AKCp{_B}{{60,}}"),
    ("artifactory-reference", "cmVmd", 0, rf"cmVmd{_B}{{59}}"),
    ("atlassian", "ATATT3", 0, r"ATATT3[\w=-]{150,}"),
    ("sourcegraph", "sgp_", 0, r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"),
    ("readme", "rdme_", 0, r"rdme_[a-z0-9]{70}"),
    ("postman", "PMAK-", 0, r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    ("prefect", "pnu_", 0, rf"pnu_{_B}{{36}}"),
    ("pulumi", "pul-", 0, r"pul-[a-f0-9]{40}"),
    ("octopus", "API-", 0, r"API-[A-Z0-9]{26}"),
    ("linear", "lin_api_", 0, rf"lin_api_{_B}{{40}}"),
    ("notion", "ntn_", 0, rf"ntn_\d{{11}}{_B}{{35}}"),
    ("notion-legacy", "secret_", 0, rf"secret_{_B}{{43}}"),
    ("infracost", "ico-", 0, rf"ico-{_B}{{32}}"),
    ("scalingo", "tk-us-", 0, r"tk-us-[\w-]{48}"),
    ("typeform", "tfp_", 0, r"tfp_[\w.=-]{59}"),
    ("frameio", "fio-u-", 0, r"fio-u-[\w=-]{64}"),
    ("intra42", "s-s4t2", 0, r"s-s4t2(?:ud|af)-[a-fA-F0-9]{64}"),
    ("settlemint", "sm_", 0, rf"sm_(?:aat|pat|sat)_{_B}{{16}}"),
    *(("harness", f"{c}at.", 0, r"[ps]at\.[\w-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}") for c in "ps"),
    ("doppler", "dp.", 0, rf"dp\.(?:pt|st|sa|ct|scim|audit)\.{_B}{{40,}}"),
    ("databricks", "dapi", 0, r"dapi[a-f0-9]{32}(?:-\d)?"),
    ("dynatrace", "dt0c01.", 0, rf"dt0c01\.{_B}{{24}}\.{_B}{{64}}"),
    ("defined-networking", "dnkey-", 0, r"dnkey-[\w=-]{26}-[\w=-]{52}"),
    # --- cloud and infrastructure
    *(("digitalocean", f"do{c}_v1_", 0, rf"do{c}_v1_[a-f0-9]{{64}}") for c in "opr"),
    ("alibaba", "LTAI", 0, rf"LTAI{_B}{{20}}"),
    ("heroku", "HRKU-", 0, r"HRKU-AA[\w-]{58}"),
    ("vault-service", "hvs.", 0, r"hvs\.[\w-]{90,120}"),
    ("vault-batch", "hvb.", 0, r"hvb\.[\w-]{138,300}"),
    ("vault-legacy", "s.", 0, r"s\.(?=[A-Za-z]*\d)[A-Za-z0-9]{24}"),
    ("terraform-cloud", ".atlasv1.", 14, r"[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,70}"),
    ("cloudflare-origin-ca", "v1.0-", 0, r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    ("fly", "fo1_", 0, r"fo1_[\w-]{43}"),
    ("fly", "fm", 0, r"fm(?:1[ar]|2)_[A-Za-z0-9+/]{100,}={0,3}"),
    ("planetscale", "pscale_", 0, r"pscale_(?:tkn|oauth|pw)_[\w=.-]{32,64}"),
    ("openshift", "sha256~", 0, r"sha256~[\w-]{43}"),
    ("clickhouse", "4b1d", 0, rf"4b1d{_B}{{38}}"),
    ("azure-ad-client-secret", "Q~", 4, r"[\w~.]{3}\dQ~[\w~.-]{31,34}"),
    ("grafana-api-key", "eyJrIjoi", 0, r"eyJrIjoi[A-Za-z0-9+/]{70,400}={0,3}"),  # base64 of {"k":…}: + and / too
    ("grafana-cloud", "glc_", 0, r"glc_[A-Za-z0-9+/]{32,400}={0,3}"),
    ("grafana-service-account", "glsa_", 0, rf"glsa_{_B}{{32}}_[A-Fa-f0-9]{{8}}"),
    ("newrelic", "NR", 0, r"NRAK-[A-Z0-9]{27}|NRII-[\w-]{32}|NRJS-[a-f0-9]{19}"),
    ("sentry-user", "sntryu_", 0, r"sntryu_[a-f0-9]{64}"),
    ("sentry-org", "sntrys_", 0, r"sntrys_eyJ[A-Za-z0-9+/=_]{60,}"),
    ("1password-service-account", "ops_eyJ", 0, r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),
    ("1password-secret-key", "A3-", 0, r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})(?:-[A-Z0-9]{5}){3}"),
    ("age", "AGE-SECRET-KEY-1", 0, r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    ("maxmind", "_mmk", 36, rf"{_B}{{6}}_{_B}{{29}}_mmk"),
    ("yandex", "AQVN", 0, r"AQVN[\w-]{35,38}"),
    ("yandex-access", "t1.", 0, r"t1\.[\w-]{20,}={0,2}\.[\w-]{86}={0,2}"),
    ("yandex-aws", "YC", 0, r"YC[\w-]{38}"),
    # --- messaging, payments, commerce, SaaS
    ("slack", "xox", 0, r"xoxe\.xox[bp]-\d-[A-Za-z0-9]{100,}|xox[abposre]-[A-Za-z0-9-]{10,}"),
    ("slack-app", "xapp-", 0, r"xapp-\d-[A-Za-z0-9-]{20,}"),
    *(("stripe", f"{c}k_", 0, rf"[sr]k_(?:live|test|prod)_{_B}{{10,}}") for c in "sr"),
    ("stripe-webhook", "whsec_", 0, r"whsec_[A-Za-z0-9+/=]{24,}"),
    ("google", "AIza", 0, r"AIza[\w-]{35}"),
    ("sendgrid", "SG.", 0, r"SG\.[\w-]{16,32}\.[\w-]{16,64}"),
    ("sendinblue", "xkeysib-", 0, rf"xkeysib-[a-f0-9]{{64}}-{_B}{{16}}"),
    ("mailgun", "key-", 0, r"key-[a-f0-9]{32}"),
    ("mailgun-pub", "pubkey-", 0, r"pubkey-[a-f0-9]{32}"),
    ("mailchimp", "-us", 32, r"[a-f0-9]{32}-us\d{1,2}"),
    ("twilio", "SK", 0, r"SK[0-9a-fA-F]{32}"),
    ("shopify", "shp", 0, r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    ("shippo", "shippo_", 0, r"shippo_(?:live|test)_[a-fA-F0-9]{40}"),
    ("square", "sq0", 0, r"sq0(?:atp|csp)-[\w-]{22,60}"),
    ("square-access", "EAAA", 0, r"EAAA[\w-]{22,60}"),
    ("facebook-page", "EAA", 0, rf"EAA[MC]{_B}{{100,}}"),
    ("adobe", "p8e-", 0, rf"p8e-{_B}{{32}}"),
    ("duffel", "duffel_", 0, r"duffel_(?:test|live)_[\w=-]{43}"),
    ("easypost", "EZ", 0, rf"EZ[AT]K{_B}{{54}}"),
    ("flutterwave", "FLW", 0, r"FLW(?:SECK|PUBK)_TEST-[a-hA-H0-9]{32}-X|FLWSECK_TEST-[a-hA-H0-9]{12}"),
    ("gocardless", "live_", 0, r"live_[\w=-]{40}"),
    *(("mapbox", f"{c}k.", 0, r"[ps]k\.[a-zA-Z0-9]{60}\.[a-zA-Z0-9]{22}") for c in "ps"),
    ("beamer", "b_", 0, r"b_[\w=-]{44}"),
    ("discord-webhook", "https://discord", 0, r"https://discord(?:app)?\.com/api/webhooks/\d{5,20}/[\w-]{60,}"),
    ("slack-webhook", "hooks.slack.com", 0, r"hooks\.slack\.com/(?:services|workflows|triggers)/[\w+/-]{20,}"),
    ("teams-webhook", ".webhook.office.com", 0, r"\.webhook\.office\.com/webhookb2/[\w@/-]{60,}"),
    ("jwt-base64", "ZXlK", 0, r"ZXlK[A-Za-z0-9+/_-]{40,}={0,2}"),
)

# Tokens in the family table that carry another type than API_KEY.
TYPE_OF_FAMILY: dict[str, str] = {"jwt-base64": "JWT"}

# literal -> [(family, offset, regex)], in table order; all literals are found in one trie pass.
BY_LITERAL: dict[str, list[tuple[str, int, re.Pattern[str]]]] = {}
for _fam, _lit, _off, _rx in _RULES:
    BY_LITERAL.setdefault(_lit, []).append((_fam, _off, re.compile(_rx)))
# Most tokens start a word, so their literals are looked for only after a non-word character (or at
# the very start): `re` then skips letters at C speed instead of trying the trie at each one, which
# keeps prose at tens of MB/s. Literals inside a token (`.atlasv1.`, `Q~`, `_mmk`) start with
# characters rare in prose and are searched everywhere.
_INNER = sorted(lit for lit, rules in BY_LITERAL.items() if any(off for _, off, _ in rules) or lit[0] in "._-")
_WORD_START = sorted(set(BY_LITERAL) - set(_INNER))
PREFIX_WORD = re.compile(trie_regex(_WORD_START))
PREFIX_AT_WORD = re.compile(rf"[^A-Za-z0-9_\-]({PREFIX_WORD.pattern})")
PREFIX_INNER = re.compile(trie_regex(_INNER))
FAMILIES: frozenset[str] = frozenset(f for f, *_ in _RULES)

# Authress and Lob tokens start with words common in code (`sc_`, `test_`): matched by a full regex.
AUTHRESS = re.compile(
    r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[\w+/=-]{30,120}"
)
LOB = re.compile(r"(?:live|test)_(?:pub_[a-f0-9]{31}|[a-f0-9]{35})(?![\w])")

# Telegram bot tokens: a bot id, a colon, then 35 characters starting with "A".
TELEGRAM = re.compile(r"(?<![\w:])\d{5,16}:A[\w-]{34}(?![\w-])")
# Facebook app access tokens: app id, `|` (or its URL encoding), app secret.
FACEBOOK_APP_TOKEN = re.compile(r"(?<![\w])\d{15,16}(?:\||%7[Cc])[\w-]{27,40}(?![\w-])")

# Sidekiq Enterprise credentials in Bundler's environment name (no digit need be in them).
SIDEKIQ = re.compile(
    r"BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM[\"']?[ \t]*[:=][ \t]*[\"']?([a-fA-F0-9]{8}:[a-fA-F0-9]{8})\b"
)

# curl's basic-auth credentials in any quoting: `-u user:pw`, `--user='user:pw'`, `--user kevin:'pw'`,
# `--user "{id}":"{secret}"`, `-u ":pw"` (empty user) or `-u "pw:"` (empty password).
_CURL_PART = r"""(?:"[^"\n]{0,200}"|'[^'\n]{0,200}'|[^\s:"']{1,200})"""
CURL_USER = re.compile(
    r"""(?:^|\s)(?:-u|--user)(?:=|[ \t]+)"""
    rf"""(?P<cred>"[^"\n]{{1,400}}"|'[^'\n]{{1,400}}'|{_CURL_PART}?:{_CURL_PART})(?=\s|$)"""
)
# A credential header in a curl command: `-H "Authorization: …"`, `--header 'X-Api-Key: …'`,
# `-H "Token: …"`, `-H "apikey: …"`; the value after an optional scheme word.
CURL_HEADER = re.compile(
    r"""(?:-H|--header)(?:=|[ \t]+)(["'])(?i:proxy-authorization|authorization|(?:x-(?:[a-z0-9]+-)*)?"""
    r"""(?:api-?)?(?:key|token|secret|auth-token)|apikey)[ \t]*:[ \t]*"""
    r"""(?:(?i:basic|bearer|token|api-token|apikey|digest)[ \t]+)?(?P<v>[^"'\s]{8,400})\1"""
)

# Provider names that turn a key into a credential's name (matched on the key with separators and
# case removed, so `telegram_bot_token`, `TelegramBotToken` and `TELEGRAM-BOT` all contain "telegram").
PROVIDER_WORDS: tuple[str, ...] = (
    "adafruit", "adobe", "airtable", "algolia", "alibaba", "asana", "atlassian", "confluence", "jira", "authress",
    "beamer", "bitbucket", "bittrex", "meraki", "cloudflare", "codecov", "cohere", "coapikey", "coinbase",
    "confluent", "contentful", "contribsys", "databricks", "datadog", "dnkey", "discord", "droneci", "dropbox",
    "doppler", "duffel", "dynatrace", "easypost", "etsy", "facebook", "fastly", "finicity", "finnhub", "flickr",
    "flutterwave", "freemius", "freshbooks", "gitter", "gocardless", "grafana", "harness", "heroku", "hubspot",
    "huggingface", "intercom", "jfrog", "artifactory", "bintray", "kraken", "kucoin", "launchdarkly", "linear",
    "linkedin", "lob", "mailchimp", "mailgun", "mapbox", "mattermost", "maxmind", "messagebird", "netlify",
    "newrelic", "nytimes", "newyorktimes", "okta", "onepassword", "openai", "anthropic", "plaid", "planetscale",
    "postman", "privateai", "pulumi", "rapidapi", "sendbird", "sendgrid", "sendinblue", "sentry", "shippo",
    "shopify", "sidekiq", "slack", "snyk", "sonar", "sourcegraph", "squarespace", "sumo", "telegr", "travis",
    "twilio", "twitch", "twitter", "typeform", "yandex", "zendesk", "stripe", "github", "gitlab", "vault",
    "hashicorp", "terraform", "digitalocean", "scalingo", "settlemint", "infracost", "clickhouse", "octopus",
    "perplexity", "prefect", "rubygems", "clojars", "notion", "pagerduty", "circleci", "vercel", "supabase",
    "firebase", "mongodb", "auth0", "azure", "gcp", "aws", "nuget", "sqreen", "mixpanel",
    "amplitude", "rollbar", "bugsnag", "pusher", "mapquest", "openweather", "razorpay", "paystack",
    "braintree", "paypal", "adyen", "plivo", "nexmo", "vonage", "messente", "mandrill", "postmark",
    "sparkpost", "mailjet", "npm", "pypi", "looker", "mistral", "anyscale", "deepseek", "replicate", "pinecone",
    "weaviate", "qdrant", "langsmith", "openrouter", "elevenlabs", "assemblyai", "deepgram", "cerebras", "runpod",
    "baseten", "ngrok", "infura", "etherscan", "mapquest", "nexmo", "bugsnag", "honeycomb", "lightstep", "logdna",
    "loggly", "papertrail", "splunk", "newrelic", "opsgenie", "statuspage", "heap", "fullstory", "hotjar",
)  # fmt: skip

# Prefixes that also begin ordinary identifiers (`b_`, `live_`, `API-`, `s.`): their tokens must hold
# a digit and must not read as words, so `b_render_the_list_of_items…` stays code.
WEAK_FAMILIES: frozenset[str] = frozenset(
    {
        "beamer",
        "gocardless",
        "octopus",
        "yandex-aws",
        "vault-legacy",
        "square-access",
        "cohere",
        "notion-legacy",
        "harness",
    }
)
# Prefixes of words as well as tokens (`fw_`, `re_`, `bb_live_`): a token that reads as a name
# (`bb_live_stream_enabled_for_all_users`) is code; any other, digits or not, is the token.
NAMELIKE_FAMILIES: frozenset[str] = frozenset({"fireworks", "resend", "replicate", "browserbase"})
# Families whose token sits inside a URL: the span takes in the scheme and host before the literal.
URL_FAMILIES: frozenset[str] = frozenset({"slack-webhook", "teams-webhook"})

PROVIDER_WORD = re.compile(trie_regex(sorted(set(PROVIDER_WORDS))))
