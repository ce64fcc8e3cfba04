"""The engine's framing of a TTY-less attach or exec stream, undone (pure)."""

from __future__ import annotations

from dockyard.runtime.terminals import frames


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_complete_frames_give_their_payloads_and_a_partial_one_waits() -> None:
    data = _frame(1, b"out") + _frame(2, b"err") + _frame(1, b"later")
    buffer = bytearray(data[:-3])
    assert list(frames(buffer)) == [b"out", b"err"]
    assert list(frames(buffer)) == []  # the third is not whole yet
    buffer += data[-3:]
    assert list(frames(buffer)) == [b"later"]
    assert buffer == bytearray()


def test_an_empty_frame_is_an_empty_payload() -> None:
    buffer = bytearray(_frame(1, b"") + _frame(1, b"x")[:5])
    assert list(frames(buffer)) == [b""]
    assert len(buffer) == 5
