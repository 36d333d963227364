"""Pages of the assistant: the chat on the resident's phone (/m/ask/) and in the staff
desk, the knowledge base editor, the broadcasts and robots, and WeCom's callback."""

from django.urls import include, path

app_name = "assistant"

urlpatterns = [
    path("", include("jiayuan.assistant.views.chat_urls")),
    path("", include("jiayuan.assistant.views.kb_urls")),
    path("", include("jiayuan.assistant.views.wecom_urls")),
]
