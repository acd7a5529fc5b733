"""What produced an output: the installed versions of the packages that decide it (for manifests and model
cards), so a reader can tell whether two outputs are comparable."""
from __future__ import annotations

from importlib import metadata

from corpusforge import __version__


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """{"corpusforge": ..., name: installed version or None} for each distribution name."""
    out: dict[str, str | None] = {"corpusforge": __version__}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
