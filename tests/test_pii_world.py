# ruff: noqa: RUF001 - names and places in their own scripts
"""Names, places and phone numbers from outside the English-speaking world: the NER tier's rules
for every script (pii/world_names.py, no model needed) and national phone formats."""

from __future__ import annotations

import pytest

from pii import detect, ner
from pii.ner import rules as ner_rules


def rules(text: str) -> set[tuple[str, str]]:
    return {(text[s:e], t) for s, e, t, _ in ner.rule_candidates(text, [])}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Меня зовут Иван Петров, живу в Москве.", {("Иван Петров", "PERSON"), ("Москве", "LOCATION")}),
        ("שמי דוד כהן ואני גר בחיפה", {("דוד כהן", "PERSON"), ("בחיפה", "LOCATION")}),
        ("اسمي محمد علي من القاهرة", {("محمد علي", "PERSON"), ("القاهرة", "LOCATION")}),
        ("我叫张伟，住在北京。", {("张伟", "PERSON"), ("北京", "LOCATION")}),
        ("제 이름은 김민준입니다. 서울에 살아요.", {("김민준", "PERSON"), ("서울", "LOCATION")}),
        ("Με λένε Ελένη Παπαδοπούλου, μένω στην Αθήνα", {("Ελένη Παπαδοπούλου", "PERSON"), ("Αθήνα", "LOCATION")}),
        ("Pani Zofia Wójcik z Krakowa", {("Zofia Wójcik", "PERSON"), ("Krakowa", "LOCATION")}),
        ("Sayın Ayşe Yılmaz, İstanbul", {("Ayşe Yılmaz", "PERSON"), ("İstanbul", "LOCATION")}),
        ("Jmenuji se Jiří Novák a bydlím v Praze", {("Jiří Novák", "PERSON"), ("Praze", "LOCATION")}),
    ],
)
def test_names_and_places_in_every_script(text: str, want: set[tuple[str, str]]) -> None:
    assert want <= rules(text)


@pytest.mark.parametrize("text", ["The Pan Am flight was late", "Dr. Who is a show", "Bay Area traffic"])
def test_forms_of_address_need_a_full_name(text: str) -> None:
    assert not {t for _, t in rules(text)} & {"PERSON"}


def test_street_addresses_are_locations() -> None:
    got = rules("Ship to 742 Evergreen Terrace, Springfield. Rechnung an Hauptstraße 5, 10115 Berlin.")
    # the street line takes its town and postal code with it
    assert ("742 Evergreen Terrace, Springfield", "LOCATION") in got
    assert ("Hauptstraße 5, 10115 Berlin", "LOCATION") in got


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (
            "Please ship the order to 1600 Pennsylvania Ave NW, Washington, DC 20500 by Friday.",
            "1600 Pennsylvania Ave NW, Washington, DC 20500",
        ),
        (
            "Flat 4B, 221B Baker Street, London NW1 6XE, United Kingdom",
            "221B Baker Street, London NW1 6XE, United Kingdom",
        ),
        ("Send it to Klaus, Friedrichstraße 43, 10117 Berlin.", "Friedrichstraße 43, 10117 Berlin"),
    ],
)
def test_a_whole_address_is_one_location_over_the_places_in_it(text: str, address: str) -> None:
    assert (address, "LOCATION") in resolved(text)


def test_a_name_with_a_middle_initial() -> None:
    assert ("John A. Smith", "PERSON") in resolved("The patient, John A. Smith, was seen on Monday.")


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Ruf mich an: 0171/48551228", "0171/48551228"),
        ("Büro: 030/12345678, bitte nach 9 Uhr", "030/12345678"),
        ("Appelez le 01.90.06.44.98 demain", "01.90.06.44.98"),
        ("reach me on 06 12 34 56 78", "06 12 34 56 78"),
    ],
)
def test_national_phone_formats(text: str, phone: str) -> None:
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(phone, "PHONE")]


@pytest.mark.parametrize("addr", ["2001:db8::1", "fe80::1ff:fe23:4567:890a", "2a00:1450:4001:80b::200e"])
def test_compressed_ipv6(addr: str) -> None:
    text = f"the client connected from {addr} twice"
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(addr, "IP_ADDRESS")]


