"""Every regex of the pattern tier, compiled once at import, and the label vocabularies.

Patterns find candidates; pii/detect/ validates them (checksums, label context, entropy).
Patterns that begin with a literal let `re` skip to it with a fast substring search, so the
boundary checks that would need a look-behind are done in Python on the few hits instead.
"""

from __future__ import annotations

import re

from pii.trie import trie_regex

# --- structural secrets --------------------------------------------------------------------

PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----")
# The body of a PEM block when its END line is missing: base64 lines, raw or with escaped newlines.
PEM_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s]|\\+[nrt]|[A-Za-z-]+: [^\n\\]*(?:\n|\\+n))*")
PEM_MAX = 64 * 1024  # an RSA-16384 key is ~12 KiB; past this it is not one key block

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
AWS_ACCESS_KEY = re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])")
# 40 characters of base64 alphabet, not part of a longer run; the label decides.
AWS_SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")

# --- connection strings --------------------------------------------------------------------

# scheme://[user]:password@host… — any scheme, the embedded password is what makes it a secret.
URL_WITH_CREDS = re.compile(
    r"(?<![\w+.-])([a-zA-Z][a-zA-Z0-9+.-]{1,30})://([^\s:/@'\"`<>]*):([^\s@'\"`<>/]+)@([^\s'\"`<>]+)"
)
# Database URLs that carry the password in the query instead: jdbc:…password=…, mongodb://…?password=…
URL_PASSWORD_QUERY = re.compile(
    r"(?<![\w+.-])(?:jdbc:[a-z0-9]+:[^\s'\"`<>]+|"
    r"(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|oracle|clickhouse)"
    r"(?:\+[a-z0-9]+)?://[^\s'\"`<>]+)",
    re.IGNORECASE,
)
QUERY_PASSWORD = re.compile(r"[?&;](?:password|pwd|pass)=([^&;\s'\"]+)", re.IGNORECASE)
# ADO.NET / ODBC / Azure `Key=Value;Key=Value` strings. Two-word keys are listed; others are one token.
KV_CONN = re.compile(
    r"(?<![\w;=])(?:(?:Data Source|User ID|Initial Catalog|Integrated Security|Persist Security Info"
    r"|Application Name|Trust Server Certificate|[A-Za-z][\w.]*)=(?:\{[^}\n]*\}|[^;\s'\"`<>]*);)+"
    r"(?:(?:Data Source|User ID|Initial Catalog|[A-Za-z][\w.]*)=(?:\{[^}\n]*\}|[^;\s'\"`<>]*))?",
    re.IGNORECASE,
)
KV_CONN_SECRET = re.compile(
    r"(?:^|;)\s*(?:password|pwd|accountkey|sharedaccesskey|sharedaccesssignature|sig|clientsecret)=([^;]+)",
    re.IGNORECASE,
)
# libpq keyword form: host=… user=… password=… dbname=…
LIBPQ_CONN = re.compile(
    r"(?<![\w=])(?:(?:host|hostaddr|port|dbname|user|password|sslmode|connect_timeout)=[^\s'\"`]+[ \t]+){2,}"
    r"[a-z_]+=[^\s'\"`]+"
)

