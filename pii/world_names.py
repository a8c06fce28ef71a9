# ruff: noqa: RUF001, RUF002 - the cue words and gazetteer are in their own scripts
"""Rules for names and places in every script, for the NER tier (spaCy's English model does not
read Cyrillic, Hebrew, Arabic, Greek, Han or Hangul, and no multilingual model ships in a package
that installs without a download at run time).

- People: a self-introduction or form of address in the text's own language ("меня зовут",
  "שמי", "اسمي", "我叫", "제 이름은", "Με λένε", "nazywam się", "Sayın", "Herr", "Mme") followed by
  a name in any script.
- Places: a gazetteer of large cities written in their own script (and the inflected forms prose
  uses: "в Москве", "z Krakowa").

Candidates are (start, end, type, score) like pii.ner's other rules.
"""

from __future__ import annotations

import re

Cand = tuple[int, int, str, float]

# A capitalised word of a cased script (Latin with diacritics, Cyrillic, Greek).
_CASED_WORD = r"[A-ZÀ-ÖØ-ÞĀ-ſА-ЯЁЄІЇҐΑ-ΩΆ-Ώ][a-zß-öø-ÿĀ-ſа-яёєіїґα-ωά-ώ'’-]+"
# A word of an uncased script (Hebrew, Arabic).
_UNCASED_WORD = r"[\u0590-\u05ff\u0600-\u06ff]{2,}"

# "My name is" in other languages: one name word is enough after these.
_CUES_INTRO = (
    "меня зовут|Меня зовут|моё имя|мое имя|Моё имя|Мое имя|Με λένε|με λένε|ονομάζομαι|Ονομάζομαι"
    "|nazywam się|Nazywam się|jmenuji se|Jmenuji se|volám se|Volám se|adım|Adım"
    "|je m'appelle|Je m'appelle|ich heiße|Ich heiße|me llamo|Me llamo|mi chiamo|Mi chiamo|meu nome é|Meu nome é"
    "|mijn naam is|Mijn naam is|jag heter|Jag heter|jeg hedder|Jeg hedder"
)
# Forms of address: also English words or titles ("Pan Am", "Dr. Who"), so two name words must follow.
_CUES_TITLE = (
    "господин|госпожа|г-н|г-жа|гражданин|гражданка|κύριος|κυρία|ο κ\\.|η κ\\.|Pan|Pani|pan|paní|Paní"
    "|Sayın|Bay|Bayan|Herr|Frau|Monsieur|Madame|Mme\\.?|Mlle|Señor|Señora|Sr\\.|Sra\\.|Signor|Signora|Sig\\."
    "|Dott\\.|Dr\\."
)
_CUES_UNCASED = "שמי|קוראים לי|השם שלי|שמו|שמה|اسمي|أنا اسمي|السيد|السيدة|الأستاذ|الدكتور"

_INTRO_CASED = re.compile(
    rf"(?<!\w)(?:(?:{_CUES_INTRO})[ \t:,]+(?P<name>{_CASED_WORD}(?:[ ]{_CASED_WORD}){{0,2}})"
    rf"|(?:{_CUES_TITLE})[ \t]+(?P<titled>{_CASED_WORD}(?:[ ]{_CASED_WORD}){{1,2}}))"
)
_INTRO_UNCASED = re.compile(rf"(?<!\w)(?:{_CUES_UNCASED})[ \t:]+(?P<name>{_UNCASED_WORD}(?:[ ]{_UNCASED_WORD}){{0,2}})")
# Han names after "I am called"/"name:", 2-4 characters; Japanese "私は…です"; Korean names before
# the copula or after "이름:".
_INTRO_HAN = re.compile(
    r"(?:我叫|我是|我的名字是|我姓|姓名[:：]?\s*|名字[:：]\s*|联系人[:：]?\s*|聯絡人[:：]?\s*|私は|氏名[:：]?\s*)"
    r"(?P<name>[\u4e00-\u9fff]{2,4}?)(?=です|[，,。.\s:：、;；]|$|[住在是的来])"
)
_INTRO_HANGUL = re.compile(
    r"(?:제 이름은|저는|이름[:：]\s*|성명[:：]\s*|담당자[:：]?\s*)\s*"
    r"(?P<name>[가-힣]{2,4}?)(?=입니다|이에요|예요|이고|씨|님|[\s,.:]|$)"
)
# Words that end a name in the uncased scripts: "and", "from", "in", "I live".
_UNCASED_STOP = frozenset(
    ["ואני", "ואנחנו", "מ", "ב", "גר", "גרה", "מתל", "ו", "من", "في", "و", "انا", "أنا", "أعيش", "اعيش"]
)

