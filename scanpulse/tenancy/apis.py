"""REST endpoints for the people of an organization and their credentials:

- ``/api/tokens/``: the caller's own API tokens (create with a scope and an expiry; the value
  is in the answer once), ``/api/tokens/{id}/`` to revoke one;
- ``/api/organizations/{id}/members/``: who belongs, with which role (every member reads it;
  owners and admins change roles and remove; anyone leaves);
- ``/api/organizations/{id}/invitations/``: pending invitations (owners and admins);
- ``/api/organizations/{id}/audit/``: the audit log, filtered, as JSON or CSV.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from scanpulse.audit.selectors import audit_entries
from scanpulse.core.exceptions import NotFound
from scanpulse.core.pagination import PageNumberPagination
from scanpulse.core.serializers import QuerySerializer, SafeCharField, StrictInputSerializer

from .members import invitation_create, invitation_revoke, membership_remove, membership_set_role
from .models import Role, TokenScope
from .payloads import audit_csv, audit_payload, invitation_payload, member_payload, token_payload
from .permissions import Action, require_member
from .selectors import invitations_pending, members_of, membership_of, tokens_of
from .services import token_create, token_revoke_own
from .types import SignedInRequest

_MANAGERS_ONLY = OpenApiResponse(description="Only owners and admins can manage members.")


class _Text(SafeCharField):
    """A JSON string, never a number or a boolean turned into one."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("A string is required.")
        return super().to_internal_value(data)


class _Days(serializers.IntegerField):
    """A JSON integer, never a string of digits nor a boolean."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("A whole number is required.")
        return int(super().to_internal_value(data))


@extend_schema_serializer(component_name="ApiToken")
class TokenOutputSerializer(serializers.Serializer):
    """Documents ``tenancy.payloads.token_payload``."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scope = serializers.ChoiceField(choices=TokenScope.choices)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_address = serializers.IPAddressField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="ApiTokenCreated")
class TokenCreatedSerializer(TokenOutputSerializer):
    token = serializers.CharField(help_text="The token's value, shown this once.")


@extend_schema_serializer(component_name="Member")
class MemberOutputSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="MemberList")
class MemberListSerializer(serializers.Serializer):
    results = MemberOutputSerializer(many=True)


@extend_schema_serializer(component_name="Invitation")
class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    invited_by = serializers.EmailField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="InvitationList")
class InvitationListSerializer(serializers.Serializer):
    results = InvitationOutputSerializer(many=True)


@extend_schema_serializer(component_name="AuditEntry")
class AuditEntrySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    time = serializers.DateTimeField()
    actor = serializers.EmailField(allow_null=True)
    address = serializers.IPAddressField(allow_null=True)
    action = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    target = serializers.CharField()
    details = serializers.DictField()


class TokenCreateSerializer(StrictInputSerializer):
    name = _Text(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    expires_in_days = _Days(
        min_value=1, max_value=3650, required=False, allow_null=True, default=90
    )


class TokenListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="tokens_list", responses=TokenOutputSerializer(many=True))
    def get(self, request: SignedInRequest) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(tokens_of(user=request.user), request, view=self)
        return paginator.get_paginated_response([token_payload(token) for token in page])

    @extend_schema(
        operation_id="tokens_create",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer},
    )
    def post(self, request: SignedInRequest) -> Response:
        serializer = TokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        api_token, value = token_create(
            user=request.user,
            name=data["name"],
            scope=data["scope"],
            expires_in_days=data.get("expires_in_days"),
        )
        response = Response(
            {**token_payload(api_token), "token": value}, status=status.HTTP_201_CREATED
        )
        response["Cache-Control"] = "no-store"
        return response