# Keyword-anchored generic secret: a label word (LABEL_GATES["secret"]) is found first, then the
# rest of its name (GITHUB_TOKEN, secretAccessKey, x-api-key), a separator and the value.
SECRET_NAME_TAIL = re.compile(r"[\w.-]{0,30}")
SECRET_VALUE = re.compile(
    r"(?:\\*[\"'`])?\]?"  # the key's closing quote (JSON-escaped too) or subscript bracket
    r"(?:[ \t]*:?[ \t]*(?:string|String|str|const|final|char ?\*|\[\]byte)(?=[ \t]*:?=))?"  # Go/Kotlin/C type
    r"[ \t]*(?:"
    # assignment in any language (Makefile ::= :::= ?= +=, PHP .= ??=, Go :=), a call or CSV cell
    # (`setProperty("K", "v")`, `k,v`), an XML element (`<k>v`), YAML block scalars and a value on
    # the next line
    r"(?:=>|->|\?\?=|\|\|=|&&=|:{1,3}=|[.?+|&!]?=|:|,|\(|>|\|\||\{[ \t]*\r?\n?[ \t]*(?:default|value)[ \t]*="
    r"|[ \t]+value[ \t]*=)"  # HCL `{ default = …`, XML attributes `<add key="Password" value="…"/>`
    r"(?:[ \t]*[|>][-+]?(?=[ \t]*\r?\n))?[ \t]*(?:\r?\n[ \t]*)?"
    r"|[ \t]+(?:(?:is|was|are|of|for)[ \t]+)?"  # prose: "token abc…", "the password is …"
    r"|(?:[ \t]+[A-Za-z]+){1,5}:[ \t]+"  # prose: "the token we use in staging: …"
    r")"
    r"(?:\\*[\"'`])?"
    r"(?:(?i:bearer|(basic)|token)[ \t]+)?"
    r"([A-Za-z0-9_\-+/=.~!@#$%^&*:]{6,400})"
)
# Phrases that make an unlabelled high-entropy token in the same sentence a credential:
# "Can you check why <token> hits the rate limit", "I pushed <token> to a public repo, revoke it".
SENTENCE_TOKEN = re.compile(r"(?<![\w/+=.-])[A-Za-z0-9][A-Za-z0-9_\-+/=.]{18,200}[A-Za-z0-9=]")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n")

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
# Matched on the lower-cased value (IGNORECASE would double the cost of this hot check).
_PLACEHOLDER_HINT_LOW = re.compile(
    r"x{4,}|\*{3,}|\.{3}|•|<|>|\$\{|\{\{|%\(|your|example|placeholder|changeme|redacted|dummy|sample|here"
)


def placeholder_hint(v: str) -> bool:
    """`XXXX`, `<your-key>`, `${VAR}`, `example`: wording that marks a value as a stand-in."""
    return _PLACEHOLDER_HINT_LOW.search(v.lower()) is not None


ENV_REFERENCE = re.compile(r"\$?[A-Z][A-Z0-9_]*|process\.env\.\w+|os\.environ.*|env\(.*")
WORDY = re.compile(r"[A-Za-z]+(?:[_\-./ ][A-Za-z]+)*")  # identifiers, words, kebab/snake case
PATHLIKE = re.compile(r"\.{0,2}/?(?:[\w.-]+/)+[\w.-]*")

# --- contact data --------------------------------------------------------------------------

