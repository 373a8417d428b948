from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "touchflow.messaging"
    label = "messaging"
    verbose_name = "Messaging channels"
    default_auto_field = "django.db.models.BigAutoField"
