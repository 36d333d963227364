import pytest
from django.contrib.auth import get_user_model

User = get_user_model()


@pytest.mark.django_db
def test_any_of_matches_integer_and_text_columns_as_plain_in_does() -> None:
    users = [User.objects.create(username=f"u{i}") for i in range(5)]
    ids = [users[0].pk, users[3].pk, 10**9]
    by_id = set(User.objects.filter(pk__any_of=ids).values_list("pk", flat=True))
    assert by_id == set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
    assert by_id == {users[0].pk, users[3].pk}
    names = ["u1", "u4", "nobody", "u1"]
    by_name = set(User.objects.filter(username__any_of=names).values_list("username", flat=True))
    assert by_name == {"u1", "u4"}
    assert not User.objects.filter(pk__any_of=[]).exists()
