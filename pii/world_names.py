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

# A capitalised word of a cased script (Latin with diacritics, Vietnamese's among them, Cyrillic, Greek).
_CASED_WORD = r"[A-ZÀ-ÖØ-ÞĀ-ſƠƯḀ-ỿА-ЯЁЄІЇҐΑ-ΩΆ-Ώ][a-zß-öø-ÿĀ-ſơưḀ-ỿа-яёєіїґα-ωά-ώ'’-]+"
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
        out += given_name_candidates(text)
        out += street_candidates(text)
        if _CJK.search(text):
            out += cjk_name_candidates(text)
    for m in _INTRO_CASED.finditer(text):
        g = "name" if m.group("name") else "titled"
        s, e = m.start(g), m.end(g)
        words = m.group(g).split()
        if words[-1] in CITIES and len(words) > (1 if g == "name" else 2):  # "… Wójcik Kraków": not the place
            e = s + m.group(g).rfind(" ")
        out.append((s, e, "PERSON", 0.85))
    return out


# --- names without a cue: gazetteers of given names per script ----------------------------------
# Common given names (and, for the inflecting languages, their main case forms). A name word alone
# is a PERSON only where it cannot be read as an ordinary word; the gazetteers below leave out names
# that are also common nouns or adjectives in their language (Hebrew גיל "age", Arabic نور "light",
# Turkish Deniz "sea"), so free prose in these scripts is not masked wholesale.
_GIVEN_CYRILLIC = (
    "Александр Алексей Андрей Антон Артём Борис Вадим Валерий Василий Виктор Владимир Дмитрий Евгений Егор"
    " Иван Игорь Илья Кирилл Константин Максим Михаил Никита Николай Олег Павел Пётр Петр Роман Сергей"
    " Станислав Степан Юрий Ярослав Тарас Богдан Остап Анна Анастасия Алёна Алена Валентина Вера Виктория"
    " Галина Дарья Евгения Екатерина Елена Ирина Ксения Людмила Марина Мария Надежда Наталья Наталия Нина"
    " Ольга Полина Светлана Софья София Татьяна Юлия Оксана Олена Ганна Тетяна"
)
_GIVEN_GREEK = (
    "Γιώργος Γιάννης Κώστας Νίκος Δημήτρης Παναγιώτης Βασίλης Χρήστος Αντώνης Μιχάλης Σπύρος Θανάσης Στέλιος"
    " Αλέξανδρος Ανδρέας Πέτρος Παύλος Άγγελος Μαρία Ελένη Αικατερίνη Κατερίνα Βασιλική Σοφία Αναστασία"
    " Δήμητρα Γεωργία Ευαγγελία Χριστίνα Ιωάννα Αγγελική Δέσποινα Φωτεινή Ειρήνη Νικολέτα Κωνσταντίνα"
)
_GIVEN_LATIN = (  # Polish, Czech, Slovak, Turkish, Hungarian, Nordic; diacritics or no English reading
    "Łukasz Paweł Michał Piotr Krzysztof Tomasz Grzegorz Wojciech Jakub Mateusz Marcin Bartosz Kamil Zbigniew"
    " Małgorzata Agnieszka Katarzyna Magdalena Joanna Zofia Żaneta Grażyna Bożena Jadwiga Urszula Wiesława"
    " Jiří Jiri Petr Pavel Tomáš Jaroslav Miroslav Zdeněk Václav Lukáš Ondřej Vojtěch Radek Milan"
    " Petra Jana Lucie Tereza Veronika Markéta Zuzana Hana Kateřina Lenka Eliška Barbora"
    " Mehmet Mustafa Ahmet Hüseyin Hasan İbrahim Ismail İsmail Yusuf Osman Murat Emre Burak Ömer Şükrü Oğuz"
    " Ayşe Fatma Emine Hatice Zeynep Elif Şule Gülşen Özlem Büşra Merve Yasemin Esra Gökhan Çağla Tuğba"
    " Søren Jørgen Bjørn Åsa Björn Sigríður Guðrún Þór Zoë Jürgen Günther Jörg Françoise François Agnès Hélène"
    " József László Zoltán Ágnes Erzsébet Dóra"
)
# Vietnamese family names, written first: with the capitalised words after them, a name.
_FAMILY_VI = (
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trịnh Đoàn Lương Trương Lâm"
    " Nguyen Tran Pham Hoang Huynh Dang Duong Truong"
)
_SURNAMES_VI = frozenset(_FAMILY_VI.split())
# The word after the family name is a middle or given name (Văn, Thị, Minh …): title-case UI text
# and place names start with a family name as well ("Hồ Sơ Cá Nhân", "Lý Do Từ Chối").
_MIDDLE_VI = (
    "Văn Thị Hữu Đức Minh Thanh Ngọc Quang Hoàng Kim Xuân Thu Anh Quốc Công Đình Tuấn Thành Hải Hồng Hùng"
    " Mai Lan Hương Thảo Trang Linh Hà Phương Nam Long Dũng Sơn Bảo Gia Khánh Duy Trọng Thúy Thùy Diệu Như"
    " Quỳnh Hoa Tiến Việt Huy Phúc Tâm Trung Chí Hưng Lợi Hạnh Nhật Tú Vân Yến Ánh An Bình Cường Hiếu"
    " Van Thi Huu Duc Quoc Cong Dinh Tuan Thanh Hai Hong Hung Huong Phuong Dung Bao Khanh Trong Thuy"
)
_MIDDLES_VI = frozenset(_MIDDLE_VI.split())
# Hebrew and Arabic: names that are not also everyday words.
_GIVEN_HEBREW = (
    "משה יוסי יוסף אברהם יצחק יעקב שמואל אליהו חיים מרדכי יהודה אהרון בנימין נתן דניאל יונתן אביגיל שרה רבקה"
    " רחל לאה מרים אסתר חנה דבורה מיכל נועה יעל שירה מאיה הילה ענבל אורית אסף איתי נועם עומר אלון ליאור רותם"
)
_GIVEN_ARABIC = (
    "محمد أحمد احمد محمود مصطفى إبراهيم ابراهيم يوسف خالد عمر حسن حسين طارق هشام وليد ماجد عبدالله عبد الله"
    " عبد الرحمن سامي رامي زياد فاطمة عائشة مريم زينب خديجة سارة ليلى هالة منى ياسمين سلمى رانيا هبة دينا"
)


