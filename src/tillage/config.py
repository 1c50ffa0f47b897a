"""Where a repository is and how it is configured.

A repository is a folder named ``.tillage`` (inside a project) holding
``config.yaml``, ``HEAD`` (the current branch), ``catalog.db`` and ``tables/``.
It is found like git finds its repository: an explicit path, else the
``TILLAGE_REPO`` variable, else the nearest ``.tillage`` at or above the
current directory.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tillage.errors import NotARepositoryError, TillageError

REPO_DIR = ".tillage"
CONFIG_FILE = "config.yaml"
FORMAT_VERSION = 1
ENV_REPO = "TILLAGE_REPO"
ENV_PRINCIPAL = "TILLAGE_PRINCIPAL"


@dataclass(frozen=True)
class RepoConfig:
    """Settings stored in ``.tillage/config.yaml``.

    Attributes:
        catalog_url: SQLAlchemy URL of the catalog; None means ``catalog.db`` inside.
        principal: who commits; None means the TILLAGE_PRINCIPAL variable or the OS user.
        format_version: layout version of the repository folder.
        quality: the monitoring settings (see `tillage.quality.settings`).
    """

    catalog_url: str | None = None
    principal: str | None = None
    format_version: int = FORMAT_VERSION
    quality: dict[str, Any] | None = None

    @classmethod
    def load(cls, repo_dir: Path) -> RepoConfig:
        path = repo_dir / CONFIG_FILE
        try:
            raw: Any = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise TillageError(f"cannot read {path}: {e}. Fix or delete the file.") from e
        if not isinstance(raw, dict):
            raise TillageError(f"{path} must hold a mapping of settings, got {type(raw).__name__}.")
        known = {"catalog_url", "principal", "format_version", "quality"}
        unknown = set(raw) - known
        if unknown:
            raise TillageError(
                f"{path} has unknown settings {sorted(unknown)}; known: {sorted(known)}."
            )
        cfg = cls(**raw)
        if cfg.format_version > FORMAT_VERSION:
            raise TillageError(
                f"{repo_dir} has format version {cfg.format_version}, newer than this tillage "
                f"reads ({FORMAT_VERSION}); upgrade tillage."
            )
        return cfg

    def save(self, repo_dir: Path) -> None:
        data = {k: v for k, v in vars(self).items() if v is not None}
        (repo_dir / CONFIG_FILE).write_text(yaml.safe_dump(data, sort_keys=True))

    def who(self) -> str:
        return self.principal or os.environ.get(ENV_PRINCIPAL) or _os_user()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def repo_dir_of(path: Path) -> Path:
    """The ``.tillage`` folder for ``path``, which may be a project or the folder itself."""
    return path if path.name == REPO_DIR else path / REPO_DIR


def find_repo_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the repository folder: explicit path, TILLAGE_REPO, or upward search."""
    if path is not None:
        d = repo_dir_of(Path(path).expanduser().resolve())
        if not (d / CONFIG_FILE).is_file():
            raise NotARepositoryError(str(path))
        return d
    env = os.environ.get(ENV_REPO)
    if env:
        return find_repo_dir(env)
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        if (d / REPO_DIR / CONFIG_FILE).is_file():
            return d / REPO_DIR
    raise NotARepositoryError(str(here))
