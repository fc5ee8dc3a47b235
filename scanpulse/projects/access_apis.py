"""REST endpoints for a project's access to its repository: its credential (its own, or one
of its organization's) and its pinned SSH host keys."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.serializers import StrictInputSerializer
from scanpulse.credentials.apis import (
    CredentialInputSerializer,
    CredentialOutputSerializer,
    HostKeyPinSerializer,
)
from scanpulse.credentials.selectors import host_key_pins
from scanpulse.credentials.services import host_key_set, host_keys_reset
from scanpulse.tenancy.types import SignedInRequest

from .access import project_credential_create, project_credential_remove, project_credential_use
from .models import Project
from .selectors import project_get

_MANAGERS_ONLY = OpenApiResponse(
    description="Only owners and admins can manage credentials and pinned host keys."
)


class ProjectAccessSerializer(serializers.Serializer):
    credential = CredentialOutputSerializer(allow_null=True)
    host_keys = HostKeyPinSerializer(many=True)


def _access(project: Project) -> dict[str, Any]:
    credential = project.credential
    return {
        "credential": CredentialOutputSerializer(credential).data if credential else None,
        "host_keys": HostKeyPinSerializer(host_key_pins(project_id=project.pk), many=True).data,
    }


class ProjectCredentialApi(APIView):
    @extend_schema(responses=ProjectAccessSerializer)
    def get(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        return Response(_access(project))

    @extend_schema(
        request=CredentialInputSerializer,
        responses={201: CredentialOutputSerializer, 403: _MANAGERS_ONLY},
        description="Give the project a credential of its own (replacing its current one).",
    )
    def put(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = CredentialInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credential = project_credential_create(
            user=request.user, project=project, **serializer.validated_data
        )
        return Response(CredentialOutputSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 403: _MANAGERS_ONLY})
    def delete(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        project_credential_remove(user=request.user, project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectCredentialUseApi(APIView):
    @extend_schema_serializer(component_name="ProjectCredentialUse")
    class InputSerializer(StrictInputSerializer):
        credential = serializers.UUIDField(
            allow_null=True, help_text="One of the organization's credentials; null for none."
        )

    @extend_schema(
        request=InputSerializer, responses={200: ProjectAccessSerializer, 403: _MANAGERS_ONLY}
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project_credential_use(
            user=request.user,
            project=project,
            credential_id=serializer.validated_data["credential"],
        )
        project.refresh_from_db()
        return Response(_access(project))


class ProjectHostKeysApi(APIView):
    @extend_schema_serializer(component_name="HostKeyPinSet")
    class InputSerializer(StrictInputSerializer):
        host = serializers.CharField(max_length=300, help_text="'name', or '[name]:port'.")
        public_key = serializers.CharField(
            max_length=16 * 1024, help_text="'<type> <base64>', as ssh-keyscan prints it."
        )

    @extend_schema(responses=HostKeyPinSerializer(many=True))
    def get(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        return Response(HostKeyPinSerializer(host_key_pins(project_id=project.pk), many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: HostKeyPinSerializer, 403: _MANAGERS_ONLY}
    )
    def post(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pin = host_key_set(
            user=request.user,
            organization_id=project.organization_id,
            project_id=project.pk,
            **serializer.validated_data,
        )
        return Response(HostKeyPinSerializer(pin).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={204: None, 403: _MANAGERS_ONLY},
        description="Reset the pins: the next fetch trusts the host key it sees first.",
    )
    def delete(self, request: SignedInRequest, project_id: str) -> Response:
        project = project_get(user=request.user, project_id=project_id)
        host_keys_reset(
            user=request.user, organization_id=project.organization_id, project_id=project.pk
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