EMAIL_DOMAIN_HEAD = re.compile(r"(?:[A-Za-z0-9\u00a1-\uffff](?:[\w\u00a1-\uffff-]{0,62})\.)+([A-Za-z]{2,24})\b")
# Spelled out against scrapers: `jane.doe [at] example [dot] com`, `jane(at)example(dot)co(dot)uk`.
EMAIL_SPELLED = re.compile(
    r"(?<![\w.+-])[\w.+-]{1,64}[ \t]*[\[({<][ \t]*(?i:at)[ \t]*[\])}>][ \t]*[A-Za-z0-9-]{1,63}"
    r"(?:(?:[ \t]*[\[({<][ \t]*(?i:dot)[ \t]*[\])}>][ \t]*|\.)[A-Za-z0-9-]{1,63})*"
    r"(?:(?P<spelled>[ \t]*[\[({<][ \t]*(?i:dot)[ \t]*[\])}>][ \t]*)|\.)(?P<tld>[A-Za-z]{2,24})(?![\w-])"
)
# Top-level domains an address spelled with a plain "." must end in (`jane [at] example.com`);
# spelled out (`[dot]`), any letters do: `counter [at] index.value` is code.
_COMMON_TLDS = (
    "com net org edu gov mil int io co ai dev app me info biz us uk de fr es it nl be ch at se no dk fi pl cz ru"
    " ua jp cn kr in au ca br mx ar za nz ie pt gr tr il ae sg hk tw vn id th my ph eu"
)
COMMON_TLDS = frozenset(_COMMON_TLDS.split())
SPELLED_AT = re.compile(r"[\[({<][ \t]*at[ \t]*[\])}>]")  # on the lower-cased text
EMAIL_URLENC = re.compile(r"(?<![\w%.+-])([\w.+-]|%[0-9A-Fa-f]{2}){1,64}%40(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
# Extensions that end "name@2x.png"-style asset names, never a mail domain in practice.
NOT_TLDS = frozenset(
    [
        "png",
        "jpg",
        "jpeg",
        "gif",
        "svg",
        "webp",
        "ico",
        "bmp",
        "tiff",
        "css",
        "js",
        "mjs",
        "ts",
        "tsx",
        "jsx",
        "json",
        "yaml",
        "yml",
        "toml",
        "lock",
        "txt",
        "md",
        "html",
        "htm",
        "xml",
        "py",
        "rb",
        "go",
        "rs",
        "java",
        "kt",
        "swift",
        "php",
        "sh",
        "bat",
        "exe",
        "dll",
        "so",
        "zip",
        "gz",
        "tar",
        "log",
        "csv",
        "pdf",
    ]
)

# International: + or 00, country code, then 6-14 more digits in groups.
PHONE_INTL = re.compile(r"\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,5}\)?){1,6}")
# North American: (NPA) NXX-XXXX, NPA-NXX-XXXX, NPA.NXX.XXXX, 1-NPA-NXX-XXXX; separators required.
PHONE_NANP = re.compile(
    r"(?:\b1[ .-])?(?:\(\d{3}\)[ ]?|\b\d{3}([ .-]))\d{3}[ .-]\d{4}(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?\b"
)
# National formats distinctive enough to stand without a label: a trunk 0 and digit groups
# ("0161 620 7713", "06 12 34 56 78", "030 12345678", "0171/48551228") or an area code in brackets
# ("(11) 98765-4321").
PHONE_STRONG = re.compile(
    r"(?<![\w+\-./])(?:\(0?\d{2,4}\)[ ]?\d{3,5}[ \-]\d{4}|0\d{1,4}(?:[ \-]\d{2,4}){2,4}|0\d{1,4}[ \-]\d{6,8}"
    r"|0\d{2,4}/[ ]?\d{3,8}(?:-\d{1,5})?)"  # German slash form: 0171/48551228, 089/2180-0
    r"(?![\w\-]|[./]\d)"
)
# Anything else that looks like a phone number; only kept with a phone label (trunk 0, (31) 9…).
PHONE_LOCAL = re.compile(
    r"(?:\(\d{1,5}\)[ ]?|(?<![0-9A-Za-z_])\d{1,5}[ .\-/]?)(?:\d{2,5}[ .\-]?){1,4}\d{1,5}(?![0-9A-Za-z_])"
)

IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"
)
# Candidates only; ipaddress.IPv6Address decides. Starts at a hex group or "::".
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::)[0-9A-Fa-f:.]*[0-9A-Fa-f](?:%[\w.]+)?(?![\w:])")
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")  # literal-led, so cheap: where an IPv6 address could be
VERSION_LEFT = re.compile(
    r"(?:\bv|\bver|\bversion|\brelease|\bbuild|\bsdk|\bupgrade[ds]?\s+to|\bbumped\s+\w+\s+to)\s*[:=]?\s*$",
    re.IGNORECASE,
)

# --- numbers -------------------------------------------------------------------------------

# One scan finds every number-like run (digits with single separators); the shapes below are then
# matched only inside runs, so the text is walked once for cards, SSNs, NANP phones, IPv4 and DNI.
NUM_RUN = re.compile(r"\d[\d \-.()/]{5,}\d")
# 13-19 digits as one run or in groups split by one consistent space or dash.
CARD = re.compile(
    r"(?<![\w.,+\-/])(?:\d{4}([ \-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ \-])\d{6}\2\d{4,5}|\d{13,19})"
    r"(?![\w\-]|[.,]\d)"
)
LETTER_CODE = re.compile(r"[A-Z][A-Z] ?\d\d")  # where an IBAN or a NINO can start
IBAN = re.compile(r"[A-Z][A-Z]\d\d(?:[ ]?[A-Z0-9]){10,30}")
SSN_DASHED = re.compile(r"(?<![\w\-/.])\d{3}-\d{2}-\d{4}(?![\w\-]|[./]\d)")
# Labelled national ids: 3-2-4 (SSN), 3-3-3 (SIN), 4-4-4 (Aadhaar) or a plain run of 8-12 digits.
ID_DIGITS = re.compile(
    r"(?<![\w\-/.+])(?:\d{3}([ \-])\d{2}\1\d{4}|\d{3}([ \-])\d{3}\2\d{3}|\d{4}([ \-])\d{4}\3\d{4}|\d{8,12})"
    r"(?![\w\-]|[./]\d)"
)
NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])")
DNI = re.compile(r"(?<![\w\-])(?:\d{8}|[XYZ]-?\d{7})-?[A-Z](?![A-Za-z0-9])")

