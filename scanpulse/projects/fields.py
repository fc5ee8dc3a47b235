"""Serializer fields for a repository location and a git ref, shared by the APIs (and the
pages' forms, which validate with the API's serializers). The rules are the domain's
(``scanpulse.projects.validation``), which the command line and the worker apply too; a field
only turns a refusal into the field's message."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .validation import RepoLocationError, classify_repo_location, validate_ref


class RepoUrlField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            classify_repo_location(value)
        except RepoLocationError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class RefField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            return validate_ref(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
