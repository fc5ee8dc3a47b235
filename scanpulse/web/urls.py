from django.urls import path

from . import (
    account_views,
    advisory_views,
    alert_views,
    credential_views,
    inbound_views,
    schedule_views,
    settings_views,
    sso_views,
    twofactor_views,
    views,
    webhook_views,
)
from .forms import LoginForm

app_name = "web"

urlpatterns = [
    path("", views.dashboard, name="home"),
    path(
        "login/",
        twofactor_views.LoginView.as_view(
            template_name="web/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("login/two-factor/", twofactor_views.login_two_factor, name="login-two-factor"),
    path("account/two-factor/", twofactor_views.two_factor_settings, name="two-factor"),
    path("logout/", sso_views.sign_out, name="logout"),
    path("sso/login/", sso_views.SsoStart.as_view(), name="sso-login"),
    path("sso/callback/", sso_views.SsoCallback.as_view(), name="sso-callback"),
    path("password-reset/", account_views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent",
        account_views.PasswordResetSentView.as_view(),
        name="password-reset-sent",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done",
        account_views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("invitations/<str:secret>", account_views.invitation, name="invitation"),
    path("account/tokens", settings_views.tokens, name="tokens"),
    path(
        "account/tokens/<uuid:token_id>/revoke",
        settings_views.token_revoke,
        name="token-revoke",
    ),
    path(
        "organizations/<uuid:organization_id>/settings",
        settings_views.organization_settings,
        name="organization-settings",
    ),
    path(
        "organizations/<uuid:organization_id>/members/invite",
        settings_views.member_invite,
        name="member-invite",
    ),
    path(
        "organizations/<uuid:organization_id>/members/<int:user_id>/role",
        settings_views.member_role,
        name="member-role",
    ),
    path(
        "organizations/<uuid:organization_id>/members/<int:user_id>/remove",
        settings_views.member_remove,
        name="member-remove",
    ),
    path(
        "organizations/<uuid:organization_id>/invitations/<uuid:invitation_id>/withdraw",
        settings_views.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path(
        "organizations/<uuid:organization_id>/sso",
        settings_views.organization_sso,
        name="organization-sso",
    ),
    path(
        "organizations/<uuid:organization_id>/audit",
        settings_views.audit_log,
        name="audit",
    ),
    path("organization/", views.organization_switch, name="organization-switch"),
    path(
        "organizations/<uuid:organization_id>/inbound-webhooks",
        inbound_views.inbound_webhooks,
        name="inbound-webhooks",
    ),
    path("projects/", views.projects, name="projects"),
    path("advisories/", advisory_views.advisories, name="advisories"),
    path("projects/<uuid:project_id>/", views.project_detail, name="project"),
    path("projects/<uuid:project_id>/scans", views.scan_start, name="scan-start"),
    path("projects/<uuid:project_id>/sarif", views.sarif_upload, name="sarif-upload"),
    path(
        "projects/<uuid:project_id>/scan-config",
        views.project_scan_config,
        name="project-scan-config",
    ),
    path("projects/<uuid:project_id>/gate", views.project_gate, name="project-gate"),
    path(
        "projects/<uuid:project_id>/credentials",
        credential_views.project_credentials,
        name="project-credentials",
    ),
    path(
        "organizations/<uuid:organization_id>/credentials",
        credential_views.organization_credentials_page,
        name="organization-credentials",
    ),
    path(
        "projects/<uuid:project_id>/schedules/",
        schedule_views.schedules,
        name="schedules",
    ),
    path(
        "projects/<uuid:project_id>/schedules/<uuid:schedule_id>/",
        schedule_views.schedule_edit,
        name="schedule",
    ),
    path(
        "projects/<uuid:project_id>/schedules/<uuid:schedule_id>/delete",
        schedule_views.schedule_remove,
        name="schedule-delete",
    ),
    path(
        "projects/<uuid:project_id>/alerts/export",
        alert_views.alert_export,
        name="alert-export",
    ),
    path(
        "projects/<uuid:project_id>/alerts/triage",
        alert_views.alert_bulk_triage,
        name="alert-triage",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/",
        alert_views.alert_page,
        name="alert",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/dismiss",
        alert_views.alert_dismiss,
        name="alert-dismiss",
    ),
    path(
        "projects/<uuid:project_id>/alerts/<uuid:alert_id>/reopen",
        alert_views.alert_reopen,
        name="alert-reopen",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/",
        webhook_views.webhooks,
        name="webhooks",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/",
        webhook_views.webhook,
        name="webhook",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/<str:action>",
        webhook_views.webhook_action,
        name="webhook-action",
    ),
    path(
        "organizations/<uuid:organization_id>/webhooks/<uuid:webhook_id>/deliveries/"
        "<uuid:delivery_id>/redeliver",
        webhook_views.webhook_redeliver,
        name="webhook-redeliver",
    ),
    path("scans/<uuid:scan_id>/", views.scan_detail, name="scan"),
    path("scans/<uuid:scan_id>/cancel", views.scan_cancel_view, name="scan-cancel"),
    path(
        "scans/<uuid:scan_id>/findings/export",
        views.scan_findings_export,
        name="scan-findings-export",
    ),
]