def resolved(text: str) -> set[tuple[str, str]]:
    return {(text[s:e], t) for s, e, t in ner.resolve(ner.rule_candidates(text, []), ner.NER_TYPES)}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Η Ελένη μένει στην Αθήνα.", "Ελένη"),
        ("Вчера Анна Смирнова прислала отчёт.", "Анна Смирнова"),
        ("Петров Иван подписал договор.", "Петров Иван"),
        ("Передайте документы Ивану.", "Ивану"),
        ("Zofia Wójcik wysłała fakturę.", "Zofia Wójcik"),
        ("Ayşe Yılmaz toplantıya katılacak.", "Ayşe Yılmaz"),
        ("שרה לוי שלחה את הקובץ", "שרה לוי"),
        ("أرسلت فاطمة حسن التقرير", "فاطمة حسن"),
        ("王芳明天去北京开会。", "王芳"),
        ("请联系王芳先生。", "王芳"),
        ("田中さんに連絡してください。", "田中"),
        ("高橋太郎が報告書を書きました。", "高橋太郎"),
        ("佐藤は明日来ます。", "佐藤"),
        ("김민준은 내일 서울에 갑니다.", "김민준"),
        ("박지훈 님께 전달해 주세요.", "박지훈"),
        ("请联系王小明处理这个问题。", "王小明"),  # given-name characters outside the list, between cues
        ("客户陈志强反馈说系统很慢", "陈志强"),
        ("The ticket was filed by 王小明 yesterday.", "王小明"),
        ("Contact Nguyễn Văn An for details.", "Nguyễn Văn An"),
        ("Trần Hưng đã gửi báo cáo.", "Trần Hưng"),
    ],
)
def test_names_without_a_cue(text: str, name: str) -> None:
    assert (name, "PERSON") in resolved(text)


@pytest.mark.parametrize(
    "text",
    [
        "我们需要提高程序的安全性和稳定性。",
        "原因を調べています。",
        "이미지를 업로드하고 정보를 확인하세요.",
        "Сегодня хорошая погода, и мы пойдём гулять.",
        "Η συνάντηση θα γίνει αύριο στο γραφείο.",
        "الاجتماع غدا في المكتب مع الفريق",
        "הפגישה מחר במשרד עם הצוות",
        "Spotkanie odbędzie się jutro rano w biurze.",
        "许多用户反馈说系统很慢，周末我们去开会。",
        "The word 许多 means many.",
        "Cuộc họp sẽ diễn ra vào sáng mai tại văn phòng.",
        "The Lê river floods in spring.",
    ],
)
def test_prose_without_names_stays(text: str) -> None:
    assert resolved(text) == set()


@pytest.mark.parametrize(
    ("text", "street"),
    [
        ("Адрес: г. Москва, ул. Ленина, д. 5, кв. 12", "ул. Ленина, д. 5, кв. 12"),
        ("Kargo Bağdat Caddesi No:120 adresine gelecek.", "Bağdat Caddesi No:120"),
        ("Sídlo: Václavské náměstí 12, Praha", "Václavské náměstí 12"),
        ("אני גר ברחוב הרצל 12", "רחוב הרצל 12"),
        ("العنوان: شارع التحرير 15", "شارع التحرير 15"),
        ("地址：北京市朝阳区建国路88号", "北京市朝阳区建国路88号"),
        ("住所は東京都千代田区丸の内1-2-3です", "東京都千代田区丸の内1-2-3"),
        ("주소: 서울특별시 강남구 테헤란로 123", "서울특별시 강남구 테헤란로 123"),
        ("Mieszkam przy ul. Marszałkowska 10 w Warszawie.", "ul. Marszałkowska 10"),
    ],
)
def test_street_addresses_in_other_formats(text: str, street: str) -> None:
    # covered by one LOCATION span ("Kargo Bağdat Caddesi …" may take the word before the street)
    assert any(street in value and t == "LOCATION" for value, t in resolved(text)), resolved(text)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("Llámame al 612 34 56 78 por la tarde.", "612 34 56 78"),
        ("Bel me op 06-12345678.", "06-12345678"),
        ("Zadzwoń pod numer 512 345 678.", "512 345 678"),
        ("Позвоните мне: 8 912 345-67-89.", "8 912 345-67-89"),
        ("我的电话是 138 1234 5678。", "138 1234 5678"),
        ("我的电话是13812345678，谢谢", "13812345678"),  # glued to the Han text
        ("전화 010-1234-5678 로 연락 주세요.", "010-1234-5678"),
    ],
)
def test_national_phone_formats_with_labels_in_their_language(text: str, phone: str) -> None:
    assert [(text[s.start : s.end], s.type) for s in detect(text)] == [(phone, "PHONE")]