class TokenDetailApi(APIView):
    @extend_schema(operation_id="tokens_revoke", responses={204: None})
    def delete(self, request: SignedInRequest, token_id: str) -> Response:
        token_revoke_own(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _member(request: SignedInRequest, organization_id: str) -> None:
    """Reading who belongs is membership, as every read."""
    if membership_of(user=request.user, organization_id=organization_id) is None:  # type: ignore[arg-type]
        raise NotFound("Organization not found.")


class MemberListApi(APIView):
    @extend_schema(operation_id="members_list", responses=MemberListSerializer)
    def get(self, request: SignedInRequest, organization_id: str) -> Response:
        _member(request, organization_id)
        members = members_of(organization_id=organization_id)  # type: ignore[arg-type]
        return Response({"results": [member_payload(member) for member in members]})


class MemberUpdateSerializer(StrictInputSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MemberDetailApi(APIView):
    @extend_schema(
        operation_id="members_update",
        request=MemberUpdateSerializer,
        responses={200: MemberOutputSerializer, 403: _MANAGERS_ONLY},
    )
    def patch(self, request: SignedInRequest, organization_id: str, user_id: int) -> Response:
        _member(request, organization_id)
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_set_role(
            user=request.user,
            organization_id=organization_id,  # type: ignore[arg-type]
            user_id=user_id,
            role=serializer.validated_data["role"],
        )
        return Response(member_payload(membership))

    @extend_schema(operation_id="members_remove", responses={204: None, 403: _MANAGERS_ONLY})
    def delete(self, request: SignedInRequest, organization_id: str, user_id: int) -> Response:
        _member(request, organization_id)
        membership_remove(
            user=request.user,
            organization_id=organization_id,  # type: ignore[arg-type]
            user_id=user_id,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationCreateSerializer(StrictInputSerializer):
    email = _Text(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.MEMBER)


def invitation_link(request: Any) -> Any:
    """The absolute link of an invitation's secret, for the mail."""

    def link(secret: str) -> str:
        return str(request.build_absolute_uri(reverse("web:invitation", args=[secret])))

    return link


class InvitationListApi(APIView):
    @extend_schema(
        operation_id="invitations_list",
        responses={200: InvitationListSerializer, 403: _MANAGERS_ONLY},
    )
    def get(self, request: SignedInRequest, organization_id: str) -> Response:
        require_member(
            user=request.user,
            organization_id=organization_id,  # type: ignore[arg-type]
            action=Action.MEMBER_MANAGE,
        )
        pending = invitations_pending(organization_id=organization_id)  # type: ignore[arg-type]
        return Response({"results": [invitation_payload(item) for item in pending]})

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationCreateSerializer,
        responses={201: InvitationOutputSerializer, 403: _MANAGERS_ONLY},
    )
    def post(self, request: SignedInRequest, organization_id: str) -> Response:
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = invitation_create(
            user=request.user,
            organization_id=organization_id,  # type: ignore[arg-type]
            email=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
            link=invitation_link(request),
        )
        return Response(invitation_payload(invitation), status=status.HTTP_201_CREATED)


class InvitationDetailApi(APIView):
    @extend_schema(operation_id="invitations_revoke", responses={204: None, 403: _MANAGERS_ONLY})
    def delete(
        self, request: SignedInRequest, organization_id: str, invitation_id: str
    ) -> Response:
        invitation_revoke(
            user=request.user,
            organization_id=organization_id,  # type: ignore[arg-type]
            invitation_id=invitation_id,  # type: ignore[arg-type]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditFilterSerializer(QuerySerializer):
    actor = serializers.CharField(required=False, max_length=254)
    action = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    export = serializers.ChoiceField(choices=["csv"], required=False)


def audit_filtered(user: Any, organization_id: Any, params: Any) -> tuple[Any, dict[str, Any]]:
    """The organization's entries under the filters of ``params`` (owners and admins)."""
    require_member(user=user, organization_id=organization_id, action=Action.AUDIT_VIEW)
    filters = AuditFilterSerializer(data=params)
    filters.is_valid(raise_exception=True)
    data = dict(filters.validated_data)
    export = data.pop("export", None)
    return audit_entries(organization_id=organization_id, **data), {"export": export}


class AuditListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="audit_list",
        parameters=[
            OpenApiParameter("actor", str, description="The actor's email."),
            OpenApiParameter("action", str, description="e.g. token.create, member.remove"),
            OpenApiParameter("since", str, description="ISO 8601, inclusive."),
            OpenApiParameter("until", str, description="ISO 8601, exclusive."),
            OpenApiParameter("export", str, enum=["csv"], description="The whole list as CSV."),
        ],
        responses={
            (200, "application/json"): AuditEntrySerializer(many=True),
            (200, "text/csv"): OpenApiResponse(
                response=str, description="With export=csv: the whole filtered log."
            ),
            403: OpenApiResponse(description="Owners and admins only."),
        },
    )
    def get(self, request: SignedInRequest, organization_id: str) -> Any:
        entries, options = audit_filtered(request.user, organization_id, request.query_params)
        if options["export"] == "csv":
            response = HttpResponse(audit_csv(entries.iterator()), content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="audit.csv"'
            return response
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response([audit_payload(entry) for entry in page])
