"""Serializer helpers shared by the APIs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty

from .text import hidden_character, hidden_character_message


class StrictInputSerializer(serializers.Serializer):
    """Input serializer that rejects fields it does not know, instead of ignoring them."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, dict):
            unknown = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class SafeCharField(serializers.CharField):
    """Text without control characters (NUL, CR, LF, …), and without invisible or
    text-direction characters that would let one name pass for another."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise serializers.ValidationError("Control characters are not allowed.")
        hidden = hidden_character(value)
        if hidden is not None:
            raise serializers.ValidationError(hidden_character_message(hidden))
        return value


class QuerySerializer(serializers.Serializer):
    """Query-string filters. A parameter that is present must be valid, an empty one too:
    HTML-form semantics (an empty field means "not given", which DRF applies to a QueryDict)
    would let ``?status=`` silently list everything, against the documented schema."""

    def __init__(self, instance: Any = None, data: Any = empty, **kwargs: Any) -> None:
        if data is not empty and hasattr(data, "items"):
            data = dict(data.items())  # the last value of each parameter, as plain data
        super().__init__(instance, data, **kwargs)
