from __future__ import annotations

from django.urls import path

from touchflow.web.views import auth, counter, customers, profile

app_name = "web"

urlpatterns = [
    path("", counter.counter_page, name="home"),
    path("counter/contact/", counter.contact_check, name="contact-check"),
    path("counter/store/", counter.switch_store, name="switch-store"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer"),
    path("profile/", profile.profile, name="profile"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
]
