"""Console output is cut between UTF-8 characters, never inside one (zunclient decodes each
websocket message on its own)."""

from __future__ import annotations

import pytest

from dockyard.api.routes.streams import utf8_cut

TEXT = "a é € 𝄞 z".encode()


@pytest.mark.parametrize("end", range(len(TEXT) + 1))
def test_every_prefix_is_sent_up_to_its_last_whole_character(end: int) -> None:
    chunk = TEXT[:end]
    cut = utf8_cut(chunk)
    assert chunk[:cut].decode() + (chunk[cut:] + TEXT[end:]).decode() == TEXT.decode()
    assert end - cut < 4  # at most the start of one character is held back


def test_bytes_that_are_not_utf8_pass_at_once() -> None:
    assert utf8_cut(b"\x80\x80\x80\x80\x80") == 5
    assert utf8_cut(b"\xff") == 1
    assert utf8_cut(b"") == 0
