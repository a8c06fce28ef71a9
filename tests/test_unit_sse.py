"""gateway.sse.SSEParser: bytes in, whole events out, however the bytes are split."""

from __future__ import annotations

import pytest

from gateway.sse import SSEError, SSEParser, encode_event


@pytest.fixture(autouse=True)
def _clear_upstream() -> None:
    """Unit tests need no loopback upstream: override conftest's autouse fixture of this name."""


def feed_all(parser: SSEParser, chunks: list[bytes]) -> list[tuple[bytes, bytes | None]]:
    return [(ev.raw, ev.data) for chunk in chunks for ev in parser.feed(chunk)]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


STREAM = (
    b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b": keep-alive\n\n"
    b'data: {"choices":[{"delta":{"content":"lo \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}}]}\n\n'
    b"data: [DONE]\n\n"
)


def test_one_feed_yields_every_complete_event():
    events = feed_all(SSEParser(), [STREAM])
    assert [data for _, data in events] == [
        b'{"choices":[{"delta":{"content":"Hel"}}]}',
        None,
        '{"choices":[{"delta":{"content":"lo é€😀"}}]}'.encode(),
        b"[DONE]",
    ]


@pytest.mark.parametrize("split", range(1, len(STREAM)))
def test_a_split_at_any_byte_gives_the_same_events(split: int):
    whole = feed_all(SSEParser(), [STREAM])
    assert feed_all(SSEParser(), [STREAM[:split], STREAM[split:]]) == whole


def test_byte_by_byte_gives_the_same_events():
    assert feed_all(SSEParser(), bytewise(STREAM)) == feed_all(SSEParser(), [STREAM])


def test_multibyte_utf8_split_across_feeds_comes_out_whole():
    parser = SSEParser()
    euro = "€".encode()  # three bytes
    assert parser.feed(b"data: " + euro[:1]) == []
    assert parser.feed(euro[1:2]) == []
    [event] = parser.feed(euro[2:] + b"\n\n")
    assert event.data is not None and event.data.decode("utf-8") == "€"


def test_event_raw_is_the_event_as_received_with_its_blank_line():
    [event] = SSEParser().feed(b"event: message\ndata: x\n\n")
    assert event.raw == b"event: message\ndata: x\n\n"
    assert event.data == b"x"


def test_data_without_space_after_colon_is_taken_as_is():
    [event] = SSEParser().feed(b"data:x\n\n")
    assert event.data == b"x"


def test_only_one_leading_space_is_removed_from_data():
    [event] = SSEParser().feed(b"data:  two spaces\n\n")
    assert event.data == b" two spaces"


def test_multi_line_data_is_joined_with_newlines():
    [event] = SSEParser().feed(b"data: first\ndata: second\ndata: third\n\n")
    assert event.data == b"first\nsecond\nthird"


def test_comment_only_event_has_no_data_but_keeps_its_bytes():
    [event] = SSEParser().feed(b": ping\n\n")
    assert event.data is None
    assert event.raw == b": ping\n\n"


def test_comment_lines_inside_an_event_do_not_become_data():
    [event] = SSEParser().feed(b": note\ndata: x\n: another\n\n")
    assert event.data == b"x"


def test_done_sentinel_is_ordinary_data():
    [event] = SSEParser().feed(b"data: [DONE]\n\n")
    assert event.data == b"[DONE]"


def test_crlf_line_endings_are_normalized():
    [event] = SSEParser().feed(b"data: a\r\ndata: b\r\n\r\n")
    assert event.data == b"a\nb"
    assert event.raw == b"data: a\ndata: b\n\n"


def test_lone_cr_line_endings_are_normalized():
    [event] = SSEParser().feed(b"data: a\rdata: b\r\rdata: c\r")
    assert event.data == b"a\nb"
    assert event.raw == b"data: a\ndata: b\n\n"


def test_crlf_split_between_feeds_is_one_line_ending_not_two():
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"\ndata: b\r") == []  # a CRLF split in two must not end the event
    [event] = parser.feed(b"\n\r\n")
    assert event.data == b"a\nb"


def test_lone_cr_at_a_feed_boundary_followed_by_other_bytes_is_a_line_ending():
    parser = SSEParser()
    assert parser.feed(b"data: a\r") == []
    assert parser.feed(b"data: b\r") == []
    [event] = parser.feed(b"\r\n")  # lone CR ends "data: b"; the CRLF is the blank line
    assert event.data == b"a\nb"


def test_crlf_stream_byte_by_byte_matches_lf_stream():
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert feed_all(SSEParser(), bytewise(crlf)) == feed_all(SSEParser(), [STREAM])


def test_cr_stream_byte_by_byte_yields_every_event_before_the_last():
    cr = STREAM.replace(b"\n", b"\r")
    got = feed_all(SSEParser(), bytewise(cr))
    expected = feed_all(SSEParser(), [STREAM])
    assert got == expected[: len(got)]
    assert len(got) >= len(expected) - 1


def test_event_ended_by_lone_crs_is_delivered_without_waiting_for_more_bytes():
    [event] = SSEParser().feed(b"data: [DONE]\r\r")
    assert event.data == b"[DONE]"


def test_pending_is_false_on_a_fresh_parser():
    assert SSEParser().pending() is False


def test_pending_is_true_inside_an_event():
    parser = SSEParser()
    parser.feed(b'data: {"partial')
    assert parser.pending() is True


def test_pending_is_false_after_a_complete_event():
    parser = SSEParser()
    parser.feed(b"data: x\n\n")
    assert parser.pending() is False


def test_pending_is_false_with_only_stray_line_endings_left():
    parser = SSEParser()
    parser.feed(b"data: x\n\n\n")
    assert parser.pending() is False


def test_an_unterminated_event_over_the_limit_raises():
    parser = SSEParser(max_event_bytes=16)
    with pytest.raises(SSEError, match="larger than 16 bytes"):
        parser.feed(b"data: " + b"x" * 20)


def test_an_event_growing_over_the_limit_across_feeds_raises():
    parser = SSEParser(max_event_bytes=16)
    parser.feed(b"data: 0123456789")  # exactly 16 bytes: still allowed
    with pytest.raises(SSEError):
        parser.feed(b"x")


def test_a_partial_event_at_the_limit_is_allowed():
    parser = SSEParser(max_event_bytes=16)
    assert parser.feed(b"data: 0123456789") == []
    [event] = parser.feed(b"\n\n")
    assert event.data == b"0123456789"


def test_encode_event_frames_data_as_one_event():
    assert encode_event(b'{"a":1}') == b'data: {"a":1}\n\n'
    [event] = SSEParser().feed(encode_event(b"[DONE]"))
    assert event.data == b"[DONE]"
