"""Serializer helpers shared by the APIs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


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
    """Text without control characters (NUL, CR, LF, …)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise serializers.ValidationError("Control characters are not allowed.")
        return value
