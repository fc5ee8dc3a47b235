from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "scanpulse.credentials"
    label = "credentials"

    def ready(self) -> None:
        from scanpulse.core.crypto import register_sealed

        register_sealed("credentials.Credential", "secret")
