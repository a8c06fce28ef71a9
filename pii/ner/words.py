"""Word lists of the NER tier's rules: technology names, common words, name particles, legal
forms, countries and cities, context cues."""

from __future__ import annotations

import re

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
    cc attn by from with signed sincerely meet met call called emailed email ping pinged driver patient
    employee doctor nurse officer rep representative reviewer reporter candidate applicant student
    teacher lawyer attorney coworker"""
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