@pytest.mark.parametrize("text", ["צריך לעדכן את המערכת לפני", "الاجتماع غدا صباحا في", "내일 오전에 시작합니다"])
def test_the_english_models_guesses_at_uncased_scripts_are_dropped(text: str) -> None:
    assert ner_rules.score_model_entity(text, 0, len(text), "PERSON") is None


def test_a_lone_given_name_yields_to_the_labelled_cell_it_sits_in() -> None:
    text = 'id,name,birth_date\n1,"Roe, Søren",1990-11-02\n2,"Doe, Jane",1980-01-02\n'
    assert ("Roe, Søren", "PERSON") in resolved(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("git commit --author='Jane Roe <jane.roe@example.net>'", "Jane Roe"),
        ("Co-authored-by: Priya Raghunathan <priya@example.com>", "Priya Raghunathan"),
        ('From: "Roe, Jane" <jane@example.net>', "Roe, Jane"),
    ],
)
def test_a_mailbox_display_name_is_a_person(text: str, name: str) -> None:
    assert (name, "PERSON") in resolved(text)


@pytest.mark.parametrize("text", ["Reply to Support Team <support@acme.com>", "Contact GitHub <noreply@github.com>"])
def test_a_mailbox_named_for_a_team_or_product_is_no_person(text: str) -> None:
    assert not [t for t in resolved(text) if t[1] == "PERSON"]


@pytest.mark.parametrize(
    ("text", "entity", "name"),
    [
        ("Customer Derek Taylor reported it", "Customer Derek Taylor", "Derek Taylor"),
        ("Driver Kevin O'Neill, license D1234567", "Driver Kevin O'Neill", "Kevin O'Neill"),
        ("Ask Zhang Wei about the report", "Ask Zhang Wei", "Zhang Wei"),
    ],
)
def test_a_model_person_loses_the_word_that_points_at_it(text: str, entity: str, name: str) -> None:
    s = text.index(entity)
    cand = ner_rules.score_model_entity(text, s, s + len(entity), "PERSON")
    assert cand is not None and text[cand[0] : cand[1]] == name and cand[2] == "PERSON"


@pytest.mark.parametrize(
    ("text", "entity", "kind"),
    [
        ("Hi team, Olusegun Adeyemi from Lagos will join the call.", "Olusegun Adeyemi", "PERSON"),
        ("Book flights to San Francisco from Boston.", "San Francisco", "LOCATION"),
    ],
)
def test_a_model_place_coming_from_a_place_is_a_person(text: str, entity: str, kind: str) -> None:
    s = text.index(entity)
    cand = ner_rules.score_model_entity(text, s, s + len(entity), "LOCATION")
    assert cand is not None and (text[cand[0] : cand[1]], cand[2]) == (entity, kind)


@pytest.mark.parametrize(
    "text",
    [
        "客户余额已不足", "用户钱包的余额为零", "通知周一的会议取消", "用户许可是必需的", "用户马上就会收到",
        "shipping to 石家庄 today", "Welcome to 江西省.", "The term 黄金周 (golden week)", "Arial 宋体字 fallback",
        "Hồ Sơ Cá Nhân", "Lý Do Từ Chối", "Võ Thuật Cổ Truyền", "Du lịch Hồ, Minh Anh đi",
    ],
)  # fmt: skip
def test_words_that_start_like_a_name_stay(text: str) -> None:
    assert [t for t in resolved(text) if t[1] == "PERSON"] == []
