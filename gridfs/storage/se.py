"""Storage elements: what each SE is, and the registry that names them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gridfs.errors import UnknownSE

__all__ = ["SERegistry", "StorageElement"]


@dataclass(frozen=True)
class StorageElement:
    """One storage element.

    ``surl_prefix`` names the SE's storage area independently of any access
    protocol (``srm://se-a.site-a/grid``); ``protocols`` maps each access
    protocol (a URL scheme) to the TURL prefix that reaches the same area.
    A nearline SE also has a ``tape`` area (a ``file://`` URL): every replica
    lives there, and the disk area only holds the ones staged (recalled) for
    reading, which takes ``stage_delay_s``. ``space_tokens`` name the SE's
    reserved spaces and their quotas in bytes; ``region`` (a country, say)
    groups sites for replica choice. With ``third_party`` its servers pull
    replicas from other servers of their protocol (XRootD TPC, configured for it):
    a copy from such a source to this SE moves no byte through the client.
    """

    name: str
    site: str
    surl_prefix: str
    protocols: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    readable: bool = True
    writable: bool = True
    tape: str | None = None
    stage_delay_s: float = 0.0
    region: str | None = None
    space_tokens: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    third_party: bool = False

    @property
    def nearline(self) -> bool:
        """True for a tape-backed SE."""
        return self.tape is not None

    def owns(self, surl: str) -> bool:
        """True if ``surl`` lies inside this SE's storage area."""
        return surl.startswith(self.surl_prefix.rstrip("/") + "/")


class SERegistry:
    """The configured storage elements, by name. Immutable and thread-safe."""

    def __init__(self, ses: Iterable[StorageElement] = ()) -> None:
        self._by_name: dict[str, StorageElement] = {}
        for se in ses:
            if se.name in self._by_name:
                raise ValueError(f"storage element {se.name!r} is defined twice")
            self._by_name[se.name] = se

    def get(self, name: str) -> StorageElement:
        """The SE called ``name``; :class:`UnknownSE` if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none configured"
            raise UnknownSE(f"unknown storage element {name!r} (known: {known})", name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[StorageElement]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