def _forms(names: str, script: str) -> set[str]:
    """Each name with the case forms prose uses: Russian and Greek decline names ("Анну", "Ελένης")."""
    out: set[str] = set()
    for n in names.split():
        out.add(n)
        if script == "cyrillic":
            if n[-1] in "аяя":
                out.update(n[:-1] + suf for suf in ("ы", "и", "е", "у", "ю", "ой", "ей"))
            elif n[-1] == "й":
                out.update(n[:-1] + suf for suf in ("я", "ю", "ем", "е"))
            else:
                out.update(n + suf for suf in ("а", "у", "ом", "е"))
        elif script == "greek":
            if n.endswith(("ος", "ης", "ας")):
                out.update((n[:-1], n[:-2] + "ου", n[:-2] + "ο", n[:-2] + "α"))
            elif n[-1] in "αηά":
                out.add(n + "ς")
    return out


GIVEN_NAMES: frozenset[str] = frozenset(
    _forms(_GIVEN_CYRILLIC, "cyrillic") | _forms(_GIVEN_GREEK, "greek") | _forms(_GIVEN_LATIN, "latin")
)
GIVEN_UNCASED: frozenset[str] = frozenset(_GIVEN_HEBREW.split() + _GIVEN_ARABIC.split())
# Surname endings strong enough that "Given Surname-like" after a known given name, or a surname
# before one ("Петров Иван"), reads as a name.
_SURNAME_END = re.compile(
    r"(?:ов|ова|ев|ева|ёв|ин|ина|ский|ская|цкий|цкая|енко|ук|юк|ski|ska|cki|cka|dzki|wicz|czyk|ová|ský|ská"
    r"|oğlu|πουλος|πούλου|άκης|ίδης|ίδου|άτος|ίου|ου)$"
)
_WORD_CASED = re.compile(_CASED_WORD)
_WORD_UNCASED = re.compile(_UNCASED_WORD)


