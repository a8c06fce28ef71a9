"""pii/structure.py and both tiers reading structure through it: quote-aware tables, column headers
that say what a cell is, JSON `\\uXXXX` escapes decoded for detection with spans mapped back."""

from __future__ import annotations

from pii import detect, ner
from pii.structure import Decoded, column_header, split_cells


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.type) for s in detect(text)]


def test_quoted_cells_may_hold_the_delimiter() -> None:
    line = 'a,"Doe, Jane","say ""hi"", twice",d'
    assert [line[s:e] for s, e in split_cells(line, 0, len(line), ",")] == [
        "a",
        '"Doe, Jane"',
        '"say ""hi"", twice"',
        "d",
    ]


def test_a_quoted_comma_does_not_shift_the_columns() -> None:
    # A quoted cell with a comma before the date: the date of birth is masked, created_at is not.
    text = (
        "id,name,birth_date,created_at\n"
        '1,"Doe, Jane",1985-03-14,2024-01-02\n'
        '2,"Roe, Richard ""Rick""",1979-11-02,2024-02-03\n'
    )
    assert found(text) == [("1985-03-14", "DATE_OF_BIRTH"), ("1979-11-02", "DATE_OF_BIRTH")]
    assert column_header(text, text.index("2024-01-02")) == "created_at"


def test_unicode_escapes_are_detected_and_mapped_back_onto_the_escapes() -> None:
    text = r'{"note": "Jos\u00e9 (DOB: 1985-03-14) writes from jose\u0040example.com \ud83d\ude00 \ud800"}'
    assert found(text) == [("1985-03-14", "DATE_OF_BIRTH"), (r"jose\u0040example.com", "EMAIL")]
    d = Decoded(text)
    assert "José" in d.text and "\U0001f600" in d.text and r"\ud800" in d.text  # a lone surrogate stays
    s = d.text.index("\U0001f600")
    assert text[slice(*d.span(s, s + 1))] == r"\ud83d\ude00"


def test_column_headers_classify_cells_for_the_ner_rules() -> None:
    text = (
        "id,customer_name,vendor_name,ship_to_city\n"
        '1,"Doe, Jane","Acme Widgets, Inc.",Zürich\n'
        "2,Søren Kierkegaard,Globex GmbH,København\n"
    )
    got = {(text[s:e], t) for s, e, t, _ in ner.rule_candidates(text, [])}
    assert {
        ("Doe, Jane", "PERSON"),
        ("Acme Widgets, Inc.", "ORGANIZATION"),
        ("Zürich", "LOCATION"),
        ("Søren Kierkegaard", "PERSON"),
        ("Globex GmbH", "ORGANIZATION"),
        ("København", "LOCATION"),
    } <= got


def test_sql_rows_respect_quotes_doubled_quotes_and_inner_calls() -> None:
    from pii import structure as st

    text = "INSERT INTO t (name, note, created) VALUES ('O''Brien, Pat', 'a (b), c', NOW()), ('Roe', 'x', NOW());"
    m = st.SQL_INSERT.search(text)
    assert m is not None and st.sql_columns(m) == ["name", "note", "created"]
    rows = [[text[s:e].strip() for s, e in cells] for cells in st.sql_rows(text, m.end(), 10)]
    assert rows == [["'O''Brien, Pat'", "'a (b), c'", "NOW()"], ["'Roe'", "'x'", "NOW()"]]
    # the pattern tier's column lookup reads the same rows
    assert st.column_header(text, text.index("Roe")) == "name"
    assert st.column_header(text, text.index("a (b)")) == "note"


def test_tables_read_quoted_cells_and_markdown_rows() -> None:
    from pii import structure as st

    text = 'id,name,city\n1,"Doe, Jane",Paris\n2,Roe,Rome\n\n| a | b |\n|---|---|\n| x | y |\nafter'
    found = [
        ([text[s:e].strip() for s, e in t.header], [[text[s:e].strip() for s, e in r] for r in t.rows])
        for t in st.tables(text, 100)
    ]
    assert found == [
        (["id", "name", "city"], [["1", '"Doe, Jane"', "Paris"], ["2", "Roe", "Rome"]]),
        (["a", "b"], [["x", "y"]]),
    ]
