from __future__ import annotations

from django.urls import path

from touchflow.web.views import (
    auth,
    chains,
    counter,
    customers,
    dead_letters,
    escalations,
    privacy,
    profile,
    rating,
    referral,
    referrals,
    review,
    tasks,
    unsubscribe,
)

app_name = "web"

urlpatterns = [
    path("", counter.counter_page, name="home"),
    path("counter/contact/", counter.contact_check, name="contact-check"),
    path("counter/store/", counter.switch_store, name="switch-store"),
    path("customers/", customers.customer_list, name="customers"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer"),
    path("customers/<int:pk>/reply", customers.customer_reply, name="customer_reply"),
    path("customers/<int:pk>/export", privacy.export_page, name="customer-export"),
    path("customers/<int:pk>/export.json", privacy.export_json, name="customer-export-json"),
    path("chains/", chains.chain_list, name="chains"),
    path("chains/sms-size/", chains.chain_sms_size, name="chain-sms-size"),
    path("chains/<slug:slug>/", chains.chain_detail, name="chain"),
    path("chains/<slug:slug>/status/", chains.chain_status, name="chain-status"),
    path("tasks/", tasks.task_list, name="tasks"),
    path("tasks/<int:pk>/done/", tasks.task_done, name="task-done"),
    path("dead-letters/", dead_letters.dead_letter_list, name="dead-letters"),
    path("dead-letters/group/<slug:key>/", dead_letters.dead_letter_group,
         name="dead-letter-group"),
    path("dead-letters/<int:pk>/retry/", dead_letters.dead_letter_retry,
         name="dead-letter-retry"),
    path("escalations/", escalations.escalation_list, name="escalations"),
    path("escalations/<int:pk>/resolve/", escalations.escalation_resolve,
         name="escalation-resolve"),
    path("referrals/", referrals.referral_list, name="referrals"),
    path("referrals/<int:pk>/decide/", referrals.referral_decide, name="referral-decide"),
    path("u/<str:token>", unsubscribe.unsubscribe, name="unsubscribe"),
    path("r/<str:token>", rating.rating, name="rating"),
    path("ref/<str:code>", referral.referral_landing, name="referral"),
    path("go/<str:token>", review.review_link, name="review-link"),
    path("profile/", profile.profile, name="profile"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
]