# A lone given name is weaker evidence than any labelled cell or key it may sit in ("Roe, Søren"
# under a `name` column): over the floor, under the rules that read structure.
_LONE_NAME = 0.58


def given_name_candidates(text: str) -> list[Cand]:
    """Names without a cue: a known given name, with the capitalised (or same-script) word after it
    as the surname; or a surname-shaped word right before a known given name ("Петров Иван")."""
    out: list[Cand] = []
    if text.isascii():
        return out
    words = [(m.start(), m.end(), m.group()) for m in _WORD_CASED.finditer(text)]
    for k, (s, e, w) in enumerate(words):
        if w in _SURNAMES_VI:
            end, n = e, k + 1
            while n < len(words) and n - k <= 3 and _adjacent(text, end, words[n][0]) and words[n][2][0].isupper():
                end, n = words[n][1], n + 1
            if n - k >= 2 and words[k + 1][2] in _MIDDLES_VI and (n - k >= 3 or not w.isascii()):
                out.append((s, end, "PERSON", 0.75))
            continue
        if w not in GIVEN_NAMES:
            continue
        start, end = s, e
        if k + 1 < len(words) and _adjacent(text, e, words[k + 1][0]) and words[k + 1][2] not in CITIES:
            end = words[k + 1][1]
            if k + 2 < len(words) and _adjacent(text, end, words[k + 2][0]) and _SURNAME_END.search(words[k + 2][2]):
                end = words[k + 2][1]  # Иван Петрович Сидоров
        elif k and _adjacent(text, words[k - 1][1], s) and _SURNAME_END.search(words[k - 1][2]):
            start = words[k - 1][0]
        if end == e and start == s and w.isascii():
            continue  # a lone ASCII given name (Petra, Milan) is the English model's, or a place
        out.append((start, end, "PERSON", 0.75 if (start, end) != (s, e) else _LONE_NAME))
    done = -1
    for m in _WORD_UNCASED.finditer(text):
        w = m.group()
        if m.start() < done:
            continue
        core = w[1:] if w[0] in "ו" and w[1:] in GIVEN_UNCASED else w  # "ושרה": and Sarah
        if core not in GIVEN_UNCASED:
            continue
        s, e = m.end() - len(core), m.end()
        nxt = _WORD_UNCASED.match(text, e + 1) if text[e : e + 1] == " " else None
        # The next word is the surname ("فاطمة الزهراء") unless it is a function word or a noun
        # that commonly follows a name as the object ("أرسلت فاطمة التقرير"); over-reaching by a
        # word costs less than leaving a surname in clear.
        lone = True
        if nxt and nxt.group() not in _UNCASED_STOP and nxt.group() not in _UNCASED_FUNCTION:
            e, lone = nxt.end(), False
        out.append((s, e, "PERSON", _LONE_NAME if lone else 0.75))
        done = e
    return out


def _adjacent(text: str, e: int, s: int) -> bool:
    return s == e + 1 and text[e] == " "


# Function words that follow a name in Hebrew and Arabic prose and are no surname.
_FUNCTION_WORDS = (
    "הוא היא היה הייתה אמר אמרה שלח שלחה כתב כתבה עם של את על גם לא כבר עוד"
    " هو هي كان كانت قال قالت أرسل ارسل كتب مع على عن إلى الى هذا هذه لا قد"
    " التقرير الملف الرسالة البريد الاجتماع المشروع الفريق العقد الطلب الكتاب اليوم أمس غدا"
)
_UNCASED_FUNCTION = frozenset(_FUNCTION_WORDS.split())

