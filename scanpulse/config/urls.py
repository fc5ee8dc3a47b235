from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from scanpulse.alerts.apis import (
    AlertBulkTriageApi,
    AlertDetailApi,
    AlertDismissApi,
    AlertListApi,
    AlertReopenApi,
)
from scanpulse.credentials.apis import (
    OrganizationCredentialDetailApi,
    OrganizationCredentialListApi,
)
from scanpulse.feeds.apis import AdvisoryStatusApi
from scanpulse.integrations.apis import InboundSecretApi, InboundWebhookApi
from scanpulse.integrations.views import inbound_hook
from scanpulse.notifications.apis import (
    WebhookDeliveryDetailApi,
    WebhookDeliveryListApi,
    WebhookDetailApi,
    WebhookListApi,
    WebhookRedeliverApi,
    WebhookRotateSecretApi,
    WebhookTestApi,
)
from scanpulse.projects.access_apis import (
    ProjectCredentialApi,
    ProjectCredentialUseApi,
    ProjectHostKeysApi,
)
from scanpulse.projects.apis import ProjectDetailApi, ProjectListApi
from scanpulse.scans.apis import (
    ScanCancelApi,
    ScanDetailApi,
    ScanEventsApi,
    ScanFindingsApi,
    ScanListApi,
    ScanSarifApi,
    ScanStatusApi,
)
from scanpulse.scans.gate_apis import ScanGateApi
from scanpulse.scans.sarif_apis import ProjectSarifApi
from scanpulse.scans.sbom_apis import ProjectSbomApi, ScanSbomApi
from scanpulse.schedules.apis import ScheduleDetailApi, ScheduleListApi
from scanpulse.tenancy.apis import (
    AuditListApi,
    InvitationDetailApi,
    InvitationListApi,
    MemberDetailApi,
    MemberListApi,
    TokenDetailApi,
    TokenListApi,
)
from scanpulse.web.api_docs import ApiDocsView

api = [
    path("projects/", ProjectListApi.as_view(), name="project-list"),
    path("projects/<uuid:project_id>/", ProjectDetailApi.as_view(), name="project-detail"),
    path(
        "projects/<uuid:project_id>/credential",
        ProjectCredentialApi.as_view(),
        name="project-credential",
    ),
    path(
        "projects/<uuid:project_id>/credential/use",
        ProjectCredentialUseApi.as_view(),
        name="project-credential-use",
    ),
    path(
        "projects/<uuid:project_id>/host-keys/",
        ProjectHostKeysApi.as_view(),
        name="project-host-keys",
    ),
    path(
        "organizations/<uuid:organization_id>/credentials/",
        OrganizationCredentialListApi.as_view(),
        name="organization-credential-list",
    ),
    path(
        "organizations/<uuid:organization_id>/credentials/<uuid:credential_id>/",
        OrganizationCredentialDetailApi.as_view(),
        name="organization-credential-detail",
    ),
    path("projects/<uuid:project_id>/alerts/", AlertListApi.as_view(), name="alert-list"),
    path(
        "projects/<uuid:project_id>/alerts/triage",
        AlertBulkTriageApi.as_view(),
        name="alert-triage",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/",
        AlertDetailApi.as_view(),
        name="alert-detail",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/dismiss",
        AlertDismissApi.as_view(),
        name="alert-dismiss",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/reopen",
        AlertReopenApi.as_view(),
        name="alert-reopen",
    ),
    path(
        "projects/<uuid:project_id>/schedules/",
        ScheduleListApi.as_view(),
        name="schedule-list",
    ),
    path(
        "projects/<uuid:project_id>/schedules/<uuid:schedule_id>/",
        ScheduleDetailApi.as_view(),
        name="schedule-detail",
    ),
    path("advisories/", AdvisoryStatusApi.as_view(), name="advisory-status"),
    path("scans/", ScanListApi.as_view(), name="scan-list"),
    path("scans/<uuid:scan_id>/", ScanDetailApi.as_view(), name="scan-detail"),
    path("scans/<uuid:scan_id>/cancel", ScanCancelApi.as_view(), name="scan-cancel"),
    path("scans/<uuid:scan_id>/findings/", ScanFindingsApi.as_view(), name="scan-findings"),
    path("scans/<uuid:scan_id>/status", ScanStatusApi.as_view(), name="scan-status"),
    path("scans/<uuid:scan_id>/events", ScanEventsApi.as_view(), name="scan-events"),
    path("scans/<uuid:scan_id>/sarif", ScanSarifApi.as_view(), name="scan-sarif"),
    path("scans/<uuid:scan_id>/sbom", ScanSbomApi.as_view(), name="scan-sbom"),
    path("projects/<uuid:project_id>/sbom", ProjectSbomApi.as_view(), name="project-sbom"),
    path("projects/<uuid:project_id>/sarif", ProjectSarifApi.as_view(), name="project-sarif"),
    path("scans/<uuid:scan_id>/gate", ScanGateApi.as_view(), name="scan-gate"),
    path(
        "organizations/<uuid:organization_id>/inbound-webhooks",
        InboundWebhookApi.as_view(),
        name="inbound-webhooks",
    ),
    path(
        "organizations/<uuid:organization_id>/inbound-webhooks/secret",
        InboundSecretApi.as_view(),
        name="inbound-webhook-secret",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/",
        WebhookListApi.as_view(),
        name="webhook-list",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/",
        WebhookDetailApi.as_view(),
        name="webhook-detail",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/rotate-secret",
        WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/test",
        WebhookTestApi.as_view(),
        name="webhook-test",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/deliveries/",
        WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/deliveries/"
        "<uuid:delivery_id>/",
        WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/deliveries/"
        "<uuid:delivery_id>/redeliver",
        WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
    path("tokens/", TokenListApi.as_view(), name="token-list"),
    path("tokens/<uuid:token_id>/", TokenDetailApi.as_view(), name="token-detail"),
    path(
        "organizations/<uuid:organization_id>/members/",
        MemberListApi.as_view(),
        name="member-list",
    ),
    path(
        "organizations/<uuid:organization_id>/members/<int:user_id>/",
        MemberDetailApi.as_view(),
        name="member-detail",
    ),
    path(
        "organizations/<uuid:organization_id>/invitations/",
        InvitationListApi.as_view(),
        name="invitation-list",
    ),
    path(
        "organizations/<uuid:organization_id>/invitations/<uuid:invitation_id>/",
        InvitationDetailApi.as_view(),
        name="invitation-detail",
    ),
    path(
        "organizations/<uuid:organization_id>/audit/",
        AuditListApi.as_view(),
        name="audit-list",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("api/", include(api)),
    path("admin/", admin.site.urls),
    # Signed by the repository host, not signed in: outside the API and the pages.
    path("hooks/<uuid:organization_id>/<str:host>", inbound_hook, name="inbound-hook"),
    path("", include("scanpulse.web.urls")),
]

handler400 = "scanpulse.web.errors.handler400"
handler403 = "scanpulse.web.errors.handler403"
handler404 = "scanpulse.web.errors.handler404"
handler500 = "scanpulse.web.errors.handler500"
