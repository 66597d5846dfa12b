"""The schema: root types merged from the resolver modules, guard rails as extensions."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.tools import merge_types

from graph.cost import DEFAULT_COST_LIMIT, QueryCost
from graph.errors import ErrorPolicy
from graph.execution import execution_context_class, fast_path_from_env
from graph.hygiene import HideSuggestionsRule, InputHygiene, InputHygieneRule, without_suggestions
from graph.resolvers.api_keys_queries import ApiKeyQueries
from graph.resolvers.billing_queries import BillingQueries
from graph.resolvers.conversions import ConversionMutations, ConversionQueries
from graph.resolvers.custom_fields_queries import CustomFieldQueries
from graph.resolvers.jobs_queries import JobQueries
from graph.resolvers.leads_queries import LeadQueries
from graph.resolvers.lifecycle_queries import LifecycleQueries
from graph.resolvers.mutations.accounts import AccountMutations, ApiKeyMutations
from graph.resolvers.mutations.attachments import AttachmentMutations
from graph.resolvers.mutations.billing import BillingMutations
from graph.resolvers.mutations.bulk import BulkMutations
from graph.resolvers.mutations.calls import CallMutations
from graph.resolvers.mutations.contacts import ContactMutations
from graph.resolvers.mutations.custom_fields import CustomFieldMutations
from graph.resolvers.mutations.deals import DealMutations
from graph.resolvers.mutations.exports import ExportMutations
from graph.resolvers.mutations.header import HeaderMutations
from graph.resolvers.mutations.imports import ImportMutations, ImportQueries
from graph.resolvers.mutations.leads import LeadMutations
from graph.resolvers.mutations.lifecycle import LifecycleMutations
from graph.resolvers.mutations.merges import MergeMutations
from graph.resolvers.mutations.messages import MessageMutations
from graph.resolvers.mutations.notes import NoteMutations
from graph.resolvers.mutations.recordings import RecordingMutations
from graph.resolvers.mutations.referrals import ReferralMutations
from graph.resolvers.mutations.segments import SegmentMutations
from graph.resolvers.mutations.tasks import TaskMutations
from graph.resolvers.mutations.views import ViewMutations
from graph.resolvers.mutations.webhooks import WebhookMutations
from graph.resolvers.notifications import NotificationMutations, NotificationQueries
from graph.resolvers.queries import CoreQueries
from graph.resolvers.segments_queries import SegmentQueries
from graph.resolvers.subscriptions import Subscription
from graph.resolvers.tasks_queries import TaskQueries
from graph.resolvers.webhooks_queries import WebhookQueries
from graph.schema.accounts import ApiKey, Tag, User
from graph.schema.attachments import Attachment
from graph.schema.billing import Invoice, Job, Quote
from graph.schema.calls import Call
from graph.schema.contacts import Contact
from graph.schema.conversions import Conversion
from graph.schema.custom_fields import CustomField
from graph.schema.deals import Deal
from graph.schema.jobs import BackgroundJob, BulkJob
from graph.schema.journey import JourneyEvent
from graph.schema.leads import Form, Lead
from graph.schema.merges import ContactMerge
from graph.schema.messages import Message
from graph.schema.notes import Note
from graph.schema.notifications import Notification
from graph.schema.recordings import RecordingShare
from graph.schema.segments import Segment
from graph.schema.tasks import Task
from graph.schema.views import View
from graph.validation import ValidatedDocuments

# Each section adds its root fields here.
Query = merge_types(
    "Query",
    (
        CoreQueries, WebhookQueries, ApiKeyQueries, ConversionQueries, LifecycleQueries, LeadQueries,
        CustomFieldQueries, BillingQueries, TaskQueries, NotificationQueries, JobQueries,
        SegmentQueries, ImportQueries,
    ),
)  # fmt: skip
Mutation = merge_types(
    "Mutation",
    (
        ContactMutations,
        HeaderMutations,
        LifecycleMutations,
        CallMutations,
        DealMutations,
        LeadMutations,
        NoteMutations,
        AttachmentMutations,
        RecordingMutations,
        AccountMutations,
        ApiKeyMutations,
        MessageMutations,
        MergeMutations,
        WebhookMutations,
        ConversionMutations,
        CustomFieldMutations,
        BillingMutations,
        ReferralMutations,
        TaskMutations,
        NotificationMutations,
        ViewMutations,
        SegmentMutations,
        BulkMutations,
        ImportMutations,
        ExportMutations,
    ),
)


@dataclass(frozen=True)
class Limits:
    """Guard rails against expensive or abusive documents."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    introspection: bool = True
    # The worst-case number of objects a document may return (graph.cost).
    max_cost: int = DEFAULT_COST_LIMIT


class DossierSchema(strawberry.Schema):
    def process_errors(self, errors: Sequence[Any], execution_context: Any = None) -> None:
        # ErrorPolicy logs what deserves logging (unexpected errors, with the request id);
        # client mistakes such as NOT_FOUND are not server errors.
        return None


def build_schema(limits: Limits | None = None, *, fast_path: bool | None = None) -> strawberry.Schema:
    """The API's schema. `fast_path=None` follows DOSSIER_FAST_PATH (on unless "off").

    Built once per (limits, execution path) in a process and shared by every app made with
    them: a schema holds no state of its app (each request's context carries the runtime), and
    building one takes ~0.15 s of strawberry's type conversion, which every app the test suite
    starts paid (~2,800 of them a pass)."""
    return _build_schema(limits or Limits(), fast_path_from_env() if fast_path is None else fast_path)


@functools.cache
def _build_schema(limits: Limits, fast_path: bool) -> strawberry.Schema:
    # The rule classes are built once: ValidatedDocuments keys on them, and the limiter
    # extensions would build new classes per request, so nothing would ever hit the cache.
    rules = [
        depth_validator(limits.max_depth, None),
        alias_validator(limits.max_aliases),
        InputHygieneRule,
    ]
    executor = execution_context_class(fast_path)
    if not limits.introspection:
        # Without introspection, "Did you mean …" hints would spell the schema out instead.
        rules += [NoSchemaIntrospectionCustomRule, HideSuggestionsRule]
        executor = without_suggestions(executor)
    extensions: list[Any] = [
        ErrorPolicy,
        lambda: AddValidationRules(rules),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ParserCache(maxsize=256),
        ValidatedDocuments,
        # After ValidatedDocuments: variables are checked once the document is known valid.
        InputHygiene,
        # After ValidatedDocuments: it costs a document only once that one found it valid.
        lambda: QueryCost(limit=limits.max_cost),
    ]
    return DossierSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            Contact,
            User,
            Call,
            Deal,
            Note,
            Attachment,
            RecordingShare,
            Tag,
            JourneyEvent,
            Message,
            ApiKey,
            ContactMerge,
            Conversion,
            Lead,
            Form,
            CustomField,
            BackgroundJob,
            BulkJob,
            Quote,
            Job,
            Invoice,
            Task,
            Notification,
            View,
            Segment,
        ],
        extensions=extensions,
        execution_context_class=executor,
    )


schema = build_schema()

__all__ = ["Limits", "SchemaExtension", "build_schema", "schema"]