# --- names in Han, kana and Hangul: an honorific, or a surname with given-name characters ----------
_HAN_SURNAMES = (
    "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何林罗羅郑鄭梁谢謝宋唐韩韓冯馮"
    "董萧蕭曹邓鄧许許傅沈曾彭吕呂苏蘇卢盧蒋蔣蔡贾賈魏薛叶葉阎余潘杜戴夏钟鐘汪田姜范石"
    "姚谭譚廖邹鄒熊陆陸郝孔崔邱秦江史顾顧侯邵孟龙龍段雷钱錢汤湯尹黎易武乔喬贺賀赖賴龚"
    "龔"
)
_HAN_GIVEN = (
    "伟偉芳娜敏静靜丽麗强強磊军軍洋勇艳豔杰傑娟涛濤明超秀霞平刚剛桂英华華玉萍红紅建辉輝力斌宇浩凯凱鹏鵬"
    "晨欣怡婷雪琳晶倩颖穎佳慧鑫俊峰雨梅兰蘭琴燕海波晓曉莉春云雲飞飛宁寧蕾昊睿轩軒涵萱博嘉思梓诗詩晗瑶瑤"
    "彤琪妍璐昕志勤松毅健鸿鴻翔丹芬琦薇蓉玲冰阳陽光荣榮诚誠刚瑞祥亮"
)
_HAN_HONORIFIC = "先生|女士|小姐|老师|老師|经理|經理|医生|醫生|教授|同学|同學|博士|律师|律師|总监|總監|主任"
_KANA_HONORIFIC = "さん|様|さま|氏|くん|君|ちゃん|先生"
# Chinese runs words together: a bare name is taken only between characters that commonly stand
# next to one (和, 给, 叫 before; 说, 是, 在 after), or at a break.
_HAN_BEFORE = "和与跟给叫是请由被对向把让找问及、"
_HAN_AFTER = "说是在的和与去来打给发要会也都已将把告问回今明昨写做送买找看带负签、"
_HAN_NAME = re.compile(
    rf"(?:(?<![\u4e00-\u9fff])|(?<=[{_HAN_BEFORE}]))[{_HAN_SURNAMES}][{_HAN_GIVEN}]{{1,2}}?"
    rf"(?=[^\u4e00-\u9fff]|$|[{_HAN_AFTER}])"
    rf"|(?P<titled>[{_HAN_SURNAMES}][\u4e00-\u9fff]{{0,2}}(?={_HAN_HONORIFIC})"
    rf"|(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{{1,4}}(?={_KANA_HONORIFIC}))"
)
# Any given-name characters are taken between words that put a person there: a role or a verb of
# contact before ("请联系王小明", "客户陈志强"), what people do after ("反馈", "处理", "负责").
_HAN_ROLE_BEFORE = (
    "联系|聯繫|聯絡|客户|客戶|用户|用戶|同事|员工|員工|负责人|負責人|经理|經理|老板|老闆|学生|學生|患者|病人|作者"
    "|发件人|發件人|收件人|申请人|申請人|转给|轉給|告诉|告訴|通知|感谢|感謝|邀请|邀請|交给|交給|抄送|询问|詢問"
)
_HAN_DOES_AFTER = (
    "反馈|反饋|处理|處理|提出|表示|认为|認為|负责|負責|同意|报告|報告|提交|确认|確認|联系|聯繫|回复|回覆|发送|發送"
    "|说|說|是|在|的|和|与|與|已|将|將|会|會|也|都|今|明|昨"
)
# Characters that end a word or join two, never part of a given name here (的, 了, 是, 就, …).
_HAN_FUNCTION = "的了是在和与與也都已将將会會说說就要把被给給对對向从從到又还還才很个個么麼吗嗎呢吧着著过過"
_HAN_GIVEN_ANY = rf"(?:(?![{_HAN_FUNCTION}])[\u4e00-\u9fff])"
# With any given-name characters a cued name must be a full three-character one: two characters
# after a role word are as often a word (客户余额 "customer balance", 用户钱包 "user wallet").
_HAN_CUED = re.compile(
    rf"(?:{_HAN_ROLE_BEFORE})(?P<name>[{_HAN_SURNAMES}]{_HAN_GIVEN_ANY}{{2}})(?=(?:{_HAN_DOES_AFTER})|[\s，,。.：:；;、！!？?）)]|$)"
)
# A three-character Han run beginning with a surname, alone in other text ("filed by 王小明
# yesterday"): a name, written in its script inside prose in another.
_HAN_IN_OTHER_TEXT = re.compile(
    rf"(?<=[A-Za-z0-9][ (\"'])[{_HAN_SURNAMES}]{_HAN_GIVEN_ANY}{{2}}(?=[ ),.;:!?\"'][^\u4e00-\u9fff]|[ ),.;:!?\"']?$)"
)
# ... but only after a word that points at a person ("filed by", "ask", "cc"): in English prose a
# Han word is as often a place (石家庄), a term (黄金周) or a font (宋体字).
_PERSON_BEFORE = re.compile(
    r"(?i:\b(?:by|with|ask|asked|tell|told|contact|cc|attn|mr|ms|mrs|dr|dear|hi|hello|hey|customer|user|assignee"
    r"|owner|reviewer|author|reporter|named|called|thanks|colleague|manager|engineer|agent|emailed|email|ping|call"
    r"|meet|met|signed|from)\.?)[ (\"']*$"
)
_HANGUL_SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민"
    "진나지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은"
    "편용예경봉사부가복태목형피두감음빈동온호범좌팽승간상시갈단견당"
)
_HANGUL_GIVEN = "민준서연지훈현우영수은진혜성호재윤아유하도예주경동상승태희미정선나빈원석철규혁범찬건율채다소가람솔별"
_HANGUL_TITLE = "씨|님|선생님|교수님|대표님|과장님|부장님|팀장님"
_HANGUL_NAME = re.compile(
    rf"(?<![가-힣])(?:(?P<name>[{_HANGUL_SURNAMES}][{_HANGUL_GIVEN}]{{2}})"
    rf"(?=(?:은|는|이|가|을|를|에게|의|과|와|도|입니다|이에요|예요)?(?![가-힣]))"
    rf"|(?P<titled>[{_HANGUL_SURNAMES}][가-힣]{{1,2}}?)(?={_HANGUL_TITLE}))"
)
# Hangul words that have a name's shape but are ordinary nouns.
_HANGUL_NOT_NAMES = frozenset(
    {"이미지", "고객", "선생", "회원", "사용자", "관리자", "담당자", "교수", "대표", "사장", "부장", "과장", "팀장"}
    | {"기사", "작가"}
)