# --- dates ---------------------------------------------------------------------------------

_MONTHS = (
    "jan(?:uary|uar|vier)?|feb(?:ruary|ruar)?|f[ée]v(?:rier)?|m[aä]r(?:ch|z|s)?|apr(?:il)?|avr(?:il)?|may|mai"
    "|jun[ei]?|juin|jul[yi]?|juil(?:let)?|aug(?:ust)?|ao[uû]t|sep(?:t|tember|tembre)?|oct(?:ober|obre)?"
    "|okt(?:ober)?|nov(?:ember|embre)?|de[cz](?:ember)?|d[ée]c(?:embre)?"
    "|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
)
DATE = re.compile(
    r"(?<![\w.:/\-])(?:"
    r"(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?![\d:]|T\d)"  # 1990-01-13
    r"|(?P<nd>\d{1,2})[./\-](?P<nm>\d{1,2})[./\-](?P<ny>\d{4}|\d{2})(?![\d.:/\-]\d)"  # 13.01.1990, 01/13/1990
    r"|(?P<td>\d{1,2})(?:st|nd|rd|th|er|\.)?[ \-](?:de[ ])?(?P<tm>" + _MONTHS + r")\.?,?[ \-](?:de[ ])?(?P<ty>\d{4})"
    r"|(?P<mm>" + _MONTHS + r")\.?[ ](?P<md>\d{1,2})(?:st|nd|rd|th)?,?[ ](?P<my>\d{4})"  # November 6, 1965
    r")(?!\w)",
    re.IGNORECASE,
)

# --- labels --------------------------------------------------------------------------------
# Matched against a normalised label (pii/detect/ `_norm`): lower case, camelCase split, `_-.`
# as spaces, so `dateOfBirth`, `birth_date`, `D.O.B.` and `Dob` all read as words.

