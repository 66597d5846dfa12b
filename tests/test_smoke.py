from tests.conftest import Api, Tenant


async def test_viewer(as_admin: Api, acme: Tenant) -> None:
    data = await as_admin.data("{ viewer { user { name role } account { name } } }")
    assert data["viewer"] == {"user": {"name": "Acme Admin", "role": "ADMIN"}, "account": {"name": "Acme"}}