# Japanese: common two-character surnames (one-character ones are also words: 林 "forest"), with a
# given name of one or two characters, before a particle or an honorific; only in text with kana.
_JA_SURNAMES = (
    "佐藤|鈴木|高橋|田中|伊藤|渡辺|渡邊|山本|中村|小林|加藤|吉田|山田|佐々木|山口|松本|井上|木村|斎藤|斉藤|清水"
    "|山崎|池田|橋本|阿部|石川|山下|中島|石井|小川|前田|岡田|長谷川|藤田|後藤|近藤|村上|遠藤|青木|坂本|福田|太田"
    "|西村|藤井|金子|岡本|藤原|中野|三浦|原田|松田|竹内|中川|小野|田村|和田|石田|森田|上田|柴田|酒井|工藤|横山"
)
_JA_NAME = re.compile(
    rf"(?<![\u4e00-\u9fff])(?:{_JA_SURNAMES})[\u4e00-\u9fff]{{0,2}}?"
    r"(?=[はがをにのともへ、。\s]|さん|様|さま|氏|くん|君|ちゃん|先生|$)"
)
_KANA = re.compile(r"[\u3040-\u30ff]")


def cjk_name_candidates(text: str) -> list[Cand]:
    out: list[Cand] = []
    if _KANA.search(text):
        out += [(m.start(), m.end(), "PERSON", 0.7) for m in _JA_NAME.finditer(text)]
    for m in _HAN_NAME.finditer(text):
        out.append((m.start(), m.end(), "PERSON", 0.7 if m.group("titled") is None else 0.8))
    out += [(m.start("name"), m.end("name"), "PERSON", 0.7) for m in _HAN_CUED.finditer(text)]
    for m in _HAN_IN_OTHER_TEXT.finditer(text):
        if _PERSON_BEFORE.search(text, max(0, m.start() - 24), m.start()) and m.group() not in CITIES:
            out.append((m.start(), m.end(), "PERSON", 0.7))
    for m in _HANGUL_NAME.finditer(text):
        g = "name" if m.group("name") else "titled"
        if m.group(g) not in _HANGUL_NOT_NAMES:
            out.append((m.start(g), m.end(g), "PERSON", 0.7 if g == "name" else 0.8))
    return out


