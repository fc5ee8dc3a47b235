"""REST endpoints for an organization's credentials. A secret is accepted once and never
answered: a credential shows its name, kind, username, fingerprint and public key only."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.core.serializers import SafeCharField, StrictInputSerializer
from scanpulse.tenancy.types import SignedInRequest

from .models import Credential, CredentialKind, HostKeyPin
from .selectors import member_of, organization_credential_get, organization_credentials
from .services import credential_create, credential_delete


class CredentialOutputSerializer(serializers.ModelSerializer):
    scope = serializers.CharField(read_only=True)
    created_by = serializers.SerializerMethodField()
    used_by_projects = serializers.SerializerMethodField()

    class Meta:
        model = Credential
        fields = [
            "id",
            "organization",
            "scope",
            "project_id",
            "kind",
            "name",
            "username",
            "fingerprint",
            "public_key",
            "created_by",
            "created_at",
            "last_used_at",
            "used_by_projects",
        ]

    def get_created_by(self, credential: Credential) -> str | None:
        return credential.created_by.email if credential.created_by else None

    def get_used_by_projects(self, credential: Credential) -> int:
        return credential.projects.count()


class HostKeyPinSerializer(serializers.ModelSerializer):
    class Meta:
        model = HostKeyPin
        fields = ["id", "host", "key_type", "public_key", "fingerprint", "created_at"]


@extend_schema_serializer(component_name="CredentialCreate")
class CredentialInputSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=CredentialKind.choices)
    username = SafeCharField(max_length=255, required=False, default="")
    token = serializers.CharField(
        required=False,
        default="",
        write_only=True,
        trim_whitespace=True,
        max_length=16 * 1024,
        help_text="https_token: the token (write-only, never shown again).",
    )
    private_key = serializers.CharField(
        required=False,
        default="",
        write_only=True,
        trim_whitespace=False,
        max_length=16 * 1024,
        help_text="ssh_key: a private key to upload (write-only); leave it out to have an "
        "Ed25519 key pair generated and its public key returned.",
    )


class OrganizationCredentialListApi(APIView):
    @extend_schema_serializer(component_name="OrganizationCredentialCreate")
    class InputSerializer(CredentialInputSerializer):
        name = SafeCharField(max_length=100, trim_whitespace=True)

    @extend_schema(responses=CredentialOutputSerializer(many=True))
    def get(self, request: SignedInRequest, organization_id: UUID) -> Response:
        credentials = organization_credentials(user=request.user, organization_id=organization_id)
        return Response(CredentialOutputSerializer(credentials, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: CredentialOutputSerializer,
            403: OpenApiResponse(description="Only owners and admins can manage credentials."),
        },
    )
    def post(self, request: SignedInRequest, organization_id: UUID) -> Response:
        membership = member_of(user=request.user, organization_id=organization_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        credential = credential_create(
            user=request.user, organization=membership.organization, **data
        )
        return Response(CredentialOutputSerializer(credential).data, status=status.HTTP_201_CREATED)


class OrganizationCredentialDetailApi(APIView):
    @extend_schema(responses=CredentialOutputSerializer)
    def get(self, request: SignedInRequest, organization_id: UUID, credential_id: UUID) -> Response:
        credential = organization_credential_get(
            user=request.user, organization_id=organization_id, credential_id=credential_id
        )
        return Response(CredentialOutputSerializer(credential).data)

    @extend_schema(
        responses={
            204: None,
            403: OpenApiResponse(description="Only owners and admins can manage credentials."),
            409: OpenApiResponse(description="Projects still use the credential."),
        }
    )
    def delete(
        self, request: SignedInRequest, organization_id: UUID, credential_id: UUID
    ) -> Response:
        credential = organization_credential_get(
            user=request.user, organization_id=organization_id, credential_id=credential_id
        )
        credential_delete(
            user=request.user, credential=credential, in_use=credential.projects.count()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
