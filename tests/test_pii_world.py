# ruff: noqa: RUF001 - names and places in their own scripts
"""Names, places and phone numbers from outside the English-speaking world: the NER tier's rules
for every script (pii/world_names.py, no model needed) and national phone formats."""

from __future__ import annotations

import pytest

from pii import detect, ner


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
    assert ("742 Evergreen Terrace", "LOCATION") in got
    assert {("Hauptstraße 5", "LOCATION"), ("Berlin", "LOCATION")} <= got


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
