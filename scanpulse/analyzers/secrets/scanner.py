"""detect-secrets' file scan, with its plugins, filters and transformers exactly as its command
line sets them up, run only on the lines the probes keep.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Iterator
from typing import cast

from detect_secrets.core import scan as ds_scan
from detect_secrets.core.potential_secret import PotentialSecret
from detect_secrets.core.usage import ParserBuilder
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.settings import get_plugins
from detect_secrets.transformers import get_transformed_file, get_transformers
from detect_secrets.transformers.base import BaseTransformer
from detect_secrets.transformers.exceptions import ParsingError
from detect_secrets.transformers.yaml import YAMLTransformer
from detect_secrets.types import NamedIO
from detect_secrets.util.code_snippet import get_code_snippet

from .probes import CandidateLines, plugin_probes
from .yaml_aliases import TOO_DEEP, yaml_refusal

# The command line this analyzer is equivalent to. Verification is off because it sends the
# secrets to third-party services; the file-existence filter is off because files are read by
# repository-relative name from outside the checkout (discovery already kept regular files only).
_DETECT_SECRETS_ARGS = (
    "scan",
    "--all-files",
    "--no-verify",
    "--disable-filter",
    "detect_secrets.filters.common.is_invalid_file",
)


class _NamedText(io.StringIO):
    """An in-memory file with the ``name`` detect-secrets' transformers look at."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name


def _transformed(handle: NamedIO, *, eager: bool, parse_yaml: bool) -> list[str] | None:
    if parse_yaml:
        return get_transformed_file(handle, use_eager_transformers=eager)
    # As detect_secrets.transformers.get_transformed_file, with the YAML transformer left out:
    # the file is read as if it did not parse as YAML.
    transformers: Iterable[BaseTransformer] = get_transformers()
    for transformer in transformers:
        if isinstance(transformer, YAMLTransformer) or eager != transformer.is_eager:
            continue
        if not transformer.should_parse_file(handle.name):
            continue
        try:
            return transformer.parse_file(handle)
        except ParsingError:
            pass
        finally:
            handle.seek(0)
    return None


@functools.cache
def _configure_detect_secrets() -> None:
    """Set detect-secrets' global settings exactly as its command line does, once per process."""
    ParserBuilder().add_console_use_arguments().parse_args(list(_DETECT_SECRETS_ARGS))


class SecretScanner:
    """detect-secrets' ``scan_file`` with the same plugins, filters and transformers, skipping
    lines (and plugins on a line) that the probes prove cannot produce a secret."""

    def __init__(self) -> None:
        _configure_detect_secrets()
        self.plugins: list[BasePlugin] = list(get_plugins())
        self.probes = [plugin_probes(plugin) for plugin in self.plugins]

    def scan(self, filename: str, text: str, *, parse_yaml: bool = True) -> list[PotentialSecret]:
        """The secrets in ``text`` (of repository-relative ``filename``) in detect-secrets'
        order, one per (type, secret) as in its baseline.

        ``parse_yaml=False`` reads a YAML file as detect-secrets reads one it cannot parse:
        line by line."""
        if ds_scan._is_filtered_out(required_filter_parameters=["filename"], filename=filename):
            return []
        found: dict[PotentialSecret, None] = {}
        for lines in self._line_sets(filename, text, parse_yaml=parse_yaml):
            for secret in self._scan_lines(filename, lines):
                found.setdefault(secret)
            if found:
                break
        return list(found)

    def scan_guarded(self, filename: str, text: str) -> tuple[list[PotentialSecret], str | None]:
        """``scan``, never expanding a YAML document whose aliases would explode ("billion
        laughs") or recurse too deeply: such a file is read line by line instead, and the reason
        is returned with the secrets (None when the file was read as detect-secrets reads it).
        Every caller outside the analyzer's isolated child (code excerpts) must use this."""
        refusal = yaml_refusal(filename, text)
        try:
            return self.scan(filename, text, parse_yaml=refusal is None), refusal
        except RecursionError:  # its YAML parser recursed too deeply: read it as unparsable
            return self.scan(filename, text, parse_yaml=False), TOO_DEEP

    @staticmethod
    def _line_sets(filename: str, text: str, *, parse_yaml: bool) -> Iterator[list[str]]:
        # As detect_secrets.core.scan._get_lines_from_file, minus the file opening.
        handle = cast(NamedIO, _NamedText(text.replace("\r\n", "\n").replace("\r", "\n"), filename))
        yield _transformed(handle, eager=False, parse_yaml=parse_yaml) or handle.readlines()
        handle.seek(0)
        eager = _transformed(handle, eager=True, parse_yaml=parse_yaml)
        if eager:
            yield eager

    def _scan_lines(self, filename: str, lines: list[str]) -> Iterator[PotentialSecret]:
        # As detect_secrets.core.scan._process_line_based_plugins, on the candidate lines only.
        searchable = CandidateLines(lines)
        candidates: dict[int, list[int]] = {}
        for plugin_index, probes in enumerate(self.probes):
            hits: set[int] = set()
            for probe in probes:
                hits.update(searchable.probe_lines(probe))
            for line_index in hits:
                candidates.setdefault(line_index, []).append(plugin_index)
        for line_index in sorted(candidates):
            line_number = line_index + 1
            line = searchable.stripped[line_index]
            context = get_code_snippet(lines=lines, line_number=line_number)
            if ds_scan._is_filtered_out(
                required_filter_parameters=["line"], filename=filename, line=line, context=context
            ):
                continue
            for plugin_index in candidates[line_index]:
                plugin = self.plugins[plugin_index]
                for secret in ds_scan._scan_line(
                    plugin=plugin,
                    filename=filename,
                    line=line,
                    line_number=line_number,
                    context=context,
                ):
                    if not ds_scan._is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=secret.filename,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=context,
                    ):
                        yield secret


@functools.cache
def shared_scanner() -> SecretScanner:
    return SecretScanner()
