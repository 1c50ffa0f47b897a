"""Label taxonomies: reviewable files of classes, with versions and maps between them.

A taxonomy lives in the project as ``taxonomies/NAME.yaml``::

    name: source
    versions:
      - version: 1
        classes:
          android: Tweeted from an Android phone
          iphone: Tweeted from an iPhone
      - version: 2
        classes:
          android: Tweeted from an Android phone
          apple: Tweeted from an iPhone or an iPad
          web: Tweeted from a browser
        map:                  # how version 1's labels carry over to version 2
          android: android    # kept
          iphone: apple       # renamed (two old classes on one new one would merge)
        # web is new: nothing maps to it. A class may also split, `old: [a, b]`
        # (its labels must be redone), or go, `old: null` (its labels are dropped).

Every class of the earlier version must appear in the map: a class left out is
an error, so a taxonomy change never silently loses labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tillage.errors import InputError, NoSuchTaxonomyError

Target = str | tuple[str, ...] | None
"""Where an old class goes: one new class, a split into several, or nowhere."""


@dataclass(frozen=True)
class TaxonomyVersion:
    version: int
    classes: dict[str, str]  # class -> description
    map: dict[str, Target] = field(default_factory=dict)  # from the previous version


@dataclass(frozen=True)
class Carried:
    """Labels carried from one taxonomy version to another.

    ``labels[i]`` is the new label (None where it could not be carried);
    ``relabel`` lists the positions whose class was split or removed, which a
    person (or a labeling function) must label again.
    """

    labels: list[str | None]
    relabel: list[int]
    reasons: dict[int, str]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    versions: tuple[TaxonomyVersion, ...]
    source: str = ""

    @property
    def latest(self) -> TaxonomyVersion:
        return self.versions[-1]

    def version(self, number: int | None = None) -> TaxonomyVersion:
        """Version ``number`` (default: the latest)."""
        if number is None:
            return self.latest
        for v in self.versions:
            if v.version == number:
                return v
        have = ", ".join(str(v.version) for v in self.versions)
        raise InputError(
            f"taxonomy {self.name!r} has no version {number} (versions: {have}); "
            f"add it to {self.source or 'the taxonomy file'}."
        )

    def check_label(self, label: str, version: int | None = None) -> None:
        v = self.version(version)
        if label not in v.classes:
            raise InputError(
                f"{label!r} is not a class of taxonomy {self.name!r} version {v.version} "
                f"(classes: {', '.join(v.classes)})."
            )

    def carry(self, labels: Sequence[str | None], start: int, end: int | None = None) -> Carried:
        """Carry ``labels`` of version ``start`` forward to version ``end`` (default latest)."""
        stop = self.version(end).version
        if stop < start:
            raise InputError(f"cannot carry labels back from version {start} to {stop}.")
        current: list[str | None] = list(labels)
        relabel: set[int] = set()
        reasons: dict[int, str] = {}
        for v in self.versions:
            if v.version <= start or v.version > stop:
                continue
            for i, label in enumerate(current):
                if label is None:
                    continue
                target = v.map.get(label, label) if v.map else label
                if isinstance(target, tuple):
                    current[i] = None
                    relabel.add(i)
                    reasons[i] = (
                        f"{label!r} was split into {', '.join(target)} in version {v.version}"
                    )
                elif target is None:
                    current[i] = None
                    relabel.add(i)
                    reasons[i] = f"{label!r} was removed in version {v.version}"
                else:
                    current[i] = target
        return Carried(current, sorted(relabel), reasons)

    def carries_cleanly(self, label: str, start: int, end: int | None = None) -> bool:
        """Whether a ``label`` of version ``start`` means one class in version ``end``."""
        return self.carry([label], start, end).labels[0] is not None

    @staticmethod
    def load(path: str | Path) -> Taxonomy:
        p = Path(path)
        try:
            raw = yaml.safe_load(p.read_text())
        except FileNotFoundError:
            raise NoSuchTaxonomyError(str(p)) from None
        except yaml.YAMLError as e:
            raise InputError(f"taxonomy file {str(p)!r} is not valid YAML: {e}") from None
        return Taxonomy.from_dict(raw, source=str(p))

    @staticmethod
    def from_dict(raw: Any, *, source: str = "") -> Taxonomy:
        where = f"taxonomy file {source!r}" if source else "the taxonomy"
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("versions"), list)
            or not raw["versions"]
        ):
            raise InputError(f"{where} needs a name and a non-empty list of versions.")
        name = str(raw.get("name") or Path(source).stem)
        versions: list[TaxonomyVersion] = []
        for i, entry in enumerate(raw["versions"]):
            if not isinstance(entry, dict) or not isinstance(entry.get("classes"), dict):
                raise InputError(f"{where}: version #{i + 1} needs a mapping of classes.")
            number = entry.get("version", i + 1)
            if not isinstance(number, int) or (versions and number <= versions[-1].version):
                raise InputError(f"{where}: versions must be increasing whole numbers.")
            classes = {str(k): str(v or "") for k, v in entry["classes"].items()}
            mapping = _parse_map(
                entry.get("map"), versions[-1] if versions else None, classes, where, number
            )
            versions.append(TaxonomyVersion(number, classes, mapping))
        return Taxonomy(name, tuple(versions), source)


def _parse_map(
    raw: Any, previous: TaxonomyVersion | None, classes: dict[str, str], where: str, number: int
) -> dict[str, Target]:
    if previous is None:
        if raw:
            raise InputError(f"{where}: the first version has nothing to map from; remove its map.")
        return {}
    if raw is None:
        raw = {c: c for c in previous.classes if c in classes}
    if not isinstance(raw, dict):
        raise InputError(f"{where}: the map of version {number} must be a mapping old: new.")
    unmapped = [c for c in previous.classes if c not in raw]
    if unmapped:
        raise InputError(
            f"{where}: the map of version {number} leaves class(es) {', '.join(unmapped)} of "
            f"version {previous.version} unmapped; map each to a class, a list (split) or null "
            "(removed)."
        )
    unknown_old = [c for c in raw if c not in previous.classes]
    if unknown_old:
        raise InputError(
            f"{where}: the map of version {number} names {', '.join(map(str, unknown_old))}, "
            f"not classes of version {previous.version}."
        )
    out: dict[str, Target] = {}
    for old, new in raw.items():
        targets = [new] if isinstance(new, str) else list(new) if isinstance(new, list) else []
        bad = [t for t in targets if t not in classes]
        if bad:
            raise InputError(
                f"{where}: version {number} maps {old!r} to {', '.join(map(str, bad))}, "
                f"not classes of version {number} ({', '.join(classes)})."
            )
        out[str(old)] = None if new is None else new if isinstance(new, str) else tuple(new)
    return out
