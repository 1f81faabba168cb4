"""The wire's decoders: values typed by the Protocols' hints, and what they refuse."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gridfs.catalog import Replica, ReplicaStatus
from gridfs.service.wire import WireError, decode, encode

REPLICA = Replica(7, "guid-1", "se1", "srm://se1/f", ReplicaStatus.AVAILABLE, 1, 2, None, "tok")


def _wire(**changes: object) -> dict[str, Any]:
    data = orjson.loads(orjson.dumps(encode(REPLICA)))  # as the server sends it
    data.update(changes)
    return data


def test_a_record_comes_back_equal_its_enum_as_the_member() -> None:
    back = decode([_wire()], list[Replica])
    assert back == [REPLICA]
    assert back[0].status is ReplicaStatus.AVAILABLE
    assert decode(_wire(pin_expiry_ns=5, space_token=None), Replica).pin_expiry_ns == 5


@pytest.mark.parametrize(
    "changes",
    [
        {"entry_id": True},  # a bool is no int
        {"entry_id": "7"},
        {"ctime_ns": 1.5},
        {"se": None},
        {"space_token": 3},
        {"status": "lost-in-space"},
        {"status": True},
        {"status": 1},
        {"status": ["available"]},
        {"nonsense": 1},
    ],
)
def test_values_of_the_wrong_type_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(WireError):
        decode(_wire(**changes), Replica)
