"""The request's loaders for attachments (graph/schema/attachments.py).

A card's (or a page of cards') files are one statement per page shape, newest first
(`Loaders._load_pages`, like conversions), with the uploader joined in; an attachment by id
(node(id:), a mutation's result) is one batched statement. Both are bound to the account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from crm.models import Attachment

if TYPE_CHECKING:
    from graph.resolvers.loaders import Loaders

ATTACHMENT_COLUMNS = (
    "id", "account_id", "contact_id", "call_id", "kind", "title", "filename", "content_type", "size",
    "sha256", "duration_seconds", "uploaded_by_id", "created_at",
)  # fmt: skip
ATTACHMENT_USERS = ("uploaded_by",)


def attach_attachments(loaders: Loaders) -> None:
    """Give the request's Loaders `attachment` (by id) and `attachment_page` (PageKey) as
    attributes, so `release()` clears them with the rest."""
    from graph.resolvers.loaders import _PagedSection, with_users

    read = with_users(ATTACHMENT_COLUMNS, ATTACHMENT_USERS)
    section = _PagedSection(Attachment, "attachment", read, "account_id = {account}", "kind")
    loaders.attachment = loaders._by_id(Attachment, read, "account")  # type: ignore[attr-defined]
    loaders.attachment_page = DataLoader(lambda keys: loaders._load_pages(section, keys))  # type: ignore[attr-defined]