_CITIES = (
    "Москва Москве Москвы Москву Санкт-Петербург Санкт-Петербурге Петербург Петербурге Новосибирск Екатеринбург"
    " Казань Казани Киев Киеве Київ Києві Харків Одеса Минск Минске Алматы Ташкент"
    " תל אביב|ירושלים|חיפה|באר שבע|אילת|בתל אביב|בירושלים|בחיפה"
    " القاهرة|بالقاهرة|الرياض|بالرياض|دبي|بدبي|بيروت|عمّان|عمان|بغداد|دمشق|الدار البيضاء|الإسكندرية|جدة|الدوحة|أبو ظبي"
    " 北京 上海 广州 深圳 香港 台北 臺北 成都 杭州 南京 武汉 天津 重庆 西安 東京 大阪 京都 横浜 名古屋 札幌 福岡"
    " 서울 부산 인천 대구 대전 광주 울산 제주"
    " Αθήνα Αθήνας Αθήνα Θεσσαλονίκη Θεσσαλονίκης Πάτρα Ηράκλειο Λευκωσία"
    " Kraków Krakowa Krakowie Warszawa Warszawy Warszawie Wrocław Wrocławia Gdańsk Gdańska Łódź Poznań Poznania"
    " Praha Praze Prahy Brno Brně Ostrava Plzeň Bratislava Košice"
    " İstanbul İstanbul'da İzmir Ankara'da Ankara Bursa Antalya"
    " København Århus Malmö Göteborg Zürich Genève Köln München Düsseldorf Łódź Bucureşti București Cluj-Napoca"
    " Reykjavík Kraków Poznań Székesfehérvár Debrecen Sevilla Málaga Córdoba"
)


def _city_set() -> frozenset[str]:
    out: set[str] = set()
    for chunk in _CITIES.split(" "):
        out.update(w for w in chunk.split("|") if w)
    return frozenset(out)


CITIES = frozenset(_city_set())
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
# Alphabetic scripts need word boundaries; Han and Hangul write words without spaces.
_CITY_RE = re.compile(
    r"(?<![\w\u0590-\u06ff])(?:"
    + "|".join(re.escape(c) for c in sorted(CITIES, key=len, reverse=True) if not _CJK.match(c))
    + r")(?![a-zа-яёα-ωß-ÿ\u0590-\u06ff])"
)
_CITY_CJK_RE = re.compile("|".join(re.escape(c) for c in sorted(CITIES, key=len, reverse=True) if _CJK.match(c)))


def _uncased_name(text: str, s: int, e: int) -> tuple[int, int]:
    """Up to two words of an uncased-script name, stopping at a conjunction or preposition."""
    words = list(re.finditer(r"\S+", text[s:e]))
    end = s
    for n, w in enumerate(words):
        if n == 2 or w.group() in _UNCASED_STOP or (w.group()[:1] in "ו" and n):
            break
        end = s + w.end()
    return s, end


def world_candidates(text: str) -> list[Cand]:
    """Names and places written in other scripts than English, or introduced in other languages."""
    out: list[Cand] = []
    if not text.isascii():
        for m in _INTRO_UNCASED.finditer(text):
            s, e = _uncased_name(text, m.start("name"), m.end("name"))
            if e > s:
                out.append((s, e, "PERSON", 0.85))
        for rx in (_INTRO_HAN, _INTRO_HANGUL):
            for m in rx.finditer(text):
                out.append((m.start("name"), m.end("name"), "PERSON", 0.85))
        for rx in (_CITY_RE, _CITY_CJK_RE):
            for m in rx.finditer(text):
                out.append((m.start(), m.end(), "LOCATION", 0.8))
    for m in _INTRO_CASED.finditer(text):
        g = "name" if m.group("name") else "titled"
        s, e = m.start(g), m.end(g)
        words = m.group(g).split()
        if words[-1] in CITIES and len(words) > (1 if g == "name" else 2):  # "… Wójcik Kraków": not the place
            e = s + m.group(g).rfind(" ")
        out.append((s, e, "PERSON", 0.85))
    return out