DOB_LABEL = re.compile(
    r"\b(?:d ?o ?b|birth\w*|born|b ?day|geb|geboren|geburt\w*|n[ée]e?|nacimiento|nacid[oa]|naissance|nascita"
    r"|geboorte\w*|f ?nac)\b"
)
# A label that names an identifier, then filler ("number", "no.", "#", ":"), then the value: letters
# and digits in groups (X12345678, D1234-56789-01234, 1EG4-TE5-MK73, RSSMRA85T10A562S, 123.456.789-09).
LABELLED_ID = re.compile(
    r"(?i:passport|passeport|reisepass|pasaporte|passaporto|driver'?s? licen[cs]e|driving licen[cs]e"
    r"|licen[cs]e plate|licen[cs]e"
    r"|dl|(?:bank )?account|acct|routing|aba|sort code|tax ?id|tax (?:identification )?(?:number|no\.?)|taxpayer id"
    r"|ein|tin|vat (?:number|no\.?|id|reg\w*)|ust-id\w*|steuer-?id\w*|steuernummer|medicare|medicaid|nhs"
    r"|health insurance|member id|policy|mrn|medical record|patient id|codice fiscale|pesel|cpf|cnpj|curp|rfc|nir"
    r"|n° de sécurité sociale|numéro de sécurité sociale|sécurité sociale|securite sociale|personnummer"
    r"|henkilötunnus|cédula|cedula|rut|id card|identity card|id number|national id|pin|cvv2?|cvc2?|security code"
    r"|vin)(?![A-Za-z])"
    r"(?i:[ \t]*(?:number|numéro|nummer|numero|no\.?|nr\.?|num|n°|#|id|code|is|was|:|=|-)){0,3}[ \t]*[\"']?"
    r"(?P<v>[A-Za-z0-9](?:[A-Za-z0-9]|[ .\-/](?=[A-Za-z0-9])){2,30})(?![\w-])"
)
ID_LABEL = re.compile(
    r"\b(?:ssn|ss ?n[or]|social security|soc ?sec|sin|social insurance|nino|ni (?:number|no)|national insurance"
    r"|insurance (?:number|no)|national ?id\w*|national identi\w*|nid|tax ?id|taxpayer|tin|bsn"
    r"|burgerservicenummer|sofi ?\w*|citizen service|aadha?a?r|uidai|dni|nie|nif|nric|personnummer"
    r"|personal ?id\w*|identity (?:number|no)|id (?:number|no)|identification (?:number|no)|applicant id)\b"
)
PHONE_LABEL = re.compile(
    r"\b(?:phone\w*|tel|tele?phone|tél[ée]phone|tfno|mobile?|mob|cell\w*|fax|sms|texts?|call\w*|ring|dial"
    r"|reach|contact\w*|whats ?app|signal|landline|hotline|on ?call|msisdn|ph|tel[ée]fono|m[óo]vil|llam\w*"
    r"|portable|appel\w*|rappel\w*|joindre|telefon\w*|handy|anruf\w*|ruf\w*|telefoon|bel\w*|celular"
    r"|contato|ligar?|ligue\w*|erreich\w*|chiam\w*|bereik\w*|ll[aá]m\w*|zadzwo\w*|zavolej\w*|numer\w*|numara\w*"
    r"|позвон\w*|звони\w*|телефон\w*|тел|номер\w*|τηλ\w*|κάλεσ\w*|ara beni"
    r"|(?:my|mi|mon|meine|mijn|il mio|o meu|a minha) "
    r"(?:(?:phone|mobile|cell|contact) )?(?:number|n[uú]mero|num[ée]ro|nummer))\b"
    r"|電話|电话|手机|手機|携帯|전화|연락처|휴대폰"  # scripts without word breaks
)
CARD_LABEL = re.compile(
    r"\b(?:card\w*|cc|cc ?num\w*|visa|master ?card|amex|discover|pan|credit|debit|payment|pay|charge\w*|billing)\b"
)
# Words that label a number as something other than PII; the nearest label word wins in prose.
NEGATIVE_LABEL = re.compile(
    r"\b(?:order\w*|invoice\w*|tracking|ticket|ref|reference|confirmation|po|sku|txn|transaction|request"
    r"|trace|build|version|release|routing|zip|postal|postcode|port|pid|amount|total|qty|quantity|serial"
    r"|parcel|shipment|case|incident|job|batch|run|commit|checksum|hash|timestamp|epoch|created|updated)\b"
)
# What may stand between a birth label and the date in prose, matched on the original text: filler
# words ("born on", "DOB is", "né le") and capitalised names ("born in Lyon on").
DOB_FILLER = re.compile(
    r"[\s:=,'\"()|*.\-\u2013\u2014]*(?:(?:(?i:is|was|on|at|in|am|le|el|de|del|di|the|of|date|dated|his|her|their|my|your"
    r"|its|es|ist|est|fue|il|der|des|du|op|van|la|a|em|no|s|um)|[A-ZÀ-Þ][\w'\u2019.-]*)\b[\s:=,'\"()|*.\-\u2013\u2014]*){0,5}"
)
AWS_SECRET_LABEL = re.compile(r"\bsecret\b|\baws\b.*\bkey\b")
IP_LABEL = re.compile(
    r"\b(?:ip\w*|addr\w*|address|host|from|server|client|peer|remote|src|source|dst|dest\w*|origin|vpn|proxy)\b"
)
# Secret names whose values are not secrets (pagination, idempotency, public halves, schema keys).
SECRET_NAME_DENY = re.compile(
    r"\b(?:next|page|continuation|pagination|cursor|idempotency|cache|primary|foreign|sort|partition|range"
    r"|public|pub|object|routing|dedup\w*|lookup|map|row|index|unique|composite|author(?:s|ed|ship)?|max|num|total"
    r"|count|usage|prompt|completion|input|output|type|expires?|expiry|ttl|length|limit|id|name|kid|alg"
    r"|endpoint|url|uri|path|file|env|var|field|header|method|scheme|format|reset|sha\d*|md5|hash\w*|checksum"
    r"|digest|fingerprint|etag|crc\d*)\b"
)

# Names with a provider's word that still hold no credential (github_username, stripe_customer_url).
PROVIDER_NAME_DENY = re.compile(
    r"\b(?:user ?name|user|login|email|handle|url|uri|endpoint|host\w*|domain|region|path|file|dir|version|channel"
    r"|team|org|repo\w*|project|page|site|link|webhook ?url|public|pub|publishable|enabled|timeout|model|mode"
    r"|release|commit|sha\d*|hash\w*|digest|checksum|revision|rev|build|etag|fingerprint)\b"
)