# --- street addresses in other countries' formats --------------------------------------------------
_STREETS_WORLD = (
    # Russian/Ukrainian: "ул. Ленина, д. 5, кв. 12", "улица Пушкина, дом 10", "пр-т Мира 15"
    r"(?:ул\.|улица|пр-т|просп\.|проспект|пер\.|переулок|бул\.|бульвар|наб\.|набережная|ш\.|шоссе|вул\.|вулиця)"
    r"[ ]?[А-ЯЁІЇЄ][а-яёіїє-]+(?:[ ][А-ЯЁІЇЄа-яёіїє-]+)?,?[ ](?:(?:д\.|дом)[ ]?)?\d{1,4}[а-я]?"
    r"(?:,?[ ](?:корп\.|стр\.|кв\.|офис)[ ]?\d{1,4})*",
    # Turkish: "Atatürk Cad. No: 15", "Bağdat Caddesi No:120 D:5", "Gül Sok. No 3"
    r"[A-ZÇĞİÖŞÜ][a-zçğıöşü]+(?:[ ][A-ZÇĞİÖŞÜ][a-zçğıöşü]+)?[ ]"
    r"(?:Cad\.|Caddesi|Sok\.|Sokak|Sokağı|Bulvarı|Blv\.|Mah\.|Mahallesi)"
    r"(?:[ ]No[:.]?[ ]?\d{1,4}(?:/\d{1,3})?(?:[ ]D[:.]?[ ]?\d{1,3})?)?",
    # Czech/Slovak: "Václavské náměstí 12", "Národní třída 15", "ulice Karlova 3"
    r"[A-ZÁČĎÉĚÍŇÓŘŠŤÚŮÝŽ][a-záčďéěíňóřšťúůýž]+[ ](?:náměstí|nám\.|třída|nábřeží|ulice|námestie|ulica)"
    r"[ ]\d{1,4}(?:/\d{1,4})?",
    # Greek: "οδός Ερμού 25", "Λεωφόρος Κηφισίας 120"
    r"(?:[Οο]δός|[Λλ]εωφόρος|[Λλ]εωφ\.|[Ππ]λατεία|[Οο]δ\.)[ ][Α-ΩΆ-Ώ][α-ωά-ώ]+(?:[ ][Α-ΩΆ-Ώ][α-ωά-ώ]+)?[ ]\d{1,4}",
    # Hebrew: "רחוב הרצל 12", "רח' ביאליק 7"; Arabic: "شارع التحرير 15"
    r"(?:רחוב|רח'|שדרות|שד')[ ][\u05d0-\u05ea\"']+(?:[ ][\u05d0-\u05ea\"']+)?[ ]\d{1,4}",
    r"(?:شارع|ش\.|طريق)[ ][\u0600-\u06ff]+(?:[ ][\u0600-\u06ff]+)?[ ]?(?:رقم[ ])?\d{1,4}",
    # Chinese: "北京市朝阳区建国路88号"; Japanese: "東京都千代田区丸の内1-2-3"; Korean: "서울특별시 강남구 테헤란로 123"
    r"[\u4e00-\u9fff]{2,4}[市省][\u4e00-\u9fff]{1,4}[区區县縣][\u4e00-\u9fff]{1,6}[路街道巷][\u4e00-\u9fff\d]{0,6}\d{1,5}号",
    r"[\u4e00-\u9fff]{2,3}[都道府県][\u4e00-\u9fff\u3040-\u30ff]{1,6}[市区町村][\u4e00-\u9fff\u3040-\u30ff]{0,8}\d{1,4}(?:[-−ー丁目番地号]\d{1,4}){1,3}",
    r"[가-힣]{2,6}(?:특별시|광역시|시|도)[ ][가-힣]{1,5}[구군시][ ][가-힣\d]{1,10}(?:로|길)[ ]?\d{1,5}(?:-\d{1,4})?",
)
STREET_WORLD = re.compile("|".join(f"(?:{p})" for p in _STREETS_WORLD))


def street_candidates(text: str) -> list[Cand]:
    return [(m.start(), m.end(), "LOCATION", 0.85) for m in STREET_WORLD.finditer(text)]
