"""`DropCounter`: how many records hygiene dropped, by reason."""

from __future__ import annotations


class DropCounter:
    """Counts of dropped records by reason: ``counter.drop("contaminated")``."""

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self._counts: dict[str, int] = dict(counts or {})

    def drop(self, reason: str, count: int = 1) -> None:
        """Count `count` records dropped for `reason`."""
        self._counts[reason] = self._counts.get(reason, 0) + count

    def merge(self, other: DropCounter) -> DropCounter:
        """Add `other`'s counts into this counter (e.g. another worker's); returns self."""
        for reason, count in other._counts.items():
            self.drop(reason, count)
        return self

    def as_dict(self) -> dict[str, int]:
        """The counts, reasons in alphabetical order (stable in JSON reports)."""
        return dict(sorted(self._counts.items()))

    def total(self) -> int:
        """All dropped records, whatever the reason."""
        return sum(self._counts.values())

    def __getitem__(self, reason: str) -> int:
        return self._counts.get(reason, 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DropCounter) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"DropCounter({self.as_dict()})"