# Label words that open a labelled-value pass: it looks only near them (or in the table they head).
# The label regexes above decide; these only have to be a superset of what they accept in practice.
# All groups are found in one pass of LABEL_WORD (a trie-shaped regex runs ~2x faster than one
# substring scan per word).
LABEL_GATES: dict[str, tuple[str, ...]] = {
    "dob": ("birth", "dob", "d.o.b", "born", "geb", "né", "nacim", "nacid", "naissance", "nascita", "geboorte"),
    "id": (
        "ssn", "social", "sin", "nino", "insurance", "national", "bsn", "burgerservice", "aadha", "dni", "nie",
        "nif", "tax", "identi", "id n",
    ),
    # Identifiers named by their label, any issuer's format: passports, licences, accounts, tax ids.
    "idlabel": (
        "passport", "passeport", "reisepass", "pasaporte", "passaporto", "licen", "driving", "driver", "dl#",
        "dl no", "account", "acct", "routing", "aba n", "sort code", "tax id",
        "tax n", "tax identification", "taxpayer", "ein", "tin", "vat n", "vat id", "vat reg", "ust-id", "steuer",
        "medicare", "medicaid", "nhs", "health insurance", "member id", "policy n", "mrn", "medical record",
        "patient id", "codice fiscale", "pesel", "cpf", "cnpj", "curp", "rfc", "nir", "sécurité sociale",
        "securite sociale", "personnummer", "henkilötunnus", "cédula", "cedula", "rut", "id card", "id number",
        "identity card", "national id", "pin", "cvv", "cvc", "security code", "vin", "license plate", "licence plate",
    ),
    "phone": (
        "phone", "tel", "mobil", "móvil", "movil", "cell", "celu", "fax", "sms", "call", "llam", "appel",
        "contact", "reach me", "reach us", "reached at", "reachable", "whatsapp", "anruf", "erreich", "chiam",
        "liga", "ligue", "bereik", "my number", "mi número", "mi numero", "mon numéro", "mon numero",
        "meine nummer", "mijn nummer", "il mio numero", "meu número", "llám", "bel me", "bel mij", "bel ons",
        "zadzwo", "numer tel", "zavolej", "zavolejte", "telefonu", "numara", "ara beni", "ring me", "ring us",
        "позвон", "звони", "телефон", "тел", "номер", "τηλ", "κάλεσ",
        "電話", "电话", "手机", "전화", "연락처",
    ),
    "aws": ("secret", "aws"),
    # Client and app ids count only under a provider's name (discord_client_id); Sidekiq's
    # credentials live in BUNDLE_GEMS__CONTRIBSYS__COM.
    "secret": (
        "key", "token", "secret", "passw", "pwd", "credential", "auth", "bearer", "client_id", "clientid",
        "client-id", "app_id", "appid", "contribsys", "passphrase", "passcode",
    ),
    # Sentences that make a bare high-entropy token in them a credential: "… hits the rate limit",
    # "rotate it"; and instructions, "use … for staging", where a bare hex run is a commit instead.
    "rate": ("rate limit", "rate-limit", "ratelimit", "revoke", "rotate", "public repo", "leaked", "still valid"),
    "use": (
        "for staging", "in staging", "for prod", "in prod", "for the staging", "for the prod", "log in with",
        "login with", "sign in with", "authenticate with", "use this to",
    ),
}  # fmt: skip
LABEL_GROUPS: dict[str, tuple[str, ...]] = {}
for _group, _words in LABEL_GATES.items():
    for _w in _words:
        LABEL_GROUPS[_w] = (*LABEL_GROUPS.get(_w, ()), _group)


# Longest word first at each position (the trie's optional tails are greedy).
# Two passes: words that start with a Latin letter, and words in other scripts (тел, 電話), run
# only on text written partly in one. A first character outside Latin in the one trie would slow
# the scan of every text by a third.
LABEL_WORD = re.compile(trie_regex(sorted(w for w in LABEL_GROUPS if w[0] < "\u0370")))
LABEL_WORD_OTHER = re.compile(trie_regex(sorted(w for w in LABEL_GROUPS if w[0] >= "\u0370")))
OTHER_SCRIPT = re.compile("[\u0370-\uffff]")
